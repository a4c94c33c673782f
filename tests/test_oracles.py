"""Oracles against brute-force enumeration on small instances, and against every baseline."""

import itertools

import gymnasium as gym
import numpy as np
import pytest

import lowcarbon.envs  # noqa: F401
from lowcarbon.agents import POLICIES, OraclePolicy
from lowcarbon.agents.evaluation import rollout
from lowcarbon.envs.oracles import datacenter_lp, energy_internet_lp, metaverse_slot_milp

TINY_METAVERSE = dict(
    n_users=2, n_servers=2, n_resource_blocks=3, min_steps=10, max_steps=30, step_increment=10,
    capacity_steps=(30.0, 40.0), server_regions=("coal", "hydro"), p_active=1.0, horizon=4,
    deadline_s=(0.8, 2.0),
)  # fmt: skip


def _compositions(total, parts):
    """All tuples of ``parts`` non-negative integers summing to ``total``."""
    for cuts in itertools.combinations_with_replacement(range(total + 1), parts - 1):
        bounds = (0, *cuts, total)
        yield tuple(b - a for a, b in itertools.pairwise(bounds))


@pytest.mark.parametrize("seed", range(4))
def test_metaverse_milp_equals_brute_force(seed):
    env = gym.make("LowCarbon/MetaverseOffload-v0", **TINY_METAVERSE).unwrapped
    env.reset(seed=seed)
    core = env.core
    U, S, K, M = core.U, core.S, core.K, core.M
    for t in range(core.horizon):
        core.t = t
        best = -np.inf
        per_user = list(itertools.product(range(S + 1), range(K)))
        for combo in itertools.product(per_user, repeat=U):
            choice = np.array([c for c, _ in combo])
            level = np.array([k for _, k in combo])
            admitted = np.flatnonzero(choice > 0)
            splits = _compositions(M, len(admitted)) if admitted.size else [()]
            for split in splits:
                blocks = np.zeros(U, np.int64)
                blocks[admitted] = split
                core.t = t
                r, _ = core.step(core.encode(choice[None], level[None], blocks[None]))
                best = max(best, r[0])
        core.t = t
        d = metaverse_slot_milp(core)
        assert d.value == pytest.approx(best, abs=1e-7)
        r, _ = core.step(core.encode(d.choice[None], d.level[None], d.blocks[None]))
        assert r[0] == pytest.approx(d.value, abs=1e-7)  # the env attains the MILP value


@pytest.mark.parametrize("seed", range(2))
def test_datacenter_lp_matches_fine_grid_search_and_replay(seed):
    kwargs = dict(n_sites=1, horizon=3, max_slack_slots=2, batch_share=0.6)
    env = gym.make("LowCarbon/DataCenter-v0", **kwargs).unwrapped
    env.reset(seed=seed)
    plan = datacenter_lp(env.core)
    setpoint = 2.0 * (plan.setpoint_c - 18.0) / 9.0 - 1.0
    grid = np.linspace(-1, 1, 21)  # run fraction of the backlog, per slot
    best = -np.inf
    for rhos in itertools.product(grid, repeat=3):
        env.reset(seed=seed)
        ret = sum(env.step(np.r_[rho, 1.0, setpoint[t]])[1] for t, rho in enumerate(rhos))
        best = max(best, ret)
    assert plan.value >= best - 1e-9  # nothing on the grid beats the LP
    assert plan.value - best <= 0.02 * abs(plan.value)  # and the grid gets close to it
    env.reset(seed=seed)
    oracle = OraclePolicy(env)
    oracle.reset()
    ret = sum(env.step(oracle.act())[1] for _ in range(3))
    assert ret == pytest.approx(plan.value, abs=1e-6)


@pytest.mark.parametrize("seed", range(2))
def test_energy_internet_lp_bounds_enumeration_and_is_attained(seed):
    kwargs = dict(n_prosumers=1, horizon=3, pv_kwp=5.0, wind_kw=0.0, battery_kwh=6.0,
                  battery_kw=3.0)  # fmt: skip
    env = gym.make("LowCarbon/EnergyInternet-v0", **kwargs).unwrapped
    env.reset(seed=seed)
    plan = energy_internet_lp(env.core)
    grid = np.linspace(-1, 1, 9)
    best = -np.inf
    for bats in itertools.product(grid, repeat=3):
        for ev in itertools.product((-1.0, 1.0), repeat=3):
            for cur in (-1.0, 1.0):
                env.reset(seed=seed)
                ret = sum(env.step(np.r_[bats[t], ev[t], cur])[1] for t in range(3))
                best = max(best, ret)
    assert plan.value >= best - 1e-9
    env.reset(seed=seed)
    oracle = OraclePolicy(env)
    oracle.reset()
    ret = sum(env.step(oracle.act())[1] for _ in range(3))
    assert ret == pytest.approx(plan.value, abs=1e-6)


ORACLE_VS_BASELINES = [
    ("LowCarbon/MetaverseOffload-v0", {"horizon": 4}),
    ("LowCarbon/MetaverseOffload-CAISO-v0", {"horizon": 3}),
    ("LowCarbon/DataCenter-v0", {}),
    ("LowCarbon/EnergyInternet-v0", {}),
]


@pytest.mark.parametrize(("env_id", "kwargs"), ORACLE_VS_BASELINES)
def test_oracle_beats_every_baseline_on_the_same_seeds(env_id, kwargs):
    for seed in range(3):
        oracle = rollout(env_id, OraclePolicy, seed, **kwargs).ret
        for name in ("random", "carbon_greedy", "latency_greedy"):
            ret = rollout(env_id, POLICIES[name], seed, **kwargs).ret
            assert oracle >= ret - 1e-6, (name, seed, oracle, ret)
