"""The agent runners: one registry, the shared collection settings, devices and expert labels."""

import numpy as np
import pytest
import torch

from lowcarbon.agents.runners import (
    AGENT_KINDS,
    LEARNERS,
    RULES,
    RunnerConfig,
    TianshouRunner,
    make_runner,
    resolve_device,
)
from lowcarbon.agents.vector import EnvSource

ENV = "LowCarbon/DataCenter-v1"
TINY_ALGO = {
    "gdm": {"hidden_sizes": [16], "steps": 2},
    "ts_sac": {"hidden_sizes": [16]},
    "sb3_ppo": {"hidden_sizes": [16], "n_steps": 16, "batch_size": 32, "n_epochs": 1},
    "sb3_sac": {"hidden_sizes": [16]},
    "sb3_td3": {"hidden_sizes": [16]},
}
ACT_DIM = EnvSource(ENV).make().action_space.shape[0]
TINY_RUNNER = {"n_envs": 2, "learning_starts": 16, "batch_size": 16, "buffer_size": 1000}


def _parameters_device(runner) -> torch.device:
    model = getattr(runner, "algorithm", None) or runner.model.policy
    return next(model.parameters()).device


def test_the_registry_lists_every_kind_once_and_splits_learners_from_rules():
    assert set(LEARNERS) == {"gdm", "ts_sac", "sb3_ppo", "sb3_sac", "sb3_td3"}
    assert {"random", "carbon_greedy", "latency_greedy", "greedy", "oracle"} <= set(RULES)
    assert set(LEARNERS) | set(RULES) == set(AGENT_KINDS)
    with pytest.raises(ValueError, match="unknown agent kind"):
        make_runner("dqn", ENV)


@pytest.mark.parametrize("kind", sorted(TINY_ALGO))
def test_every_learner_trains_on_the_native_vector_env_and_acts_in_batches(kind):
    runner = make_runner(kind, ENV, TINY_ALGO[kind], {**TINY_RUNNER, "device": "cpu"}, seed=0)
    assert _parameters_device(runner).type == "cpu"
    runner.train(64)
    assert runner.env_steps >= 64
    obs = np.stack([EnvSource(ENV).make().reset(seed=s)[0] for s in range(5)])
    act = runner.act_batch(obs)
    assert act.shape == (5, ACT_DIM) and np.all(np.abs(act) <= 1)
    runner.close()


@pytest.mark.parametrize("utd, n_envs, per_collect", [(0.125, 8, 8), (0.125, 1, 8), (1.0, 4, 4),
                                                      (0.25, 2, 4)])  # fmt: skip
def test_updates_per_step_is_the_update_to_data_ratio(utd, n_envs, per_collect):
    runner = TianshouRunner("gdm", EnvSource(ENV), TINY_ALGO["gdm"],
                            {**TINY_RUNNER, "n_envs": n_envs, "updates_per_step": utd})  # fmt: skip
    assert runner.steps_per_collect == per_collect
    calls = []
    update = runner.algorithm.update
    runner.algorithm.update = lambda *a, **k: calls.append(1) or update(*a, **k)
    runner.train(16)  # the random warm-up: no updates
    assert not calls
    runner.train(96)
    assert len(calls) == pytest.approx(utd * (runner.env_steps - 16), abs=1)
    runner.close()


def test_sb3_off_policy_learners_turn_the_ratio_into_train_freq_and_gradient_steps():
    low = make_runner("sb3_sac", ENV, TINY_ALGO["sb3_sac"],
                      {**TINY_RUNNER, "n_envs": 4, "updates_per_step": 0.125})  # fmt: skip
    assert (low.model.train_freq.frequency, low.model.gradient_steps) == (2, 1)
    high = make_runner("sb3_td3", ENV, TINY_ALGO["sb3_td3"],
                       {**TINY_RUNNER, "n_envs": 4, "updates_per_step": 1.0})  # fmt: skip
    assert (high.model.train_freq.frequency, high.model.gradient_steps) == (1, 4)
    assert high.model.batch_size == 16 and high.model.learning_starts == 16
    given = make_runner("sb3_sac", ENV, {**TINY_ALGO["sb3_sac"], "train_freq": 3}, TINY_RUNNER)
    assert given.model.train_freq.frequency == 3  # SB3's own setting wins


def test_expert_labels_reach_the_replay_buffer_and_the_bc_term():
    runner = make_runner("gdm", ENV, {**TINY_ALGO["gdm"], "bc_weight": 0.2},
                         {**TINY_RUNNER, "expert": "oracle"})  # fmt: skip
    stats = runner.train(48)
    assert "expert_action" in runner.buffer.info
    labels = np.asarray(runner.buffer.info["expert_action"][: len(runner.buffer)])
    assert labels.shape[1] == ACT_DIM and np.all(np.abs(labels) <= 1) and labels.std() > 0
    assert stats["bc_loss"] > 0
    rule = make_runner("gdm", ENV, {**TINY_ALGO["gdm"], "bc_weight": 0.2},
                       {**TINY_RUNNER, "expert": "carbon_greedy"})  # fmt: skip
    assert rule.train(48)["bc_loss"] > 0


@pytest.mark.parametrize("bad, key", [({"n_envs": 0}, "n_envs"), ({"updates_per_step": 0}, "updates"),
                                      ({"device": "tpu"}, "device"), ({"expert": "guru"}, "expert")])  # fmt: skip
def test_bad_runner_settings_name_the_key(bad, key):
    with pytest.raises(ValueError, match=f"^{key}"):
        RunnerConfig(**bad)


