"""Multi-agent environments of the suite: a batched core with an agent axis, and its two faces.

A :class:`MultiAgentCore` is written once in numpy/numba over a leading batch axis of ``B``
copies and an agent axis of ``N`` agents: observations ``(B, N, obs_dim)``, actions ``(B, N,
act_dim)``, rewards ``(B, N)``. Two front ends run it:

* :class:`ParallelCoreEnv`, a PettingZoo ``ParallelEnv`` over one copy (what
  ``lowcarbon.envs.carbon_market_v0.parallel_env()`` returns; ``env()`` converts it to AEC with
  PettingZoo's ``parallel_to_aec``);
* :class:`SharedPolicyVectorEnv`, a Gymnasium ``VectorEnv`` with one slot per (copy, agent): a
  single-agent learner trained on it is a parameter-shared independent learner, and every copy
  and agent is stepped in one kernel call. SB3 and Tianshou reach it through the adapters of
  :mod:`lowcarbon.agents.vector`, exactly as they reach the single-agent envs.

:func:`multiagent_suite` is the registry of the multi-agent envs (module name -> class,
social-optimum policy, selfish rules, QoS), as :mod:`lowcarbon.envs.suite` is of the
single-agent ids; the harness accepts those module names as ``env.id``.

All agents of an env share one observation space and one action space (their own assets are
part of their observation), so one policy can act for all of them.

Bad input: a NaN action raises ``ValueError`` before any state changes; values outside [-1, 1]
(+-inf included) are clipped; an agent name that is not in the env, or a live agent left out
of ``actions``, raises ``ValueError`` naming it.
"""

from __future__ import annotations

import importlib
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from pettingzoo import ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec

from .core import (
    OBS_BOUND,
    SEEDINGS,
    CoreBase,
    EnvParams,
    NativeVectorEnv,
    refuse_render_mode,
    require,
)
from .suite import QoS


