"""The GDM agent learns: a two-peak contextual bandit per training mode, and a Tianshou trainer run.

Each bandit test trains for a fixed number of updates and asserts that the deterministic policy
earns a fixed fraction of the oracle's value, normalised as ``(v - random) / (oracle - random)``.
The local peak is worth 0.6 of the oracle, so passing needs the global optimum.
"""

import gymnasium as gym
import numpy as np
import pytest
import torch
from bandit import BanditExpert, TwoPeakBandit, optimal_action, reward
from tianshou.data import Batch, Collector, VectorReplayBuffer
from tianshou.env import DummyVectorEnv
from tianshou.trainer import OffPolicyTrainerParams
from tianshou.utils.torch_utils import policy_within_training_step

import lowcarbon.envs  # noqa: F401
from lowcarbon.agents import ExpertActionWrapper
from lowcarbon.agents.gdm import GDMConfig, make_gdm

UPDATES = 500
THRESHOLD = 0.8
TINY = dict(hidden_sizes=[64, 64], actor_lr=1e-3, critic_lr=1e-3)
MODES = {
    "q_gradient": dict(max_entropy=False),
    "max_entropy": dict(max_entropy=True),
    "behaviour_cloning": dict(max_entropy=False, q_weight=0.0, bc_weight=1.0),
    "all_three": dict(max_entropy=True, bc_weight=0.2),
}


def bandit_env():
    return ExpertActionWrapper(TwoPeakBandit(), BanditExpert())


def normalised_bandit_score(policy, n=512) -> float:
    ctx = np.random.default_rng(123).uniform(-1, 1, (n, 2)).astype(np.float32)
    with torch.no_grad():
        act = policy.map_action(policy(Batch(obs=ctx, info={})).act)
    value = reward(ctx, act).mean()
    rng = np.random.default_rng(0)
    random_value = reward(ctx, rng.uniform(0, 2, (n, 2))).mean()
    oracle_value = reward(ctx, optimal_action(ctx)).mean()
    return float((value - random_value) / (oracle_value - random_value))


@pytest.mark.parametrize("mode", MODES)
def test_learns_the_global_optimum_of_a_two_peak_bandit(mode):
    torch.manual_seed(0)
    env = bandit_env()
    algo = make_gdm(env.observation_space, env.action_space, GDMConfig(**TINY, **MODES[mode]))
    envs = DummyVectorEnv([bandit_env for _ in range(4)])
    envs.seed(0)
    buffer = VectorReplayBuffer(20_000, 4)
    collector = Collector(algo, envs, buffer)
    collector.reset()
    collector.collect(n_step=1024, random=True)
    before = normalised_bandit_score(algo.policy)
    for _ in range(UPDATES):
        with policy_within_training_step(algo.policy):
            collector.collect(n_step=4)
            algo.update(buffer, 256)
    algo.policy.eval()
    score = normalised_bandit_score(algo.policy)
    assert before < 0.5 < THRESHOLD <= score, (before, score)


def test_trains_on_a_suite_env_through_the_tianshou_trainer():
    """The Algorithm plugs into Tianshou's OffPolicyTrainer unchanged (collect, update, test)."""
    torch.manual_seed(0)
    make = lambda: gym.make("LowCarbon/EnergyInternet-v1", horizon=24)  # noqa: E731
    env = make()
    algo = make_gdm(env.observation_space, env.action_space, GDMConfig(hidden_sizes=[32, 32]))
    train_envs, test_envs = DummyVectorEnv([make, make]), DummyVectorEnv([make])
    train_envs.seed(0)
    test_envs.seed(1)
    buffer = VectorReplayBuffer(4096, 2)
    train_collector = Collector(algo, train_envs, buffer, exploration_noise=True)
    train_collector.reset()
    train_collector.collect(n_step=256, random=True)
    test_collector = Collector(algo, test_envs)
    before = [p.detach().clone() for p in algo.policy.actor.parameters()]
    result = algo.run_training(
        OffPolicyTrainerParams(
            training_collector=train_collector,
            test_collector=test_collector,
            max_epochs=2,
            epoch_num_steps=96,
            collection_step_num_env_steps=8,
            update_step_num_gradient_steps_per_sample=0.25,
            batch_size=64,
            test_step_num_episodes=1,
            test_in_training=False,
            show_progress=False,
        )
    )
    assert result.update_step == 2 * 96 // 8  # one update step per 8-step collection
    assert np.isfinite(result.best_reward)
    moved = [
        not torch.equal(a, b) for a, b in zip(before, algo.policy.actor.parameters(), strict=True)
    ]
    assert all(moved)
    assert len(buffer) == 256 + 2 * 96
