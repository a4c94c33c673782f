"""The central oracle of :class:`~.env.EdgeOffloadEnv`: MetaverseOffload-v1's MILP on the joint
instance (every provider's users at once), :func:`lowcarbon.envs.metaverse_offload.oracle.solve`.

The providers' rewards add up to the joint env's, so the MILP's value bounds the welfare of every
joint play, and :class:`CentralOraclePolicy` attains it by replaying the joint plan, each
provider taking its own users' columns.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..metaverse_offload import oracle as metaverse_oracle
from .env import EdgeOffloadCore


def solve(core: EdgeOffloadCore, b: int = 0, time_limit: float = 120.0) -> Any:
    """Plan copy ``b`` of ``core`` (at the start of its episode) for all providers at once;
    returns the :class:`~lowcarbon.envs.metaverse_offload.oracle.MetaversePlan`."""
    return metaverse_oracle.solve(core.joint, b, time_limit=time_limit)


class CentralOraclePolicy:
    """Replays the central plan; :meth:`act` returns every provider's action, (P, act_dim).

    ``bound`` is the plan's value after :meth:`reset`, the welfare no joint play beats."""

    name = "oracle"

    def __init__(self, env: Any) -> None:
        self.env = env.unwrapped if hasattr(env, "unwrapped") else env
        self.core: EdgeOffloadCore = self.env.core
        self.plan: Any = None
        self.bound = float("nan")

    def reset(self) -> None:
        self.plan = solve(self.core, 0)
        self.bound = float(self.plan.value)

    def act(self, obs: object = None) -> np.ndarray:
        if self.plan is None:
            raise RuntimeError("call reset() after env.reset() before act()")
        core = self.core
        joint = self.plan.action(core.joint)[: core.joint.U * (core.S + 1)]
        return joint.reshape(core.n_agents, core.act_dim)
