"""Agents for the lowcarbon suite: rule-based baselines, the oracle, and evaluation helpers.

The diffusion-policy agent lives in :mod:`lowcarbon.agents.gdm` (it imports torch and Tianshou,
so it is not imported here).
"""

from .baselines import POLICIES, RULE_NAMES, OraclePolicy, Policy, RandomPolicy, make_rule
from .evaluation import EpisodeResult, evaluate, normalised_score, rollout
from .wrappers import ExpertActionWrapper

__all__ = [
    "POLICIES",
    "RULE_NAMES",
    "EpisodeResult",
    "ExpertActionWrapper",
    "OraclePolicy",
    "Policy",
    "RandomPolicy",
    "evaluate",
    "make_rule",
    "normalised_score",
    "rollout",
]
