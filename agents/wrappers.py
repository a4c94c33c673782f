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
        plans the episode drawn at reset with perfect foresight and replays its plan slot by
        slot: the label is the optimal action on the oracle's own trajectory. Once the agent's
        actions take the env elsewhere (other battery levels, another backlog) it is that plan's
        action for the slot, a strong expert but not the optimum from the state reached.
    """

    KEY = "expert_action"

    def __init__(self, env: gym.Env, expert: Expert | None = None) -> None:
        super().__init__(env)
        if not isinstance(env.action_space, gym.spaces.Box):
            raise TypeError(f"expert labels need a Box action space, got {env.action_space}")
        if expert is None and not hasattr(env.unwrapped, "core"):
            raise ValueError(
                f"{env.unwrapped.__class__.__name__} is not a lowcarbon suite env: the default "
                "expert (the oracle) covers only those; pass expert= (an object with reset() "
                "and act(obs))"
            )
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
