"""Batched environment cores and the two Gymnasium front ends built on them.

Each environment of the suite is written once, as a :class:`BatchedCore`: plain numpy over a
leading batch axis of ``B`` independent copies. :class:`CoreEnv` runs a core with ``B = 1`` as a
standard ``gymnasium.Env``; :class:`CoreVectorEnv` runs it with ``B = num_envs`` as a native
``gymnasium.vector.VectorEnv`` that steps all copies in one call, so vectorised training costs
one numpy pass per step instead of ``num_envs`` Python calls.

All environments of the suite have a fixed horizon and no early termination, so the copies of a
vector env start, finish and (auto-)reset together.

Exogenous signals for a whole episode are drawn at ``reset`` from ``np_random`` (vectorised
numpy); the step path only indexes arrays and never draws random numbers, so the same seed gives a
bit-identical episode. Each core's step is a numba kernel looping over the batch: with one copy a
numpy expression costs ~1-5 us of call overhead, which a kernel pays once per step instead of once
per operation.

A vector env with ``seeding="batch"`` sets its core's :attr:`BatchedCore.fast_draws`: a core may
then draw its episodes from the same distributions by other, faster samplers (and lay the arrays
out for its kernels), so its episodes differ from the single env's for the same seed; the
dynamics are the same code either way.
"""

from __future__ import annotations

import functools
import math
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from numba import njit

OBS_BOUND = 10.0
"""Observations are clipped to [-OBS_BOUND, OBS_BOUND]; features are scaled to be O(1)."""


@dataclass(frozen=True)
class EnvParams:
    """Base of each environment's parameter dataclass (validated in ``__post_init__``)."""

    horizon: int = 24
    slot_minutes: int = 60

    def check_base(self) -> None:
        """Validate what every env's parameters share: each number finite (NaN and +-inf are
        refused wherever they appear, in sequences too), ``horizon`` (slots per episode) and
        ``slot_minutes`` (length of a slot). Each env's ``__post_init__`` calls it first."""
        for f in fields(self):
            bad = next((x for x in _numbers(getattr(self, f.name)) if not math.isfinite(x)), None)
            require(bad is None, f.name, f"must be finite, got {getattr(self, f.name)!r}")
            if f.name in _integer_fields(type(self)):
                object.__setattr__(self, f.name, _as_whole(f.name, getattr(self, f.name)))
        require(self.horizon >= 1, "horizon", f"must be >= 1, got {self.horizon}")
        require(
            self.slot_minutes >= 1 and (60 % self.slot_minutes == 0 or self.slot_minutes % 60 == 0),
            "slot_minutes",
            f"must divide 60 or be a multiple of 60, got {self.slot_minutes}",
        )

    def expand(self, name: str, n: int, default: tuple[Any, ...]) -> None:
        """Normalise the per-item field ``name`` to an n-tuple in place (see :func:`per_item`)."""
        object.__setattr__(self, name, per_item(getattr(self, name), n, name, default))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _numbers(value: Any) -> Iterator[float]:
    """The numbers in a parameter value: the value itself, or those of a (nested) sequence;
    strings and booleans are not numbers here."""
    if isinstance(value, bool | str | bytes) or value is None:
        return
    if isinstance(value, int | float | np.number):
        yield float(value)
    elif isinstance(value, Sequence | np.ndarray):
        for item in value:
            yield from _numbers(item)


@functools.cache
def _integer_fields(cls: type) -> frozenset[str]:
    """The fields of a params dataclass typed as whole numbers: ``int`` or tuples of ints
    (optionally ``| None``)."""
    out = set()
    for name, hint in typing.get_type_hints(cls).items():
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 1:
            hint = args[0]
        inner = [a for a in typing.get_args(hint) if a is not Ellipsis]
        if hint is int or (typing.get_origin(hint) is tuple and inner and set(inner) == {int}):
            out.add(name)
    return frozenset(out)


