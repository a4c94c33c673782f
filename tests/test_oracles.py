"""Oracles: against brute force on small instances, replayed in the env, against every rule and
against perturbations of their own plans."""

import itertools

import gymnasium as gym
import numpy as np
import pytest

import lowcarbon.envs  # noqa: F401
from lowcarbon.agents import POLICIES, OraclePolicy
from lowcarbon.agents.evaluation import rollout
from lowcarbon.envs import DEFAULT_IDS, ENV_IDS, entry
from lowcarbon.envs.data_center import oracle as dc_oracle
from lowcarbon.envs.energy_internet import oracle as ei_oracle
from lowcarbon.envs.metaverse_offload import oracle as mv_oracle


def _replay(env, seed, actions):
    env.reset(seed=seed)
    return sum(env.step(a)[1] for a in actions)


def _oracle_actions(env, seed):
    env.reset(seed=seed)
    oracle = OraclePolicy(env)
    oracle.reset()
    actions, ret = [], 0.0
    for _ in range(env.core.horizon):
        actions.append(oracle.act())
        ret += env.step(actions[-1])[1]
    return oracle.bound, np.array(actions), ret


# --- brute force on tiny instances ---------------------------------------------------------------

TINY_METAVERSE = dict(
    n_users=1, n_servers=2, horizon=2, step_levels=(10, 40), quality_levels=(0.6, 1.0),
    requests_per_slot=60.0, gpu_workers=1, sec_per_step=(0.06, 0.1), battery_kwh=(2.0, 0.0),
    battery_kw=(2.0, 0.0), pv_kwp=(1.0, 0.0), batch_steps_per_slot=3000.0,
    batch_slack_slots=(0, 1), deadline_s=(2.5, 6.0), carbon_allowance_kg=0.05,
)  # fmt: skip


@pytest.mark.parametrize("seed", range(3))
def test_metaverse_milp_bounds_a_fine_grid_and_is_tight(seed):
    """Every combination of levels, one-hot and half-half routes, batch amounts and places and
    battery powers on a grid stays below the MILP, and the best of them comes within 2 % of it."""
    env = gym.make("LowCarbon/MetaverseOffload-v1", **TINY_METAVERSE).unwrapped
    env.reset(seed=seed)
    plan = mv_oracle.solve(env.core)
    assert plan.bound >= plan.value - 1e-9
    one_hot = ((1, -1), (-1, 1), (1, 1))
    per_slot = list(itertools.product((-1.0, 1.0), one_hot, np.linspace(-1, 1, 5), one_hot[:2],
                                      (-1.0, 0.0, 1.0)))  # fmt: skip
    best = -np.inf
    for combo in itertools.product(per_slot, repeat=2):
        env.reset(seed=seed)
        ret = 0.0
        for level, route, amount, place, battery in combo:
            ret += env.step(np.r_[level, route, amount, place, battery, 0.0])[1]
        best = max(best, ret)
    assert plan.value >= best - 1e-9
    assert plan.value - best <= 0.02 * abs(plan.value) + 1e-3


@pytest.mark.parametrize("seed", range(2))
def test_datacenter_milp_bounds_a_fine_grid_and_is_tight(seed):
    kwargs = dict(n_sites=1, horizon=3, batch_slack_slots=(0, 2), batch_share=0.6)
    env = gym.make("LowCarbon/DataCenter-v1", **kwargs).unwrapped
    env.reset(seed=seed)
    plan = dc_oracle.solve(env.core)
    best = -np.inf
    levels = np.linspace(-1, 1, 10)  # every setpoint
    for amounts in itertools.product(np.linspace(-1, 1, 7), repeat=3):
        for setpoints in itertools.product(levels[::3], repeat=3):
            env.reset(seed=seed)
            best = max(best, sum(env.step(np.r_[a, 1.0, s])[1]
                                 for a, s in zip(amounts, setpoints, strict=True)))  # fmt: skip
    assert plan.value >= best - 1e-9
    assert plan.value - best <= 0.02 * abs(plan.value)


@pytest.mark.parametrize("seed", range(2))
def test_energy_internet_lp_bounds_enumeration(seed):
    kwargs = dict(n_prosumers=1, horizon=3, pv_kwp=5.0, wind_kw=0.0, battery_kwh=6.0,
                  battery_kw=3.0)  # fmt: skip
    env = gym.make("LowCarbon/EnergyInternet-v1", **kwargs).unwrapped
    env.reset(seed=seed)
    plan = ei_oracle.solve(env.core)
    best = -np.inf
    for bats in itertools.product(np.linspace(-1, 1, 9), repeat=3):
        for ev in itertools.product((-1.0, 0.0, 1.0), repeat=3):
            for cur in (-1.0, 1.0):
                env.reset(seed=seed)
                ret = sum(env.step(np.r_[bats[t], ev[t], cur])[1] for t in range(3))
                best = max(best, ret)
    assert plan.value >= best - 1e-9


# --- replay, rules, perturbations -------------------------------------------------------------


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_replaying_the_plan_attains_its_value(env_id):
    env = gym.make(env_id).unwrapped
    for seed in range(2):
        bound, _, ret = _oracle_actions(env, seed)
        assert ret == pytest.approx(bound, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("env_id", DEFAULT_IDS)
def test_oracle_beats_every_rule_on_the_same_seeds(env_id):
    for seed in range(3):
        oracle = rollout(env_id, OraclePolicy, seed).ret
        for name in POLICIES:
            ret = rollout(env_id, POLICIES[name], seed).ret
            assert oracle >= ret - 1e-6, (name, seed, oracle, ret)


@pytest.mark.parametrize("env_id", DEFAULT_IDS)
def test_oracle_beats_200_perturbations_of_its_own_plan(env_id):
    """Noise on a few slots and dimensions of the replayed plan never helps."""
    env = gym.make(env_id).unwrapped
    seed = 11
    bound, actions, _ = _oracle_actions(env, seed)
    rng = np.random.default_rng(0)
    H, n = actions.shape
    for i in range(200):
        noisy = actions.copy()
        slots = rng.choice(H, size=rng.integers(1, 4), replace=False)
        dims = rng.choice(n, size=rng.integers(1, n + 1), replace=False)
        scale = (0.02, 0.2, 1.0)[i % 3]
        noisy[np.ix_(slots, dims)] += rng.normal(0.0, scale, (slots.size, dims.size))
        assert _replay(env, seed, np.clip(noisy, -1, 1)) <= bound + 1e-6


@pytest.mark.parametrize("env_id", DEFAULT_IDS)
def test_oracle_of_a_default_episode_is_exact(env_id):
    """The plan's value is the optimum up to HiGHS's gap tolerance (1e-6 of the solver's
    objective, which leaves out constant terms: at most 1e-4 of the return here)."""
    env = gym.make(env_id).unwrapped
    env.reset(seed=3)
    plan = entry(env_id).family.oracle(env.core, 0)
    assert plan.value <= getattr(plan, "bound", plan.value) + 1e-9
    assert getattr(plan, "bound", plan.value) - plan.value <= 1e-4 * max(1.0, abs(plan.value))


def test_oracle_plans_from_the_start_only():
    env = gym.make("LowCarbon/DataCenter-v1").unwrapped
    env.reset(seed=0)
    env.step(np.zeros(env.action_space.shape))
    with pytest.raises(ValueError, match="start"):
        OraclePolicy(env).reset()
