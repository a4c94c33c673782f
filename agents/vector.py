"""Vectorised collection: Gymnasium vector envs for Tianshou's collectors and SB3's algorithms.

The suite's envs register a native ``VectorEnv`` (``gym.make_vec(id, n,
vectorization_mode="vector_entry_point")``) that steps ``n`` copies in one numba call. Neither
Tianshou 2.x nor Stable-Baselines3 takes a Gymnasium ``VectorEnv``: Tianshou's ``Collector``
expects its own ``BaseVectorEnv`` interface (per-env ids, ``reset(env_id)``, infos as an array of
dicts; it duck-types EnvPool's envs the same way) and SB3 its ``VecEnv`` (auto-reset with the
``terminal_observation`` in the info). The two adapters here give them that interface over any
``VectorEnv`` with ``NEXT_STEP`` or disabled autoreset:

* :class:`TianshouVectorEnv` for :class:`tianshou.data.Collector`;
* :class:`SB3VecEnv` for SB3's PPO, SAC and TD3 (and ``VecNormalize`` on top).

:class:`EnvSource` says where an agent's envs come from (id, constructor arguments, wrappers) and
builds the vector env: the native one where the id has it and no wrapper is asked for, otherwise
Gymnasium's ``SyncVectorEnv`` over single envs. Both seed copy ``i`` with ``seed + i``, so with the
same seeds the transitions are those of ``n`` single envs (tested against Tianshou's
``DummyVectorEnv`` and SB3's ``DummyVecEnv``).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import VecEnv

from lowcarbon.envs.multiagent import SharedPolicyVectorEnv, is_multiagent, multiagent_entry

Wrapper = Callable[[gym.Env], gym.Env]


@dataclass(frozen=True)
class EnvSource:
    """Where an agent's environments come from.

    :param env_id: a registered Gymnasium id, or a multi-agent env's module name
        (``"carbon_market_v0"``, ``"edge_offload_v0"``): its vector env is then the
        :class:`~lowcarbon.envs.multiagent.SharedPolicyVectorEnv` (one slot per copy and agent),
        so a learner trained on it is a parameter-shared independent learner.
    :param kwargs: constructor arguments (the env's parameters).
    :param wrappers: applied in order to every single env (for example the
        :class:`~lowcarbon.agents.ExpertActionWrapper`); they rule out the native vector env.
    """

    env_id: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    wrappers: tuple[Wrapper, ...] = ()

    @property
    def multiagent(self) -> bool:
        """Whether ``env_id`` names a multi-agent env."""
        return is_multiagent(self.env_id)

    def make(self) -> gym.Env:
        """One env (wrapped); a multi-agent env has none (use :meth:`make_vec`)."""
        if self.multiagent:
            raise ValueError(f"{self.env_id} is a multi-agent env: it has no single Gymnasium "
                             "env; use make_vec (one slot per copy and agent)")  # fmt: skip
        env = gym.make(self.env_id, **self.kwargs)
        for wrap in self.wrappers:
            env = wrap(env)
        return env

    @property
    def native(self) -> bool:
        """Whether :meth:`make_vec` gives the id's native vector env."""
        if self.multiagent:
            return True
        return not self.wrappers and gym.spec(self.env_id).vector_entry_point is not None

    def spaces(self) -> tuple[gym.Space, gym.Space]:
        """The observation and action space of one env (of one agent, if multi-agent)."""
        if self.multiagent:
            venv = self.make_vec(1)
            return venv.single_observation_space, venv.single_action_space
        env = self.make()
        try:
            return env.observation_space, env.action_space
        finally:
            env.close()

    def make_vec(self, num_envs: int) -> VectorEnv:
        """``num_envs`` copies: the native vector env where there is one (see :attr:`native`),
        else a ``SyncVectorEnv`` of :meth:`make`. A multi-agent env gives ``num_envs`` copies
        of the game, ``num_envs * n_agents`` slots."""
        if num_envs < 1:
            raise ValueError(f"n_envs must be >= 1, got {num_envs}")
        if self.multiagent:
            if self.wrappers:
                raise ValueError(f"{self.env_id} is a multi-agent env: single-env wrappers "
                                 "(an expert) do not apply")  # fmt: skip
            return SharedPolicyVectorEnv(multiagent_entry(self.env_id).env_cls, num_envs,
                                         **self.kwargs)  # fmt: skip
        if self.native:
            return gym.make_vec(self.env_id, num_envs, vectorization_mode="vector_entry_point",
                                **self.kwargs)  # fmt: skip
        return gym.vector.SyncVectorEnv([self.make for _ in range(num_envs)])


def _check_autoreset(venv: VectorEnv) -> None:
    mode = venv.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
    if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.DISABLED):
        raise ValueError(
            f"the adapters reset finished copies themselves: they need NEXT_STEP or DISABLED "
            f"autoreset, got {mode}"
        )


