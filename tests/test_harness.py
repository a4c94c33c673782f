"""The Hydra harness: config composition, a tiny run of every agent kind, multiruns on the local
launchers (joblib, submitit_local, a local Ray instance), the Optuna sweeper, resume after a kill,
W&B offline files, and the report from a synthetic results file."""

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_module

from lowcarbon.harness import ConfigError, run
from lowcarbon.scripts.report import make_report

CONF = Path(__file__).resolve().parents[1] / "conf"
GROUPS = {g: sorted(p.stem for p in (CONF / g).glob("*.yaml"))
          for g in ("env", "agent", "logger", "experiment")}  # fmt: skip
TINY = ["budget=48", "eval.every=24", "eval.episodes=1", "checkpoint.every=24", "progress=false",
        "carbon.enabled=false", "logger=none"]  # fmt: skip
LEARNER_TINY = {
    "gdm": ["agent.algo.hidden_sizes=[16,16]", "agent.runner.n_envs=2",
            "agent.runner.learning_starts=16", "agent.runner.batch_size=16", "agent.algo.steps=2"],
    "ts_sac": ["agent.algo.hidden_sizes=[16,16]", "agent.runner.learning_starts=16",
               "agent.runner.batch_size=16"],
    "sb3_ppo": ["agent.algo.n_steps=24", "agent.algo.batch_size=24", "agent.algo.n_epochs=1",
                "agent.runner.n_envs=2", "agent.algo.hidden_sizes=[16,16]"],
    "sb3_sac": ["agent.runner.learning_starts=16", "agent.runner.batch_size=16",
                "agent.algo.hidden_sizes=[16,16]"],
    "sb3_td3": ["agent.runner.learning_starts=16", "agent.runner.batch_size=16",
                "agent.algo.noise_std=0.1", "agent.algo.hidden_sizes=[16,16]"],
}  # fmt: skip


def compose_cfg(*overrides, name="train"):
    with initialize_config_module(config_module="lowcarbon.conf", version_base="1.3"):
        return compose(name, overrides=list(overrides))


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def cli(tmp_path, cache_dir, entry, *args, timeout=300, env_extra=None):
    env = {**os.environ, "WANDB_MODE": "disabled", **(env_extra or {})}
    flags = [a for a in args if a.startswith("-")]  # Hydra's flags come before the overrides
    cmd = [sys.executable, "-m", f"lowcarbon.scripts.{entry}", *flags, f"paths.root={tmp_path}",
           f"paths.cache_dir={cache_dir}", *(a for a in args if not a.startswith("-"))]  # fmt: skip
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


# --- composition -----------------------------------------------------------------------------


@pytest.mark.parametrize("group, option", [(g, o) for g, opts in GROUPS.items() for o in opts])
@pytest.mark.parametrize("name", ["train", "benchmark"])
def test_every_config_group_option_composes(name, group, option):
    extra = ["env.id=Pendulum-v1"] if option == "gym" else []
    cfg = compose_cfg(f"{group}={option}", *extra, name=name)
    assert cfg.env.id and cfg.agent.kind and cfg.logger.mode in ("offline", "disabled")
    if group == "agent":
        assert cfg.agent.name == option
    if group == "experiment":
        assert cfg.name == option and cfg.budget > 0
    if option == "gym":
        assert cfg.env.name == "Pendulum-v1"


@pytest.mark.parametrize(
    "override, target",
    [
        ("hydra/launcher=parallel", "JoblibLauncher"),
        ("hydra/launcher=slurm", "SlurmLauncher"),
        ("hydra/launcher=submitit_local", "LocalLauncher"),
        ("hydra/launcher=ray_local", "RayLauncher"),
        ("hydra/launcher=ray_cluster", "RayLauncher"),
        ("hydra/sweeper=gdm_optuna", "OptunaSweeper"),
    ],
)
def test_launcher_and_sweeper_configs_compose(override, target):
    with initialize_config_module(config_module="lowcarbon.conf", version_base="1.3"):
        cfg = compose("train", overrides=[override], return_hydra_config=True)
    group = "launcher" if "launcher" in override else "sweeper"
    assert cfg.hydra[group]._target_.endswith(target)


