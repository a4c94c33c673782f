"""Unit tests of the GDM diffusion-policy agent: schedules, chain, policy, algorithm, checkpoints."""

import copy
import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from bandit import BanditExpert, TwoPeakBandit, optimal_action
from hypothesis import given, settings
from hypothesis import strategies as st
from tianshou.data import Batch, ReplayBuffer
from tianshou.utils.torch_utils import policy_within_training_step

import lowcarbon.envs  # noqa: F401
from lowcarbon.agents import ExpertActionWrapper, OraclePolicy
from lowcarbon.agents.gdm import (
    SCHEDULES,
    DiffusionActor,
    DiffusionSchedule,
    GDMConfig,
    GDMPolicy,
    make_gdm,
)
from lowcarbon.agents.gdm.algorithm import GDM

OBS = gym.spaces.Box(-1.0, 1.0, (6,), np.float32)
ACT = gym.spaces.Box(np.array([0, -2, 10], np.float32), np.array([1, 2, 30], np.float32))
SMALL = dict(hidden_sizes=[32, 32], time_dim=8)


def small_gdm(**overrides) -> GDM:
    return make_gdm(OBS, ACT, GDMConfig(**{**SMALL, **overrides}))


# --- schedules -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SCHEDULES)
@pytest.mark.parametrize("steps", [1, 2, 3, 5, 10, 20])
def test_schedule_identities(kind, steps):
    s = DiffusionSchedule.make(kind, steps)
    assert s.steps == steps and s.betas.shape == (steps,)
    assert np.all(s.betas > 0) and np.all(s.betas < 1)
    np.testing.assert_allclose(s.alphas, 1 - s.betas)
    np.testing.assert_allclose(s.alphas_cumprod, np.cumprod(s.alphas))
    np.testing.assert_allclose(s.alphas_cumprod_prev, np.r_[1.0, s.alphas_cumprod[:-1]])
    assert np.all(np.diff(s.alphas_cumprod) < 0)
    np.testing.assert_allclose(s.sqrt_recip_alphas_cumprod * s.sqrt_alphas_cumprod, 1.0)
    np.testing.assert_allclose(
        s.sqrt_recipm1_alphas_cumprod**2, 1 / s.alphas_cumprod - 1, rtol=1e-10
    )
    # posterior of a noise-free x_t = sqrt(ab_t) x0 is centred on sqrt(ab_{t-1}) x0 ...
    np.testing.assert_allclose(
        s.posterior_mean_coef1 + s.posterior_mean_coef2 * s.sqrt_alphas_cumprod,
        np.sqrt(s.alphas_cumprod_prev),
    )
    # ... with DDPM's variance beta~_t = beta_t (1 - ab_{t-1}) / (1 - ab_t), zero at t = 1
    ab, abp = s.alphas_cumprod, s.alphas_cumprod_prev
    np.testing.assert_allclose(s.posterior_variance, s.betas * (1 - abp) / (1 - ab))
    assert s.posterior_variance[0] == 0 and np.all(np.isfinite(s.posterior_log_variance_clipped))


@pytest.mark.parametrize("steps", [1, 3, 5, 10, 20])
def test_vp_schedule_ends_at_the_same_noise_level_for_every_step_count(steps):
    ab_end = DiffusionSchedule.make("vp", steps).alphas_cumprod[-1]
    assert ab_end == pytest.approx(math.exp(-0.1 - 0.5 * (10.0 - 0.1)), rel=1e-9)


def test_cosine_and_linear_schedules_follow_their_formulas():
    s = DiffusionSchedule.make("cosine", 10)
    f = np.cos((np.arange(11) / 10 + 0.008) / 1.008 * np.pi / 2) ** 2
    unclipped = s.betas < 0.999
    np.testing.assert_allclose(s.alphas_cumprod[unclipped], (f[1:] / f[0])[unclipped], rtol=1e-9)
    np.testing.assert_allclose(
        DiffusionSchedule.make("linear", 5).betas, np.linspace(1e-4, 2e-2, 5)
    )


