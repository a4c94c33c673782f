"""Logging of one run: Weights & Biases (offline by default) beside TensorBoard, and the run's own
training emissions measured by CodeCarbon."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

logger = logging.getLogger(__name__)


class RunLogger:
    """W&B (offline by default) and TensorBoard side by side; one W&B run per job."""

    def __init__(self, cfg: DictConfig, run_dir: Path, run_id: str) -> None:
        self.wandb = None
        self.tb = None
        if cfg.logger.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(run_dir / "tb"))
        mode = os.environ.get("WANDB_MODE", cfg.logger.mode)
        if mode != "disabled":
            import wandb

            self.wandb = wandb.init(
                project=cfg.logger.project, group=cfg.logger.group, name=run_id, id=run_id,
                resume="allow", dir=str(run_dir), mode=mode, job_type=cfg.agent.kind,
                config=OmegaConf.to_container(cfg, resolve=True), reinit="finish_previous",
                tags=[cfg.env.name, cfg.agent.name], settings=wandb.Settings(quiet=True),
            )  # fmt: skip

    def log(self, metrics: dict[str, float], step: int) -> None:
        clean = {k: float(v) for k, v in metrics.items() if v is not None and np.isfinite(v)}
        if self.wandb is not None:
            self.wandb.log(clean, step=step)
        if self.tb is not None:
            for k, v in clean.items():
                self.tb.add_scalar(k, v, step)

    def abort(self) -> None:
        """Close the logs of a run that failed (W&B marks it failed)."""
        if self.wandb is not None:
            self.wandb.finish(exit_code=1)
        if self.tb is not None:
            self.tb.close()

    def finish(self, summary: dict[str, Any], table: list[dict[str, Any]]) -> None:
        """Close the logs, with the final metrics and the final evaluation's rows as a table."""
        if self.wandb is not None:
            import wandb

            self.wandb.summary.update({k: v for k, v in summary.items() if v is not None})
            if table:
                cols = list(table[0])
                self.wandb.log(
                    {
                        "report": wandb.Table(
                            columns=cols, data=[[r[c] for c in cols] for r in table]
                        )
                    }
                )
            self.wandb.finish()
        if self.tb is not None:
            self.tb.close()


@contextlib.contextmanager
def emissions_tracker(cfg: DictConfig, run_dir: Path) -> Iterator[dict[str, float]]:
    """CodeCarbon's offline tracker around the block; yields a dict whose ``kg`` is filled at
    exit (NaN when tracking is off or fails: a run is never lost to its carbon meter)."""
    out = {"kg": math.nan, "kwh": math.nan}
    tracker = None
    if cfg.carbon.enabled:
        try:
            from codecarbon import OfflineEmissionsTracker

            logging.getLogger("codecarbon").setLevel(logging.ERROR)
            with warnings.catch_warnings():  # its save_to_file deprecation notice
                warnings.simplefilter("ignore", DeprecationWarning)
                tracker = OfflineEmissionsTracker(
                    country_iso_code=cfg.carbon.country, output_dir=str(run_dir),
                    save_to_file=True, log_level="error",
                    project_name=f"{cfg.env.name}-{cfg.agent.name}",
                    measure_power_secs=cfg.carbon.measure_power_secs,
                    tracking_mode="process",  # parallel jobs must not count each other
                )  # fmt: skip
            tracker.start()
        except Exception as err:
            logger.warning("CodeCarbon could not start (%s); training emissions are NaN", err)
            tracker = None
    try:
        yield out
    finally:
        if tracker is not None:
            kg = tracker.stop()
            out["kg"] = float(kg) if kg is not None else math.nan
            data = getattr(tracker, "final_emissions_data", None)
            out["kwh"] = float(data.energy_consumed) if data is not None else math.nan
