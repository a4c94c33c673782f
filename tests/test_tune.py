"""experiment=tune: Optuna through the Hydra sweeper, the same trials and budget per learner, the
best configuration written as an agent preset beside its study record."""

import json
import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module

from lowcarbon.scripts.tune import LEARNERS, main

CONF = Path(__file__).resolve().parents[1] / "conf"

TINY = ["logger=none", "carbon.enabled=false", "progress=false", "eval.every=24",
        "eval.episodes=2", "agent.algo.hidden_sizes=[16,16]", "agent.runner.learning_starts=16",
        "agent.runner.batch_size=16", "agent.runner.n_envs=2"]  # fmt: skip


def test_tiny_tune_runs_two_trials_per_learner_and_writes_presets(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.chdir(tmp_path)
    cache = tmp_path / "cache"
    presets = tmp_path / "presets"
    records = main(["--env", "datacenter", "--trials", "2", "--budget", "48", "--",
                    *TINY, f"paths.root={tmp_path / 'runs'}", f"paths.cache_dir={cache}",
                    f"tune.preset_dir={presets}"])  # fmt: skip
    assert [r["agent"] for r in records] == list(LEARNERS)
    for record in records:
        # the same number of trials and env steps for every learner, scored on tuning days
        assert record["n_trials"] == 2 and record["budget"] == 48
        assert len(record["trials"]) == 2 and all(t["value"] is not None for t in record["trials"])
        assert record["eval_seed_base"] == 2_000_000 and record["train_seed"] == 500
        assert record["best"]["value"] == max(t["value"] for t in record["trials"])
        assert record["command"].startswith("lowcarbon-train -m experiment=tune")
        preset = presets / "agent" / "tuned" / "datacenter" / f"{record['agent']}.yaml"
        assert preset.exists()
    # a preset is an agent config like any other: the tuned values on top of the learner's own
    with initialize_config_module(config_module="lowcarbon.conf", version_base="1.3"):
        cfg = compose("train", overrides=["agent=tuned/datacenter/gdm",
                                          f"hydra.searchpath=[file://{presets}]"])  # fmt: skip
    best = records[0]["best"]["params"]
    assert cfg.agent.kind == "gdm" and cfg.agent.name == "gdm_tuned"
    assert cfg.agent.algo.steps == int(best["agent.algo.steps"])
    assert cfg.agent.algo.actor_lr == pytest.approx(float(best["agent.algo.actor_lr"]))
    record = json.loads((presets / "agent/tuned/datacenter/sb3_ppo.study.json").read_text())
    assert set(record["search_space"]) >= {"agent.algo.learning_rate", "agent.algo.n_steps"}
    assert os.path.isdir(tmp_path / "runs" / "tune" / "datacenter" / "sb3_ppo")


@pytest.mark.parametrize("preset", sorted(
    str(p.relative_to(CONF / "agent").with_suffix(""))
    for p in (CONF / "agent" / "tuned").glob("*/*.yaml")))  # fmt: skip
def test_every_committed_tuned_preset_composes_and_has_its_record(preset):
    with initialize_config_module(config_module="lowcarbon.conf", version_base="1.3"):
        cfg = compose("train", overrides=[f"agent={preset}"])
    agent = preset.split("/")[-1]
    assert cfg.agent.kind == agent and cfg.agent.name == f"{agent}_tuned"
    record = json.loads((CONF / "agent" / f"{preset}.study.json").read_text())
    assert record["agent"] == agent and len(record["trials"]) == record["n_trials"]
    assert record["eval_seed_base"] == 2_000_000  # tuned on days the evaluation never uses
