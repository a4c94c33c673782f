"""Energy Internet: prosumers with PV, wind, batteries and EVs behind one feeder.

``env`` holds the specification and the batched dynamics, ``oracle`` the perfect-foresight LP,
``rules`` the rule-based policies; :data:`FAMILY` ties them together for the suite registry.
"""

from __future__ import annotations

from ..suite import EnvFamily, QoS
from . import oracle
from .env import Decision, EnergyInternetCore, EnergyInternetEnv, EnergyInternetParams, encode
from .rules import RULES, CarbonGreedyPolicy, LatencyGreedyPolicy

FAMILY = EnvFamily(
    env_cls=EnergyInternetEnv,
    oracle=oracle.solve,
    rules=RULES,
    qos=QoS("ev_unmet_kwh", "sum", higher_is_better=False),
    encode=encode,
)

#: ``EnergyInternet-Large-v1``: sixteen prosumers behind a feeder four times as strong.
LARGE = {"n_prosumers": 16, "feeder_limit_kw": 120.0}

__all__ = [
    "FAMILY",
    "LARGE",
    "CarbonGreedyPolicy",
    "Decision",
    "EnergyInternetCore",
    "EnergyInternetEnv",
    "EnergyInternetParams",
    "LatencyGreedyPolicy",
    "encode",
]
