"""API compliance, determinism, robustness and argument checking of every registered env."""

import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.registration import EnvSpec
from gymnasium.utils.env_checker import check_env as gym_check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.env_util import make_vec_env

import lowcarbon.envs
from lowcarbon.envs import ENV_IDS, make_vector_env

NON_DEFAULT = [
    ("LowCarbon/MetaverseOffload-v1", {"n_users": 3, "n_servers": 2, "horizon": 12,
                                       "server_regions": ("wind", "caiso_sce"),
                                       "step_levels": (10, 25), "quality_levels": (0.6, 1.0),
                                       "slot_minutes": 30, "battery_kwh": 0.0}),
    ("LowCarbon/DataCenter-v1", {"n_sites": 5, "horizon": 12, "batch_slack_slots": (0, 3),
                                 "slot_minutes": 15}),
    ("LowCarbon/EnergyInternet-v1", {"n_prosumers": 7, "horizon": 48, "slot_minutes": 30,
                                     "region": "caiso_pge", "battery_kwh": 0.0}),
]  # fmt: skip
CASES = [(i, {}) for i in ENV_IDS] + NON_DEFAULT
IDS = [f"{i.split('/')[1]}{'-custom' if kw else ''}" for i, kw in CASES]


def _episode(env, seed, actions):
    obs, _ = env.reset(seed=seed)
    trace = [obs]
    for a in actions:
        obs, r, term, trunc, info = env.step(a)
        trace += [obs, np.array([r]), np.array(list(info.values()))]
        if term or trunc:
            break
    return trace


@pytest.mark.parametrize(("env_id", "kwargs"), CASES, ids=IDS)
def test_gymnasium_and_sb3_checkers(env_id, kwargs):
    env = gym.make(env_id, **kwargs)
    gym_check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(gym.make(env_id, **kwargs), warn=True)


@pytest.mark.parametrize(("env_id", "kwargs"), CASES, ids=IDS)
def test_episode_length_info_and_termination(env_id, kwargs):
    env = gym.make(env_id, **kwargs)
    env.reset(seed=0)
    horizon = env.unwrapped.core.horizon
    for t in range(horizon):
        obs, r, term, trunc, info = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs)
        for key in ("energy_kwh", "co2_kg", "cost"):
            assert np.isfinite(info[key])
        assert info["energy_kwh"] >= 0 and info["co2_kg"] >= 0
        assert term == (t == horizon - 1) and not trunc
        # The reward is the sum of its terms, all of which are in info.
        assert r == pytest.approx(sum(v for k, v in info.items() if k.startswith("r_")))
    with pytest.raises(RuntimeError, match="reset"):
        env.unwrapped.step(env.action_space.sample())


@pytest.mark.parametrize(("env_id", "kwargs"), CASES, ids=IDS)
def test_same_seed_is_bit_identical_and_seeds_differ(env_id, kwargs):
    env = gym.make(env_id, **kwargs)
    actions = np.random.default_rng(0).uniform(-1, 1, (200, env.action_space.shape[0]))
    a = _episode(env, 7, actions)
    b = _episode(gym.make(env_id, **kwargs), 7, actions)
    c = _episode(env, 8, actions)
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert any(not np.array_equal(x, y) for x, y in zip(a, c, strict=False))


ACTION_VALUES = st.one_of(
    st.floats(-1.0, 1.0),
    st.sampled_from([-1.0, 1.0, 0.0, -1e30, 1e30, np.inf, -np.inf]),
    st.floats(allow_nan=False),
)


@pytest.mark.parametrize("env_id", ENV_IDS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.large_base_example])
@given(data=st.data())
def test_fuzzed_actions_never_crash_or_produce_nan(env_id, data):
    """Random, boundary and out-of-range (incl. +-inf) actions over whole episodes."""
    env = gym.make(env_id).unwrapped
    n = env.action_space.shape[0]
    env.reset(seed=data.draw(st.integers(0, 2**31 - 1)))
    drawn = [data.draw(arrays(np.float64, n, elements=ACTION_VALUES)) for _ in range(3)]
    for t in range(env.core.horizon):
        obs, r, _, _, info = env.step(drawn[t % len(drawn)])
        assert np.all(np.isfinite(obs)) and np.isfinite(r)
        assert all(np.isfinite(v) for v in info.values())


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_nan_action_raises_clear_error(env_id):
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    action = np.zeros(env.action_space.shape)
    action[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        env.step(action)
    env.step(np.zeros(env.action_space.shape))  # state untouched: the env still steps
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(3))