def _as_whole(name: str, value: Any) -> Any:
    """A whole-number parameter with its integral floats (6.0, as YAML or a unit conversion
    gives them) made ints; a fraction raises ``ValueError`` naming the parameter."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float | np.number):
        require(float(value).is_integer(), name, f"must be a whole number, got {value!r}")
        return int(value)
    if isinstance(value, Sequence | np.ndarray) and not isinstance(value, str):
        return tuple(_as_whole(name, v) for v in value)
    return value


def require(condition: bool, name: str, message: str) -> None:
    """Raise ``ValueError`` naming the constructor argument ``name`` unless ``condition``."""
    if not condition:
        raise ValueError(f"{name}: {message}")


def per_item(values: Any, n: int, name: str, default: tuple[Any, ...]) -> tuple[Any, ...]:
    """Expand a per-server/site/prosumer argument to length ``n``.

    ``None`` cycles through ``default``; a scalar is repeated; a sequence must have length ``n``.
    """
    if values is None:
        return tuple(default[i % len(default)] for i in range(n))
    if not isinstance(values, Iterable) or isinstance(values, str | bytes):
        return (values,) * n  # a scalar (a number, a name, a trace object)
    values = tuple(values)
    require(len(values) == n, name, f"needs {n} entries (one per item), got {len(values)}")
    return values


def info_index(keys: tuple[str, ...]) -> dict[str, int]:
    """Column of each info key in a core's info matrix (kernels take their indices from here)."""
    if len(set(keys)) != len(keys):
        raise ValueError(f"info keys must be unique, got {keys}")
    return {k: i for i, k in enumerate(keys)}


def time_features(horizon: int, slot_minutes: int) -> np.ndarray:
    """(horizon, 3) float array: sin and cos of the hour of day, fraction of the episode elapsed."""
    phase = 2 * np.pi * ((np.arange(horizon) * slot_minutes / 60.0) % 24) / 24.0
    return np.stack([np.sin(phase), np.cos(phase), np.arange(horizon) / horizon], -1)


