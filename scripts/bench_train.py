"""Training speed at equal learning: wall time, env steps/s and score of whole harness runs.

    python -m lowcarbon.scripts.bench_train            # the n_envs x UTD grid at 10k env steps
    python -m lowcarbon.scripts.bench_train --full     # grid at 30k, + every learner at 100k
    python -m lowcarbon.scripts.bench_train --device cuda --out benchmarks/train_speed_gpu.json

Each row is one :func:`lowcarbon.harness.run` (Hydra config ``train`` with the given
overrides): training, the periodic evaluations (every ``budget / 5`` env steps, ``--episodes``
held-out days through the vector env) and the final checkpoint, exactly what ``lowcarbon-train``
does, without W&B or CodeCarbon. The oracle and random reference episodes are computed (and
cached) before any clock starts.

* **grid**: GDM at ``n_envs`` in {1, 8, 32} and update-to-data ratios in {0.125, 0.5}, so the
  speed of collection and the cost of fewer updates per env step are visible at equal env steps;
* **learners** (``--full``): GDM, Tianshou SAC, SB3 SAC and SB3 PPO at their defaults (8 copies,
  UTD 0.125 for the off-policy ones) for 100k env steps: the issue's targets (GDM <= 6 min, the
  SACs no slower than GDM, PPO <= 1.5 min).

Scores are oracle-normalised (0 = random, 1 = oracle) on the final evaluation, with the
Student-t 95 % half-width over its episodes. One training seed per row: the score column says
whether a setting learns, not which one learns best.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from hydra import compose, initialize_config_module
from scipy import stats

GRID_N_ENVS = (1, 8, 32)
GRID_UTD = (0.125, 0.5)
LEARNERS = ("gdm", "ts_sac", "sb3_sac", "sb3_ppo")


def _device_name(device: str) -> str:
    from lowcarbon.agents.runners import resolve_device

    resolved = resolve_device(device)
    if resolved.type == "cuda":
        return torch.cuda.get_device_name(resolved)
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


def run_one(env: str, agent: str, budget: int, overrides: list[str], episodes: int,
            root: Path) -> dict:  # fmt: skip
    """One harness run; its wall time, env steps/s and final score."""
    from lowcarbon.harness import run

    every = max(budget // 5, 1)
    with initialize_config_module(config_module="lowcarbon.conf", version_base="1.3"):
        cfg = compose("train", overrides=[
            f"env={env}", f"agent={agent}", f"budget={budget}", f"eval.every={every}",
            f"eval.episodes={episodes}", f"checkpoint.every={budget}", "logger=none",
            "carbon.enabled=false", "progress=false", "resume=false", f"paths.root={root}",
            *overrides,
        ])  # fmt: skip
    run_dir = root / f"{agent}-{abs(hash(tuple(overrides)))}"
    t0 = time.perf_counter()
    metrics = run(cfg, run_dir)
    wall = time.perf_counter() - t0
    final = pd.read_csv(run_dir / "results.csv")
    scores = final[final["final"]]["normalised"].to_numpy(dtype=float)
    half = stats.t.ppf(0.975, len(scores) - 1) * scores.std(ddof=1) / np.sqrt(len(scores))
    return {"agent": agent, "n_envs": int(cfg.agent.runner.n_envs),
            "utd": float(cfg.agent.runner.updates_per_step) if agent != "sb3_ppo" else None,
            "budget": budget, "wall_s": wall, "steps_per_s": metrics["env_steps"] / wall,
            "score": float(scores.mean()), "ci95": float(half), "episodes": len(scores),
            "overrides": overrides}  # fmt: skip


def _table(rows: list[dict]) -> str:
    lines = ["| agent | n_envs | UTD | env steps | wall (min) | env steps/s | score ± 95 % CI |",
             "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        utd = "-" if r["utd"] is None else f"{r['utd']:g}"
        lines.append(f"| {r['agent']} | {r['n_envs']} | {utd} | {r['budget']:,} "
                     f"| {r['wall_s'] / 60:.1f} | {r['steps_per_s']:,.0f} "
                     f"| {r['score']:.3f} ± {r['ci95']:.3f} |")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="metaverse", help="an env config of conf/env")
    parser.add_argument(
        "--grid-budget",
        type=int,
        default=None,
        help="env steps per grid run (default 10k; 30k with --full)",
    )
    parser.add_argument("--budget", type=int, default=100_000, help="env steps per learner run")
    parser.add_argument("--episodes", type=int, default=20, help="held-out days per evaluation")
    parser.add_argument("--full", action="store_true", help="also every learner at --budget")
    parser.add_argument("--no-grid", action="store_true", help="skip the n_envs x UTD grid")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/train_speed.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    if args.grid_budget is None:
        args.grid_budget = 30_000 if args.full else 10_000
    common = [f"agent.runner.device={args.device}", f"seed={args.seed}"]
    plan: list[tuple[str, str, int, list[str]]] = []
    if not args.no_grid:
        for n in GRID_N_ENVS:
            for utd in GRID_UTD:
                plan.append(
                    (
                        "grid",
                        "gdm",
                        args.grid_budget,
                        [f"agent.runner.n_envs={n}", f"agent.runner.updates_per_step={utd}"],
                    )
                )
    if args.full:
        plan += [("learners", agent, args.budget, []) for agent in LEARNERS]

    out = Path(args.out)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench_train-") as tmp:
        root = Path(tmp)
        # the reference episodes (random, oracle) are computed and cached before any clock starts
        run_one(args.env, "random", 1, [], args.episodes, root)
        for part, agent, budget, overrides in plan:
            row = run_one(args.env, agent, budget, [*common, *overrides], args.episodes, root)
            row.update(part=part, env=args.env, device=_device_name(args.device))
            rows.append(row)
            _save(out, rows)  # after every row: a long run stopped early keeps what it measured
            print(_table([row]).splitlines()[-1], flush=True)

    for part in ("grid", "learners"):
        chosen = [r for r in rows if r["part"] == part]
        if chosen:
            print(f"\n{part} on {args.env}, {chosen[0]['device']}:\n{_table(chosen)}")
    return rows


def _save(out: Path, rows: list[dict]) -> None:
    """Merge ``rows`` into the JSON file ``out``, replacing earlier rows of the same setting."""

    def key(r: dict) -> tuple:
        return r["part"], r["agent"], tuple(r["overrides"]), r["device"]

    previous = json.loads(out.read_text()) if out.exists() else []
    new = {key(r) for r in rows}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps([r for r in previous if key(r) not in new] + rows, indent=1))


if __name__ == "__main__":
    main()
