"""One interface over every agent kind the harness runs, and the one registry of those kinds.

* :class:`TianshouRunner`: GDM and SAC on Tianshou 2.x;
* :class:`SB3Runner`: PPO, SAC and TD3 from Stable-Baselines3;
* :class:`RuleRunner`: the rule-based policies and the oracle (which do not train).

Each runner class lists the kinds it runs in ``KINDS``; :data:`AGENT_KINDS` (kind -> runner class)
is built from those lists and is the only registry: add a kind to a runner's ``KINDS`` and the
harness, its validation and :func:`make_runner` know it.

A runner trains in chunks (``train(n_env_steps)``), acts deterministically on a batch of
observations for evaluation (``act_batch``; rules act per episode through ``make_policy``), and
saves or restores everything needed to resume (``save(dir)`` / ``load(dir)``): networks,
optimisers, temperature, replay buffer, step count and RNG states. Environments are re-created
on resume, so a resumed run starts a fresh episode.

Collection settings (:class:`RunnerConfig`) are shared by the off-policy learners, so that they
stay comparable: ``n_envs`` copies are stepped by the env's native vector env in one call
(:mod:`lowcarbon.agents.vector`), and ``updates_per_step`` gradient updates are made per env step
(the update-to-data ratio, UTD).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import pickle
import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch

from lowcarbon.envs.suite import in_suite

from .baselines import POLICIES
from .vector import EnvSource, SB3VecEnv, TianshouVectorEnv
from .wrappers import ExpertActionWrapper

logger = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")
Settings = Any
"""A settings mapping (dict or OmegaConf node), a settings dataclass, or ``None`` (defaults)."""


def resolve_device(device: str) -> torch.device:
    """``"auto"``: CUDA where a GPU is visible, else the CPU; ``"cuda"`` fails clearly without
    one; also accepts ``"cuda:1"``."""
    kind = device.split(":")[0]
    if kind not in DEVICES:
        raise ValueError(f"device: must be one of {DEVICES} (or cuda:<n>), got {device!r}")
    if kind == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: {device!r}, but torch {torch.__version__} sees no CUDA GPU")
    try:
        resolved = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"device: cannot read {device!r} as a device ({err})") from None
    if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
        raise ValueError(f"device: {device!r}, but there are {torch.cuda.device_count()} CUDA GPUs")
    return resolved


@dataclass
class RunnerConfig:
    """How a learner collects data and how often it updates: the settings every off-policy
    learner shares (PPO uses ``n_envs``, ``device`` and ``expert``)."""

    n_envs: int = 8
    """Env copies stepped together (native vector env: one numba call for all copies)."""
    updates_per_step: float = 0.125
    """Update-to-data ratio: gradient updates per env step (0.125: one per 8 env steps)."""
    learning_starts: int = 1000
    """Env steps of uniformly random actions before the first update."""
    batch_size: int = 256
    """Transitions per gradient update."""
    buffer_size: int = 100_000
    """Replay buffer capacity, transitions."""
    device: str = "auto"
    """``cpu``, ``cuda`` (or ``cuda:<n>``) or ``auto`` (CUDA where available)."""
    expert: str | None = None
    """Label every transition with an expert's action (``info["expert_action"]``, through
    :class:`~lowcarbon.agents.ExpertActionWrapper`): ``oracle`` or a rule's name. GDM's
    behaviour-cloning term (``bc_weight > 0``) needs it."""

    def __post_init__(self) -> None:
        checks = [
            (self.n_envs >= 1, "n_envs", "must be >= 1"),
            (self.updates_per_step > 0, "updates_per_step", "must be > 0"),
            (self.learning_starts >= 0, "learning_starts", "must be >= 0"),
            (self.batch_size >= 1, "batch_size", "must be >= 1"),
            (self.buffer_size >= 1, "buffer_size", "must be >= 1"),
        ]
        for ok, key, message in checks:
            if not ok:
                raise ValueError(f"{key}: {message}, got {getattr(self, key)!r}")
        if self.device.split(":")[0] not in DEVICES:
            raise ValueError(f"device: must be one of {DEVICES} (or cuda:<n>), got {self.device!r}")
        if self.expert is not None and self.expert not in POLICIES:
            raise ValueError(f"expert: must be one of {sorted(POLICIES)}, got {self.expert!r}")


@dataclass
class NoAlgoConfig:
    """The (empty) algorithm settings of the agents that do not learn."""


#: constructor arguments of SB3's algorithms that the runner sets itself (or that are objects)
_SB3_RUNNER_OWNED = (
    "policy", "env", "tensorboard_log", "verbose", "seed", "device", "_init_setup_model",
    "action_noise", "replay_buffer_class", "replay_buffer_kwargs", "rollout_buffer_class",
    "rollout_buffer_kwargs",
)  # fmt: skip
_SB3_OFF_POLICY_RUNNER_OWNED = ("buffer_size", "learning_starts", "batch_size")


@functools.cache
def sb3_algo_config(algo: str) -> type:
    """A dataclass of the hyperparameters of SB3's ``algo`` (``"PPO"``, ``"SAC"``, ``"TD3"``),
    derived from its constructor's signature, so each default is SB3's own and a misspelled key
    fails when the Hydra config is composed. Fields are typed ``Any`` (SB3 takes floats or
    schedules, ints or tuples). Added: ``policy`` (``"MlpPolicy"``), ``hidden_sizes`` (the
    harness's agent-neutral widths, mapped to ``policy_kwargs.net_arch``) and, for the
    off-policy algorithms, ``noise_std`` (Gaussian action noise). Off-policy replay settings belong
    to :class:`RunnerConfig`; ``train_freq`` and ``gradient_steps`` default to ``None``, which
    means "from the runner's ``updates_per_step``"."""
    import stable_baselines3 as sb3

    cls = getattr(sb3, algo)
    off_policy = "buffer_size" in inspect.signature(cls.__init__).parameters
    skip = set(_SB3_RUNNER_OWNED) | (set(_SB3_OFF_POLICY_RUNNER_OWNED) if off_policy else set())
    fields: list[tuple[str, Any, Any]] = [
        ("policy", str, dataclasses.field(default="MlpPolicy")),
        ("hidden_sizes", Any, dataclasses.field(default=None)),
    ]
    if off_policy:
        fields.append(("noise_std", Any, dataclasses.field(default=None)))
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or name in skip:
            continue
        default = None if name in ("train_freq", "gradient_steps") else param.default
        fields.append((name, Any, dataclasses.field(default=default)))
    return dataclasses.make_dataclass(f"SB3{algo}Config", fields)


def sb3_schedule(
    per_vector_step: float, train_freq: int | None = None, gradient_steps: int | None = None
) -> dict[str, int]:
    """SB3's ``train_freq`` (vector steps between trainings) and ``gradient_steps`` for
    ``per_vector_step`` updates per vector step (``updates_per_step * n_envs``), as the exact
    ratio ``gradient_steps / train_freq`` where it has a denominator up to 64 (nearest
    otherwise). A value the user set is kept and the other follows from it."""
    if train_freq is not None and gradient_steps is not None:
        return {"train_freq": int(train_freq), "gradient_steps": int(gradient_steps)}
    if train_freq is not None:
        return {"train_freq": int(train_freq),
                "gradient_steps": max(1, round(per_vector_step * train_freq))}  # fmt: skip
    if gradient_steps is not None:
        return {"train_freq": max(1, round(gradient_steps / per_vector_step)),
                "gradient_steps": int(gradient_steps)}  # fmt: skip
    ratio = Fraction(per_vector_step).limit_denominator(64)
    if ratio == 0:
        ratio = Fraction(1, 64)
    return {"train_freq": ratio.denominator, "gradient_steps": ratio.numerator}


def with_expert(env: EnvSource, expert: str | None) -> EnvSource:
    """``env`` with the expert labels of ``expert`` (``None``: unchanged)."""
    if expert is None:
        return env
    if expert == "oracle":
        wrap: Callable[[gym.Env], gym.Env] = ExpertActionWrapper
    else:
        wrap = functools.partial(_rule_expert, name=expert)
    return dataclasses.replace(env, wrappers=(*env.wrappers, wrap))


def _rule_expert(env: gym.Env, name: str) -> gym.Env:
    return ExpertActionWrapper(env, POLICIES[name](env))


class AgentRunner(ABC):
    """Trains one agent on one env; see the module docstring."""

    trains = True
    KINDS: ClassVar[dict[str, Any]] = {}
    """The agent kinds this runner runs (kind -> what builds it)."""

    def __init__(
        self,
        kind: str,
        env: EnvSource,
        algo: Settings = None,
        runner: Settings = None,
        seed: int = 0,
    ) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"{type(self).__name__} runs {sorted(self.KINDS)}, not {kind!r}")
        self.kind, self.seed = kind, seed
        self.algo = dict(algo or {})
        self.settings = (
            runner if isinstance(runner, RunnerConfig) else RunnerConfig(**dict(runner or {}))
        )
        self.env = with_expert(env, self.settings.expert)
        self.env_steps = 0
        self._build()

    def _build(self) -> None:  # noqa: B027 - rules build nothing
        """Build the agent and its envs (called at the end of ``__init__``)."""

    @classmethod
    def algo_config(cls, kind: str) -> type:
        """The dataclass of ``kind``'s algorithm settings (its Hydra schema)."""
        return NoAlgoConfig

    @abstractmethod
    def train(self, n_env_steps: int) -> dict[str, float]:
        """Train for (at least) ``n_env_steps`` more env steps; returns the latest loss stats."""

    def act_batch(self, obs: np.ndarray) -> np.ndarray:
        """Deterministic actions (in the env's action space) for a batch of observations."""
        raise NotImplementedError(f"{self.kind} acts per episode: use make_policy")

    def make_policy(self, env: gym.Env) -> Any:
        """A ``reset()``/``act(obs)`` policy acting deterministically in the single env ``env``."""
        return _BatchActing(self.act_batch, self.kind)

    def save(self, directory: Path) -> None:  # noqa: B027 - optional: rules have no state
        """Write everything needed to resume into ``directory`` (which exists)."""

    def load(self, directory: Path) -> None:  # noqa: B027
        """Restore what :meth:`save` wrote."""

    def close(self) -> None:  # noqa: B027
        """Release environments."""


class _BatchActing:
    """A batch acting function as a single-env ``reset()``/``act(obs)`` policy."""

    def __init__(self, act_batch: Callable[[np.ndarray], np.ndarray], name: str) -> None:
        self._act_batch, self.name = act_batch, name

    def reset(self) -> None:
        pass

    def act(self, obs: np.ndarray) -> np.ndarray:
        return self._act_batch(np.asarray(obs)[None])[0]


def _rng_state(device: torch.device) -> dict[str, Any]:
    # the global generators that torch, SB3's noise and Python-side sampling draw from; on a
    # CUDA run also that GPU's own generator (only its own: reading the others would start CUDA
    # on every GPU, and a resume on a host with fewer GPUs could not restore them)
    state = {"python": random.getstate(), "numpy": np.random.get_state(),  # noqa: NPY002
             "torch": torch.get_rng_state()}  # fmt: skip
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda")
    if isinstance(cuda, list):  # older checkpoints kept every GPU's generator
        index = device.index or 0
        cuda = cuda[index] if index < len(cuda) else None
    if cuda is not None and device.type == "cuda":
        torch.cuda.set_rng_state(cuda, device)


class RuleRunner(AgentRunner):
    """Random, greedy and oracle policies: nothing to train."""

    trains = False
    KINDS: ClassVar[dict[str, str]] = {**{name: name for name in POLICIES},
                                       "greedy": "carbon_greedy"}  # fmt: skip

    def _build(self) -> None:
        if self.algo:
            raise TypeError(f"rule-based agents have no algorithm settings: {sorted(self.algo)}")
        self.policy_name = self.KINDS[self.kind]

    def train(self, n_env_steps: int) -> dict[str, float]:
        self.env_steps += n_env_steps
        return {}

    def make_policy(self, env: gym.Env) -> Any:
        if self.policy_name == "random" and not in_suite(env):
            # outside the suite: uniform actions from the env's own (seeded) action space
            return _SpaceSampler(env.action_space)
        return POLICIES[self.policy_name](env)


class _SpaceSampler:
    name = "random"

    def __init__(self, space: gym.Space) -> None:
        self.space = space

    def reset(self) -> None:
        pass

    def act(self, obs: np.ndarray) -> np.ndarray:
        return self.space.sample()


def _gdm() -> tuple[type, Callable[..., Any]]:
    from .gdm import GDMConfig, make_gdm

    return GDMConfig, make_gdm


def _ts_sac() -> tuple[type, Callable[..., Any]]:
    from .ts_sac import SACConfig, make_sac

    return SACConfig, make_sac


class TianshouRunner(AgentRunner):
    """GDM or SAC on Tianshou 2.x. A ``Collector`` over the native vector env of ``n_envs``
    copies fills a ``VectorReplayBuffer``; after ``learning_starts`` random steps, each
    collection of :attr:`steps_per_collect` env steps earns ``updates_per_step`` updates per
    env step, made right after it (a fractional debt carries over)."""

    KINDS: ClassVar[dict[str, Callable[[], tuple[type, Callable[..., Any]]]]] = {
        "gdm": _gdm, "ts_sac": _ts_sac,
    }  # fmt: skip

    @classmethod
    def algo_config(cls, kind: str) -> type:
        return cls.KINDS[kind]()[0]

    def _build(self) -> None:
        from tianshou.data import Collector, VectorReplayBuffer

        s, seed = self.settings, self.seed
        self.device = resolve_device(s.device)
        torch.manual_seed(seed)
        config_cls, build = self.KINDS[self.kind]()
        self.algorithm = build(*self.env.spaces(), config_cls(**self.algo)).to(self.device)
        # the replay buffer keeps only the info the update reads: the expert's labels, if any
        keys = (ExpertActionWrapper.KEY,) if s.expert is not None else ()
        self.envs = TianshouVectorEnv(self.env.make_vec(s.n_envs), info_keys=keys)
        self.envs.seed(seed * 1000)  # copy i: seed * 1000 + i
        # slots: n_envs copies, times the agents of a multi-agent env
        self.n_slots = len(self.envs)
        self.buffer = VectorReplayBuffer(s.buffer_size, self.n_slots)
        # Tianshou's buffers sample from their own generators, seeded 42 in every run (the
        # manager picks a sub-buffer, the sub-buffer the rows): give each training seed its own
        self.buffer._random_state = np.random.RandomState(seed)
        for i, sub in enumerate(self.buffer.buffers):
            sub._random_state = np.random.RandomState(seed * 1000 + i + 1)
        self._collector_cls = Collector
        self.collector = Collector(self.algorithm, self.envs, self.buffer, exploration_noise=True)
        self.collector.reset()
        self._debt = 0.0

    @property
    def steps_per_collect(self) -> int:
        """Env steps per collection: one vector step, or as many as earn one update when the
        UTD ratio is below ``1 / n_envs`` (fewer collector calls, the same schedule)."""
        per_vector_step = self.settings.updates_per_step * self.n_slots
        return self.n_slots * (1 if per_vector_step >= 1 else max(1, round(1 / per_vector_step)))

    def _collect(self, n: int, random: bool = False) -> int:
        n_envs = self.n_slots
        n = -(-n // n_envs) * n_envs  # whole vector steps
        return int(self.collector.collect(n_step=n, random=random).n_collected_steps)

    def train(self, n_env_steps: int) -> dict[str, float]:
        from tianshou.utils.torch_utils import policy_within_training_step

        s = self.settings
        target = self.env_steps + n_env_steps
        stats: dict[str, float] = {}
        if self.env_steps < s.learning_starts:
            self.env_steps += self._collect(min(s.learning_starts, target) - self.env_steps,
                                            random=True)  # fmt: skip
        while self.env_steps < target:
            with policy_within_training_step(self.algorithm.policy):
                got = self._collect(self.steps_per_collect)
                self.env_steps += got
                self._debt += s.updates_per_step * got
                while self._debt >= 1.0:
                    stats = self.algorithm.update(self.buffer, s.batch_size).get_loss_stats_dict()
                    self._debt -= 1.0
        return stats

    def act_batch(self, obs: np.ndarray) -> np.ndarray:
        from tianshou.data import Batch

        policy = self.algorithm.policy
        policy.eval()
        with torch.no_grad():
            out = policy(Batch(obs=np.asarray(obs), info={})).act
        if isinstance(out, torch.Tensor):
            out = out.cpu().numpy()
        return policy.map_action(out)

    def _own_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Optimisers that modules build for themselves, outside the algorithm's state dict:
        Tianshou's ``AutoAlpha`` keeps the temperature's Adam to itself."""
        return {name: module._optim for name, module in self.algorithm.named_modules()
                if isinstance(getattr(module, "_optim", None), torch.optim.Optimizer)}  # fmt: skip

    def save(self, directory: Path) -> None:
        torch.save(self.algorithm.state_dict(), directory / "algorithm.pt")
        own = {name: optim.state_dict() for name, optim in self._own_optimizers().items()}
        torch.save(own, directory / "own_optimizers.pt")
        with open(directory / "buffer.pkl", "wb") as f:
            pickle.dump(self.buffer, f)
        state = {"env_steps": self.env_steps, "debt": self._debt, "rng": _rng_state(self.device)}
        torch.save(state, directory / "state.pt")

    def load(self, directory: Path) -> None:
        self.algorithm.load_state_dict(
            torch.load(directory / "algorithm.pt", weights_only=True, map_location=self.device)
        )
        own_path = directory / "own_optimizers.pt"
        if own_path.exists():  # (checkpoints of earlier versions lack it)
            own = torch.load(own_path, weights_only=True, map_location=self.device)
            for name, optim in self._own_optimizers().items():
                optim.load_state_dict(own[name])
        with open(directory / "buffer.pkl", "rb") as f:
            self.buffer = pickle.load(f)  # our own file, written by save()
        # unpickled, each sub-buffer holds a copy of its slice, no longer a view of the shared
        # storage (stale done flags for n-step returns, twice the memory): re-link them
        self.buffer._set_batch_for_children()
        self.collector = self._collector_cls(
            self.algorithm, self.envs, self.buffer, exploration_noise=True
        )
        self.collector.reset(reset_buffer=False)
        state = torch.load(directory / "state.pt", weights_only=False)
        self.env_steps = int(state["env_steps"])
        self._debt = float(state.get("debt", 0.0))
        _set_rng_state(state["rng"], self.device)

    def close(self) -> None:
        self.envs.close()


class SB3Runner(AgentRunner):
    """PPO, SAC or TD3 from Stable-Baselines3 on the native vector env (:class:`SB3VecEnv`);
    ``learn`` is called per chunk with ``reset_num_timesteps=False``, so chunks add up to one run.

    The off-policy learners take the shared :class:`RunnerConfig`: ``updates_per_step`` becomes
    SB3's ``train_freq``/``gradient_steps`` (:func:`sb3_schedule`, the same ratio exactly); SB3's
    own ``train_freq`` and ``gradient_steps``, where given, win. PPO's update schedule is its own
    (``n_steps``, ``n_epochs``, ``batch_size``); it takes ``n_envs``, ``device`` and ``expert``.
    """

    KINDS: ClassVar[dict[str, str]] = {"sb3_ppo": "PPO", "sb3_sac": "SAC", "sb3_td3": "TD3"}
    ON_POLICY: ClassVar[frozenset[str]] = frozenset({"sb3_ppo"})

    @classmethod
    def algo_config(cls, kind: str) -> type:
        return sb3_algo_config(cls.KINDS[kind])

    def _build(self) -> None:
        import stable_baselines3 as sb3
        from stable_baselines3.common.noise import NormalActionNoise

        kind, seed = self.kind, self.seed
        # SB3's own defaults for what is not given; a misspelled key is a TypeError here
        h = dataclasses.asdict(self.algo_config(kind)(**self.algo))
        for key in ("train_freq", "gradient_steps"):  # None: derived from updates_per_step
            if h.get(key, 0) is None:
                del h[key]
        on_policy = kind in self.ON_POLICY
        s = self.settings
        self.device = resolve_device(s.device)
        self.cls = getattr(sb3, self.KINDS[kind])
        # the harness's agent-neutral keys, in SB3's terms
        hidden = h.pop("hidden_sizes", None)
        if hidden is not None:
            h["policy_kwargs"] = {**(h.get("policy_kwargs") or {}), "net_arch": list(hidden)}
        self.venv = SB3VecEnv(self.env.make_vec(s.n_envs))  # n_envs copies (x agents) slots
        if not on_policy:  # PPO's schedule is its own (n_steps, n_epochs, batch_size)
            h.update(learning_starts=s.learning_starts, batch_size=s.batch_size,
                     buffer_size=s.buffer_size)  # fmt: skip
            h.update(sb3_schedule(s.updates_per_step * self.venv.num_envs, h.get("train_freq"),
                                  h.get("gradient_steps")))  # fmt: skip
        # SB3 seeds copy i with seed + i (again in the model's constructor): space the runs'
        # seeds so that runs never share an env stream
        self.venv.seed(seed * 1000)
        noise_std = h.pop("noise_std", None)
        if noise_std is not None:
            n_act = self.venv.action_space.shape[0]
            h["action_noise"] = NormalActionNoise(np.zeros(n_act), noise_std * np.ones(n_act))
        if "policy_kwargs" in h and h["policy_kwargs"] is not None:
            h["policy_kwargs"] = dict(h["policy_kwargs"])
        self.model = self.cls(h.pop("policy", "MlpPolicy"), self.venv, seed=seed * 1000,
                              device=self.device, verbose=0, **h)  # fmt: skip

    def train(self, n_env_steps: int) -> dict[str, float]:
        self.model.learn(total_timesteps=n_env_steps, reset_num_timesteps=False)
        self.env_steps = int(self.model.num_timesteps)
        values = self.model.logger.name_to_value
        return {k.split("/")[-1]: float(v) for k, v in values.items() if k.startswith("train/")}

    def act_batch(self, obs: np.ndarray) -> np.ndarray:
        return self.model.predict(np.asarray(obs), deterministic=True)[0]

    def save(self, directory: Path) -> None:
        self.model.save(directory / "model.zip")
        if hasattr(self.model, "replay_buffer"):
            self.model.save_replay_buffer(directory / "replay_buffer.pkl")
        torch.save({"rng": _rng_state(self.device)}, directory / "state.pt")

    def load(self, directory: Path) -> None:
        self.model = self.cls.load(directory / "model.zip", env=self.venv, device=self.device)
        if hasattr(self.model, "replay_buffer"):
            self.model.load_replay_buffer(directory / "replay_buffer.pkl")
        self.env_steps = int(self.model.num_timesteps)
        _set_rng_state(torch.load(directory / "state.pt", weights_only=False)["rng"], self.device)

    def close(self) -> None:
        self.venv.close()


RUNNERS: tuple[type[AgentRunner], ...] = (TianshouRunner, SB3Runner, RuleRunner)
AGENT_KINDS: dict[str, type[AgentRunner]] = {k: cls for cls in RUNNERS for k in cls.KINDS}
"""Every agent kind the harness runs -> its runner class (built from the runners' ``KINDS``)."""
LEARNERS: tuple[str, ...] = tuple(k for k, cls in AGENT_KINDS.items() if cls.trains)
RULES: tuple[str, ...] = tuple(k for k, cls in AGENT_KINDS.items() if not cls.trains)


def make_runner(
    kind: str, env: EnvSource | str, algo: Settings = None, runner: Settings = None, seed: int = 0
) -> AgentRunner:
    """The runner for agent ``kind`` (one of :data:`AGENT_KINDS`) on ``env`` (an
    :class:`EnvSource` or a registered id), with its algorithm settings ``algo`` (the fields of
    ``AGENT_KINDS[kind].algo_config(kind)``) and collection settings ``runner``."""
    if kind not in AGENT_KINDS:
        raise ValueError(f"unknown agent kind {kind!r}; choose one of {tuple(AGENT_KINDS)}")
    source = EnvSource(env) if isinstance(env, str) else env
    return AGENT_KINDS[kind](kind, source, algo, runner, seed)
