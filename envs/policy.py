"""The interface every rule-based policy and oracle of the suite implements.

A :class:`Policy` acts in one suite environment. It reads the current slot's state straight from
the env's batched core in physical units (rules never see the future; oracles do, by design), so
it is built from the env: ``policy = Cls(env)``; then :meth:`Policy.reset` after each
``env.reset`` and :meth:`Policy.act` before each ``env.step``.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class Policy:
    """Base class of the suite's rule-based policies and oracle (see the module docstring)."""

    name = "policy"

    def __init__(self, env: Any) -> None:
        self.env = env.unwrapped if hasattr(env, "unwrapped") else env
        self.core = self.env.core

    def reset(self) -> None:
        """Called after each ``env.reset``."""

    def act(self, obs: np.ndarray | None = None) -> np.ndarray:
        """The action for the core's current slot, shape ``(act_dim,)``."""
        raise NotImplementedError


class RandomPolicy(Policy):
    """Uniform random actions in [-1, 1], drawn from the env's own ``np_random`` (reproducible).

    This is the zero of the normalised score ``(return - random) / (oracle - random)``.
    """

    name = "random"

    def act(self, obs: np.ndarray | None = None) -> np.ndarray:
        return self.env.np_random.uniform(-1.0, 1.0, size=self.core.act_dim)
