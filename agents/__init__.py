"""Agents for the lowcarbon suite: rule-based baselines, the oracle, and evaluation helpers.

The diffusion-policy agent lives in :mod:`lowcarbon.agents.gdm` (it imports torch and Tianshou,
so it is not imported here).
"""

from lowcarbon.envs.oracles import OraclePolicy

from .baselines import POLICIES, CarbonGreedyPolicy, LatencyGreedyPolicy, Policy, RandomPolicy
from .evaluation import EpisodeResult, evaluate, normalised_score, rollout
from .wrappers import ExpertActionWrapper

POLICIES["oracle"] = OraclePolicy

__all__ = [
    "POLICIES",
    "CarbonGreedyPolicy",
    "EpisodeResult",
    "ExpertActionWrapper",
    "LatencyGreedyPolicy",
    "OraclePolicy",
    "Policy",
    "RandomPolicy",
    "evaluate",
    "normalised_score",
    "rollout",
]
