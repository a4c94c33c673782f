"""``lowcarbon-bench-vector``: the native batched vector env against Gymnasium's Sync and Async
vector envs of the same env, at several widths, on one core.

For every id and every width ``n``, env-steps per second of whole episodes (autoresets included)
under random actions drawn up front:

* ``native``: :func:`lowcarbon.envs.make_vector_env` with ``seeding="batch"`` (one draw for all
  copies; the throughput mode) and ``"per_copy"`` (each copy replays its single env);
* ``sync``: ``gymnasium.vector.SyncVectorEnv`` of ``gym.make(id)`` copies (up to ``--sync-max``);
* ``async``: ``gymnasium.vector.AsyncVectorEnv``, one process per copy (up to ``--async-max``;
  its workers inherit the pinning, so they share the one core too).

The process pins itself to one CPU (``os.sched_setaffinity``) and numba to one thread before
anything is imported, so "one core" means one core. Each figure is the median of ``--repeats``
runs; the machine is shared, so compare ratios.

    python -m lowcarbon.scripts.bench_vector                  # widths 1, 64, 1024, 4096
    python -m lowcarbon.scripts.bench_vector --envs LowCarbon/MetaverseOffload-Large-v1
"""

from __future__ import annotations

import os

if hasattr(os, "sched_setaffinity"):  # before numpy/numba start their thread pools
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import statistics
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

import lowcarbon.envs  # noqa: F401  (registers the ids)
from lowcarbon.envs import ENV_IDS, make_vector_env

TARGET = 1_000_000  # env-steps/s at n = 1024 on one core (issue 11)


def _rate(venv, n: int, horizon: int, budget: int, repeats: int) -> float:
    """Median env-steps/s over ``repeats`` runs of whole episodes, each timed from its reset to
    its last step (at least one episode per run), so every width pays its resets alike."""
    episodes = max(1, budget // (n * horizon))
    rng = np.random.default_rng(0)
    dim = venv.single_action_space.shape[0]
    acts = rng.uniform(-1, 1, (horizon, n, dim)).astype(np.float32)
    venv.reset(seed=0)
    for a in acts:  # warm-up: numba caches
        venv.step(a)
    times = []
    for r in range(repeats):
        start = time.perf_counter()
        for e in range(episodes):
            venv.reset(seed=1000 * r + e)
            for a in acts:
                venv.step(a)
        times.append(time.perf_counter() - start)
    return n * episodes * horizon / statistics.median(times)


def bench(env_id: str, widths, budget: int, repeats: int, sync_max: int, async_max: int) -> dict:
    horizon = gym.make(env_id).unwrapped.core.horizon
    out: dict[str, dict[int, float]] = {"batch": {}, "per_copy": {}, "sync": {}, "async": {}}
    for n in widths:
        for seeding in ("batch", "per_copy"):
            v = make_vector_env(env_id, n, seeding=seeding)
            out[seeding][n] = _rate(v, n, horizon, budget, repeats)
            v.close()
        if n <= sync_max:
            v = gym.vector.SyncVectorEnv([lambda: gym.make(env_id)] * n)
            out["sync"][n] = _rate(v, n, horizon, budget // 20, max(1, repeats // 2))
            v.close()
        if n <= async_max:
            v = gym.vector.AsyncVectorEnv([lambda: gym.make(env_id)] * n)
            out["async"][n] = _rate(v, n, horizon, budget // 20, max(1, repeats // 2))
            v.close()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="lowcarbon-bench-vector", description=__doc__.splitlines()[0])
    p.add_argument("--envs", nargs="+", default=list(ENV_IDS))
    p.add_argument("--widths", default="1,64,1024,4096", help="comma-separated copies")
    p.add_argument("--budget", type=int, default=200_000, help="env-steps per native run")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--sync-max", type=int, default=1024, help="widest SyncVectorEnv")
    p.add_argument("--async-max", type=int, default=16, help="widest AsyncVectorEnv (processes)")
    p.add_argument("--out", default="benchmarks/vector_speed.json")
    args = p.parse_args(argv)
    widths = [int(w) for w in args.widths.split(",")]
    print(f"one core ({sorted(os.sched_getaffinity(0))}), numba threads "
          f"{os.environ['NUMBA_NUM_THREADS']}; env-steps/s, whole episodes, median of "
          f"{args.repeats}\n")  # fmt: skip
    cols = " | ".join(f"n={n}" for n in widths)
    print(f"| env | vector env | {cols} |")
    print("|---|---|" + "---:|" * len(widths))
    results = {}
    for env_id in args.envs:
        r = bench(env_id, widths, args.budget, args.repeats, args.sync_max, args.async_max)
        results[env_id] = r
        for kind in ("batch", "per_copy", "sync", "async"):
            cells = " | ".join(f"{r[kind][n]:,.0f}" if n in r[kind] else "-" for n in widths)
            print(f"| {env_id} | {kind} | {cells} |", flush=True)
    short = {e: r["batch"].get(1024) for e, r in results.items() if 1024 in r["batch"]}
    below = [e for e, v in short.items() if v < TARGET]
    if short:
        print(f"\nnative (batch) at n=1024 >= {TARGET:,}/s: "
              + ("every id measured" if not below else f"not yet for {below}"))  # fmt: skip
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"widths": widths, "results": results}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
