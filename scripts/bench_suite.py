"""Benchmark quality of the suite: does each default env separate agents?

    python -m lowcarbon.scripts.bench_suite            # quick: PPO 10k/30k steps, 1 seed (~5 min)
    python -m lowcarbon.scripts.bench_suite --full     # PPO 100k/300k steps, 3 seeds (~1 h)

For each default ``-v1`` id, on the same held-out episodes (seeds ``1_000_000 + i``), it reports
the oracle-normalised score ``(return - random) / (oracle - random)`` of the random policy,
every shipped rule, the all-zero action, Stable-Baselines3 PPO with rl-zoo3's defaults for a
continuous task (its MuJoCo entries: ``MlpPolicy``, ``normalize: true``, every other
hyperparameter SB3's default) at two budgets, and the oracle; the 95 % confidence half-width of
each mean over the episodes (Student's t, per-episode scores); and the oracle's solve time. It
checks the targets of a benchmark worth publishing: the best rule <= 0.80, PPO at the larger
budget >= 0.50 and above its score at the smaller one, every CI half-width <= 0.05.

The results go to ``--out`` (JSON) and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from scipy import stats

import lowcarbon.envs  # noqa: F401  (registers the suite)
from lowcarbon.agents.baselines import POLICIES, RULE_NAMES
from lowcarbon.agents.evaluation import rollout
from lowcarbon.envs import DEFAULT_IDS

logger = logging.getLogger(__name__)

EVAL_SEED_BASE = 1_000_000


@dataclass
class Row:
    """One policy's normalised scores on the episodes (one list per training seed)."""

    policy: str
    scores: list[list[float]]
    returns: list[list[float]]

    def summary(self) -> dict:
        per_seed = [float(np.mean(s)) for s in self.scores]
        half = max(ci_half_width(s) for s in self.scores)
        return {"policy": self.policy, "score": float(np.mean(per_seed)),
                "min": min(per_seed), "max": max(per_seed), "ci95": half,
                "seeds": len(self.scores), "episodes": len(self.scores[0]),
                "return": float(np.mean(self.returns))}  # fmt: skip


def ppo_name(budget: int) -> str:
    """Row name of PPO at ``budget`` env steps: ``ppo_100k``, or ``ppo_640`` below a thousand."""
    return f"ppo_{budget // 1000}k" if budget % 1000 == 0 else f"ppo_{budget}"


def ci_half_width(values: list[float], level: float = 0.95) -> float:
    """Half-width of the Student-t confidence interval of the mean of ``values``."""
    v = np.asarray(values, float)
    if v.size < 2:
        return float("nan")
    return float(stats.t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))


def _zero_policy(env: gym.Env):
    class Zero:
        name = "zero_action"

        def reset(self) -> None:
            pass

        def act(self, obs=None) -> np.ndarray:
            return np.zeros(env.action_space.shape)

    return Zero()


