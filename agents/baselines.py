"""Rule-based baselines for the suite: random, carbon-greedy, and latency-greedy / no-control.

Each rule acts on the state of the current slot only (what the agent observes, read from the env
core in physical units rather than decoded from the scaled observation); none sees the future.
They are the reference points beside learned policies and the oracle, and the ``random`` policy
anchors the normalised score ``(return - random) / (oracle - random)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lowcarbon.envs.core import CoreEnv
from lowcarbon.envs.data_center import SETPOINT_MAX_C, SETPOINT_MIN_C, DataCenterCore
from lowcarbon.envs.energy_internet import EnergyInternetCore
from lowcarbon.envs.metaverse_offload import MetaverseOffloadCore


class Policy:
    """A policy over a suite env: :meth:`reset` after ``env.reset``, :meth:`act` before a step."""

    name = "policy"

    def __init__(self, env: CoreEnv) -> None:
        self.env = env.unwrapped if hasattr(env, "unwrapped") else env
        self.core = self.env.core

    def reset(self) -> None:
        """Called after each ``env.reset``."""

    def act(self, obs: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError


class RandomPolicy(Policy):
    """Uniform random actions in [-1, 1], from the env's own ``np_random`` (reproducible)."""

    name = "random"

    def act(self, obs: np.ndarray | None = None) -> np.ndarray:
        return self.env.np_random.uniform(-1.0, 1.0, size=self.core.act_dim)


# -- metaverse offloading ------------------------------------------------------------------------
def _metaverse_greedy(core: MetaverseOffloadCore, key: np.ndarray, level: int) -> np.ndarray:
    """Users in index order take the server with the smallest ``key`` that still has capacity for
    ``level``'s steps; equal bandwidth weights."""
    t = core.t
    steps = core.levels[level]
    room = np.asarray(core.p.capacity_steps, float).copy()
    choice = np.zeros(core.U, np.int64)
    order = np.argsort(key, kind="stable")
    for u in np.flatnonzero(core.active[0, t]):
        for s in order:
            if room[s] >= steps:
                room[s] -= steps
                choice[u] = s + 1
                break
    levels = np.full(core.U, level)
    admitted = choice > 0
    blocks = np.zeros(core.U, np.int64)
    if admitted.any():  # equal weights; encode needs integer blocks summing to M
        n = admitted.sum()
        blocks[admitted] = core.M // n
        blocks[np.flatnonzero(admitted)[: core.M % n]] += 1
    return core.encode(choice[None], levels[None], blocks[None])[0]


class CarbonGreedyPolicy(Policy):
    """Cleanest first, frugal steps.

    * MetaverseOffload: each request to the lowest-intensity server with room, at the fewest
      denoising steps;
    * DataCenter: run urgent work (due within one slot) always and everything else only when the
      cleanest site is below its grid's daily mean; place work in proportion to headroom over
      intensity; setpoint 24 degC (the multiplier's usual minimiser);
    * EnergyInternet: charge batteries from surplus renewables or when the grid is cleaner than its
      mean, discharge when dirtier; charge EVs when clean or when the deadline forces it; curtail
      when export earns less than nothing.
    """

    name = "carbon_greedy"

    def act(self, obs: np.ndarray | None = None) -> np.ndarray:
        core, t = self.core, self.core.t
        if isinstance(core, MetaverseOffloadCore):
            return _metaverse_greedy(core, core.ci_srv[0, t], level=0)
        if isinstance(core, DataCenterCore):
            ci = core.ci[0, t]
            means = np.array([s.mean_kg_per_kwh for s in core.sources])
            clean = (ci / means).min() < 1.0
            backlog = core.backlog[0]
            total = backlog.sum()
            want = backlog.sum() if clean else backlog[:2].sum()
            rho = want / total if total > 0 else 0.0
            w = core.headroom[0, t] / np.maximum(ci, 1e-6)
            w = w / w.max() if w.max() > 0 else np.ones(core.N)
            setpoint = 2.0 * (24.0 - SETPOINT_MIN_C) / (SETPOINT_MAX_C - SETPOINT_MIN_C) - 1.0
            return np.r_[2 * rho - 1, 2 * w - 1, np.full(core.N, setpoint)]
        assert isinstance(core, EnergyInternetCore)
        ci, mean = core.ci[0, t], core.source.mean_kg_per_kwh
        surplus = core.renewable_kw[0, t] - core.load_kw[0, t]
        bat = np.where(surplus > 0, 1.0, np.where(ci < mean, 0.5, -1.0))
        slots_left = np.maximum(core.ev_depart[0] - t, 1)
        must = core.ev_need[0] >= 0.9 * slots_left * core.dt * core.p_ev
        ev = np.where((ci < mean) | must | (surplus > 0), 1.0, -1.0)
        cur = np.full(core.N, 1.0 if core.export_price[0, t] < 0 else -1.0)
        cur = np.where(surplus > 0, cur, -1.0)
        return np.r_[bat, ev, cur]


class LatencyGreedyPolicy(Policy):
    """Service first, carbon ignored (the "no-control" operating point).

    * MetaverseOffload: each request to the fastest server with room, at a middle step count;
    * DataCenter: run the whole backlog now where there is headroom, setpoint 22 degC;
    * EnergyInternet: batteries idle, EVs charge at full power on arrival, nothing curtailed.
    """

    name = "latency_greedy"

    def act(self, obs: np.ndarray | None = None) -> np.ndarray:
        core = self.core
        if isinstance(core, MetaverseOffloadCore):
            level = (core.K - 1) // 2
            speed = core.tau_ext[1:] * core.levels[level] + core.backhaul_ext[1:]
            return _metaverse_greedy(core, speed, level=level)
        if isinstance(core, DataCenterCore):
            setpoint = 2.0 * (22.0 - SETPOINT_MIN_C) / (SETPOINT_MAX_C - SETPOINT_MIN_C) - 1.0
            w = core.headroom[0, core.t] / core.headroom[0, core.t].max()
            return np.r_[1.0, 2 * w - 1, np.full(core.N, setpoint)]
        assert isinstance(core, EnergyInternetCore)
        return np.r_[np.zeros(core.N), np.ones(core.N), -np.ones(core.N)]


POLICIES: dict[str, Callable[[CoreEnv], Policy]] = {
    "random": RandomPolicy,
    "carbon_greedy": CarbonGreedyPolicy,
    "latency_greedy": LatencyGreedyPolicy,
}
