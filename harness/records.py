"""Result records: one evaluation episode per row of ``results.csv``, typed both ways."""

from __future__ import annotations

import csv
import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: the columns of results.csv, in order (``ret`` is written as ``return``)
RESULT_FIELDS = ("env", "agent", "seed", "env_steps", "episode_seed", "return", "co2_kg",
                 "energy_kwh", "qos", "normalised", "final")  # fmt: skip


@dataclass
class EvalRow:
    """One deterministic evaluation episode of one run.

    :param env, agent: the run's env and agent names; ``seed`` its training seed.
    :param env_steps: training env steps when the episode was played.
    :param episode_seed: the held-out day's seed.
    :param ret: undiscounted return; ``co2_kg`` (kg CO2e), ``energy_kwh`` (kWh) and ``qos`` (the
        env's QoS figure) over the episode.
    :param normalised: ``(ret - random) / (oracle - random)`` on the same day (NaN outside the
        suite).
    :param final: whether it belongs to the run's final evaluation.
    """

    env: str
    agent: str
    seed: int
    env_steps: int
    episode_seed: int
    ret: float
    co2_kg: float
    energy_kwh: float
    qos: float
    normalised: float
    final: bool = False

    def to_csv(self) -> list[Any]:
        return [getattr(self, "ret" if f == "return" else f) for f in RESULT_FIELDS]

    @classmethod
    def from_csv(cls, row: dict[str, str]) -> EvalRow:
        """Parse a ``csv.DictReader`` row (``final`` as written by :meth:`to_csv`: True/False)."""
        if row["final"] not in ("True", "False"):
            raise ValueError(f"final must be True or False, got {row['final']!r}")
        return cls(env=row["env"], agent=row["agent"], seed=int(row["seed"]),
                   env_steps=int(row["env_steps"]), episode_seed=int(row["episode_seed"]),
                   ret=float(row["return"]), co2_kg=float(row["co2_kg"]),
                   energy_kwh=float(row["energy_kwh"]), qos=float(row["qos"]),
                   normalised=float(row["normalised"]), final=row["final"] == "True")  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def write_rows(path: Path, rows: list[EvalRow], append: bool) -> None:
    """Write (or append) rows to ``results.csv`` with its header."""
    mode = "a" if append and path.exists() else "w"
    with open(path, mode, newline="") as f:
        w = csv.writer(f)
        if mode == "w":
            w.writerow(RESULT_FIELDS)
        w.writerows(r.to_csv() for r in rows)


def read_rows(path: Path) -> list[EvalRow]:
    """The rows of ``results.csv`` (none if it does not exist)."""
    if not path.exists():
        return []
    with open(path, newline="") as f:
        raw = list(csv.DictReader(f))
    rows = []
    for i, r in enumerate(raw):
        try:
            rows.append(EvalRow.from_csv(r))
        except (TypeError, ValueError):
            if i < len(raw) - 1:
                raise
            # a run killed while appending leaves a partial last row: it is redone on resume
    return rows


def summary(rows: list[EvalRow]) -> dict[str, float]:
    """Means of an evaluation's rows, as logged (``eval/...``)."""
    finite = [r.normalised for r in rows if np.isfinite(r.normalised)]
    return {
        "eval/return": float(np.mean([r.ret for r in rows])),
        "eval/co2_kg": float(np.mean([r.co2_kg for r in rows])),
        "eval/qos": float(np.nanmean([r.qos for r in rows])) if rows else math.nan,
        "eval/normalised": float(np.mean(finite)) if finite else math.nan,
    }