def train_ppo(
    env_id: str, seed: int, budgets: tuple[int, ...], seeds: list[int], env_kwargs: dict
) -> list[list[float]]:
    """SB3 PPO with rl-zoo3's continuous-control defaults; returns per budget the returns of
    deterministic episodes on ``seeds`` (observations normalised with the frozen statistics)."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    torch.set_num_threads(1)
    venv = VecNormalize(DummyVecEnv([lambda: gym.make(env_id, **env_kwargs)]), gamma=0.99)
    venv.seed(seed)
    model = PPO("MlpPolicy", venv, seed=seed, device="cpu", verbose=0)
    out, done = [], 0
    for budget in budgets:
        model.learn(budget - done, reset_num_timesteps=done == 0)
        done = budget
        venv.training = False
        rets = []
        for s in seeds:
            env = gym.make(env_id, **env_kwargs)
            obs, _ = env.reset(seed=s)
            ret, end = 0.0, False
            while not end:
                act, _ = model.predict(venv.normalize_obs(obs), deterministic=True)
                obs, r, term, trunc, _ = env.step(act)
                ret += float(r)
                end = term or trunc
            rets.append(ret)
        venv.training = True
        out.append(rets)
    return out


def bench_env(env_id: str, n_episodes: int, budgets: tuple[int, ...], ppo_seeds: int,
              workers: int, env_kwargs: dict | None = None) -> dict:  # fmt: skip
    seeds = [EVAL_SEED_BASE + i for i in range(n_episodes)]
    kw = dict(env_kwargs or {})
    t0 = time.perf_counter()
    refs = {}
    solve_s = []
    for name in ("random", "oracle"):
        eps = []
        for s in seeds:
            start = time.perf_counter()
            eps.append(rollout(env_id, POLICIES[name], s, **kw).ret)
            if name == "oracle":
                solve_s.append(time.perf_counter() - start)
        refs[name] = np.array(eps)
    span = refs["oracle"] - refs["random"]
    norm = lambda rets: ((np.asarray(rets) - refs["random"]) / span).tolist()  # noqa: E731
    rows = [Row(name, [norm(refs[name])], [refs[name].tolist()]) for name in ("random", "oracle")]
    for name in (*RULE_NAMES, "zero_action"):
        make = POLICIES[name] if name in POLICIES else _zero_policy
        rets = [rollout(env_id, make, s, name, **kw).ret for s in seeds]
        rows.append(Row(name, [norm(rets)], [rets]))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(train_ppo, env_id, 1000 * k + 1, budgets, seeds, kw)
                   for k in range(ppo_seeds)]  # fmt: skip
        runs = [f.result() for f in futures]
    for j, budget in enumerate(budgets):
        rows.append(Row(ppo_name(budget), [norm(r[j]) for r in runs],
                        [r[j] for r in runs]))  # fmt: skip
    summary = [r.summary() for r in rows]
    by = {s["policy"]: s for s in summary}
    ppo_hi, ppo_lo = by[ppo_name(budgets[-1])], by[ppo_name(budgets[0])]
    best_rule = max(by[n]["score"] for n in RULE_NAMES)
    checks = {
        "best_rule_le_0.80": best_rule <= 0.80,
        "ppo_top_ge_0.50": ppo_hi["score"] >= 0.50,
        "ppo_improves": ppo_hi["score"] > ppo_lo["score"],
        "ci_le_0.05": all(s["ci95"] <= 0.05 for s in summary
                          if s["policy"] not in ("random", "oracle")),
    }  # fmt: skip
    return {"env": env_id, "env_kwargs": kw, "episodes": n_episodes, "budgets": list(budgets),
            "ppo_seeds": ppo_seeds, "oracle_solve_s": {"median": float(np.median(solve_s)),
                                                       "max": float(np.max(solve_s))},
            "rows": summary, "checks": checks, "wall_s": time.perf_counter() - t0}  # fmt: skip


def format_result(res: dict) -> str:
    kw = f" {res['env_kwargs']}" if res.get("env_kwargs") else ""
    lines = [f"### {res['env']}{kw}  ({res['episodes']} held-out episodes; oracle solve median "
             f"{res['oracle_solve_s']['median']:.2f} s, max {res['oracle_solve_s']['max']:.2f} s)",
             "", "| policy | normalised score | range over seeds | 95 % CI half-width | return |",
             "|---|---:|---:|---:|---:|"]  # fmt: skip
    for r in res["rows"]:
        rng = f"{r['min']:.3f} to {r['max']:.3f}" if r["seeds"] > 1 else ""
        seeds = f" ({r['seeds']} seeds)" if r["seeds"] > 1 else ""
        ci = "" if r["policy"] in ("random", "oracle") else f"{r['ci95']:.3f}"
        lines.append(f"| {r['policy']}{seeds} | {r['score']:.3f} | {rng} | {ci} | "
                     f"{r['return']:.2f} |")  # fmt: skip
    lines.append("")
    lines.append("targets: " + ", ".join(f"{k} {'yes' if v else 'NO'}"
                                         for k, v in res["checks"].items()))  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="PPO 100k/300k steps, 3 seeds")
    parser.add_argument("--envs", nargs="+", default=list(DEFAULT_IDS))
    parser.add_argument("--episodes", type=int, default=20, help="held-out episodes (>= 20)")
    parser.add_argument("--budgets", type=int, nargs="+", help="PPO env steps, ascending")
    parser.add_argument("--ppo-seeds", type=int, help="PPO training seeds")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument(
        "--env-kwargs",
        type=json.loads,
        default={},
        help="constructor arguments as JSON, e.g. '{\"horizon\": 48}'",
    )
    parser.add_argument(
        "--out",
        default="bench_suite.json",
        help="results file (JSON); rows of the envs run are replaced",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    budgets = tuple(args.budgets or ((100_000, 300_000) if args.full else (10_000, 30_000)))
    ppo_seeds = args.ppo_seeds or (3 if args.full else 1)
    # results accumulate in --out by env (and constructor arguments): rerunning one env keeps
    # the others' rows
    results = []
    if os.path.exists(args.out):
        with open(args.out) as f:
            results = json.load(f)
    for env_id in args.envs:
        logger.info("%s: references, rules and PPO (%s steps, %d seeds)...", env_id, budgets,
                    ppo_seeds)  # fmt: skip
        res = bench_env(env_id, args.episodes, budgets, ppo_seeds, args.workers, args.env_kwargs)
        same = [
            r for r in results if r["env"] == env_id and r.get("env_kwargs") == res["env_kwargs"]
        ]
        results = [r for r in results if r not in same] + [res]
        print(format_result(res), "\n", flush=True)
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    print(f"results written to {args.out}")


if __name__ == "__main__":
    main()
