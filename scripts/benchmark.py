"""``lowcarbon-benchmark``: agents x envs x seeds as one Hydra multirun, then the report.

    lowcarbon-benchmark                                    # conf/benchmark.yaml's quick look
    lowcarbon-benchmark experiment=case_study              # the paper's case study (make demo)
    lowcarbon-benchmark experiment=headline hydra/launcher=slurm
    lowcarbon-benchmark 'hydra.sweeper.params.seed=range(10)' budget=50000

Each job is :func:`lowcarbon.scripts.train.train_job`. When all are done, :class:`ReportCallback`
collects every run's ``results.csv`` and ``metrics.json`` into ``<sweep dir>/results.csv`` (tidy,
one row per evaluation episode) and ``runs.csv`` (one row per run), writes ``report.md`` and the
plots (see :mod:`lowcarbon.scripts.report`), and prints the table with the paths of the plots and
of the offline W&B runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import hydra
import pandas as pd
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from .train import train_job


def collect(sweep_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All runs' evaluation rows and final metrics under ``sweep_dir``."""
    sweep_dir = Path(sweep_dir)
    frames = [pd.read_csv(p) for p in sorted(sweep_dir.glob("**/results.csv"))
              if p.parent != sweep_dir]  # fmt: skip
    runs = [json.loads(p.read_text()) for p in sorted(sweep_dir.glob("**/metrics.json"))]
    if not frames:
        raise FileNotFoundError(f"no results.csv under {sweep_dir}: did every job fail?")
    return pd.concat(frames, ignore_index=True), pd.DataFrame(runs)


class ReportCallback(Callback):
    """Hydra callback: after a multirun, aggregate its runs and write the report."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from .report import make_report

        sweep_dir = Path(config.hydra.sweep.dir)
        results, runs = collect(sweep_dir)
        results.to_csv(sweep_dir / "results.csv", index=False)
        runs.to_csv(sweep_dir / "runs.csv", index=False)
        md = make_report(results, runs, sweep_dir)
        wandb_dirs = sorted({str(p.parent) for p in sweep_dir.glob("**/wandb/offline-run-*")})
        print(md)
        print(f"\nresults: {sweep_dir / 'results.csv'} (per episode), {sweep_dir / 'runs.csv'}")
        print(f"report and plots: {sweep_dir}/report.md, curves_*.png, profile_*.png")
        if wandb_dirs:
            print(f"offline W&B runs ({len(wandb_dirs)} dirs): wandb sync {sweep_dir}/**/wandb/"
                  "offline-run-*")  # fmt: skip


@hydra.main(version_base="1.3", config_path="pkg://lowcarbon.conf", config_name="benchmark")
def main(cfg: DictConfig) -> float:
    return train_job(cfg)


if __name__ == "__main__":
    main()