@pytest.mark.parametrize(
    "kind, steps", [("vp", 0), ("vp", 21), ("vp", 2.5), ("vp", "5"), ("quadratic", 5)]
)
def test_schedule_rejects_bad_arguments(kind, steps):
    with pytest.raises(ValueError):
        DiffusionSchedule.make(kind, steps)


# --- the reverse chain -----------------------------------------------------------------------


@pytest.mark.parametrize("batch", [1, 256])
@pytest.mark.parametrize("final_noise", [False, True])
def test_actor_shapes_and_bounds(batch, final_noise):
    actor = DiffusionActor(6, 3, steps=5, final_noise=final_noise, hidden_sizes=(32, 32))
    obs = torch.randn(batch, 6) * 100  # far outside anything seen: still in bounds
    for grad in (False, True):
        with torch.set_grad_enabled(grad):
            out = actor(obs)
        assert out.act.shape == (batch, 3)
        assert out.act.abs().max() <= 1.0
        if final_noise:
            assert out.log_prob.shape == (batch, 1)
        else:
            assert out.log_prob is None
    det = actor(obs, deterministic=True)
    assert det.log_prob is None and det.act.abs().max() <= 1.0


@pytest.mark.parametrize("activation", [torch.nn.Mish, torch.nn.ReLU, torch.nn.Tanh, torch.nn.ELU,
                                        torch.nn.SiLU])  # fmt: skip
@pytest.mark.parametrize("deterministic", [False, True])
@pytest.mark.parametrize("schedule, steps", [("vp", 7), ("linear", 1), ("cosine", 4)])
def test_compiled_chain_matches_the_torch_chain(activation, deterministic, schedule, steps):
    actor = DiffusionActor(6, 3, steps=steps, schedule=schedule, activation=activation,
                           hidden_sizes=(16, 24, 8))  # fmt: skip
    obs = torch.randn(9, 6)
    torch.manual_seed(3)
    with torch.no_grad():  # compiled kernel
        fast = actor(obs, deterministic=deterministic).act
    torch.manual_seed(3)
    reference = actor(obs, deterministic=deterministic).act  # gradients on: the torch chain
    torch.testing.assert_close(fast, reference.detach(), atol=2e-6, rtol=1e-5)