@pytest.mark.parametrize(
    "override, key",
    [("budget=-5", "budget"), ("eval.episodes=0", "eval.episodes"), ("seed=-1", "seed"),
     ("env.id=NoSuchEnv-v0", "env.id"), ("agent.runner.n_envs=0", "agent.runner.n_envs"),
     ("agent.algo.steps=0", "agent.algo"), ("env.kwargs.horizon=0", "env.kwargs.horizon"),
     ("logger.mode=loud", "logger.mode"), ("agent.runner.device=cpu:x", "agent.runner.device"),
     *([] if torch.cuda.is_available() else [("agent.runner.device=cuda", "agent.runner.device")])],
)  # fmt: skip
def test_bad_values_raise_an_error_naming_the_key(tmp_path, cache_dir, override, key):
    cfg = compose_cfg(*TINY, "env=datacenter", "agent=gdm", f"paths.cache_dir={cache_dir}",
                      override)  # fmt: skip
    with pytest.raises(ConfigError, match=f"^{key}:"):
        run(cfg, tmp_path)


@pytest.mark.parametrize(
    "override, key",
    [("agent.algo.stepz=3", "stepz"), ("agent.runner.n_env=4", "n_env"),
     ("env.kwargs.n_userz=8", "n_userz"), ("agent=sb3_ppo", None)],
)  # fmt: skip
def test_a_misspelled_key_fails_at_compose_naming_it(override, key):
    from hydra.errors import ConfigCompositionException

    if key is None:  # SB3's own arguments are schema keys too
        with pytest.raises(ConfigCompositionException, match="n_stepz"):
            compose_cfg(override, "agent.algo.n_stepz=8")
        return
    with pytest.raises(ConfigCompositionException, match=key):
        compose_cfg(override)


def test_env_arguments_from_the_command_line_reach_the_env():
    """The README's form: env.kwargs.<param>=<value>, typed by the env's parameter dataclass."""
    import gymnasium as gym

    from lowcarbon.conf.schemas import env_kwargs

    cfg = compose_cfg("env=energy", "env.kwargs.n_prosumers=8")
    assert env_kwargs(cfg.env) == {"n_prosumers": 8}
    big = gym.make(cfg.env.id, **env_kwargs(cfg.env))
    assert big.unwrapped.params.n_prosumers == 8
    # unset arguments are left to the id: the Large id keeps its own sizes
    large = compose_cfg("env=metaverse", "env.id=LowCarbon/MetaverseOffload-Large-v1")
    assert env_kwargs(large.env) == {}


def test_a_bad_value_stops_with_one_line_naming_the_key(tmp_path, cache_dir):
    out = cli(tmp_path, cache_dir, "train", "budget=-5", "logger=none", "carbon.enabled=false")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert lines == ["Error in the configuration: budget: must be a positive integer, got -5"]
    full = cli(tmp_path, cache_dir, "train", "budget=-5", "logger=none", "carbon.enabled=false",
               env_extra={"HYDRA_FULL_ERROR": "1"})  # fmt: skip
    assert full.returncode != 0 and "Traceback" in full.stderr


# --- one tiny run per agent kind -------------------------------------------------------------


