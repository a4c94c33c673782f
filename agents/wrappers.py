"""Gymnasium wrappers that agents need on top of the suite's environments."""

from __future__ import annotations

from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from lowcarbon.envs.oracles import OraclePolicy


class Expert(Protocol):
    """Anything with ``reset()`` (called after each env reset) and ``act(obs) -> action``."""

    def reset(self) -> None: ...

    def act(self, obs: np.ndarray) -> np.ndarray: ...


class ExpertActionWrapper(gym.Wrapper):
    """Adds ``info["expert_action"]`` to every step: the expert's action for the state the step
    started from, i.e. for the observation the agent acted on.

    A replay buffer stores that info in the same row as the observation, so each transition
    carries its own label: the label of GDMOPT's expert mode (behaviour cloning in
    :class:`~lowcarbon.agents.gdm.GDM`). The expert is asked before the env steps, while the env
    is still in that state.

    :param env: a suite environment (or any env, given an expert for it).
    :param expert: defaults to the env's :class:`~lowcarbon.envs.oracles.OraclePolicy`, which
        reads the episode drawn at reset, so the label is the optimal action.
    """

    KEY = "expert_action"

    def __init__(self, env: gym.Env, expert: Expert | None = None) -> None:
        super().__init__(env)
        if not isinstance(env.action_space, gym.spaces.Box):
            raise TypeError(f"expert labels need a Box action space, got {env.action_space}")
        self.expert: Expert = expert if expert is not None else OraclePolicy(env)
        self._obs: Any = None

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        self._obs, info = self.env.reset(**kwargs)
        self.expert.reset()
        return self._obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        if self._obs is None:
            raise RuntimeError("call reset() before step()")
        label = np.asarray(self.expert.act(self._obs), dtype=np.float32)
        label = label.reshape(self.env.action_space.shape)
        self._obs, reward, terminated, truncated, info = self.env.step(action)
        return self._obs, reward, terminated, truncated, {**info, self.KEY: label}