def naive_ddpm_sample(actor: DiffusionActor, obs: torch.Tensor, noise: torch.Tensor):
    """Textbook DDPM sampling (Ho et al. 2020, Algorithm 2 with x0 clipping), one
    ``Denoiser.forward`` per step, coefficients recomputed from the betas alone."""
    betas = torch.tensor(actor.schedule.betas)
    alphas = 1 - betas
    ab = torch.cumprod(alphas, 0)
    x = noise[0].double()
    for i in reversed(range(actor.steps)):
        t = torch.full((obs.shape[0],), i)
        eps = actor.denoiser(x.float(), t, obs).double()
        x0 = ((x - torch.sqrt(1 - ab[i]) * eps) / torch.sqrt(ab[i])).clamp(-1, 1)
        if i == 0:
            return x0.float()
        ab_prev = ab[i - 1]
        mean = (betas[i] * torch.sqrt(ab_prev) * x0 + (1 - ab_prev) * torch.sqrt(alphas[i]) * x) / (
            1 - ab[i]
        )
        x = mean + torch.sqrt(betas[i] * (1 - ab_prev) / (1 - ab[i])) * noise[i].double()


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("steps", [1, 2, 5])
def test_chain_matches_a_textbook_ddpm_sampler(schedule, steps):
    actor = DiffusionActor(6, 3, steps=steps, schedule=schedule, hidden_sizes=(16, 16),
                           final_noise=False)  # fmt: skip
    obs = torch.randn(5, 6)
    torch.manual_seed(11)
    noise = torch.randn(steps, 5, 3)  # the draw the actor makes first, under the same seed
    expected = naive_ddpm_sample(actor, obs, noise)
    with torch.no_grad():
        torch.manual_seed(11)
        compiled = actor(obs).act
        torch.manual_seed(11)
        with torch.enable_grad():
            eager = actor(obs).act.detach()
    torch.testing.assert_close(compiled, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(eager, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("act_dim, hidden", [(3, (16,)), (1, (8, 8)), (2, (8, 4, 8))])
def test_compiled_chain_follows_parameter_updates_and_copies(act_dim, hidden):
    actor = DiffusionActor(6, act_dim, steps=3, hidden_sizes=hidden)
    obs = torch.randn(4, 6)

    def compiled_vs_torch(a):
        torch.manual_seed(0)
        with torch.no_grad():
            fast = a(obs).act
        torch.manual_seed(0)
        torch.testing.assert_close(fast, a(obs).act.detach(), atol=2e-6, rtol=1e-5)
        return fast

    before = compiled_vs_torch(actor)
    with torch.no_grad():
        for p in actor.parameters():  # in place, as optimisers and Polyak averaging do
            p.data.add_(0.1)
    after = compiled_vs_torch(actor)
    assert not torch.equal(before, after)
    clone = copy.deepcopy(actor)
    np.testing.assert_array_equal(compiled_vs_torch(clone), after)
    fresh = DiffusionActor(6, act_dim, steps=3, hidden_sizes=hidden)
    actor.load_state_dict(fresh.state_dict(), assign=True)  # replaces the parameter objects
    np.testing.assert_array_equal(compiled_vs_torch(actor), compiled_vs_torch(fresh))


def test_q_gradient_reaches_every_denoising_step():
    actor = DiffusionActor(6, 3, steps=5, hidden_sizes=(32, 32))
    critic = torch.nn.Linear(9, 1)
    eps_per_step = []
    actor.denoiser.tail.register_forward_hook(lambda m, i, out: eps_per_step.append(out))
    obs = torch.randn(16, 6)
    act = actor(obs).act
    for e in eps_per_step:
        e.retain_grad()
    q = critic(torch.cat([obs, act], dim=1))
    (-q.mean()).backward()
    assert len(eps_per_step) == 5
    for e in eps_per_step:  # dQ/d eps_t is non-zero at every step of the chain ...
        assert e.grad is not None and e.grad.abs().sum() > 0
    for name, p in actor.denoiser.named_parameters():  # ... and so on every denoiser weight
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_bc_loss_is_zero_for_a_perfect_denoiser_and_positive_otherwise():
    actor = DiffusionActor(2, 2, steps=5, hidden_sizes=(8,))
    target = torch.rand(64, 2) * 2 - 1
    loss = actor.bc_loss(torch.randn(64, 2), target)
    assert loss.item() > 0 and loss.requires_grad
    loss.backward()
    assert all(p.grad is not None for p in actor.denoiser.parameters())
    # an oracle denoiser that knows x0 inverts x_t = sqrt(ab) x0 + sqrt(1 - ab) eps exactly
    sch = actor.schedule
    sab = torch.tensor(sch.sqrt_alphas_cumprod, dtype=torch.float32)
    s1m = torch.tensor(sch.sqrt_one_minus_alphas_cumprod, dtype=torch.float32)
    actor.denoiser.forward = lambda x, t, obs: (x - sab[t, None] * target) / s1m[t, None]
    assert actor.bc_loss(torch.randn(64, 2), target).item() < 1e-9


def test_final_noise_log_sigma_is_bounded_but_never_stuck():
    actor = DiffusionActor(2, 2, steps=2, hidden_sizes=(8,), final_noise=True, init_log_sigma=-1)
    torch.testing.assert_close(actor.sigma().log(), torch.full((2,), -1.0))
    with torch.no_grad():
        actor.log_sigma.fill_(5.0)  # well into the saturated end of the bound
    log_sigma = actor.sigma().log()
    assert torch.all(log_sigma <= 1.0) and torch.all(log_sigma > 0.99)
    log_sigma.sum().backward()
    assert torch.all(actor.log_sigma.grad != 0)  # a gradient can still bring it back (and Adam
    # rescales small gradients), where a hard clamp would give exactly zero
    with pytest.raises(ValueError, match="init_log_sigma"):
        DiffusionActor(2, 2, final_noise=True, init_log_sigma=2.0)


def test_final_noise_log_prob_is_the_gaussian_density_of_the_noise():
    actor = DiffusionActor(2, 3, steps=2, hidden_sizes=(8,), final_noise=True, init_log_sigma=-3)
    obs = torch.randn(64, 2)
    torch.manual_seed(4)
    out = actor(obs)
    torch.manual_seed(4)
    x0 = actor._chain_torch(obs, torch.randn(2, 64, 3))
    z = torch.randn_like(x0)  # the actor's next draw
    sigma = actor.sigma()
    expected = torch.distributions.Normal(x0, sigma).log_prob(x0 + sigma * z).sum(-1, keepdim=True)
    torch.testing.assert_close(out.log_prob, expected)
    torch.testing.assert_close(out.act, (x0 + sigma * z).clamp(-1, 1))


# --- the policy ------------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [1, 256])
@pytest.mark.parametrize("eval_mode", ["deterministic", "stochastic", "best_of_n"])
def test_policy_shapes_bounds_and_no_graph(batch, eval_mode):
    algo = small_gdm(eval_mode=eval_mode, eval_candidates=4)
    obs = np.random.default_rng(0).normal(size=(batch, 6)).astype(np.float32)
    for training in (False, True):
        with policy_within_training_step(algo.policy, training):
            result = algo.policy(Batch(obs=obs, info={}))
        assert result.act.shape == (batch, 3)
        assert not result.act.requires_grad  # sampling outside the update builds no graph
        env_act = algo.policy.map_action(result.act)
        assert np.all(env_act >= ACT.low) and np.all(env_act <= ACT.high)


def test_deterministic_evaluation_ignores_the_seed():
    policy = small_gdm().policy
    batch = Batch(obs=np.ones((3, 6), np.float32), info={})
    torch.manual_seed(0)
    a = policy(batch).act
    torch.manual_seed(1)
    np.testing.assert_array_equal(a, policy(batch).act)
    with policy_within_training_step(policy):  # but training actions are random
        assert not torch.equal(policy(batch).act, policy(batch).act)


def test_best_of_n_keeps_the_candidate_the_critic_values_most():
    policy = small_gdm(eval_mode="best_of_n", eval_candidates=8).policy
    target = torch.tensor([0.3, -0.2, 0.9])
    policy.set_q_ranker(lambda obs, act: -(act - target).pow(2).sum(-1))
    obs = np.random.default_rng(1).normal(size=(5, 6)).astype(np.float32)
    torch.manual_seed(7)
    best = policy(Batch(obs=obs, info={})).act
    torch.manual_seed(7)
    with torch.no_grad():
        cands = policy.sample(torch.as_tensor(obs).repeat_interleave(8, 0)).act.view(5, 8, 3)
    dist = (cands - target).pow(2).sum(-1)
    torch.testing.assert_close(best, cands[torch.arange(5), dist.argmin(1)])


def test_best_of_n_without_critics_is_an_error():
    actor = DiffusionActor(6, 3, steps=2, hidden_sizes=(8,))
    policy = GDMPolicy(actor=actor, action_space=ACT, eval_mode="best_of_n")
    with pytest.raises(RuntimeError, match="critics"):
        policy(Batch(obs=np.zeros((1, 6), np.float32), info={}))


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(eval_mode="greedy"), ValueError),
        (dict(eval_candidates=0), ValueError),
        (dict(action_space=gym.spaces.Box(-1, 1, (4,))), ValueError),
        (dict(action_space=gym.spaces.Discrete(3)), TypeError),
    ],
)
def test_policy_rejects_bad_arguments(kwargs, error):
    actor = DiffusionActor(6, 3, steps=2, hidden_sizes=(8,))
    with pytest.raises(error):
        GDMPolicy(actor=actor, **{"action_space": ACT, **kwargs})


