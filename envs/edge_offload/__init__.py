"""Edge offload: metaverse service providers sharing carbon-aware edge sites (multi-agent).

``env`` holds the specification and the batched dynamics on the MetaverseOffload-v1 core,
``oracle`` the central MILP, ``rules`` the selfish rule; the PettingZoo-style module is
:mod:`lowcarbon.envs.edge_offload_v0`.
"""

from __future__ import annotations

from .env import EdgeOffloadCore, EdgeOffloadEnv, EdgeOffloadParams
from .oracle import CentralOraclePolicy, solve
from .rules import RULES, SelfishGreedyPolicy

__all__ = [
    "RULES",
    "CentralOraclePolicy",
    "EdgeOffloadCore",
    "EdgeOffloadEnv",
    "EdgeOffloadParams",
    "SelfishGreedyPolicy",
    "solve",
]
