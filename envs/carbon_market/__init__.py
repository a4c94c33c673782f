"""Carbon market: prosumers under a cap-and-trade scheme (multi-agent).

``env`` holds the specification and the batched dynamics (the Energy-Internet day with two
uniform-price double auctions), ``oracle`` the social optimum (a central LP), ``rules`` the
selfish rule; the PettingZoo-style module is :mod:`lowcarbon.envs.carbon_market_v0`.
"""

from __future__ import annotations

from .env import CarbonMarketCore, CarbonMarketEnv, CarbonMarketParams, clear_double_auction
from .oracle import MarketPlan, SocialOptimumPolicy, solve
from .rules import RULES, SelfishPolicy

__all__ = [
    "RULES",
    "CarbonMarketCore",
    "CarbonMarketEnv",
    "CarbonMarketParams",
    "MarketPlan",
    "SelfishPolicy",
    "SocialOptimumPolicy",
    "clear_double_auction",
    "solve",
]
