"""``lowcarbon-report``: tables and plots from a benchmark's tidy results.

    lowcarbon-report runs/case_study            # reads results.csv and runs.csv there
    lowcarbon-report path/to/results.csv --out report/

Inputs: ``results.csv`` (one row per evaluation episode: env, agent, seed, env_steps, return,
co2_kg, qos, normalised, final) and optionally ``runs.csv`` (one row per run: wall_s,
train_kg_co2). Outputs in ``--out``: ``report.md`` (per env: IQM of the final oracle-normalised
score with a 95 % stratified-bootstrap confidence interval from rliable, return, kg CO2 per
episode, QoS, wall-clock and training emissions per run), ``curves_<env>.png`` (normalised score
against env steps, IQM across seeds with 95 % CIs) and ``profile_<env>.png`` (rliable performance
profile of the final normalised scores).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

REPS = 2000  # bootstrap resamples


def _iqm_ci(scores: dict[str, np.ndarray], seed: int = 0) -> dict[str, tuple[float, float, float]]:
    """IQM and 95 % stratified-bootstrap CI per agent; ``scores[agent]`` is (runs, tasks)."""
    from rliable import library as rly
    from rliable import metrics

    np.random.seed(seed)  # noqa: NPY002 - rliable's bootstrap uses numpy's global generator
    quiet = logging.getLogger().level
    logging.getLogger().setLevel(logging.WARNING)  # rliable logs every agent at INFO
    try:
        point, interval = rly.get_interval_estimates(
            scores, lambda x: np.array([metrics.aggregate_iqm(x)]), reps=REPS
        )
    finally:
        logging.getLogger().setLevel(quiet)
    return {a: (float(point[a][0]), float(interval[a][0, 0]), float(interval[a][1, 0]))
            for a in scores}  # fmt: skip


def _fmt(x: float, digits: int = 3) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:.{digits}g}" if abs(x) < 1e-2 or abs(x) >= 1e4 else f"{x:.{digits}f}"


def make_report(results: pd.DataFrame, runs: pd.DataFrame | None, out_dir: str | Path) -> str:
    """Write report.md and the plots into ``out_dir``; return the markdown."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rliable import library as rly
    from rliable import plot_utils

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    final = results[results["final"].astype(str) == "True"]
    lines = ["# Benchmark report", ""]
    for env, fe in final.groupby("env", sort=False):
        per_run = fe.groupby(["agent", "seed"]).mean(numeric_only=True).reset_index()
        agents = list(dict.fromkeys(fe["agent"]))
        norm = {a: per_run[per_run.agent == a]["normalised"].to_numpy()[:, None] for a in agents}
        has_norm = all(np.isfinite(v).all() and len(v) for v in norm.values())
        iqm = _iqm_ci(norm) if has_norm else {}
        rets = _iqm_ci({a: per_run[per_run.agent == a]["return"].to_numpy()[:, None]
                        for a in agents})  # fmt: skip
        random_co2 = per_run[per_run.agent == "random"]["co2_kg"].mean()  # NaN without random
        lines += [f"## {env}", "",
                  "| agent | n (runs x days) | normalised score, IQM [95 % CI] "
                  "| return, IQM [95 % CI] "
                  "| kg CO2 / episode | kg CO2 saved / episode vs random | QoS "
                  "| wall-clock / run (s) | training kg CO2 / run |",
                  "|---|---:|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
        for a in agents:
            pa = per_run[per_run.agent == a]
            wall = train_kg = np.nan
            if runs is not None and len(runs):
                ra = runs[(runs.env == env) & (runs.agent == a)]
                wall, train_kg = ra["wall_s"].median(), ra["train_kg_co2"].mean()
            n = iqm.get(a)
            r = rets[a]
            norm_s = f"{n[0]:.3f} [{n[1]:.3f}, {n[2]:.3f}]" if n else "n/a"
            days = int(fe[fe.agent == a].groupby("seed").size().min())
            lines.append(
                f"| {a} | {len(pa)} x {days} | {norm_s} "
                f"| {_fmt(r[0])} [{_fmt(r[1])}, {_fmt(r[2])}] "
                f"| {_fmt(pa['co2_kg'].mean(), 4)} | {_fmt(random_co2 - pa['co2_kg'].mean(), 4)} "
                f"| {_fmt(pa['qos'].mean())} "
                f"| {_fmt(wall, 1)} | {_fmt(train_kg, 3)} |"
            )
        lines.append("")
        lines.append("Each run's score is its mean over the held-out days of its final "
                     "evaluation; the IQM and its 95 % CI are over runs (stratified bootstrap, "
                     f"{REPS} resamples, rliable).")  # fmt: skip
        if min(len(v) for v in norm.values()) < 5:
            lines.append("With fewer than 5 runs per agent the IQM trims nothing (it is the mean) "
                         "and the bootstrap CI has few distinct resamples: read it as a rough "
                         "range. Use 10 seeds for headline results.")  # fmt: skip
        lines.append("")
        lines += _plots(results[results.env == env], env, norm if has_norm else None, out,
                        plt, rly, plot_utils)  # fmt: skip
    md = "\n".join(lines)
    (out / "report.md").write_text(md + "\n")
    return md


def _plots(res: pd.DataFrame, env: str, norm: dict | None, out: Path, plt, rly, plot_utils):
    lines = []
    metric = "normalised" if norm is not None else "return"
    curves = res[res["final"].astype(str) != "True"]
    agents = list(dict.fromkeys(res["agent"]))
    colors = {a: f"C{i % 10}" for i, a in enumerate(agents)}
    fig, ax = plt.subplots(figsize=(8, 4))
    for agent, ca in curves.groupby("agent", sort=False):
        per = ca.groupby(["env_steps", "seed"])[metric].mean().reset_index()
        steps = sorted(per.env_steps.unique())
        if steps == [0]:  # rules and the oracle do not train: drawn as a level
            ax.axhline(per[metric].mean(), ls="--", lw=1.2, color=colors[agent], label=agent)
            continue
        mid, lo, hi = [], [], []
        for s in steps:
            v = per[per.env_steps == s][metric].to_numpy()[:, None]
            if len(v) > 1:
                m, a, b = _iqm_ci({agent: v})[agent]
            else:
                m = a = b = float(v.mean())
            mid.append(m), lo.append(a), hi.append(b)
        ax.plot(steps, mid, marker="o", color=colors[agent], label=agent)
        ax.fill_between(steps, lo, hi, alpha=0.2, color=colors[agent])
    ax.set_xlabel("env steps")
    ax.set_ylabel(f"{metric} score (IQM over seeds, 95 % CI)")
    ax.set_title(f"Learning curves: {env}")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(out / f"curves_{env}.png", dpi=120)
    plt.close(fig)
    lines.append(f"Learning curves: `curves_{env}.png`.")
    if norm is not None:
        from matplotlib.lines import Line2D

        lo = min(-0.25, min(v.min() for v in norm.values()))
        hi = max(1.25, max(v.max() for v in norm.values()))  # a per-slot oracle can be beaten
        taus = np.linspace(lo, hi, 101)
        np.random.seed(0)  # noqa: NPY002 - as above
        profiles, cis = rly.create_performance_profile(norm, taus, reps=REPS)
        fig, ax = plt.subplots(figsize=(6.5, 4))
        plot_utils.plot_performance_profiles(
            profiles, taus, performance_profile_cis=cis, colors=colors, ax=ax,
            xlabel=r"normalised score $\tau$",
        )  # fmt: skip
        ax.legend([Line2D([0], [0], color=colors[a]) for a in norm], list(norm), fontsize=8)
        ax.set_title(f"Performance profile: {env}")
        fig.tight_layout()
        fig.savefig(out / f"profile_{env}.png", dpi=120)
        plt.close(fig)
        lines.append(f"Performance profile: `profile_{env}.png`.")
    lines.append("")
    return lines


def load(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame | None, Path]:
    """results (and runs, if present) from a benchmark directory or a results.csv path."""
    path = Path(path)
    base = path if path.is_dir() else path.parent
    results = pd.read_csv(path / "results.csv" if path.is_dir() else path)
    runs_path = base / "runs.csv"
    runs = pd.read_csv(runs_path) if runs_path.exists() else None
    return results, runs, base


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="benchmark directory or results.csv")
    parser.add_argument("--out", help="output directory (default: beside the results)")
    args = parser.parse_args(argv)
    results, runs, base = load(args.path)
    print(make_report(results, runs, args.out or base))


if __name__ == "__main__":
    main()
