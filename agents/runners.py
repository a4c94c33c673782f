"""One interface over every agent kind the harness trains: GDM and SAC on Tianshou, PPO, SAC and
TD3 on Stable-Baselines3, and the rule-based policies and oracle (which do not train).

A runner trains in chunks (``train(n_env_steps)``), acts deterministically for evaluation
(``policy()`` returns a :class:`~lowcarbon.agents.baselines.Policy`-like object), and saves or
restores everything needed to resume (``save(dir)`` / ``load(dir)``): networks, optimisers,
temperature, replay buffer, step count and RNG states. Environments are re-created on resume, so
a resumed run starts a fresh episode.
"""

from __future__ import annotations

import logging
import pickle
import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch

from lowcarbon.envs.suite import in_suite

from .baselines import POLICIES

logger = logging.getLogger(__name__)

EnvFactory = Callable[[], gym.Env]
LEARNERS = ("gdm", "ts_sac", "sb3_ppo", "sb3_sac", "sb3_td3")
RULES = ("random", "carbon_greedy", "latency_greedy", "greedy", "oracle")
AGENT_KINDS = LEARNERS + RULES


class ActingPolicy:
    """Adapter giving a deterministic acting function the ``reset()`` / ``act(obs)`` interface of
    the rule-based policies, so one rollout function evaluates every agent."""

    def __init__(self, act: Callable[[np.ndarray], np.ndarray], name: str) -> None:
        self._act, self.name = act, name

    def reset(self) -> None:
        pass

    def act(self, obs: np.ndarray) -> np.ndarray:
        return self._act(obs)


class AgentRunner(ABC):
    """Trains one agent on one env; see the module docstring."""

    trains = True

    def __init__(self, kind: str, make_env: EnvFactory, hyper: dict[str, Any], seed: int) -> None:
        self.kind, self.make_env, self.hyper, self.seed = kind, make_env, dict(hyper), seed
        self.env_steps = 0

    @abstractmethod
    def train(self, n_env_steps: int) -> dict[str, float]:
        """Train for (at least) ``n_env_steps`` more env steps; returns the latest loss stats."""

    @abstractmethod
    def make_policy(self, env: gym.Env) -> Any:
        """A ``reset()``/``act(obs)`` policy acting deterministically in ``env``."""

    def save(self, directory: Path) -> None:  # noqa: B027 - optional: rules have no state
        """Write everything needed to resume into ``directory`` (which exists)."""

    def load(self, directory: Path) -> None:  # noqa: B027
        """Restore what :meth:`save` wrote."""

    def close(self) -> None:  # noqa: B027
        """Release environments."""


def _rng_state() -> dict[str, Any]:
    # the global generators that torch, SB3's noise and Python-side sampling draw from
    return {"python": random.getstate(), "numpy": np.random.get_state(),  # noqa: NPY002
            "torch": torch.get_rng_state()}  # fmt: skip


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])  # noqa: NPY002
    torch.set_rng_state(state["torch"])


class RuleRunner(AgentRunner):
    """Random, greedy and oracle policies: nothing to train."""

    trains = False

    def __init__(self, kind: str, make_env: EnvFactory, hyper: dict[str, Any], seed: int) -> None:
        super().__init__(kind, make_env, hyper, seed)
        self.policy_name = "carbon_greedy" if kind == "greedy" else kind
        if self.policy_name not in POLICIES:
            raise ValueError(f"unknown rule-based agent {kind!r}; choose one of {sorted(POLICIES)}")

    def train(self, n_env_steps: int) -> dict[str, float]:
        self.env_steps += n_env_steps
        return {}

    def make_policy(self, env: gym.Env) -> Any:
        if self.policy_name == "random" and not in_suite(env):
            # outside the suite: uniform actions from the env's own (seeded) action space
            return ActingPolicy(lambda obs: env.action_space.sample(), "random")
        return POLICIES[self.policy_name](env)


