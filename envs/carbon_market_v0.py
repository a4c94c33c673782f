"""``carbon_market_v0``: prosumers trading energy and allowances under a cap, PettingZoo style.

``parallel_env(**kwargs)`` is the :class:`~lowcarbon.envs.carbon_market.CarbonMarketEnv`
(a PettingZoo ``ParallelEnv``; its docstring is the specification), ``env(**kwargs)`` the same
game as an AEC env (PettingZoo's ``parallel_to_aec``), ``raw_env`` the class. Keyword arguments
are the fields of :class:`~lowcarbon.envs.carbon_market.CarbonMarketParams` plus ``max_cycles``.
"""

from __future__ import annotations

from .carbon_market import CarbonMarketEnv as raw_env
from .multiagent import pettingzoo_constructors

env, parallel_env = pettingzoo_constructors(raw_env)

__all__ = ["env", "parallel_env", "raw_env"]
