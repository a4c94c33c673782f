"""Environment speed benchmark: steps/s (single env and native vector env), reset and oracle time.

    python -m lowcarbon.scripts.bench_envs            # quick (about a minute)
    python -m lowcarbon.scripts.bench_envs --full     # 5x the work, tighter medians

Random actions are drawn up front so the figures time the environment, not the sampler. Each
figure is the median of ``--repeats`` timed runs; the machine is shared, so compare ratios.
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import numpy as np

from lowcarbon.envs import ENV_IDS, make_vector_env
from lowcarbon.envs.oracles import OraclePolicy


def _median_rate(fn, work: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return work / statistics.median(times)


def bench_env(env_id: str, steps: int, repeats: int, num_envs: int) -> dict:
    env = gym.make(env_id)  # with Gymnasium's default wrappers, as users get it
    rng = np.random.default_rng(0)
    acts = rng.uniform(-1, 1, (steps, env.action_space.shape[0])).astype(np.float32)
    horizon = env.unwrapped.core.horizon
    env.reset(seed=0)

    def run_with_resets():
        env.reset()
        for i in range(steps):
            _, _, term, _, _ = env.step(acts[i])
            if term:
                env.reset()

    def run_steps_only():
        done = 0
        while done < steps:
            env.reset()
            t0 = time.perf_counter()
            for i in range(horizon):
                env.step(acts[i])
            run_steps_only.elapsed += time.perf_counter() - t0
            done += horizon

    run_with_resets()  # warm-up (numba cache load)
    with_resets = _median_rate(run_with_resets, steps, repeats)
    step_rates = []
    for _ in range(repeats):
        run_steps_only.elapsed = 0.0
        run_steps_only()
        step_rates.append(steps / run_steps_only.elapsed)
    reset_us = 1e6 / _median_rate(lambda: [env.reset() for _ in range(50)], 50, repeats)

    venv = make_vector_env(env_id, num_envs, seeding="batch")  # throughput: one draw
    vacts = rng.uniform(-1, 1, (steps // num_envs + 1, num_envs, env.action_space.shape[0]))
    venv.reset(seed=0)
    n_calls = max(steps // num_envs, horizon)

    def run_vector():
        for i in range(n_calls):
            venv.step(vacts[i % len(vacts)])

    run_vector()
    vec_rate = _median_rate(run_vector, n_calls * num_envs, repeats)

    oracle_s = []
    base = gym.make(env_id).unwrapped
    for seed in range(max(repeats // 2, 1)):
        base.reset(seed=seed)
        pol = OraclePolicy(base)
        t0 = time.perf_counter()
        pol.reset()
        done = False
        while not done:
            done = base.step(pol.act())[2]
        oracle_s.append(time.perf_counter() - t0)
    return {
        "env": env_id,
        "steps_only": statistics.median(step_rates),
        "with_resets": with_resets,
        "reset_us": reset_us,
        "vector": vec_rate,
        "oracle_s": statistics.median(oracle_s),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="5x the steps and repeats")
    parser.add_argument("--num-envs", type=int, default=64, help="copies in the vector env")
    parser.add_argument("--envs", nargs="+", default=list(ENV_IDS))
    args = parser.parse_args(argv)
    steps, repeats = (24 * 2000, 9) if args.full else (24 * 400, 5)
    print(f"steps per run {steps}, median of {repeats} runs, vector env of {args.num_envs}\n")
    print(
        "| env | steps/s (step only) | steps/s (incl. resets) | reset (us) "
        f"| vector steps/s (n={args.num_envs}) | oracle per episode (s) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for env_id in args.envs:
        r = bench_env(env_id, steps, repeats, args.num_envs)
        print(
            f"| {env_id} | {r['steps_only']:,.0f} | {r['with_resets']:,.0f} | "
            f"{r['reset_us']:,.0f} | {r['vector']:,.0f} | {r['oracle_s']:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
