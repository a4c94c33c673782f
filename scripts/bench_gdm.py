"""GDM agent cost: per-update and per-decision time against Tianshou SAC on the same networks.

    python -m lowcarbon.scripts.bench_gdm             # quick (a few minutes)
    python -m lowcarbon.scripts.bench_gdm --full      # more repeats, tighter medians

Both agents get the same twin critics, hidden widths and activation (``agents/networks.py``), the
observation and action sizes of ``--env`` and a replay buffer of random transitions from it.
"update" is one gradient step at ``--batch-size`` (critics, actor, temperature, target networks,
n-step targets: everything ``Algorithm.update`` does). "decision" is the policy call a collector
makes, ``policy(Batch(obs))`` plus ``map_action``, in evaluation mode (deterministic chain for GDM,
the Gaussian's mean for SAC) and, for GDM, in training mode (stochastic chain). Agents are timed
round-robin, ``--repeats`` times, so drifting load on a shared machine hits all of them alike;
each figure is the median.

``--compile`` adds GDM T=5 with ``torch.compile`` (default inductor backend) on the denoiser's MLP
and both critics, and prints how long compiling took. The agent keeps eager PyTorch unless this
shows a gain (on the 2-core CPU it did not: see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch
from tianshou.data import Batch, Collector, VectorReplayBuffer
from tianshou.env import DummyVectorEnv
from tianshou.utils.torch_utils import policy_within_training_step

import lowcarbon.envs  # noqa: F401
from lowcarbon.agents.gdm import GDMConfig, make_gdm
from lowcarbon.agents.ts_sac import SACConfig, make_sac


def _median_ms(fn: Callable[[], object], calls: int) -> Callable[[], float]:
    def timed() -> float:
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        return (time.perf_counter() - t0) / calls * 1e3

    return timed


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="LowCarbon/MetaverseOffload-v1")
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 3, 5, 10], help="GDM's T")
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256])
    parser.add_argument("--activation", default="relu")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--full", action="store_true", help="3x the repeats and timed calls")
    parser.add_argument("--out", help="also write the table (markdown) to this file")
    parser.add_argument("--compile", action="store_true", help="also GDM T=5 with torch.compile")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    scale = 3 if args.full else 1
    repeats, updates, calls_1, calls_256 = 5 * scale, 4 * scale, 200 * scale, 4 * scale

    env = gym.make(args.env)
    torch.manual_seed(0)
    agents = {"Tianshou SAC": make_sac(
        env.observation_space, env.action_space,
        SACConfig(hidden_sizes=args.hidden, activation=args.activation),
    )}  # fmt: skip
    for t in args.steps:
        cfg = GDMConfig(steps=t, hidden_sizes=args.hidden, activation=args.activation)
        agents[f"GDM T={t}"] = make_gdm(env.observation_space, env.action_space, cfg)

    compile_s = None
    if args.compile:
        cfg = GDMConfig(steps=5, hidden_sizes=args.hidden, activation=args.activation)
        compiled = make_gdm(env.observation_space, env.action_space, cfg)
        den = compiled.policy.actor.denoiser
        den.tail = torch.compile(den.tail)
        for critic in (compiled.critic, compiled.critic2):
            critic.preprocess = torch.compile(critic.preprocess)
        agents["GDM T=5, torch.compile"] = compiled

    envs = DummyVectorEnv([lambda: gym.make(args.env) for _ in range(4)])
    envs.seed(0)
    buffer = VectorReplayBuffer(20_000, 4)
    collector = Collector(agents["Tianshou SAC"], envs, buffer)
    collector.reset()
    collector.collect(n_step=4 * args.batch_size, random=True)
    rng = np.random.default_rng(0)
    obs_1 = buffer.obs[rng.integers(len(buffer), size=1)]
    obs_256 = buffer.obs[rng.integers(len(buffer), size=256)]

    timers: dict[str, dict[str, Callable[[], float]]] = {}
    for name, algo in agents.items():
        policy = algo.policy

        def update(algo=algo) -> None:
            with policy_within_training_step(algo.policy):
                algo.update(buffer, args.batch_size)

        def decide(obs: np.ndarray, training: bool, policy=policy) -> None:
            with policy_within_training_step(policy, training):
                policy.map_action(policy(Batch(obs=obs, info={})).act)

        policy.eval()
        timers[name] = {
            "update": _median_ms(update, updates),
            "decide_1": _median_ms(lambda d=decide: d(obs_1, False), calls_1),
            "decide_1_train": _median_ms(lambda d=decide: d(obs_1, True), calls_1),
            "decide_256": _median_ms(lambda d=decide: d(obs_256, False), calls_256),
        }
        t0 = time.perf_counter()
        for timer in timers[name].values():  # warm-up: numba compilation, allocator, compile
            timer()
        if "torch.compile" in name:
            compile_s = time.perf_counter() - t0

    samples: dict[str, dict[str, list[float]]] = {n: {k: [] for k in t} for n, t in timers.items()}
    for _ in range(repeats):
        for name, named_timers in timers.items():
            for key, timer in named_timers.items():
                samples[name][key].append(timer())
    rows = []
    sac_update = statistics.median(samples["Tianshou SAC"]["update"])
    for name, s in samples.items():
        med = {k: statistics.median(v) for k, v in s.items()}
        rows.append(dict(agent=name, **med, ratio=med["update"] / sac_update))

    head = (
        "| agent | update (ms) | update / SAC update | decision, batch 1 (ms) "
        "| decision, batch 1, training (ms) | decisions/s, batch 1 | decisions/s, batch 256 |"
    )
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['agent']} | {r['update']:.1f} | {r['ratio']:.2f}x | {r['decide_1']:.3f} "
            f"| {r['decide_1_train']:.3f} | {1e3 / r['decide_1']:,.0f} "
            f"| {256e3 / r['decide_256']:,.0f} |"
        )
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    note = (
        f"{args.env} (obs {obs_dim}, action {act_dim}); hidden {args.hidden} {args.activation}; "
        f"update batch {args.batch_size}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; median of {repeats} round-robin repeats."
    )
    if compile_s is not None:
        note += f" torch.compile: {compile_s:.0f} s to compile and warm up."
    table = "\n".join([*lines, "", note])
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table + "\n")
    return rows


if __name__ == "__main__":
    main()