# --- the algorithm ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, match",
    [
        (dict(q_weight=0.0, bc_weight=0.0), "at least one"),
        (dict(q_weight=-1.0), ">= 0"),
        (dict(q_weight=0.0, bc_weight=1.0, max_entropy=True), "q_weight > 0"),
        (dict(alpha=0.0), "alpha must be > 0"),
        (dict(n_step=0), "n_step: must be >= 1"),
        (dict(activation="sigmoidish"), "unknown activation"),
        (dict(tau=1.5), r"tau: must be in \(0, 1\]"),
        (dict(gamma=-0.1), r"gamma: must be in \[0, 1\]"),
        (dict(critic_lr=0.0), "critic_lr: must be > 0"),
        (dict(q_weight=0.0, bc_weight=1.0), "max_entropy=False"),  # the default max-entropy
    ],
)
def test_algorithm_rejects_bad_configurations(overrides, match):
    with pytest.raises(ValueError, match=match):
        small_gdm(**overrides)


def test_max_entropy_needs_a_final_noise():
    policy = small_gdm(max_entropy=False).policy
    with pytest.raises(ValueError, match="final_noise"):
        GDM(policy=policy, policy_optim=_adam(), critic=torch.nn.Linear(9, 1),
            critic_optim=_adam(), alpha=0.1)  # fmt: skip


