"""A contextual bandit with two separated optima of different value, for learning tests.

Context ``c ~ U[-1, 1]^2``; action ``a`` in the Box ``[0, 2]^2`` (``u = a - 1`` in ``[-1, 1]^2``).
Reward ``max(exp(-|u - p(c)|^2 / 2w^2), 0.6 exp(-|u - q(c)|^2 / 2w^2))`` with the global peak
``p(c) = (0.5, 0.4 c_0)`` worth 1 and a local peak ``q(c) = (-0.5, -0.4 c_1)`` worth 0.6, width
``w = 0.25``. The optimum is ``a* = 1 + p(c)`` with value 1; a uniformly random policy earns about
0.13. A policy that settles on the wrong peak earns at most 0.6, so a threshold above 0.6 tells
whether the agent found the global optimum. One step per episode.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

WIDTH = 0.25
LOCAL_VALUE = 0.6


def peaks(ctx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Global and local peak of each context, in the normalised action coordinates."""
    ctx = np.atleast_2d(ctx)
    p = np.stack([np.full(len(ctx), 0.5), 0.4 * ctx[:, 0]], axis=1)
    q = np.stack([np.full(len(ctx), -0.5), -0.4 * ctx[:, 1]], axis=1)
    return p, q


def reward(ctx: np.ndarray, act: np.ndarray) -> np.ndarray:
    """Reward of actions ``act`` (n, 2) in contexts ``ctx`` (n, 2)."""
    u = np.atleast_2d(act) - 1.0
    p, q = peaks(ctx)
    r_p = np.exp(-((u - p) ** 2).sum(1) / (2 * WIDTH**2))
    r_q = LOCAL_VALUE * np.exp(-((u - q) ** 2).sum(1) / (2 * WIDTH**2))
    return np.maximum(r_p, r_q)


def optimal_action(ctx: np.ndarray) -> np.ndarray:
    return (1.0 + peaks(ctx)[0]).astype(np.float32)


class TwoPeakBandit(gym.Env):
    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Box(0.0, 2.0, (2,), np.float32)

    def _draw(self) -> np.ndarray:
        self._ctx = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        return self._ctx

    def reset(self, *, seed: int | None = None, options: Any = None):
        super().reset(seed=seed)
        return self._draw(), {}

    def step(self, action):
        r = float(reward(self._ctx[None], np.asarray(action)[None])[0])
        return self._draw(), r, True, False, {}


class BanditExpert:
    """The bandit's oracle, in the interface of ``ExpertActionWrapper``."""

    def reset(self) -> None:
        pass

    def act(self, obs: np.ndarray) -> np.ndarray:
        return optimal_action(obs)[0]