@pytest.mark.parametrize(
    ("env_id", "kwargs", "name"),
    [
        ("LowCarbon/MetaverseOffload-v1", {"n_users": 0}, "n_users"),
        ("LowCarbon/MetaverseOffload-v1", {"n_servers": 2, "gpu_workers": (1, 2, 3)},
         "gpu_workers"),
        ("LowCarbon/MetaverseOffload-v1", {"server_regions": ("mars",) * 3}, "mars"),
        ("LowCarbon/MetaverseOffload-v1", {"step_levels": (30, 20, 40, 50, 60)}, "step_levels"),
        ("LowCarbon/MetaverseOffload-v1", {"quality_levels": (0.5, 1.0)}, "quality_levels"),
        ("LowCarbon/MetaverseOffload-v1", {"w_carbon_per_g": -1}, "w_carbon_per_g"),
        ("LowCarbon/MetaverseOffload-v1", {"carbon_allowance_kg": 0}, "carbon_allowance_kg"),
        ("LowCarbon/DataCenter-v1", {"n_sites": 0}, "n_sites"),
        ("LowCarbon/DataCenter-v1", {"slot_minutes": 7}, "slot_minutes"),
        ("LowCarbon/DataCenter-v1", {"it_capacity_mw": (1, 2, -3)}, "it_capacity_mw"),
        ("LowCarbon/DataCenter-v1", {"batch_slack_slots": (3, 1)}, "batch_slack_slots"),
        ("LowCarbon/EnergyInternet-v1", {"horizon": 0}, "horizon"),
        ("LowCarbon/EnergyInternet-v1", {"charge_efficiency": 1.2}, "charge_efficiency"),
        ("LowCarbon/EnergyInternet-v1", {"n_prosumers": 2, "pv_kwp": (1,)}, "pv_kwp"),
        # +-inf passes every ">= 0" check; it would give NaN observations (inf / inf)
        ("LowCarbon/MetaverseOffload-v1", {"carbon_allowance_kg": float("inf")},
         "carbon_allowance_kg: must be finite"),
        ("LowCarbon/DataCenter-v1", {"it_capacity_mw": (1, float("inf"), 3)},
         "it_capacity_mw: must be finite"),
        ("LowCarbon/EnergyInternet-v1", {"wind_kw": float("inf")}, "wind_kw: must be finite"),
        ("LowCarbon/EnergyInternet-v1", {"carbon_price_per_t": float("-inf")},
         "carbon_price_per_t: must be finite"),
    ],
)  # fmt: skip
def test_bad_constructor_arguments_name_the_argument(env_id, kwargs, name):
    with pytest.raises(ValueError, match=name):
        gym.make(env_id, **kwargs)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_native_vector_env_steps_and_autoresets(env_id):
    venv = gym.make_vec(env_id, num_envs=5, vectorization_mode="vector_entry_point")
    assert venv.num_envs == 5
    obs, _ = venv.reset(seed=3)
    assert obs.shape == (5, *venv.single_observation_space.shape)
    horizon = venv.unwrapped.core.horizon
    for t in range(horizon):
        obs, r, term, _, info = venv.step(venv.action_space.sample())
        assert r.shape == (5,) and np.all(np.isfinite(r)) and info["co2_kg"].shape == (5,)
        assert np.all(term == (t == horizon - 1))
    # NEXT_STEP autoreset: the following step starts new episodes with zero reward.
    obs, r, term, _, _ = venv.step(venv.action_space.sample())
    assert np.all(r == 0) and not term.any() and venv.observation_space.contains(obs)
    # Copies draw different episodes, and the same seed repeats the batch exactly.
    a, _ = venv.reset(seed=3)
    b, _ = make_vector_env(env_id, 5).reset(seed=3)
    assert np.array_equal(a, b) and not np.array_equal(a[0], a[1])
    c, _ = make_vector_env(env_id, 5, seeding="batch").reset(seed=3)
    d, _ = make_vector_env(env_id, 5, seeding="batch").reset(seed=3)
    assert np.array_equal(c, d) and not np.array_equal(c[0], c[1])
    with pytest.raises(ValueError, match="reset_mask"):
        venv.reset(options={"reset_mask": np.array([True, False, True, True, True])})


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_native_vector_env_replays_single_envs(env_id):
    """Copy i of the native vector env is the single env seeded seeds[i], step for step and
    across its autoreset (Gymnasium's SyncVectorEnv contract), bit for bit."""
    seeds = [11, 5, 7]
    venv = make_vector_env(env_id, 3)
    singles = [gym.make(env_id) for _ in seeds]
    obs, _ = venv.reset(seed=seeds)
    assert np.array_equal(
        obs, np.stack([e.reset(seed=s)[0] for e, s in zip(singles, seeds, strict=True)])
    )
    rng = np.random.default_rng(0)
    for _ in range(2):
        for _ in range(venv.unwrapped.core.horizon):
            act = rng.uniform(-1, 1, venv.action_space.shape)
            obs, rew, term, _, info = venv.step(act)
            out = [e.step(a) for e, a in zip(singles, act, strict=True)]
            assert np.array_equal(obs, np.stack([o[0] for o in out]))
            assert np.array_equal(rew, [o[1] for o in out])
            assert np.array_equal(term, [o[2] for o in out])
            assert np.array_equal(info["co2_kg"], [o[4]["co2_kg"] for o in out])
        obs, *_ = venv.step(act)  # NEXT_STEP autoreset: each copy's generator goes on
        assert np.array_equal(obs, np.stack([e.reset()[0] for e in singles]))
    # an int seed means seed + i for copy i, as in SyncVectorEnv
    a, _ = make_vector_env(env_id, 2).reset(seed=4)
    assert np.array_equal(a[1], gym.make(env_id).reset(seed=5)[0])