def _adam():
    from tianshou.algorithm.optim import AdamOptimizerFactory

    return AdamOptimizerFactory(lr=1e-3)


def _bandit_buffer(n=512, seed=0) -> ReplayBuffer:
    env = ExpertActionWrapper(TwoPeakBandit(), BanditExpert())
    buf = ReplayBuffer(n)
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(n):
        act = rng.uniform(0, 2, 2).astype(np.float32)
        obs_next, rew, term, trunc, info = env.step(act)
        buf.add(Batch(obs=obs, act=(act - 1.0), rew=rew, terminated=term, truncated=trunc,
                      obs_next=obs_next, info=info))  # fmt: skip
        obs = obs_next
    return buf


BANDIT = TwoPeakBandit()


def bandit_gdm(**overrides) -> GDM:
    return make_gdm(BANDIT.observation_space, BANDIT.action_space,
                    GDMConfig(**{**SMALL, **overrides}))  # fmt: skip


@pytest.mark.parametrize(
    "overrides, logged",
    [
        (dict(max_entropy=False), {"q_loss", "q_mean"}),
        (dict(max_entropy=True), {"q_loss", "alpha", "alpha_loss", "entropy"}),
        (dict(max_entropy=False, q_weight=0.0, bc_weight=1.0), {"bc_loss"}),
        (dict(max_entropy=True, bc_weight=0.5, n_step=3), {"q_loss", "bc_loss", "alpha"}),
    ],
)
def test_update_moves_every_network_and_logs_its_terms(overrides, logged):
    algo = bandit_gdm(**overrides)
    buf = _bandit_buffer()
    before = {k: v.clone() for k, v in algo.state_dict().items() if isinstance(v, torch.Tensor)}
    with policy_within_training_step(algo.policy):
        stats = algo.update(buf, 64)
    losses = stats.get_loss_stats_dict()
    assert logged <= set(losses) and all(np.isfinite(v) for v in losses.values())
    after = algo.state_dict()
    moved = {k.split(".")[0] for k, v in before.items() if not torch.equal(v, after[k])}
    assert {"policy", "critic", "critic2", "critic_old", "critic2_old", "actor_old"} <= moved
    if algo.auto_alpha:
        assert "temperature" in moved


def test_bc_needs_expert_labels():
    algo = bandit_gdm(max_entropy=False, bc_weight=1.0)
    buf = ReplayBuffer(8)
    for _ in range(8):
        buf.add(Batch(obs=np.zeros(2, np.float32), act=np.zeros(2, np.float32), rew=0.0,
                      terminated=True, truncated=False, obs_next=np.zeros(2, np.float32),
                      info={}))  # fmt: skip
    with policy_within_training_step(algo.policy), pytest.raises(KeyError, match="expert"):
        algo.update(buf, 4)


