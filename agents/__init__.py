"""Agents for the lowcarbon suite: rule-based baselines, the oracle, and evaluation helpers."""

from lowcarbon.envs.oracles import OraclePolicy

from .baselines import POLICIES, CarbonGreedyPolicy, LatencyGreedyPolicy, Policy, RandomPolicy
from .evaluation import EpisodeResult, evaluate, normalised_score, rollout

POLICIES["oracle"] = OraclePolicy

__all__ = [
    "POLICIES",
    "CarbonGreedyPolicy",
    "EpisodeResult",
    "LatencyGreedyPolicy",
    "OraclePolicy",
    "Policy",
    "RandomPolicy",
    "evaluate",
    "normalised_score",
    "rollout",
]