def test_make_without_import_uses_module_prefix():
    env = gym.make("lowcarbon.envs:LowCarbon/DataCenter-v1")
    assert env.unwrapped.spec.id == "LowCarbon/DataCenter-v1"


def test_native_vector_env_returns_read_only_shared_flags_and_takes_numpy_seeds():
    venv = make_vector_env("LowCarbon/DataCenter-v1", 3)
    a, _ = venv.reset(seed=np.array([4, 5, 6]))
    b, _ = make_vector_env("LowCarbon/DataCenter-v1", 3).reset(seed=[4, 5, 6])
    assert np.array_equal(a, b)
    *_, truncated, _ = venv.step(np.zeros(venv.action_space.shape))
    with pytest.raises(ValueError):
        truncated[0] = True  # shared between steps: writing would corrupt the next one
    batch = make_vector_env("LowCarbon/DataCenter-v1", 3, seeding="batch")
    c, _ = batch.reset(seed=[9, 10, 11])  # one seed per copy: the first seeds the batch
    assert np.array_equal(c, make_vector_env("LowCarbon/DataCenter-v1", 3,
                                             seeding="batch").reset(seed=9)[0])  # fmt: skip


def test_sb3_make_vec_env_takes_an_id_and_specs_pickle_and_serialise():
    """SB3's ``make_vec_env(id)`` asks for ``render_mode="rgb_array"`` and retries without one
    on a ``TypeError``; the registered entry points are names, so specs pickle (Async, Subproc)
    and serialise."""
    venv = make_vec_env("LowCarbon/DataCenter-v1", n_envs=2)
    assert venv.reset().shape == (2, *venv.observation_space.shape)
    env = gym.make("LowCarbon/DataCenter-v1")
    env.reset(seed=0)
    act = np.full(env.action_space.shape, 0.2)
    copy = pickle.loads(pickle.dumps(env))
    assert np.array_equal(copy.step(act)[0], env.step(act)[0])
    assert gym.make(EnvSpec.from_json(env.spec.to_json())).spec.id == env.spec.id
    native = gym.make_vec("LowCarbon/DataCenter-v1", 2, vectorization_mode="vector_entry_point")
    native.reset(seed=1)
    assert pickle.loads(pickle.dumps(native)).spec.kwargs["vectorization_mode"] == (
        "vector_entry_point"
    )
    with pytest.raises(ValueError, match="does not render"):
        gym.make("LowCarbon/DataCenter-v1", render_mode="human")


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_native_vector_env_truncates_as_sync_vector_env_does(env_id):
    """``gym.make_vec(..., max_episode_steps=k)``: the native env truncates every copy after k
    steps and resets them at the next, exactly as ``SyncVectorEnv`` over ``TimeLimit`` does."""
    envs = [gym.make_vec(env_id, 3, vectorization_mode=mode, max_episode_steps=10)
            for mode in ("sync", "vector_entry_point")]  # fmt: skip
    assert isinstance(envs[1].unwrapped, lowcarbon.envs.CoreVectorEnv)
    first = [e.reset(seed=5)[0] for e in envs]
    assert np.array_equal(*first)
    rng = np.random.default_rng(1)
    truncations = []
    for t in range(25):
        act = rng.uniform(-1, 1, envs[0].action_space.shape).astype(np.float32)
        (o1, r1, te1, tr1, _), (o2, r2, te2, tr2, _) = (e.step(act) for e in envs)
        assert np.array_equal(o1, o2) and np.array_equal(r1, r2)
        assert np.array_equal(te1, te2) and np.array_equal(tr1, tr2)
        if tr2.all():
            truncations.append(t)
    assert truncations == [9, 20]  # 10 steps, then the autoreset step, then 10 more


def test_native_vector_env_refuses_actions_of_another_shape():
    """An array with the right number of entries but another shape (transposed, flat) would
    mix up the copies' actions: refused, as SyncVectorEnv refuses it."""
    venv = make_vector_env("LowCarbon/DataCenter-v1", 3)
    venv.reset(seed=0)
    act = np.zeros(venv.action_space.shape)
    for wrong in (act.T, act.reshape(-1), act[:2]):
        with pytest.raises(ValueError, match=r"expected \(num_envs, act_dim\)"):
            venv.step(wrong)
    venv.step(act.tolist())  # any array-like of the right shape
