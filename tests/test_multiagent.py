"""The multi-agent envs: PettingZoo's own API, seed and max-cycles tests, AEC conversion, bad
input, the central references (bound and replay), the reward split, the shared-policy vector env
and training through the harness."""

from __future__ import annotations

import copy
import gc
import json
import math
import weakref

import numpy as np
import pytest
from pettingzoo.test import api_test, max_cycles_test, parallel_api_test, parallel_seed_test

from lowcarbon.agents.evaluation import rollout_joint, rollout_shared
from lowcarbon.agents.runners import make_runner
from lowcarbon.agents.vector import EnvSource
from lowcarbon.envs import carbon_market_v0, edge_offload_v0
from lowcarbon.envs.carbon_market import clear_double_auction, solve
from lowcarbon.envs.multiagent import JointRandomPolicy, SharedPolicyVectorEnv, multiagent_suite

MODULES = {"carbon_market_v0": carbon_market_v0, "edge_offload_v0": edge_offload_v0}
NAMES = tuple(MODULES)


@pytest.mark.parametrize("name", NAMES)
def test_pettingzoo_parallel_api(name):
    parallel_api_test(MODULES[name].parallel_env(), num_cycles=200)


@pytest.mark.parametrize("name", NAMES)
def test_pettingzoo_parallel_seed(name):
    parallel_seed_test(MODULES[name].parallel_env, num_cycles=50)


@pytest.mark.parametrize("name", NAMES)
def test_pettingzoo_max_cycles(name):
    max_cycles_test(MODULES[name])


@pytest.mark.parametrize("name", NAMES)
def test_aec_conversion_passes_the_aec_api_test(name):
    env = MODULES[name].env()
    api_test(env, num_cycles=30)
    assert env.possible_agents == MODULES[name].parallel_env().possible_agents


@pytest.mark.parametrize("name", NAMES)
def test_bad_input(name):
    env = MODULES[name].parallel_env()
    with pytest.raises(RuntimeError, match="reset"):
        env.step({})
    env.reset(seed=0)
    dim = env.core.act_dim
    zeros = {a: np.zeros(dim) for a in env.agents}
    with pytest.raises(ValueError, match="unknown agent 'nobody'"):
        env.step({**zeros, "nobody": np.zeros(dim)})
    with pytest.raises(ValueError, match="no action for"):
        env.step({a: v for a, v in list(zeros.items())[1:]})
    nan = {**zeros, env.agents[0]: np.full(dim, np.nan)}
    with pytest.raises(ValueError, match="NaN"):
        env.step(nan)
    assert env.core.t == 0  # nothing changed
    # out of range (infinities too) is clipped: the same as the clipped action
    rng = np.random.default_rng(0)
    wild = {a: rng.uniform(-5, 5, dim) for a in env.agents}
    wild[env.agents[0]][0] = np.inf
    twin = copy.deepcopy(env)
    out = env.step(wild)
    ref = twin.step({a: np.clip(v, -1, 1) for a, v in wild.items()})
    assert out[1] == ref[1]
    np.testing.assert_array_equal(out[0][env.agents[0]], ref[0][env.agents[0]])
    with pytest.raises(ValueError, match="render_mode"):
        MODULES[name].parallel_env(render_mode="human")
    with pytest.raises(ValueError, match="unknown agent"):
        env.observation_space("provider_99")
    with pytest.raises(ValueError, match="max_cycles: must be a whole number"):
        MODULES[name].parallel_env(max_cycles=2.5)
    assert MODULES[name].parallel_env(max_cycles=6.0).max_cycles == 6
    with pytest.raises(RuntimeError, match="reset"):
        MODULES[name].parallel_env().state()


@pytest.mark.parametrize("name", NAMES)
def test_an_env_is_freed_when_its_last_reference_goes(name):
    """Nothing outside the env (a method cache, a registry) keeps it alive."""
    env = MODULES[name].parallel_env()
    env.reset(seed=0)
    assert env.observation_space(env.agents[0]) is env.observation_space(env.agents[-1])
    assert env.state_space is env.state_space and env.state() in env.state_space
    ref = weakref.ref(env)
    del env
    gc.collect()
    assert ref() is None


def _joint_play(env, policy):
    policy.reset()
    welfare = 0.0
    while env.agents:
        joint = policy.act()
        _, rewards, _, _, _ = env.step({a: joint[i] for i, a in enumerate(env.agents)})
        welfare += sum(rewards.values())
    return welfare


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", [3, 11])
def test_central_reference_bounds_every_play_and_its_replay_attains_it(name, seed):
    e = multiagent_suite()[name]
    env = e.env_cls()
    env.reset(seed=seed)
    oracle = e.oracle(env)
    welfare = _joint_play(env, oracle)
    assert math.isclose(welfare, oracle.bound, rel_tol=1e-6, abs_tol=1e-6)
    for make in (JointRandomPolicy, e.rules["selfish"]):
        env.reset(seed=seed)
        assert _joint_play(env, make(env)) <= oracle.bound + 1e-6