@pytest.mark.parametrize("agent", GROUPS["agent"])
def test_tiny_train_of_every_agent_kind(tmp_path, cache_dir, agent):
    cfg = compose_cfg(*TINY, "env=datacenter", f"agent={agent}", f"paths.cache_dir={cache_dir}",
                      *LEARNER_TINY.get(agent, []))  # fmt: skip
    metrics = run(cfg, tmp_path)
    assert metrics["agent"] == agent and np.isfinite(metrics["eval/return"])
    assert np.isfinite(metrics["eval/normalised"])
    rows = pd.read_csv(tmp_path / "results.csv")
    assert rows["final"].sum() == 1  # one evaluation episode, one final row
    if agent in LEARNER_TINY:
        assert metrics["env_steps"] >= 48
        assert sorted(rows[~rows.final].env_steps) == sorted(set(rows[~rows.final].env_steps))
        assert (tmp_path / "checkpoint" / "meta.json").exists()
    else:
        assert metrics["env_steps"] == 0
    if agent == "oracle":
        assert metrics["eval/normalised"] == pytest.approx(1.0)
    if agent == "random":
        assert metrics["eval/normalised"] == pytest.approx(0.0)


def test_expert_mode_trains_through_the_harness(tmp_path, cache_dir):
    cfg = compose_cfg(*TINY, "env=datacenter", "agent=gdm", f"paths.cache_dir={cache_dir}",
                      *LEARNER_TINY["gdm"], "agent.algo.bc_weight=0.2",
                      "agent.runner.expert=oracle")  # fmt: skip
    metrics = run(cfg, tmp_path)
    assert metrics["env_steps"] >= 48 and np.isfinite(metrics["eval/normalised"])
    with open(tmp_path / "checkpoint" / "buffer.pkl", "rb") as f:
        buffer = pickle.load(f)
    assert "expert_action" in buffer.info  # the oracle's labels were collected


