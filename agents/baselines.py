"""Rule-based baselines by name, for every environment of the suite.

Each environment family ships its own rules (``lowcarbon.envs.<env>.rules``); the names here are
the same for every family, and :func:`make_rule` finds the right class through the suite
registry (:mod:`lowcarbon.envs.suite`). Rules act on the current slot only, reading the env's
core in physical units; none sees the future. The ``random`` policy anchors the normalised score
``(return - random) / (oracle - random)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lowcarbon.envs.oracles import OraclePolicy
from lowcarbon.envs.policy import Policy, RandomPolicy
from lowcarbon.envs.suite import entry

#: the rule names every family provides
RULE_NAMES = ("carbon_greedy", "latency_greedy")


def make_rule(name: str) -> Callable[[Any], Policy]:
    """A factory ``env -> policy`` for the rule ``name`` of whichever suite env it is given."""
    if name not in RULE_NAMES:
        raise ValueError(f"unknown rule {name!r}; choose one of {RULE_NAMES}")

    def build(env: Any) -> Policy:
        return entry(env).family.rules[name](env)

    build.__name__ = name
    return build


#: every policy of the suite by name: random, the rules and the oracle
POLICIES: dict[str, Callable[[Any], Policy]] = {
    "random": RandomPolicy,
    **{name: make_rule(name) for name in RULE_NAMES},
    "oracle": OraclePolicy,
}

__all__ = ["POLICIES", "RULE_NAMES", "OraclePolicy", "Policy", "RandomPolicy", "make_rule"]