class TianshouRunner(AgentRunner):
    """GDM or SAC on Tianshou 2.x: a ``Collector`` over ``n_envs`` copies fills a
    ``VectorReplayBuffer``; after ``learning_starts`` random steps, every collection of
    ``collect_steps`` env steps is followed by ``updates_per_step * collect_steps`` updates."""

    def __init__(self, kind: str, make_env: EnvFactory, hyper: dict[str, Any], seed: int) -> None:
        from tianshou.data import Collector, VectorReplayBuffer
        from tianshou.env import DummyVectorEnv

        super().__init__(kind, make_env, hyper, seed)
        h = self.hyper
        self.n_envs = int(h.pop("n_envs", 1))
        self.buffer_size = int(h.pop("buffer_size", 100_000))
        self.batch_size = int(h.pop("batch_size", 256))
        self.learning_starts = int(h.pop("learning_starts", 1000))
        self.collect_steps = int(h.pop("collect_steps", 1))
        self.updates_per_step = float(h.pop("updates_per_step", 1.0))
        torch.manual_seed(seed)
        env = make_env()
        self.algorithm = self._build(env.observation_space, env.action_space, h)
        env.close()
        self.envs = DummyVectorEnv([make_env for _ in range(self.n_envs)])
        self.envs.seed([seed * 1000 + i for i in range(self.n_envs)])
        self.buffer = VectorReplayBuffer(self.buffer_size, self.n_envs)
        # Tianshou's buffers sample from their own generators, seeded 42 in every run (the
        # manager picks a sub-buffer, the sub-buffer the rows): give each training seed its own
        self.buffer._random_state = np.random.RandomState(seed)
        for i, sub in enumerate(self.buffer.buffers):
            sub._random_state = np.random.RandomState(seed * 1000 + i + 1)
        self.collector = Collector(self.algorithm, self.envs, self.buffer, exploration_noise=True)
        self.collector.reset()
        self._collector_cls = Collector

    def _build(self, obs_space: gym.Space, act_space: gym.Space, h: dict[str, Any]) -> Any:
        if self.kind == "gdm":
            from .gdm import GDMConfig, make_gdm

            return make_gdm(obs_space, act_space, GDMConfig(**h))
        from .ts_sac import SACConfig, make_sac

        return make_sac(obs_space, act_space, SACConfig(**h))

    def train(self, n_env_steps: int) -> dict[str, float]:
        from tianshou.utils.torch_utils import policy_within_training_step

        target = self.env_steps + n_env_steps
        stats: dict[str, float] = {}
        if self.env_steps < self.learning_starts:
            n = min(self.learning_starts, target) - self.env_steps
            self.env_steps += self.collector.collect(n_step=n, random=True).n_collected_steps
        debt = 0.0
        while self.env_steps < target:
            with policy_within_training_step(self.algorithm.policy):
                got = self.collector.collect(n_step=self.collect_steps).n_collected_steps
                self.env_steps += got
                debt += self.updates_per_step * got
                while debt >= 1.0:
                    stats = self.algorithm.update(
                        self.buffer, self.batch_size
                    ).get_loss_stats_dict()
                    debt -= 1.0
        return stats

    def make_policy(self, env: gym.Env) -> Any:
        from tianshou.data import Batch

        policy = self.algorithm.policy

        def act(obs: np.ndarray) -> np.ndarray:
            policy.eval()
            with torch.no_grad():
                out = policy(Batch(obs=np.asarray(obs)[None], info={})).act
            return policy.map_action(out)[0]

        return ActingPolicy(act, self.kind)

    def save(self, directory: Path) -> None:
        torch.save(self.algorithm.state_dict(), directory / "algorithm.pt")
        with open(directory / "buffer.pkl", "wb") as f:
            pickle.dump(self.buffer, f)
        torch.save({"env_steps": self.env_steps, "rng": _rng_state()}, directory / "state.pt")

    def load(self, directory: Path) -> None:
        self.algorithm.load_state_dict(torch.load(directory / "algorithm.pt", weights_only=True))
        with open(directory / "buffer.pkl", "rb") as f:
            self.buffer = pickle.load(f)  # our own file, written by save()
        self.collector = self._collector_cls(
            self.algorithm, self.envs, self.buffer, exploration_noise=True
        )
        self.collector.reset(reset_buffer=False)
        state = torch.load(directory / "state.pt", weights_only=False)
        self.env_steps = int(state["env_steps"])
        _set_rng_state(state["rng"])

    def close(self) -> None:
        self.envs.close()


