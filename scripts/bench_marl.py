"""``lowcarbon-bench-marl``: the multi-agent benchmark and the price of anarchy.

On every multi-agent env (``carbon_market_v0``, ``edge_offload_v0``), on the same held-out days:

* ``random``: joint uniform play (the zero of the normalised welfare);
* ``selfish``: the env's selfish rule, every agent on its own (see its ``rules`` module);
* ``ippo`` and ``igdm``: independent learners with one shared policy, SB3 PPO and the GDM agent
  trained through the harness's runners on the
  :class:`~lowcarbon.envs.multiagent.SharedPolicyVectorEnv` (``--budget`` agent-steps each, one
  run per training seed);
* ``optimum``: the central reference (the social optimum's LP, the joint MILP), 1 by definition.

The score is the episode's welfare (the sum of the agents' returns), normalised as
``(W - W_random) / (W_optimum - W_random)``; the table gives its mean with a 95 % bootstrap CI
over seeds x episodes. The **price of anarchy** is the welfare the selfish rule loses against the
optimum: ``W_optimum - W_selfish`` in reward units and ``1 - score(selfish)`` as a share of the
random-to-optimum range (and ``W_optimum / W_selfish``, the classic ratio, where the welfare is
positive on every day).

    python -m lowcarbon.scripts.bench_marl                 # 3 seeds, 20 days, 30k agent-steps
    python -m lowcarbon.scripts.bench_marl --full          # 200k agent-steps per run
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from lowcarbon.agents.evaluation import rollout_joint, rollout_shared
from lowcarbon.agents.runners import make_runner
from lowcarbon.agents.vector import EnvSource
from lowcarbon.envs.multiagent import JointRandomPolicy, multiagent_entry, multiagent_suite

logger = logging.getLogger(__name__)

SEED_BASE = 1_000_000  # held-out days, as the harness's evaluation (never used for training)
LEARNERS = {
    "ippo": ("sb3_ppo", {"hidden_sizes": [64, 64], "n_steps": 256, "batch_size": 256}, {}),
    "igdm": ("gdm", {}, {}),
}


def _bootstrap_ci(x: np.ndarray, reps: int = 2000, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    means = rng.choice(x, size=(reps, x.size), replace=True).mean(1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def _row(name: str, welfare: np.ndarray, rand: np.ndarray, opt: np.ndarray, extra: dict) -> dict:
    score = (welfare - rand) / np.where(np.abs(opt - rand) > 1e-12, opt - rand, np.nan)
    lo, hi = _bootstrap_ci(score[np.isfinite(score)])
    return {"policy": name, "welfare": float(welfare.mean()), "score": float(np.nanmean(score)),
            "ci": [lo, hi], "n": int(np.isfinite(score).sum()), **extra,
            "welfare_per_episode": welfare.round(6).tolist()}  # fmt: skip


def bench_env(name: str, seeds: list[int], days: list[int], budget: int, n_envs: int) -> dict:
    e = multiagent_entry(name)
    refs = {}
    for label, make in (("random", JointRandomPolicy), ("selfish", e.rules["selfish"]),
                        ("optimum", e.oracle)):  # fmt: skip
        eps = [rollout_joint(name, make, d, label) for d in tqdm(days, desc=f"{name} {label}")]
        refs[label] = eps
    rand = np.array([x.ret for x in refs["random"]])
    opt = np.array([x.ret for x in refs["optimum"]])
    rows = []
    for label, eps in refs.items():
        w = np.array([x.ret for x in eps])
        rows.append(
            _row(
                label,
                w,
                rand,
                opt,
                {
                    "co2_kg": float(np.mean([x.co2_kg for x in eps])),
                    "qos": float(np.mean([x.qos for x in eps])),
                },
            )
        )
    for label, (kind, algo, runner_cfg) in LEARNERS.items():
        welfare, co2, qos, wall = [], [], [], []
        for seed in seeds:
            start = time.perf_counter()
            runner = make_runner(kind, EnvSource(name), algo, {"n_envs": n_envs, **runner_cfg},
                                 seed=seed)  # fmt: skip
            try:
                runner.train(budget)
                venv = EnvSource(name).make_vec(len(days))
                eps = rollout_shared(venv, runner.act_batch, days, name, label)
            finally:
                runner.close()
            wall.append(time.perf_counter() - start)
            welfare += [x.ret for x in eps]
            co2 += [x.co2_kg for x in eps]
            qos += [x.qos for x in eps]
            logger.info("%s %s seed %d: welfare %.3f in %.0f s", name, label, seed,
                        np.mean([x.ret for x in eps]), wall[-1])  # fmt: skip
        k = len(seeds)
        rows.append(_row(label, np.array(welfare), np.tile(rand, k), np.tile(opt, k),
                         {"co2_kg": float(np.mean(co2)), "qos": float(np.mean(qos)),
                          "train_s": float(np.median(wall))}))  # fmt: skip
    selfish = np.array([x.ret for x in refs["selfish"]])
    score_self = next(r["score"] for r in rows if r["policy"] == "selfish")
    # the classic ratio needs a welfare that is positive on every day (the carbon market's is a
    # net bill of either sign, where a ratio means nothing)
    positive = bool(np.all(selfish > 0) and np.all(opt > 0))
    poa = {"welfare_gap": float(opt.mean() - selfish.mean()), "share_of_range": 1.0 - score_self,
           "ratio": float(opt.mean() / selfish.mean()) if positive else None}  # fmt: skip
    return {"env": name, "qos_key": e.qos.key, "rows": rows, "price_of_anarchy": poa}


def to_markdown(results: list[dict]) -> str:
    lines = ["| env | policy | normalised welfare (95 % CI) | welfare | kg CO2 / day | QoS | n |",
             "|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for res in results:
        for r in res["rows"]:
            lines.append(f"| {res['env']} | {r['policy']} | {r['score']:.3f} "
                         f"[{r['ci'][0]:.3f}, {r['ci'][1]:.3f}] | {r['welfare']:.2f} | "
                         f"{r['co2_kg']:.2f} | {r['qos']:.3f} | {r['n']} |")  # fmt: skip
    lines += ["", "| env | price of anarchy: welfare gap | share of the random-optimum range | "
              "ratio W_opt / W_selfish |", "|---|---:|---:|---:|"]  # fmt: skip
    for res in results:
        p = res["price_of_anarchy"]
        ratio = "-" if p["ratio"] is None else f"{p['ratio']:.3f}"
        lines.append(f"| {res['env']} | {p['welfare_gap']:.3f} | {p['share_of_range']:.3f} | "
                     f"{ratio} |")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="+", default=list(multiagent_suite()))
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per learner")
    parser.add_argument("--episodes", type=int, default=20, help="held-out days")
    parser.add_argument("--budget", type=int, default=30_000, help="agent-steps per run")
    parser.add_argument("--full", action="store_true", help="200k agent-steps per run")
    parser.add_argument("--n-envs", type=int, default=4, help="game copies while training")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/multiagent.json"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.seeds < 1 or args.episodes < 1 or args.budget < 1:
        parser.error("--seeds, --episodes and --budget must be >= 1")
    budget = 200_000 if args.full else args.budget
    days = [SEED_BASE + i for i in range(args.episodes)]
    start = time.perf_counter()
    results = [bench_env(n, list(range(args.seeds)), days, budget, args.n_envs)
               for n in args.envs]  # fmt: skip
    table = to_markdown(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"budget": budget, "seeds": args.seeds,
                                    "episodes": args.episodes, "results": results,
                                    "wall_s": time.perf_counter() - start}, indent=2))  # fmt: skip
    print(table)
    print(f"\n{len(results)} envs in {time.perf_counter() - start:.0f} s -> {args.out}")


if __name__ == "__main__":
    main()
