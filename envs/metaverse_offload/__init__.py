"""Mobile AIGC offloading to carbon-aware edge sites (the paper's case study).

``env`` holds the specification and the batched dynamics, ``oracle`` the perfect-foresight MILP,
``rules`` the rule-based policies; :data:`FAMILY` ties them together for the suite registry.
"""

from __future__ import annotations

from ..suite import EnvFamily, QoS
from . import oracle
from .env import Decision, MetaverseOffloadCore, MetaverseOffloadEnv, MetaverseOffloadParams, encode
from .rules import RULES, CarbonGreedyPolicy, LatencyGreedyPolicy

FAMILY = EnvFamily(
    env_cls=MetaverseOffloadEnv,
    oracle=oracle.solve,
    rules=RULES,
    qos=QoS("served_ratio", "mean"),
    encode=encode,
)

#: ``MetaverseOffload-Large-v1``: 12 users and 6 edge sites, with three times the allowance.
LARGE = {"n_users": 12, "n_servers": 6,
         "server_regions": ("solar", "wind", "mixed", "hydro", "coal", "nuclear"),
         "gpu_workers": (2, 2, 4, 2, 4, 2), "carbon_allowance_kg": 30.0}  # fmt: skip
#: ``MetaverseOffload-CAISO-v1``: two sites on real CAISO marginal emission rates, one mixed.
CAISO = {"server_regions": ("caiso_pge", "caiso_sce", "mixed")}

__all__ = [
    "CAISO",
    "FAMILY",
    "LARGE",
    "CarbonGreedyPolicy",
    "Decision",
    "LatencyGreedyPolicy",
    "MetaverseOffloadCore",
    "MetaverseOffloadEnv",
    "MetaverseOffloadParams",
    "encode",
]