class SB3Runner(AgentRunner):
    """PPO, SAC or TD3 from Stable-Baselines3; ``learn`` is called per chunk with
    ``reset_num_timesteps=False``, so chunks add up to one run."""

    ALGOS: ClassVar[dict[str, str]] = {"sb3_ppo": "PPO", "sb3_sac": "SAC", "sb3_td3": "TD3"}

    def __init__(self, kind: str, make_env: EnvFactory, hyper: dict[str, Any], seed: int) -> None:
        import stable_baselines3 as sb3
        from stable_baselines3.common.env_util import make_vec_env
        from stable_baselines3.common.noise import NormalActionNoise

        super().__init__(kind, make_env, hyper, seed)
        h = self.hyper
        self.cls = getattr(sb3, self.ALGOS[kind])
        # the harness's agent-neutral keys, in SB3's terms
        hidden = h.pop("hidden_sizes", None)
        if hidden is not None:
            h["policy_kwargs"] = {**(h.get("policy_kwargs") or {}), "net_arch": list(hidden)}
        if kind == "sb3_ppo" and h.pop("learning_starts", None) is not None:
            logger.debug("learning_starts does not apply to on-policy PPO; ignored")
        n_envs = int(h.pop("n_envs", 1))
        # SB3 seeds env i with seed + i (again in the model's constructor): space the runs'
        # seeds so that runs never share an env stream
        self.venv = make_vec_env(make_env, n_envs=n_envs, seed=seed * 1000)
        noise_std = h.pop("noise_std", None)
        if noise_std is not None:
            n_act = self.venv.action_space.shape[0]
            h["action_noise"] = NormalActionNoise(np.zeros(n_act), noise_std * np.ones(n_act))
        if "policy_kwargs" in h and h["policy_kwargs"] is not None:
            h["policy_kwargs"] = dict(h["policy_kwargs"])
        self.model = self.cls(h.pop("policy", "MlpPolicy"), self.venv, seed=seed * 1000,
                              device="cpu", verbose=0, **h)  # fmt: skip

    def train(self, n_env_steps: int) -> dict[str, float]:
        self.model.learn(total_timesteps=n_env_steps, reset_num_timesteps=False)
        self.env_steps = int(self.model.num_timesteps)
        values = self.model.logger.name_to_value
        return {k.split("/")[-1]: float(v) for k, v in values.items() if k.startswith("train/")}

    def make_policy(self, env: gym.Env) -> Any:
        def act(obs: np.ndarray) -> np.ndarray:
            return self.model.predict(obs, deterministic=True)[0]

        return ActingPolicy(act, self.kind)

    def save(self, directory: Path) -> None:
        self.model.save(directory / "model.zip")
        if hasattr(self.model, "replay_buffer"):
            self.model.save_replay_buffer(directory / "replay_buffer.pkl")
        torch.save({"rng": _rng_state()}, directory / "state.pt")

    def load(self, directory: Path) -> None:
        self.model = self.cls.load(directory / "model.zip", env=self.venv, device="cpu")
        if hasattr(self.model, "replay_buffer"):
            self.model.load_replay_buffer(directory / "replay_buffer.pkl")
        self.env_steps = int(self.model.num_timesteps)
        _set_rng_state(torch.load(directory / "state.pt", weights_only=False)["rng"])

    def close(self) -> None:
        self.venv.close()


def make_runner(kind: str, make_env: EnvFactory, hyper: dict[str, Any], seed: int) -> AgentRunner:
    """The runner for agent ``kind`` (one of :data:`AGENT_KINDS`)."""
    if kind in ("gdm", "ts_sac"):
        return TianshouRunner(kind, make_env, hyper, seed)
    if kind in SB3Runner.ALGOS:
        return SB3Runner(kind, make_env, hyper, seed)
    if kind in RULES:
        return RuleRunner(kind, make_env, hyper, seed)
    raise ValueError(f"unknown agent kind {kind!r}; choose one of {AGENT_KINDS}")
