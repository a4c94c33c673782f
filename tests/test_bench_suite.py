"""The benchmark-quality script: its statistics and one tiny end-to-end run (not its figures)."""

import numpy as np
import pytest
from scipy import stats

from lowcarbon.scripts.bench_suite import bench_env, ci_half_width, format_result


def test_ci_half_width_is_the_student_t_interval():
    rng = np.random.default_rng(0)
    x = rng.normal(0.5, 0.1, 20)
    lo, hi = stats.t.interval(0.95, 19, loc=x.mean(), scale=stats.sem(x))
    assert ci_half_width(list(x)) == pytest.approx((hi - lo) / 2)
    assert np.isnan(ci_half_width([0.3]))


def test_a_tiny_run_scores_the_references_rules_and_ppo(tmp_path):
    res = bench_env("LowCarbon/DataCenter-v1", 3, (64, 128), 1, 1, {"horizon": 6})
    rows = {r["policy"]: r for r in res["rows"]}
    assert rows["random"]["score"] == 0.0 and rows["oracle"]["score"] == pytest.approx(1.0)
    assert {"carbon_greedy", "latency_greedy", "zero_action", "ppo_64", "ppo_128"} <= set(rows)
    assert all(r["episodes"] == 3 for r in rows.values())
    assert set(res["checks"]) == {"best_rule_le_0.80", "ppo_top_ge_0.50", "ppo_improves",
                                  "ci_le_0.05"}  # fmt: skip
    assert "LowCarbon/DataCenter-v1" in format_result(res)


def test_bench_train_grid_rows_carry_their_settings(tmp_path, monkeypatch):
    """The training-speed benchmark runs the harness per setting and records what it measured
    (a smoke run: the budget ends inside the random warm-up)."""
    import json

    from lowcarbon.scripts import bench_train

    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("LOWCARBON_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "speed.json"
    rows = bench_train.main(["--env", "datacenter", "--grid-budget", "32", "--episodes", "2",
                             "--out", str(out)])  # fmt: skip
    grid = {(r["n_envs"], r["utd"]) for r in rows}
    assert grid == {(n, u) for n in bench_train.GRID_N_ENVS for u in bench_train.GRID_UTD}
    assert all(r["steps_per_s"] > 0 and r["episodes"] == 2 and r["budget"] == 32 for r in rows)
    assert json.loads(out.read_text()) == json.loads(json.dumps(rows))