class CoreBase(ABC):
    """What every batched core shares, single- or multi-agent: ``batch_size`` copies of one
    environment with a fixed ``horizon``, the slot ``t`` and :meth:`reset`."""

    obs_dim: int
    act_dim: int
    horizon: int
    #: keys of the per-step info of every copy, each a (batch,) float array.
    info_keys: ClassVar[tuple[str, ...]] = ()
    #: Set by :class:`CoreVectorEnv` with ``seeding="batch"``. A core with faster samplers for
    #: its episodes uses them in :meth:`reset` while this is true: the same distributions,
    #: drawn differently (other numbers for the same seed, and possibly another memory layout of
    #: the episode arrays); cores without such samplers ignore it. False (the default) keeps
    #: the draws that single envs and ``seeding="per_copy"`` replay.
    fast_draws: bool = False

    def __init__(self, params: EnvParams, batch_size: int) -> None:
        require(batch_size >= 1, "batch_size", f"must be >= 1, got {batch_size}")
        self.params = params
        self.batch_size = batch_size
        self.horizon = params.horizon
        self.t = 0

    @abstractmethod
    def reset(self, rng: np.random.Generator) -> None:
        """Draw a new episode for every copy and set ``t = 0``."""

    @property
    def done(self) -> bool:
        return self.t >= self.horizon

    def buffer(self, name: str, shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
        """An array kept from one reset to the next, for ``fast_draws`` resets to draw into:
        fresh arrays of megabytes cost page faults, whose time varies, at every reset."""
        buffers = self.__dict__.setdefault("_buffers", {})
        buf = buffers.get(name)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = buffers[name] = np.empty(shape, dtype)
        return buf


class BatchedCore(CoreBase):
    """Dynamics of ``batch_size`` copies of one environment, in numpy.

    Subclasses set ``obs_dim``, ``act_dim`` and ``horizon`` and implement :meth:`reset`,
    :meth:`observe` and :meth:`step`. Actions arrive as float64 arrays of shape
    ``(batch_size, act_dim)`` already clipped to [-1, 1].
    """

    @abstractmethod
    def observe(self) -> np.ndarray:
        """Observation of every copy at the current slot, float32 (batch, obs_dim)."""

    @abstractmethod
    def step(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Apply ``action`` (batch, act_dim) at slot ``t`` and advance ``t``.

        ``action`` is a float64 array the core may clip in place. Returns the reward (batch,) and
        the info matrix (batch, len(info_keys)). Raises ``ValueError`` on NaN, before any change.
        """


def _as_action(action: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A float64 copy of ``action`` with ``shape`` (the core clips it and rejects NaN)."""
    a = np.array(action, dtype=np.float64)
    if a.shape != shape:
        if a.size != shape[0] * shape[1]:
            raise ValueError(f"action has shape {a.shape}, expected {shape[1:] or shape}")
        a = a.reshape(shape)
    return a


@njit(cache=True)
def clip_action(action: np.ndarray) -> bool:
    """Clip ``action`` to [-1, 1] in place (+-inf included); False if it holds a NaN (its
    entries are then unspecified). One branch-free pass, which vectorises."""
    flat = action.reshape(-1)
    nan = False
    for i in range(flat.size):
        x = flat[i]
        nan |= x != x
        flat[i] = min(max(x, -1.0), 1.0)
    return not nan


def check_and_clip(action: np.ndarray) -> None:
    """Clip in place; raise ``ValueError`` on NaN (called by each core before it changes state)."""
    if not clip_action(action):
        raise ValueError("action contains NaN; actions must be numbers in [-1, 1]")


class CoreEnv(gym.Env[np.ndarray, np.ndarray]):
    """A ``gymnasium.Env`` over a :class:`BatchedCore` with one copy.

    Subclasses set ``params_cls`` and ``core_cls`` and document the model. Constructor keyword
    arguments are the fields of ``params_cls``.

    Actions outside [-1, 1] (including +-inf) are clipped; NaN raises ``ValueError``. The episode
    ends with ``terminated=True`` after ``horizon`` steps (the fraction of the episode elapsed is
    part of the observation, so the fixed horizon is part of the MDP).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}
    params_cls: ClassVar[type[EnvParams]]
    core_cls: ClassVar[type[BatchedCore]]

    def __init__(self, render_mode: str | None = None, **kwargs: Any) -> None:
        refuse_render_mode(render_mode)
        self.params = self.params_cls(**kwargs)
        self.core = self.core_cls(self.params, batch_size=1)
        self.observation_space = gym.spaces.Box(
            -OBS_BOUND, OBS_BOUND, shape=(self.core.obs_dim,), dtype=np.float32
        )
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(self.core.act_dim,), dtype=np.float32)
        self._action_shape = (1, self.core.act_dim)
        self._keys = self.core.info_keys
        self._needs_reset = True

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.core.reset(self.np_random)
        self._needs_reset = False
        return self.core.observe()[0], {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._needs_reset:
            raise RuntimeError("the episode is over (or never started): call reset() first")
        reward, info = self.core.step(_as_action(action, self._action_shape))
        terminated = self.core.done
        self._needs_reset = terminated
        obs = self.core.observe()[0]
        info_dict = dict(zip(self._keys, info[0].tolist(), strict=True))
        return obs, float(reward[0]), terminated, False, info_dict

    @classmethod
    def vector(cls, num_envs: int = 1, **kwargs: Any) -> CoreVectorEnv:
        """The native vector env of this env (``gym.make_vec(id, n,
        vectorization_mode="vector_entry_point")`` calls it through the module's
        ``make_vector``); ``kwargs`` are :class:`CoreVectorEnv`'s and the parameters."""
        return CoreVectorEnv(cls, num_envs, **kwargs)


class RenderModeError(TypeError, ValueError):
    """A ``render_mode`` the env does not have. A ``TypeError``, as an env without a
    ``render_mode`` argument raises, so callers that retry without one (SB3's ``make_vec_env``
    asks for ``rgb_array`` first) do; and a ``ValueError``, a bad value."""


def refuse_render_mode(render_mode: str | None) -> None:
    """The envs do not render: only ``render_mode=None`` is accepted."""
    if render_mode is not None:
        raise RenderModeError(f"render_mode: this environment does not render, got {render_mode!r}")


SEEDINGS = ("per_copy", "batch")


class NativeVectorEnv(VectorEnv, ABC):
    """What the native vector envs share: one core stepping every copy in one call, Gymnasium's
    ``NEXT_STEP`` autoreset, whole-batch resets only, read-only flag and mask arrays.

    The copies share a fixed horizon, so they start and end episodes together: the step after
    the last one of an episode returns the first observation of the next episode, reward 0 and
    no termination, and a partial reset (``options={"reset_mask": m}`` with some copies left
    out) is refused. With ``max_episode_steps``, every copy is truncated after that many steps
    and reset at the next one. ``info`` holds each key as a (num_envs,) array with its ``_key``
    mask, as Gymnasium's vector environments do. Actions must have the shape
    ``(num_envs, act_dim)``. A subclass seeds (:meth:`_seed`), observes
    (:meth:`_observe`) and steps its core (:meth:`_advance`).
    """

    metadata: ClassVar[dict[str, Any]] = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def _setup(
        self,
        core: Any,
        single: Any,
        num_envs: int,
        seeding: str,
        info_keys: Sequence[str],
        max_episode_steps: int | None = None,
    ) -> None:
        """``core`` steps the copies; ``single`` (a one-copy core, or None for one copy) draws
        each copy's episode in ``per_copy`` seeding; ``max_episode_steps`` truncates episodes
        (all copies at once), as Gymnasium's ``TimeLimit`` does for each env of a
        ``SyncVectorEnv``."""
        require(
            max_episode_steps is None or max_episode_steps >= 1,
            "max_episode_steps",
            f"must be >= 1 or None, got {max_episode_steps!r}",
        )
        self.core, self._single, self.num_envs, self.seeding = core, single, num_envs, seeding
        self.max_episode_steps = max_episode_steps
        self._elapsed = 0
        self._action_shape = (num_envs, core.act_dim)
        self.single_observation_space = gym.spaces.Box(
            -OBS_BOUND, OBS_BOUND, shape=(core.obs_dim,), dtype=np.float32
        )
        self.single_action_space = gym.spaces.Box(
            -1.0, 1.0, shape=(core.act_dim,), dtype=np.float32
        )
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._rngs: list[np.random.Generator] | None = None
        self._started = self._autoreset = False
        # returned on every step, so read-only: a caller writing into them gets an error, not a
        # corrupted next step
        self._false = np.zeros(num_envs, dtype=bool)
        self._true = np.ones(num_envs, dtype=bool)
        self._masks = {f"_{k}": np.ones(num_envs, dtype=bool) for k in info_keys}
        for flags in (self._false, self._true, *self._masks.values()):
            flags.flags.writeable = False

    @abstractmethod
    def _seed(self, seed: int | Sequence[int | None] | None) -> None:
        """Set the generators that the next resets draw from (``None``: carry on)."""

    @abstractmethod
    def _observe(self) -> np.ndarray:
        """The (num_envs, obs_dim) observations."""

    @abstractmethod
    def _advance(self, actions: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """One step of every copy with the (num_envs, act_dim) float64 ``actions``: the
        (num_envs,) rewards and the info arrays (no masks)."""

    def _actions(self, actions: Any) -> np.ndarray:
        """A float64 copy of ``actions``, which must have the batch's shape: an array that only
        has the right number of entries (transposed, flat) would mix up the copies' actions."""
        a = np.array(actions, dtype=np.float64)
        if a.shape != self._action_shape:
            raise ValueError(
                f"actions have shape {a.shape}, expected (num_envs, act_dim) = {self._action_shape}"
            )
        return a

    def _batch_generator(self) -> np.random.Generator:
        """The generator of a reset drawn in one pass (batch seeding, or a single copy)."""
        return self._rngs[0]

    def _reset_core(self) -> None:
        if self.seeding == "batch" or self._single is None:
            self.core.reset(self._batch_generator())
        else:
            copy_episodes(self._single, self.core, self._rngs)

    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start new episodes in every copy (see the subclass for what ``seed`` may be;
        ``None`` continues each copy's generator)."""
        require_full_reset(options)
        self._seed(seed)
        self._reset_core()
        self._started, self._autoreset, self._elapsed = True, False, 0
        return self._observe(), {}

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        if self._autoreset:
            self._reset_core()
            self._autoreset, self._elapsed = False, 0
            return self._observe(), np.zeros(self.num_envs), self._false, self._false, {}
        reward, infos = self._advance(self._actions(actions))
        self._elapsed += 1
        done = self.core.done
        cut = self.max_episode_steps is not None and self._elapsed >= self.max_episode_steps
        self._autoreset = done or cut
        terminated = self._true if done else self._false
        truncated = self._true if cut else self._false
        return self._observe(), reward, terminated, truncated, {**infos, **self._masks}


class CoreVectorEnv(NativeVectorEnv):
    """A native ``gymnasium.vector.VectorEnv`` stepping ``num_envs`` copies of a suite env in
    one numpy pass (autoreset, resets and info as :class:`NativeVectorEnv` says).

    :param env_cls: the suite env class (its ``params_cls`` and ``core_cls``).
    :param num_envs: number of copies.
    :param seeding: where the copies' episodes come from.

        * ``"per_copy"`` (default): copy ``i`` has its own generator, seeded ``seed + i`` by
          ``reset(seed=seed)`` or ``seeds[i]`` by ``reset(seed=[...])``, as Gymnasium's
          ``SyncVectorEnv`` seeds its sub-environments. Copy ``i`` then replays exactly the
          episodes of a single env reset with that seed (tested), whatever ``num_envs``.
        * ``"batch"``: one generator draws all copies' episodes in one vectorised pass, several
          times faster to reset for thousands of copies; the episodes then depend on
          ``num_envs`` and differ from the single env's; its generator (``np_random``) is
          numpy's SFC64, faster than the single env's PCG64. The core's
          :attr:`~BatchedCore.fast_draws` is set, so cores that have faster samplers of the same
          distributions use them.
    :param max_episode_steps: truncate every episode after this many steps (``None``: the
        episodes run their ``horizon`` and terminate), as ``gym.make_vec(...,
        max_episode_steps=k)`` asks.
    :param render_mode: must be ``None`` (the envs do not render).
    :param kwargs: the environment's parameters (the fields of ``env_cls.params_cls``).
    """

    def __init__(
        self,
        env_cls: type[CoreEnv],
        num_envs: int,
        *,
        seeding: str = "per_copy",
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        refuse_render_mode(render_mode)
        require(num_envs >= 1, "num_envs", f"must be >= 1, got {num_envs}")
        require(seeding in SEEDINGS, "seeding", f"must be one of {SEEDINGS}, got {seeding!r}")
        self.params = env_cls.params_cls(**kwargs)
        core = env_cls.core_cls(self.params, batch_size=num_envs)
        core.fast_draws = seeding == "batch"
        # per_copy: a one-copy core draws each copy's episode, which is copied into the batch
        single = env_cls.core_cls(self.params, batch_size=1) if num_envs > 1 else None
        self._setup(core, single, num_envs, seeding, core.info_keys, max_episode_steps)

    def _seed(self, seed: int | Sequence[int | None] | None) -> None:
        if self.seeding == "batch":
            if seed is not None and not isinstance(seed, int | np.integer):
                # one seed per copy (what the adapters pass): the first seeds the one generator
                seed = next(iter(seed))
            if seed is not None:
                # SFC64: numpy's fastest bit generator (normals ~35 % faster than PCG64's),
                # which is what a batch reset of thousands of copies spends its time on
                self._np_random = np.random.Generator(np.random.SFC64(int(seed)))
                self._np_random_seed = int(seed)
            elif self._np_random is None:
                self._np_random = np.random.Generator(np.random.SFC64())
                self._np_random_seed = -1
            return
        if seed is None and self._rngs is not None:
            return  # carry on with each copy's generator, as single envs do
        if seed is None or isinstance(seed, int | np.integer):
            seeds: list[int | None] = [None if seed is None else int(seed) + i
                                       for i in range(self.num_envs)]  # fmt: skip
        else:
            seeds = [None if x is None else int(x) for x in seed]
            if len(seeds) != self.num_envs:
                raise ValueError(f"got {len(seeds)} seeds for {self.num_envs} copies")
        self._rngs = [gym.utils.seeding.np_random(s)[0] for s in seeds]
        self._np_random_seed = seeds[0] if seeds[0] is not None else -1

    def _batch_generator(self) -> np.random.Generator:
        return self.np_random if self.seeding == "batch" else self._rngs[0]

    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start new episodes in every copy. ``seed``: an int (copy ``i`` gets ``seed + i``) or
        one seed per copy; ``None`` continues each copy's generator."""
        return super().reset(seed=seed, options=options)

    def _observe(self) -> np.ndarray:
        return self.core.observe()

    def _advance(self, actions: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        reward, info = self.core.step(actions)
        return reward, {k: info[:, i] for i, k in enumerate(self.core.info_keys)}


def require_full_reset(options: dict[str, Any] | None) -> None:
    """Refuse a partial reset: the copies of a native vector env share a fixed horizon, so
    they start and end episodes together (``options["reset_mask"]`` must select them all)."""
    mask = (options or {}).get("reset_mask")
    if mask is not None and not np.all(mask):
        raise ValueError(
            "the copies share a fixed horizon and reset together: reset_mask must select every copy"
        )


def copy_episodes(
    single: BatchedCore, batch: BatchedCore, rngs: Sequence[np.random.Generator]
) -> None:
    """Reset ``batch`` so that copy ``i`` holds the episode ``single`` (a one-copy core of the
    same parameters) draws from ``rngs[i]``.

    The per-copy state is every array attribute whose leading axis is the batch: it has length
    ``batch.batch_size`` in ``batch`` and 1 in ``single``, with the same trailing shape (parameter
    arrays have the same shape in both and are left alone), in the core and in any core it
    holds. Whatever ``reset`` sets is copied, so a core needs no list of its episode fields.
    """
    # a throwaway draw sets every field (allocated at their batch shape) and the scalars such as
    # t; the copies' own generators are used only below
    batch.reset(np.random.default_rng(0))
    for i, rng in enumerate(rngs):
        single.reset(rng)
        _copy_into(single, batch, i)


def _copy_into(single: Any, batch: Any, i: int) -> None:
    """Copy ``single``'s per-copy arrays into copy ``i`` of ``batch``, and those of the cores
    it holds (a core built on another, as the multi-agent ones are) into ``batch``'s."""
    n = batch.batch_size
    for name, value in vars(single).items():
        target = getattr(batch, name, None)
        if (
            isinstance(value, np.ndarray)
            and isinstance(target, np.ndarray)
            and value.ndim >= 1
            and value.shape[0] == 1
            and target.shape == (n, *value.shape[1:])
        ):
            target[i] = value[0]
        elif getattr(value, "batch_size", None) == 1 and getattr(target, "batch_size", 0) == n:
            _copy_into(value, target, i)