class MultiAgentCore(CoreBase):
    """Dynamics of ``batch_size`` copies of a multi-agent environment (see the module docstring).

    Subclasses set ``n_agents``, ``obs_dim``, ``act_dim`` (per agent) and ``horizon`` and
    implement :meth:`reset`, :meth:`observe` and :meth:`step`. ``info_keys`` are the copy's
    (the same for every agent).
    """

    n_agents: int
    #: keys of the per-agent info, each a (batch, n_agents) float array
    agent_info_keys: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def observe(self) -> np.ndarray:
        """Every agent's observation, float32 (batch, n_agents, obs_dim)."""

    @abstractmethod
    def step(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Apply ``action`` (batch, n_agents, act_dim), float64, at slot ``t`` and advance.

        The core clips the action in place and raises ``ValueError`` on NaN before any change.
        Returns rewards (batch, n_agents), the copy info (batch, len(info_keys)) and the agent
        info (batch, n_agents, len(agent_info_keys)).
        """


class ParallelCoreEnv(ParallelEnv):
    """A PettingZoo ``ParallelEnv`` over a :class:`MultiAgentCore` with one copy.

    Subclasses set ``params_cls``, ``core_cls``, ``agent_prefix`` and ``metadata["name"]``, and
    document the model. Keyword arguments are the fields of ``params_cls``; ``max_cycles``
    (default: the horizon) truncates the episode earlier, as PettingZoo's ``max_cycles`` does.

    Every agent acts at every step and all leave together: at the horizon with
    ``terminations`` (the fraction of the episode elapsed is observed, so the horizon is part of
    the game), at ``max_cycles`` before it with ``truncations``. Each agent's info holds its own
    keys (``agent_info_keys``) and the copy's (``info_keys``).

    Bad input: NaN in any action raises ``ValueError`` before the state changes; values outside
    [-1, 1] (+-inf included) are clipped; an unknown agent name, an agent that has left, a
    live agent without an action or an action of the wrong size raise ``ValueError`` naming
    it; ``step`` before ``reset`` or after the episode raises ``RuntimeError``.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": [], "is_parallelizable": True}
    params_cls: ClassVar[type[EnvParams]]
    core_cls: ClassVar[type[MultiAgentCore]]
    agent_prefix: ClassVar[str] = "agent"

    def __init__(
        self, max_cycles: int | None = None, render_mode: str | None = None, **kwargs: Any
    ) -> None:
        refuse_render_mode(render_mode)
        self.params = self.params_cls(**kwargs)
        self.core = self.core_cls(self.params, batch_size=1)
        require(
            max_cycles is None
            or (
                isinstance(max_cycles, int | float | np.number)
                and not isinstance(max_cycles, bool)
                and float(max_cycles).is_integer()
                and max_cycles >= 1
            ),
            "max_cycles",
            f"must be a whole number >= 1 (or None), got {max_cycles!r}",
        )
        self.max_cycles = self.core.horizon if max_cycles is None else int(max_cycles)
        self.render_mode = None
        self.possible_agents = [f"{self.agent_prefix}_{i}" for i in range(self.core.n_agents)]
        self._index = {a: i for i, a in enumerate(self.possible_agents)}
        self.agents: list[str] = []
        self._obs_space = gym.spaces.Box(
            -OBS_BOUND, OBS_BOUND, shape=(self.core.obs_dim,), dtype=np.float32
        )
        self._act_space = gym.spaces.Box(-1.0, 1.0, shape=(self.core.act_dim,), dtype=np.float32)
        n_state = self.core.n_agents * self.core.obs_dim
        self._state_space = gym.spaces.Box(
            -OBS_BOUND, OBS_BOUND, shape=(n_state,), dtype=np.float32
        )
        self.np_random, self.np_random_seed = gym.utils.seeding.np_random(None)
        self._cycles = 0
        self._started = False

    # one space object per env, the same for every agent (PettingZoo asks for stable objects)
    def observation_space(self, agent: str) -> gym.spaces.Box:
        self._check_agent(agent)
        return self._obs_space

    def action_space(self, agent: str) -> gym.spaces.Box:
        self._check_agent(agent)
        return self._act_space

    def _check_agent(self, agent: Any) -> int:
        if agent not in self._index:
            raise ValueError(f"unknown agent {agent!r}; the agents are {self.possible_agents}")
        return self._index[agent]

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        if seed is not None or self.np_random_seed is None:
            self.np_random, self.np_random_seed = gym.utils.seeding.np_random(seed)
        self.core.reset(self.np_random)
        self.agents = list(self.possible_agents)
        self._cycles, self._started = 0, True
        obs = self.core.observe()[0]
        return ({a: obs[i] for i, a in enumerate(self.agents)},
                {a: {} for a in self.agents})  # fmt: skip

    def _joint_action(self, actions: Mapping[str, Any]) -> np.ndarray:
        joint = np.zeros((1, self.core.n_agents, self.core.act_dim))
        for agent, action in actions.items():
            i = self._check_agent(agent)
            if agent not in self.agents:
                raise ValueError(f"agent {agent!r} has left the episode: call reset()")
            a = np.asarray(action, dtype=np.float64)
            if a.size != self.core.act_dim:
                raise ValueError(f"action of {agent!r} has shape {a.shape}, expected "
                                 f"({self.core.act_dim},)")  # fmt: skip
            joint[0, i] = a.reshape(-1)
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f"no action for {missing}: every live agent acts at every step")
        return joint

    def step(self, actions: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if not self.agents:
            raise RuntimeError("the episode is over (or never started): call reset() first")
        reward, info, agent_info = self.core.step(self._joint_action(actions))
        self._cycles += 1
        terminated = self.core.done
        truncated = not terminated and self._cycles >= self.max_cycles
        obs = self.core.observe()[0]
        shared = dict(zip(self.core.info_keys, info[0].tolist(), strict=True))
        agents = self.agents
        out = (
            {a: obs[i] for i, a in enumerate(agents)},
            {a: float(reward[0, i]) for i, a in enumerate(agents)},
            {a: terminated for a in agents},
            {a: truncated for a in agents},
            {a: {**dict(zip(self.core.agent_info_keys, agent_info[0, i].tolist(), strict=True)),
                 **shared} for i, a in enumerate(agents)},
        )  # fmt: skip
        if terminated or truncated:
            self.agents = []
        return out

    def state(self) -> np.ndarray:
        """The global state: every agent's observation, concatenated (float32)."""
        if not self._started:
            raise RuntimeError("the game has no state before reset(): call reset() first")
        return self.core.observe()[0].reshape(-1)

    @property
    def state_space(self) -> gym.spaces.Box:
        return self._state_space

    def render(self) -> None:
        return None

    def close(self) -> None:
        return None


def pettingzoo_constructors(
    raw_env: type[ParallelCoreEnv],
) -> tuple[Callable[..., Any], Callable[..., ParallelCoreEnv]]:
    """``env`` and ``parallel_env`` of a PettingZoo-style module over ``raw_env``: the AEC form
    (PettingZoo's ``parallel_to_aec``, order-enforced) and the parallel env; both take the
    env's keyword arguments (its parameters and ``max_cycles``)."""

    def parallel_env(**kwargs: Any) -> ParallelCoreEnv:
        return raw_env(**kwargs)

    def env(**kwargs: Any) -> Any:
        return parallel_to_aec(raw_env(**kwargs))

    name = raw_env.metadata["name"]
    parallel_env.__doc__ = f"The parallel ``{name}`` env (keyword arguments: its parameters)."
    env.__doc__ = f"The ``{name}`` env in AEC form (keyword arguments: its parameters)."
    return env, parallel_env


class SharedPolicyVectorEnv(NativeVectorEnv):
    """A Gymnasium ``VectorEnv`` with one slot per (copy, agent) of a multi-agent core.

    Slot ``c * n_agents + i`` is agent ``i`` of copy ``c``: it observes that agent's
    observation, takes its action and receives its reward, so a single-agent learner on this
    vector env is a parameter-shared independent learner. ``num_envs = copies * n_agents``.
    Info holds each agent key per slot and each copy key repeated over the copy's agents, with
    their ``_key`` masks. Autoreset and resets are :class:`NativeVectorEnv`'s, as
    :class:`CoreVectorEnv`'s are.

    :param env_cls: a :class:`ParallelCoreEnv` subclass (its ``params_cls`` and ``core_cls``).
    :param copies: number of independent copies of the game.
    :param seeding: ``"per_copy"`` (copy ``c`` replays the parallel env reset with
        ``seed + c``) or ``"batch"`` (one generator for all copies).
    """

    def __init__(
        self,
        env_cls: type[ParallelCoreEnv],
        copies: int,
        *,
        seeding: str = "per_copy",
        **kwargs: Any,
    ) -> None:
        require(copies >= 1, "copies", f"must be >= 1, got {copies}")
        require(seeding in SEEDINGS, "seeding", f"must be one of {SEEDINGS}, got {seeding!r}")
        self.params = env_cls.params_cls(**kwargs)
        core = env_cls.core_cls(self.params, batch_size=copies)
        single = env_cls.core_cls(self.params, batch_size=1) if copies > 1 else None
        self.copies, self.n_agents = copies, core.n_agents
        keys = core.agent_info_keys + core.info_keys
        self._setup(core, single, copies * core.n_agents, seeding, keys)

    def _seed(self, seed: int | Sequence[int | None] | None) -> None:
        if seed is not None and not isinstance(seed, int | np.integer):
            # one seed per slot (what the adapters pass): copy c takes its first agent's seed
            seeds = [None if x is None else int(x) for x in seed]
            if len(seeds) not in (self.copies, self.num_envs):
                raise ValueError(f"got {len(seeds)} seeds for {self.copies} copies "
                                 f"({self.num_envs} slots)")  # fmt: skip
            if len(seeds) == self.num_envs:
                seeds = seeds[:: self.n_agents]
        elif seed is not None:
            seeds = [int(seed) + c for c in range(self.copies)]
        elif self._rngs is None:
            seeds = [None] * self.copies
        else:
            return  # carry on with each copy's generator
        if self.seeding == "batch":
            self._rngs = [gym.utils.seeding.np_random(seeds[0])[0]]
        else:
            self._rngs = [gym.utils.seeding.np_random(s)[0] for s in seeds]

    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """New episodes in every copy. ``seed``: an int (copy ``c`` gets ``seed + c``), one seed
        per copy, or one per slot (a copy takes its first agent's); ``None`` continues."""
        return super().reset(seed=seed, options=options)

    def _observe(self) -> np.ndarray:
        return self.core.observe().reshape(self.num_envs, self.core.obs_dim)

    def _advance(self, actions: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        reward, info, agent_info = self.core.step(
            actions.reshape(self.copies, self.n_agents, self.core.act_dim)
        )
        infos: dict[str, np.ndarray] = {
            k: agent_info[:, :, j].reshape(-1) for j, k in enumerate(self.core.agent_info_keys)
        }
        for j, k in enumerate(self.core.info_keys):
            infos[k] = np.repeat(info[:, j], self.n_agents)
        return reward.reshape(-1), infos


@dataclass(frozen=True)
class MultiAgentEntry:
    """One multi-agent env: its PettingZoo-style module name and what is built around it."""

    name: str
    """Module under ``lowcarbon.envs`` (``carbon_market_v0``): ``env()``, ``parallel_env()``."""
    env_cls: type[ParallelCoreEnv]
    oracle: Callable[[Any], Any]
    """``oracle(env)``: the joint policy that plays the central reference (``bound`` after
    ``reset``: the welfare no joint play beats)."""
    rules: Mapping[str, Callable[[Any], Any]]
    """Joint rule-based policies by name; ``selfish`` is the price-of-anarchy rule."""
    qos: QoS
    """The QoS figure: an agent key is summed over the agents, a copy key read once."""
    summary: str = ""

    @property
    def module(self) -> Any:
        return importlib.import_module(f"lowcarbon.envs.{self.name}")


_MULTIAGENT: dict[str, MultiAgentEntry] = {}


def multiagent_suite() -> dict[str, MultiAgentEntry]:
    """Every multi-agent env by module name."""
    if not _MULTIAGENT:
        from . import carbon_market, edge_offload

        _MULTIAGENT.update({e.name: e for e in (
            MultiAgentEntry("carbon_market_v0", carbon_market.CarbonMarketEnv,
                            carbon_market.SocialOptimumPolicy, carbon_market.RULES,
                            QoS("shortfall_kg", "sum", higher_is_better=False),
                            "4 prosumers trading energy and allowances under a daily cap"),
            MultiAgentEntry("edge_offload_v0", edge_offload.EdgeOffloadEnv,
                            edge_offload.CentralOraclePolicy, edge_offload.RULES,
                            QoS("served_ratio_total", "mean"),
                            "3 metaverse providers (2 users each) sharing 3 edge sites"),
        )})  # fmt: skip
    return _MULTIAGENT


def is_multiagent(name: Any) -> bool:
    """Whether ``name`` is a multi-agent env of the suite (a module name)."""
    return isinstance(name, str) and name in multiagent_suite()


def multiagent_entry(name: str) -> MultiAgentEntry:
    """The entry of a multi-agent env; ``KeyError`` naming the known ones otherwise."""
    if not is_multiagent(name):
        raise KeyError(f"{name!r} is not a multi-agent env; known: {tuple(multiagent_suite())}")
    return multiagent_suite()[name]


class JointRandomPolicy:
    """Uniform random actions for every agent, from the env's own generator (reproducible): the
    zero of the normalised welfare."""

    name = "random"

    def __init__(self, env: ParallelCoreEnv) -> None:
        self.env = env

    def reset(self) -> None:
        """Nothing to plan."""

    def act(self, obs: object = None) -> np.ndarray:
        core = self.env.core
        return self.env.np_random.uniform(-1.0, 1.0, size=(core.n_agents, core.act_dim))
