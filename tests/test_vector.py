"""Vectorised collection: Tianshou's Collector and SB3's VecEnv over the native vector env give
the transitions of n single envs with the same seeds."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.env_util import make_vec_env
from tianshou.data import Collector, VectorReplayBuffer
from tianshou.env import DummyVectorEnv

import lowcarbon.envs  # noqa: F401
from lowcarbon.agents.gdm import GDMConfig, make_gdm
from lowcarbon.agents.vector import EnvSource, SB3VecEnv, TianshouVectorEnv

IDS = ["LowCarbon/MetaverseOffload-v1", "LowCarbon/DataCenter-v1", "LowCarbon/EnergyInternet-v1"]
N = 3


def _collect(envs, seed: int, random: bool) -> VectorReplayBuffer:
    """n_step collection with a fixed GDM policy (same weights, same torch seed)."""
    single = gym.make(IDS[1])
    torch.manual_seed(0)
    algo = make_gdm(single.observation_space, single.action_space,
                    GDMConfig(hidden_sizes=[16], steps=2))  # fmt: skip
    envs.seed(seed)
    buf = VectorReplayBuffer(200, N)
    collector = Collector(algo, envs, buf, exploration_noise=True)
    collector.reset()
    torch.manual_seed(1)
    collector.collect(n_step=N * 30, random=random)  # crosses the 24-slot episode end
    return buf


@pytest.mark.parametrize("random", [True, False])
def test_tianshou_collection_matches_single_envs(random):
    src = EnvSource(IDS[1])
    assert src.native
    native = _collect(TianshouVectorEnv(src.make_vec(N)), 7, random)
    dummy = _collect(DummyVectorEnv([src.make for _ in range(N)]), 7, random)
    assert len(native) == len(dummy) == N * 30
    for key in ("obs", "act", "rew", "obs_next", "terminated", "truncated"):
        assert np.array_equal(getattr(native, key), getattr(dummy, key)), key
    assert native.terminated.sum() == N  # one episode end per copy
    assert np.array_equal(native.info["co2_kg"], dummy.info["co2_kg"])
    assert np.array_equal(native.info["env_id"], dummy.info["env_id"])


@pytest.mark.parametrize("env_id", IDS)
def test_sb3_vec_env_matches_dummy_vec_env(env_id):
    src = EnvSource(env_id)
    ours = SB3VecEnv(src.make_vec(N))
    theirs = make_vec_env(src.make, n_envs=N)  # DummyVecEnv over Monitor-wrapped envs
    ours.seed(11)
    theirs.seed(11)
    assert np.array_equal(ours.reset(), theirs.reset())
    rng = np.random.default_rng(0)
    horizon = ours.venv.unwrapped.core.horizon
    ends = 0
    for _ in range(horizon + 5):
        act = rng.uniform(-1, 1, (N, *ours.action_space.shape))
        a, b = ours.step(act), theirs.step(act)
        for x, y in zip(a[:3], b[:3], strict=True):
            assert np.array_equal(x, y)
        for ia, ib in zip(a[3], b[3], strict=True):
            assert ("terminal_observation" in ia) == ("terminal_observation" in ib)
            if "terminal_observation" in ia:
                ends += 1
                assert np.array_equal(ia["terminal_observation"], ib["terminal_observation"])
                assert ia["episode"]["l"] == ib["episode"]["l"] == horizon
                assert ia["episode"]["r"] == pytest.approx(ib["episode"]["r"], rel=1e-6)
                assert ia["TimeLimit.truncated"] == ib["TimeLimit.truncated"]
    assert ends == N


def test_wrapped_sources_use_sync_vector_env_and_partial_resets():
    from lowcarbon.agents import ExpertActionWrapper

    src = EnvSource(IDS[1], wrappers=(ExpertActionWrapper,))
    assert not src.native
    venv = TianshouVectorEnv(src.make_vec(2))
    venv.seed(0)
    obs, infos = venv.reset(env_id=[1])
    assert obs.shape == (1, *src.make().observation_space.shape) and len(infos) == 1
    _, _, _, _, info = venv.step(np.zeros((2, src.make().action_space.shape[0])))
    assert info[0]["expert_action"].shape == src.make().action_space.shape
    with pytest.raises(ValueError, match="step together"):
        venv.step(np.zeros((1, 9)), id=[0])
    with pytest.raises(ValueError, match="n_envs"):
        src.make_vec(0)