def test_carbon_cap_binds_on_the_default_instance():
    env = carbon_market_v0.parallel_env()
    binding = 0
    for seed in range(6):
        env.reset(seed=seed)
        free, capped = solve(env.core, 0, cap=False), solve(env.core, 0)
        assert capped.value <= free.value + 1e-9
        binding += free.co2_kg > env.params.cap_kg + 1e-6
    assert binding >= 4  # the cap changes the social optimum on most days


def test_double_auction_clears_crossing_orders_at_a_uniform_price():
    buy = np.array([3.0, 0.0, 2.0, 0.0])
    sell = np.array([0.0, 4.0, 0.0, 2.0])
    price = np.array([0.30, 0.10, 0.20, 0.25])  # bids 0.30, 0.20; asks 0.10, 0.25
    fb, fs = np.zeros(4), np.zeros(4)
    p = clear_double_auction(buy, price, sell, price, fb, fs)
    # the 0.30 bid takes 3 from the 0.10 ask; the 0.20 bid then meets the 0.10 ask's last 1
    np.testing.assert_allclose(fb, [3.0, 0.0, 1.0, 0.0])
    np.testing.assert_allclose(fs, [0.0, 4.0, 0.0, 0.0])
    assert p == pytest.approx(0.15)  # midpoint of the last matched bid (0.20) and ask (0.10)
    assert all(price[i] >= p for i in (0, 2)) and price[1] <= p  # individually rational
    none = clear_double_auction(buy, np.full(4, 0.1), sell, np.full(4, 0.2), fb, fs)
    assert math.isnan(none) and fb.sum() == fs.sum() == 0.0


def test_carbon_market_payments_cancel():
    env = carbon_market_v0.parallel_env()
    env.reset(seed=5)
    rng = np.random.default_rng(5)
    while env.agents:
        infos = env.step({a: rng.uniform(-1, 1, 4) for a in env.agents})[4]
        bought = sum(i["bought_kwh"] for i in infos.values())
        sold = sum(i["sold_kwh"] for i in infos.values())
        assert bought == pytest.approx(sold)
        a_in = sum(i["allowance_bought_kg"] for i in infos.values())
        assert a_in == pytest.approx(sum(i["allowance_sold_kg"] for i in infos.values()))