def test_auto_device_is_the_cpu_here_or_a_gpu_where_there_is_one():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu").type == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match="no CUDA GPU"):
        make_runner("gdm", ENV, TINY_ALGO["gdm"], {**TINY_RUNNER, "device": "cuda"})


def test_a_device_that_is_not_there_is_a_clear_error():
    with pytest.raises(ValueError, match="cannot read 'cpu:x'"):
        resolve_device("cpu:x")
    if torch.cuda.is_available():
        n = torch.cuda.device_count()
        with pytest.raises(ValueError, match=f"there are {n} CUDA GPUs"):
            resolve_device(f"cuda:{n}")
    else:
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda:1")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("kind", sorted(TINY_ALGO))
def test_every_learner_trains_and_acts_on_cuda(kind):
    runner = make_runner(kind, ENV, TINY_ALGO[kind], {**TINY_RUNNER, "device": "cuda"}, seed=0)
    assert _parameters_device(runner).type == "cuda"
    runner.train(64)
    obs = np.stack([EnvSource(ENV).make().reset(seed=s)[0] for s in range(3)])
    act = runner.act_batch(obs)
    assert isinstance(act, np.ndarray) and act.shape == (3, ACT_DIM) and np.all(np.isfinite(act))
    runner.close()


@pytest.mark.parametrize("per_vector_step, expected", [
    (1.0, (1, 1)), (0.5, (2, 1)), (1.5, (2, 3)), (12 * 0.125, (2, 3)), (3 * 0.125, (8, 3)),
    (0.3, (10, 3)), (4.0, (1, 4)),
])  # fmt: skip
def test_sb3_schedule_keeps_the_update_to_data_ratio_exactly(per_vector_step, expected):
    from lowcarbon.agents.runners import sb3_schedule

    got = sb3_schedule(per_vector_step)
    assert (got["train_freq"], got["gradient_steps"]) == expected
    assert got["gradient_steps"] / got["train_freq"] == pytest.approx(per_vector_step)
    # a value the user sets is kept and the other follows from the same ratio
    assert sb3_schedule(0.5, train_freq=4) == {"train_freq": 4, "gradient_steps": 2}
    assert sb3_schedule(0.5, gradient_steps=3) == {"train_freq": 6, "gradient_steps": 3}


@pytest.mark.parametrize("kind", ["ts_sac", "gdm"])
def test_a_resume_restores_every_optimiser_the_temperatures_included(tmp_path, kind):
    """Tianshou's ``AutoAlpha`` builds its Adam outside the algorithm's state dict; the checkpoint
    keeps it all the same, so a resumed SAC does not restart the temperature's moments."""
    runner = TianshouRunner(kind, EnvSource(ENV), TINY_ALGO[kind], TINY_RUNNER, seed=0)
    runner.train(48)
    runner.save(tmp_path)
    fresh = TianshouRunner(kind, EnvSource(ENV), TINY_ALGO[kind], TINY_RUNNER, seed=1)
    fresh.load(tmp_path)
    saved = [runner.algorithm.state_dict()["_optimizers"], runner._own_optimizers()]
    loaded = [fresh.algorithm.state_dict()["_optimizers"], fresh._own_optimizers()]
    if kind == "ts_sac":
        assert list(loaded[1]) == ["alpha"]  # the temperature's own Adam is found ...
        moments = loaded[1]["alpha"].state_dict()["state"]
        assert moments and all(float(m["step"]) > 0 for m in moments.values())  # ... and restored
    for a, b in zip(
        saved[0] + [o.state_dict() for o in saved[1].values()],
        loaded[0] + [o.state_dict() for o in loaded[1].values()],
        strict=True,
    ):
        for sa, sb in zip(a["state"].values(), b["state"].values(), strict=True):
            assert all(torch.equal(sa[k], sb[k]) for k in sa)
    runner.close()
    fresh.close()


def test_a_cpu_run_keeps_no_cuda_generator_and_old_checkpoints_still_load():
    from lowcarbon.agents.runners import _rng_state, _set_rng_state

    state = _rng_state(torch.device("cpu"))
    assert "cuda" not in state  # reading it would start CUDA on a GPU host
    expected = torch.rand(3)
    _set_rng_state({**state, "cuda": []}, torch.device("cpu"))  # an older, all-GPU list
    assert torch.equal(torch.rand(3), expected)


def test_a_resumed_replay_buffer_is_the_one_that_was_saved(tmp_path):
    """Unpickled, Tianshou's sub-buffers copy their slices; the runner re-links them, so n-step
    returns read the same done flags after a resume."""
    runner = TianshouRunner("gdm", EnvSource(ENV), {**TINY_ALGO["gdm"], "n_step": 3},
                            {**TINY_RUNNER, "buffer_size": 60})  # fmt: skip
    runner.train(80)  # wraps the 30-row sub-buffers around
    runner.save(tmp_path)
    before = runner.buffer.unfinished_index().tolist()
    fresh = TianshouRunner("gdm", EnvSource(ENV), {**TINY_ALGO["gdm"], "n_step": 3},
                           {**TINY_RUNNER, "buffer_size": 60})  # fmt: skip
    fresh.load(tmp_path)
    assert fresh.buffer.unfinished_index().tolist() == before
    for sub in fresh.buffer.buffers:  # views of the manager's storage again
        assert np.shares_memory(sub._meta.obs, fresh.buffer._meta.obs)
    fresh.train(16)