def test_checkpoint_round_trip_gives_identical_actions_and_updates(tmp_path):
    buf = _bandit_buffer()
    torch.manual_seed(0)
    algo = bandit_gdm(max_entropy=True, bc_weight=0.5)
    with policy_within_training_step(algo.policy):
        for _ in range(5):
            algo.update(buf, 32)
    algo.save(tmp_path / "gdm.pt", env_steps=512)
    torch.manual_seed(1)
    twin = bandit_gdm(max_entropy=True, bc_weight=0.5)
    assert twin.load(tmp_path / "gdm.pt") == {"env_steps": 512}
    assert twin.alpha == algo.alpha
    obs = Batch(obs=np.random.default_rng(2).uniform(-1, 1, (4, 2)).astype(np.float32), info={})
    for training in (False, True):
        acts = []
        for a in (algo, twin):
            torch.manual_seed(5)
            with policy_within_training_step(a.policy, training):
                acts.append(a.policy(obs).act)
        np.testing.assert_array_equal(*acts)
    # one more update from the same batch and seed: optimiser states were restored too
    for a in (algo, twin):
        torch.manual_seed(9)
        with policy_within_training_step(a.policy):
            a.update(copy.deepcopy(buf), 32)  # a copy of the buffer, RNG state included
    for (k, v), w in zip(algo.state_dict().items(), twin.state_dict().values(), strict=True):
        if isinstance(v, torch.Tensor):
            torch.testing.assert_close(v, w, rtol=0, atol=0, msg=k)


# --- expert labels ---------------------------------------------------------------------------


@given(seed=st.integers(0, 2**16))
@settings(max_examples=10, deadline=None)
def test_expert_wrapper_labels_the_observation_acted_on(seed):
    env = ExpertActionWrapper(TwoPeakBandit(), BanditExpert())
    obs, _ = env.reset(seed=seed)
    for _ in range(3):
        obs_next, *_, info = env.step(env.action_space.sample())
        np.testing.assert_array_equal(info["expert_action"], optimal_action(obs)[0])
        obs = obs_next


def test_default_expert_is_the_oracle_of_the_state_acted_on():
    env = ExpertActionWrapper(gym.make("LowCarbon/DataCenter-v1"))
    obs, _ = env.reset(seed=3)
    oracle = OraclePolicy(env.env)  # an independent oracle on the same env
    oracle.reset()
    done, steps = False, 0
    while not done:
        act = oracle.act(obs)
        obs, _, term, trunc, info = env.step(act)
        np.testing.assert_allclose(info["expert_action"], act, rtol=1e-6, atol=1e-6)
        done, steps = term or trunc, steps + 1
    assert steps == env.unwrapped.core.horizon


# --- loss terms, one at a time ---------------------------------------------------------------


@pytest.mark.parametrize("target, direction", [(50.0, +1), (-50.0, -1)])
def test_temperature_rises_when_entropy_is_below_target_and_falls_above(target, direction):
    algo = bandit_gdm(max_entropy=True, target_entropy=target, alpha_lr=1e-2)
    buf = _bandit_buffer()
    alpha0 = algo.alpha
    with policy_within_training_step(algo.policy):
        for _ in range(3):
            algo.update(buf, 32)
    assert np.sign(algo.alpha - alpha0) == direction


def test_soft_target_subtracts_the_temperature_times_log_prob():
    algo = bandit_gdm(max_entropy=True, alpha=0.3)
    obs = Batch(obs=np.random.default_rng(0).uniform(-1, 1, (16, 2)).astype(np.float32), info={})
    with policy_within_training_step(algo.policy), torch.no_grad():
        torch.manual_seed(0)
        act = algo._target_q_compute_action(obs)
        value = algo._target_q_compute_value(obs, act)
        min_q = torch.min(algo.critic_old(obs.obs, act.act), algo.critic2_old(obs.obs, act.act))
    assert value.shape == (16, 1)
    torch.testing.assert_close(value, min_q - 0.3 * act.log_prob)


