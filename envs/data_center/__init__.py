"""Geo-distributed data centres with deferrable batch work and cooling control.

``env`` holds the specification and the batched dynamics, ``oracle`` the perfect-foresight MILP,
``rules`` the rule-based policies; :data:`FAMILY` ties them together for the suite registry.
"""

from __future__ import annotations

from ..suite import EnvFamily, QoS
from . import oracle
from .env import SETPOINTS_C, DataCenterCore, DataCenterEnv, DataCenterParams, Decision, encode
from .rules import RULES, CarbonGreedyPolicy, LatencyGreedyPolicy

FAMILY = EnvFamily(
    env_cls=DataCenterEnv,
    oracle=oracle.solve,
    rules=RULES,
    qos=QoS("deadline_met_ratio", "mean"),
    encode=encode,
)

#: ``DataCenter-Large-v1``: eight sites.
LARGE = {"n_sites": 8,
         "site_regions": ("solar", "wind", "mixed", "hydro", "coal", "nuclear", "solar", "wind"),
         "climate_mean_c": (26.0, 10.0, 18.0, 8.0, 22.0, 14.0, 30.0, 12.0)}  # fmt: skip

__all__ = [
    "FAMILY",
    "LARGE",
    "SETPOINTS_C",
    "CarbonGreedyPolicy",
    "DataCenterCore",
    "DataCenterEnv",
    "DataCenterParams",
    "Decision",
    "LatencyGreedyPolicy",
    "encode",
]