def _info_dicts(
    info: dict[str, Any], ids: Sequence[int], keys: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Gymnasium's vector info (arrays with ``_key`` masks) as one dict per copy in ``ids``
    (only ``keys``, where given)."""
    out: list[dict[str, Any]] = [{} for _ in ids]
    for key, value in info.items():
        if key.startswith("_") or (keys is not None and key not in keys):
            continue
        mask = info.get(f"_{key}")
        for j, i in enumerate(ids):
            if mask is None or mask[i]:
                out[j][key] = value[i]
    return out


def _reset(
    venv: VectorEnv, ids: np.ndarray, seed: Any = None, options: dict | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Reset the copies ``ids``: all at once, or through Gymnasium's ``reset_mask``."""
    if len(ids) == venv.num_envs:
        return venv.reset(seed=seed, options=options)
    mask = np.zeros(venv.num_envs, dtype=bool)
    mask[ids] = True
    if isinstance(seed, int):
        seed = [seed + i for i in range(venv.num_envs)]
    return venv.reset(seed=seed, options={**(options or {}), "reset_mask": mask})


class TianshouVectorEnv:
    """A Gymnasium ``VectorEnv`` behind the interface Tianshou's ``Collector`` uses.

    Tianshou 2.x collects from its ``BaseVectorEnv`` (a pool of single-env workers) and duck-types
    EnvPool's batched envs; this adapter does the latter for Gymnasium's vector API: ``seed``,
    ``reset(env_id)``, ``step(action, id)``, per-copy action spaces (for random collection) and
    infos as an array of dicts carrying ``env_id``. The collector resets finished copies itself,
    which clears the vector env's pending autoreset. All copies step together (``id`` must be
    every copy): collect with ``n_step``, or with ``n_episode`` a multiple of the copies when,
    as in the suite's fixed-horizon envs, every copy's episode ends at the same step (then no
    copy is left out of a step).

    :param venv: a ``VectorEnv`` with ``NEXT_STEP`` or disabled autoreset.
    :param info_keys: the info entries to pass on (``None``: all). Tianshou stores every info
        entry of every step in its replay buffer and builds a ``Batch`` of them per step, which
        costs more than the env step itself; a learner that reads none (or only
        ``expert_action``) passes only those. ``env_id`` is always there.
    """

    is_async = False

    def __init__(self, venv: VectorEnv, info_keys: Sequence[str] | None = None) -> None:
        _check_autoreset(venv)
        self.venv = venv
        self.info_keys = None if info_keys is None else tuple(info_keys)
        self.env_num = venv.num_envs
        self.waiting_id: list[int] = []
        self.ready_id = list(range(self.env_num))
        self.is_closed = False
        self._all = np.arange(self.env_num)
        # one action space per copy, each with its own generator, as Tianshou's workers have
        self._action_spaces = [copy.deepcopy(venv.single_action_space)
                               for _ in range(self.env_num)]  # fmt: skip

    def __len__(self) -> int:
        return self.env_num

    @property
    def action_space(self) -> list[gym.Space]:
        return self._action_spaces

    @property
    def observation_space(self) -> list[gym.Space]:
        return [self.venv.single_observation_space] * self.env_num

    def seed(self, seed: int | Sequence[int] | None = None) -> list[int | None]:
        """Seed copy ``i`` and its action space with ``seed + i`` (or ``seed[i]``) and reset all
        copies, as ``BaseVectorEnv.seed`` does through its workers."""
        if seed is None or isinstance(seed, int | np.integer):
            seeds = [None if seed is None else int(seed) + i for i in range(self.env_num)]
        else:
            seeds = [int(s) for s in seed]
        for space, s in zip(self._action_spaces, seeds, strict=True):
            space.seed(s)
        self.venv.reset(seed=seeds)
        return seeds

    def _ids(self, ids: Any) -> np.ndarray:
        if ids is None:
            return self._all
        return np.atleast_1d(np.asarray(ids, dtype=np.int64))

    def reset(self, env_id: Any = None, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
        """Reset the copies ``env_id`` (default all; ``seed``/``options`` as the vector env
        takes them): their observations and an array of info dicts."""
        ids = self._ids(env_id)
        obs, info = _reset(self.venv, ids, kwargs.get("seed"), kwargs.get("options"))
        infos = np.array(_info_dicts(info, ids, self.info_keys), dtype=object)
        return obs[ids], infos

    def step(
        self, action: np.ndarray, id: Any = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Step every copy (``id`` must name them all): observations, rewards, terminations,
        truncations and an array of info dicts, each with its ``env_id``."""
        ids = self._ids(id)
        if len(ids) != self.env_num or not np.array_equal(ids, self._all):
            raise ValueError(
                f"the copies of a vector env step together: got ids {ids.tolist()} of "
                f"{self.env_num}; collect with n_step, not n_episode"
            )
        obs, rew, term, trunc, info = self.venv.step(np.asarray(action))
        infos = _info_dicts(info, ids, self.info_keys)
        for i, d in enumerate(infos):
            d["env_id"] = i
        return obs, rew, term, trunc, np.array(infos, dtype=object)

    def get_env_attr(self, key: str, id: Any = None) -> list[Any]:
        """The vector env's attribute ``key``, once per copy asked for (the copies share it)."""
        return [getattr(self.venv, key)] * len(self._ids(id))

    def render(self, **kwargs: Any) -> list[Any]:
        """The vector env's render, as a one-item list."""
        return [self.venv.render()]

    def close(self) -> None:
        """Close the vector env (once)."""
        if not self.is_closed:
            self.venv.close()
            self.is_closed = True


class SB3VecEnv(VecEnv):
    """A Gymnasium ``VectorEnv`` as a Stable-Baselines3 ``VecEnv``.

    It behaves as SB3's ``DummyVecEnv`` over ``Monitor``-wrapped single envs: a finished copy is
    reset at once, its last observation goes to ``info["terminal_observation"]``,
    ``info["TimeLimit.truncated"]`` marks a truncation, and ``info["episode"]`` holds the episode's
    return ``r``, length ``l`` and wall time ``t`` (what SB3's logger reads). Seeds set by
    ``seed(s)`` apply at the next ``reset()``: copy ``i`` gets ``s + i``.

    :param venv: a ``VectorEnv`` with ``NEXT_STEP`` or disabled autoreset.
    """

    def __init__(self, venv: VectorEnv) -> None:
        _check_autoreset(venv)
        self.venv = venv
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
        self._actions: np.ndarray | None = None
        self._returns = np.zeros(self.num_envs)
        self._lengths = np.zeros(self.num_envs, dtype=np.int64)
        self._t0 = time.time()
        self._all = np.arange(self.num_envs)

    def reset(self) -> np.ndarray:
        seeds = None if all(s is None for s in self._seeds) else list(self._seeds)
        if any(o != self._options[0] for o in self._options):
            raise ValueError("the copies of a vector env reset with the same options")
        options = self._options[0] if self._options and self._options[0] else None
        obs, info = self.venv.reset(seed=seeds, options=options)
        self.reset_infos = _info_dicts(info, self._all)
        self._returns[:] = 0.0
        self._lengths[:] = 0
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        obs, rew, term, trunc, info = self.venv.step(self._actions)
        rew = np.asarray(rew, dtype=np.float32)
        done = np.logical_or(term, trunc)
        infos = _info_dicts(info, self._all)
        self._returns += rew
        self._lengths += 1
        if done.any():
            ids = np.flatnonzero(done)
            new_obs, reset_info = _reset(self.venv, ids)
            new_infos = _info_dicts(reset_info, ids)
            obs = np.array(obs, copy=True)
            for j, i in enumerate(ids):
                infos[i]["terminal_observation"] = obs[i].copy()
                infos[i]["TimeLimit.truncated"] = bool(trunc[i] and not term[i])
                infos[i]["episode"] = {"r": float(self._returns[i]), "l": int(self._lengths[i]),
                                       "t": round(time.time() - self._t0, 6)}  # fmt: skip
                self.reset_infos[i] = new_infos[j]
                obs[i] = new_obs[i]
            self._returns[ids] = 0.0
            self._lengths[ids] = 0
        return obs, rew, done, infos

    def close(self) -> None:
        self.venv.close()

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        """The vector env's attribute, once per copy (``AttributeError`` if it has none;
        ``render_mode`` is ``None`` for envs that do not render)."""
        if attr_name == "render_mode" and not hasattr(self.venv, attr_name):
            return [None] * len(self._get_indices(indices))
        return [getattr(self.venv, attr_name)] * len(self._get_indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list:
        result = getattr(self.venv, method_name)(*args, **kwargs)
        return [result] * len(self._get_indices(indices))

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        # Monitor's statistics are in the infos, and no gym.Wrapper sits inside
        return [wrapper_class is Monitor] * len(self._get_indices(indices))

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None] * self.num_envs