def test_q_term_is_invariant_to_the_scale_of_the_critic():
    """Diffusion-QL's normalisation: dividing by mean |Q| makes the actor's gradient the same
    whether rewards (hence Q) are in grams or tonnes."""
    algo = bandit_gdm(max_entropy=False)
    obs = torch.rand(32, 2) * 2 - 1
    grads = []
    for scale in (1.0, 1000.0):
        algo.policy.actor.zero_grad()
        torch.manual_seed(0)
        act = algo.policy.sample(obs).act
        q = scale * algo._min_q(obs, act)
        (-q.mean() / q.abs().mean().detach()).backward()
        grads.append(torch.cat([p.grad.flatten() for p in algo.policy.actor.parameters()]))
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-7)


def test_bc_alone_skips_batches_without_labels():
    algo = bandit_gdm(max_entropy=False, q_weight=0.0, bc_weight=1.0)
    buf = ReplayBuffer(8)
    for _ in range(8):
        buf.add(Batch(obs=np.zeros(2, np.float32), act=np.zeros(2, np.float32), rew=0.0,
                      terminated=True, truncated=False, obs_next=np.zeros(2, np.float32),
                      info={"expert_action": np.full(2, np.nan, np.float32)}))  # fmt: skip
    before = copy.deepcopy(algo.policy.state_dict())
    with policy_within_training_step(algo.policy):
        stats = algo.update(buf, 4)
    assert stats.bc_loss is None
    for k, v in algo.policy.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_loading_a_checkpoint_of_another_configuration_names_the_problem(tmp_path):
    bandit_gdm(steps=3).save(tmp_path / "a.pt")
    with pytest.raises(ValueError, match="configuration"):
        bandit_gdm(steps=3, hidden_sizes=[16, 16]).load(tmp_path / "a.pt")
    # the same weight shapes, another chain: other steps, schedule or activation
    for other in (
        dict(steps=2),
        dict(steps=3, schedule="cosine"),
        dict(steps=3, activation="tanh"),
    ):
        with pytest.raises(ValueError, match="would compute another chain"):
            bandit_gdm(**other).load(tmp_path / "a.pt")
    bandit_gdm(steps=3).load(tmp_path / "a.pt")  # the same configuration loads


@pytest.mark.parametrize("make", ["gdm", "sac"])
def test_action_spaces_the_policies_cannot_map_are_refused_at_construction(make):
    """[-1, 1] is mapped onto the action Box: a 2-D Box would need a reshape Tianshou does not
    do, and an infinite bound gives NaN actions."""
    from lowcarbon.agents.ts_sac import make_sac

    build = make_gdm if make == "gdm" else make_sac
    with pytest.raises(ValueError, match="1-D Box"):
        build(OBS, gym.spaces.Box(-2.0, 2.0, (2, 2), np.float32))
    unbounded = gym.spaces.Box(
        np.array([-np.inf, -1], np.float32), np.array([np.inf, 1], np.float32)
    )
    with pytest.raises(ValueError, match="finite bounds"):
        build(OBS, unbounded)


def test_the_default_expert_is_for_suite_envs_only():
    with pytest.raises(ValueError, match="pass expert="):
        ExpertActionWrapper(gym.make("Pendulum-v1"))


def test_policy_does_not_keep_its_algorithm_alive_and_copies_rank_with_their_own_critics():
    import gc

    algo = bandit_gdm(eval_mode="best_of_n")
    assert copy.deepcopy(algo.policy).q_ranker is None  # a lone policy copy has no critics
    twin = copy.deepcopy(algo)
    assert twin.policy.q_ranker.__self__ is twin
    policy = algo.policy
    del algo
    gc.collect()
    assert policy.q_ranker is None