def test_training_emissions_are_measured_and_logged_offline(tmp_path, cache_dir, monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    cfg = compose_cfg(*TINY, "env=datacenter", "agent=gdm", "carbon.enabled=true",
                      "logger=wandb", f"paths.cache_dir={cache_dir}",
                      *LEARNER_TINY["gdm"])  # fmt: skip
    metrics = run(cfg, tmp_path)
    assert metrics["train_kg_co2"] > 0
    assert (tmp_path / "emissions.csv").exists()
    runs = list((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 1 and runs[0].stat().st_size > 0
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


# --- resume ----------------------------------------------------------------------------------


def test_resume_after_a_kill_continues_from_the_checkpoint(tmp_path, cache_dir):
    args = ["agent=gdm", "env=datacenter", "logger=none", "carbon.enabled=false",
            "progress=false", "eval.episodes=1", "eval.every=32", "checkpoint.every=32",
            "agent.algo.hidden_sizes=[16,16]", "agent.runner.learning_starts=16",
            "agent.runner.batch_size=16", "agent.algo.steps=2", "name=resume"]  # fmt: skip
    cmd = [sys.executable, "-m", "lowcarbon.scripts.train", f"paths.root={tmp_path}",
           f"paths.cache_dir={cache_dir}", "budget=100000", *args]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=tmp_path, env={**os.environ, "WANDB_MODE": "disabled"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    meta = tmp_path / "resume" / "datacenter" / "gdm" / "seed0" / "checkpoint" / "meta.json"
    deadline = time.time() + 240
    while not meta.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert meta.exists(), proc.stderr.read().decode()[-2000:]
    saved = json.loads(meta.read_text())["env_steps"]
    assert 0 < saved < 100000
    done = cli(tmp_path, cache_dir, "train", f"budget={saved + 64}", *args)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads(meta.parent.parent.joinpath("metrics.json").read_text())
    assert metrics["resumed"] and metrics["sessions"] == 2 and metrics["env_steps"] == saved + 64
    with open(meta.parent / "buffer.pkl", "rb") as f:  # the replay buffer came back too
        assert len(pickle.load(f)) == saved + 64
    rows = pd.read_csv(meta.parent.parent / "results.csv")
    evals = rows[~rows.final].env_steps.tolist()
    assert evals == sorted(set(evals)) and evals[-1] == saved + 64  # no duplicates after resume


def test_a_finished_run_is_not_redone_and_another_config_starts_afresh(tmp_path, cache_dir):
    base = [*TINY, "env=datacenter", "agent=gdm", f"paths.cache_dir={cache_dir}",
            *LEARNER_TINY["gdm"]]  # fmt: skip
    first = run(compose_cfg(*base), tmp_path)
    rows = (tmp_path / "results.csv").read_text()
    again = run(compose_cfg(*base), tmp_path)  # complete: nothing to do
    assert json.dumps(again, sort_keys=True) == json.dumps(first, sort_keys=True)
    assert (tmp_path / "results.csv").read_text() == rows
    longer = run(compose_cfg(*base, "budget=72"), tmp_path)  # a larger budget resumes
    assert longer["resumed"] and longer["env_steps"] == 72
    evals = pd.read_csv(tmp_path / "results.csv").query("not final").env_steps.tolist()
    assert evals == [24, 48, 72]
    # the device is not part of a run's identity: a run started on a GPU may go on on the CPU
    moved = run(compose_cfg(*base, "budget=96", "agent.runner.device=cpu"), tmp_path)
    assert moved["resumed"] and moved["env_steps"] == 96
    # a checkpoint written before that, which hashed the device, is still this run's
    from lowcarbon.harness.checkpoints import fingerprint

    cfg = compose_cfg(*base, "budget=96", "agent.runner.device=cpu")
    legacy = fingerprint(cfg, any_device=False)
    assert legacy != fingerprint(cfg)
    for name in ("checkpoint/meta.json", "metrics.json"):
        path = tmp_path / name
        path.write_text(path.read_text().replace(fingerprint(cfg), legacy))
    again = run(cfg, tmp_path)  # finished under its old fingerprint: nothing to redo
    assert again["env_steps"] == 96 and not list(tmp_path.glob("checkpoint.replaced-*"))
    other = run(compose_cfg(*base, "agent.algo.steps=3"), tmp_path)  # another config
    assert not other["resumed"] and other["env_steps"] == 48
    assert list(tmp_path.glob("checkpoint.replaced-*"))


# --- multiruns on the local launchers and the sweeper -----------------------------------------


def test_benchmark_multirun_with_joblib_writes_results_and_report(tmp_path, cache_dir):
    done = cli(tmp_path, cache_dir, "benchmark", "name=twojobs", "hydra/launcher=parallel",
               "agent=random,greedy", "env=energy", "seed=0", "eval.episodes=2", "progress=false",
               "carbon.enabled=false", "logger=none")  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    sweep = tmp_path / "twojobs"
    runs = pd.read_csv(sweep / "runs.csv")
    assert sorted(runs.agent) == ["greedy", "random"]
    assert len(pd.read_csv(sweep / "results.csv")) == 2 * 2 * 2  # 2 jobs x 2 episodes, + finals
    assert (sweep / "report.md").exists() and (sweep / "curves_energy.png").exists()
    assert "| greedy |" in done.stdout


@pytest.mark.parametrize("launcher", ["submitit_local", "ray_local"])
def test_cluster_launchers_run_locally(tmp_path, cache_dir, launcher):
    done = cli(tmp_path, cache_dir, "train", "-m", f"hydra/launcher={launcher}", "name=cluster",
               "agent=random,greedy", "env=energy", "eval.episodes=1", "progress=false",
               "carbon.enabled=false", "logger=none", timeout=400)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = sorted((tmp_path / "cluster").glob("**/metrics.json"))
    assert len(metrics) == 2


def test_optuna_sweeper_runs_trials_with_sqlite_storage(tmp_path, cache_dir):
    done = cli(tmp_path, cache_dir, "train", "-m", "hydra/sweeper=gdm_optuna",
               "hydra.sweeper.n_trials=2", "agent=gdm", "env=energy", "budget=32", "name=tune",
               "eval.every=32", "eval.episodes=1", "checkpoint.every=32", "progress=false",
               "carbon.enabled=false", "logger=none", "agent.algo.hidden_sizes=[16,16]",
               "agent.runner.learning_starts=16", "agent.runner.batch_size=16")  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    import optuna

    study = optuna.load_study(study_name="gdm_energy", storage=f"sqlite:///{tmp_path}/optuna.db")
    # (the test runs in tmp_path, the working directory where the storage lives)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    assert len(list((tmp_path / "tune").glob("**/metrics.json"))) == 2  # one folder per trial


# --- the report ------------------------------------------------------------------------------


def test_report_from_a_small_synthetic_results_file(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for agent, level in (("good", 0.8), ("poor", 0.2)):
        for seed in range(5):
            for steps, final in ((100, False), (200, False), (200, True)):
                score = level * steps / 200 + rng.normal(0, 0.01)
                rows.append(
                    dict(
                        env="toy",
                        agent=agent,
                        seed=seed,
                        env_steps=steps,
                        episode_seed=7,
                        **{"return": 10 * score},
                        co2_kg=1 - score,
                        energy_kwh=1.0,
                        qos=0.9,
                        normalised=score,
                        final=final,
                    )
                )
    rows += [dict(env="toy", agent=name, seed=0, env_steps=0, episode_seed=7, **{"return": 3.0},
                  co2_kg=co2, energy_kwh=1.0, qos=1.0, normalised=score, final=f)
             for name, co2, score in (("rule", 0.7, 0.3), ("random", 0.9, 0.0))
             for f in (False, True)]  # fmt: skip
    results = pd.DataFrame(rows)
    runs = pd.DataFrame([dict(env="toy", agent=a, seed=s, wall_s=10.0, train_kg_co2=1e-4)
                         for a in ("good", "poor") for s in range(5)])  # fmt: skip
    md = make_report(results, runs, tmp_path)
    assert (tmp_path / "report.md").read_text().strip() == md.strip()
    good = next(line for line in md.splitlines() if line.startswith("| good |"))
    assert good.split("|")[2].strip() == "5 x 1"  # n: runs x held-out days
    assert "stratified bootstrap, 2000 resamples" in md  # the CI method is stated
    iqm, lo, hi = (float(x) for x in good.split("|")[3].replace("[", "").replace("]", "")
                   .replace(",", "").split())  # fmt: skip
    assert lo <= iqm <= hi and abs(iqm - 0.8) < 0.02
    assert "| poor | 5 x 1 |" in md and "| rule | 1 x 1 |" in md
    assert "kg CO2 saved" in md and "training kg CO2" in md
    rule = next(line for line in md.splitlines() if line.startswith("| rule |"))
    assert float(rule.split("|")[6]) == pytest.approx(0.2)  # 0.9 kg (random) - 0.7 kg (rule)
    assert (tmp_path / "curves_toy.png").stat().st_size > 0
    assert (tmp_path / "profile_toy.png").stat().st_size > 0


def test_training_seeds_get_their_own_replay_sampling_streams():
    """Tianshou seeds every buffer with 42; the runner gives each training seed its own."""

    from lowcarbon.agents.runners import TianshouRunner
    from lowcarbon.agents.vector import EnvSource

    draws = []
    for seed in (0, 1):
        runner = TianshouRunner("gdm", EnvSource("LowCarbon/DataCenter-v1"),
                                {"hidden_sizes": [8], "steps": 2}, seed=seed)  # fmt: skip
        draws.append([b._random_state.randint(1 << 30) for b in runner.buffer.buffers])
        runner.close()
    assert draws[0] != draws[1]


def test_result_rows_round_trip_typed_and_a_partial_last_row_is_dropped(tmp_path):
    from lowcarbon.harness import EvalRow, read_rows, write_rows

    rows = [EvalRow("dc", "gdm", 0, 24 * i, 7, -1.5, 0.2, 3.0, 0.9, 0.4, final=i == 2)
            for i in range(3)]  # fmt: skip
    path = tmp_path / "results.csv"
    write_rows(path, rows, append=False)
    back = read_rows(path)
    assert back == rows and [r.final for r in back] == [False, False, True]
    with open(path, "a") as f:  # killed while appending
        f.write("dc,gdm,0,72,7,-1.")
    assert read_rows(path) == rows