def test_edge_offload_shares_add_up_to_the_joint_reward():
    env = edge_offload_v0.parallel_env()
    env.reset(seed=2)
    rng = np.random.default_rng(2)
    while env.agents:
        _, rewards, _, _, infos = env.step(
            {a: rng.uniform(-1, 1, env.core.act_dim) for a in env.agents}
        )
        assert sum(rewards.values()) == pytest.approx(env.core.last_joint_reward[0], abs=1e-9)
        total = next(iter(infos.values()))["co2_total_kg"]
        assert sum(i["co2_kg"] for i in infos.values()) == pytest.approx(total, abs=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_shared_policy_vector_env_replays_the_parallel_env(name):
    e = multiagent_suite()[name]
    venv = SharedPolicyVectorEnv(e.env_cls, 3)
    obs, _ = venv.reset(seed=40)
    n = venv.n_agents
    envs = [e.env_cls() for _ in range(3)]
    singles = [env.reset(seed=40 + c)[0] for c, env in enumerate(envs)]
    rng = np.random.default_rng(0)
    for _ in range(5):
        for c, env in enumerate(envs):
            np.testing.assert_array_equal(obs[c * n : (c + 1) * n],
                                          np.stack([singles[c][a] for a in env.agents]))  # fmt: skip
        act = rng.uniform(-1, 1, (venv.num_envs, venv.core.act_dim))
        obs, reward, *_ = venv.step(act)
        for c, env in enumerate(envs):
            singles[c], r, *_ = env.step({a: act[c * n + i] for i, a in enumerate(env.agents)})
            np.testing.assert_allclose(reward[c * n : (c + 1) * n], list(r.values()))


@pytest.mark.parametrize("name", NAMES)
def test_shared_rollout_equals_joint_rollout(name):
    e = multiagent_suite()[name]
    seeds = [7, 8]
    venv = SharedPolicyVectorEnv(e.env_cls, len(seeds))
    shared = rollout_shared(venv, lambda o: np.zeros((len(o), venv.core.act_dim)), seeds, name,
                            "zero")  # fmt: skip

    class Zero:
        def __init__(self, env):
            self.env = env

        def reset(self):
            pass

        def act(self):
            return np.zeros((self.env.core.n_agents, self.env.core.act_dim))

    for s, res in zip(seeds, shared, strict=True):
        joint = rollout_joint(name, Zero, s)
        assert res.ret == pytest.approx(joint.ret) and res.co2_kg == pytest.approx(joint.co2_kg)
        assert res.qos == pytest.approx(joint.qos)


@pytest.mark.parametrize("kind", ["sb3_ppo", "gdm"])
def test_independent_learners_train_on_the_shared_vector_env(kind):
    algo = {"hidden_sizes": [16, 16]}
    runner_cfg = {"n_envs": 2}
    if kind == "sb3_ppo":
        algo.update(n_steps=16, batch_size=32, n_epochs=1)
    else:
        algo.update(steps=2)
        runner_cfg.update(learning_starts=64, batch_size=16)
    runner = make_runner(kind, EnvSource("carbon_market_v0"), algo, runner_cfg, seed=0)
    try:
        runner.train(160)
        assert runner.env_steps >= 160
        obs = np.zeros((8, 19), np.float32)
        act = runner.act_batch(obs)
        assert act.shape == (8, 4) and np.all(np.abs(act) <= 1.0)
    finally:
        runner.close()


# --- the harness -------------------------------------------------------------------------------

TINY = ["budget=64", "eval.every=64", "eval.episodes=2", "checkpoint.every=64", "progress=false",
        "carbon.enabled=false", "logger=none"]  # fmt: skip


def _compose(*overrides):
    from hydra import compose, initialize_config_module

    with initialize_config_module(config_module="lowcarbon.conf", version_base="1.3"):
        return compose("train", overrides=list(overrides))


def test_harness_trains_parameter_shared_ppo_on_a_multiagent_env(tmp_path):
    from lowcarbon.harness import run

    cfg = _compose("env=carbon_market", "agent=sb3_ppo", "env.kwargs.cap_kg=4", *TINY,
                   "agent.algo.n_steps=8", "agent.algo.batch_size=32", "agent.algo.n_epochs=1",
                   "agent.runner.n_envs=2", "agent.algo.hidden_sizes=[16,16]",
                   f"paths.cache_dir={tmp_path / 'cache'}")  # fmt: skip
    metrics = run(cfg, tmp_path / "run")
    assert metrics["env_id"] == "carbon_market_v0" and metrics["env_steps"] >= 64
    assert math.isfinite(metrics["eval/normalised"]) and math.isfinite(metrics["eval/co2_kg"])
    # the references are the joint random play and the social optimum on the same days
    oracle = run(_compose("env=carbon_market", "agent=oracle", "env.kwargs.cap_kg=4", *TINY,
                          f"paths.cache_dir={tmp_path / 'cache'}"), tmp_path / "oracle")  # fmt: skip
    assert oracle["eval/normalised"] == pytest.approx(1.0)


def test_harness_rejects_what_a_multiagent_env_cannot_take(tmp_path):
    from hydra.errors import ConfigCompositionException

    from lowcarbon.harness import ConfigError, run

    with pytest.raises(ConfigError, match=r"agent\.kind"):
        run(_compose("env=edge_offload", "agent=greedy", *TINY), tmp_path)
    with pytest.raises(ConfigError, match="n_providers"):
        run(_compose("env=edge_offload", "env.kwargs.n_providers=1", *TINY), tmp_path)
    with pytest.raises(ConfigCompositionException, match="n_provider"):
        _compose("env=edge_offload", "env.kwargs.n_provider=4")


@pytest.mark.parametrize("name", NAMES)
def test_no_perturbation_of_the_central_plan_beats_it(name):
    e = multiagent_suite()[name]
    env = e.env_cls()
    env.reset(seed=21)
    oracle = e.oracle(env)
    oracle.reset()
    bound, plan = oracle.bound, oracle.plan
    rng = np.random.default_rng(21)
    for _ in range(4):
        env.reset(seed=21)
        oracle.plan = plan  # the same day: replay the plan with noise on every action
        welfare = 0.0
        while env.agents:
            joint = np.clip(oracle.act() + rng.normal(0, 0.3, (len(env.agents), env.core.act_dim)),
                            -1, 1)  # fmt: skip
            _, rewards, *_ = env.step({a: joint[i] for i, a in enumerate(env.agents)})
            welfare += sum(rewards.values())
        assert welfare <= bound + 1e-6


def test_bench_marl_writes_scores_and_the_price_of_anarchy(tmp_path):
    from lowcarbon.scripts.bench_marl import main

    out = tmp_path / "m.json"
    main(["--envs", "carbon_market_v0", "--seeds", "1", "--episodes", "2", "--budget", "200",
          "--out", str(out)])  # fmt: skip
    res = json.loads(out.read_text())["results"][0]
    rows = {r["policy"]: r for r in res["rows"]}
    assert set(rows) == {"random", "selfish", "optimum", "ippo", "igdm"}
    assert rows["random"]["score"] == 0.0 and rows["optimum"]["score"] == pytest.approx(1.0)
    assert all(rows[p]["welfare"] <= rows["optimum"]["welfare"] + 1e-6 for p in rows)
    poa = res["price_of_anarchy"]
    assert poa["welfare_gap"] == pytest.approx(rows["optimum"]["welfare"]
                                               - rows["selfish"]["welfare"])  # fmt: skip
    assert poa["share_of_range"] == pytest.approx(1.0 - rows["selfish"]["score"])
