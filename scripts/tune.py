"""``lowcarbon-tune``: fair hyperparameter tuning of every learner, written as agent presets.

    lowcarbon-tune                                   # GDM, Tianshou SAC, SB3 SAC, SB3 PPO
    lowcarbon-tune --env datacenter --trials 30 --budget 50000
    lowcarbon-tune --agents gdm sb3_ppo -- agent.runner.n_envs=16   # extra Hydra overrides

For each learner it runs one Hydra multirun, ``lowcarbon-train -m experiment=tune agent=<agent>
hydra/sweeper=tune_<agent>``: Optuna's TPE sampler (seeded) over that learner's search space
(``conf/hydra/sweeper/tune_<agent>.yaml``), with the same number of trials and the same env-step
budget per trial for every learner, each trial scored by its final oracle-normalised score on
tuning days that the final evaluation never uses (``conf/experiment/tune.yaml``).
:class:`TunedPresetCallback` then writes ``conf/agent/tuned/<env>/<agent>.yaml`` (the learner's
own preset with the best values on top; select it with ``agent=tuned/<env>/<agent>``) and
``<agent>.study.json`` beside it: every trial's values and score, and the command that ran it.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

logger = logging.getLogger(__name__)

LEARNERS = ("gdm", "ts_sac", "sb3_sac", "sb3_ppo")


def preset_root(config: DictConfig) -> Path:
    """The config root the presets go under: ``tune.preset_dir``, else the installed
    ``lowcarbon.conf`` package (the repository's ``conf/`` in a development install)."""
    chosen = OmegaConf.select(config, "tune.preset_dir")
    if chosen:
        return Path(chosen)
    import lowcarbon.conf

    return Path(lowcarbon.conf.__file__).parent


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"agent.algo.lr": 1}`` -> ``{"algo": {"lr": 1}}`` (the preset lives in package agent)."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(".")
        if parts[0] != "agent":
            raise ValueError(f"a tuned parameter must be an agent setting, got {key}")
        node = out
        for p in parts[1:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


def _trials(sweep_dir: Path) -> list[dict[str, Any]]:
    rows = []
    for trial in sorted(sweep_dir.glob("trial*"), key=lambda p: int(p.name[5:] or 0)):
        overrides = OmegaConf.load(trial / ".hydra" / "overrides.yaml")
        metrics_path = trial / "metrics.json"
        metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
        params = dict(o.split("=", 1) for o in overrides if o.startswith("agent."))
        value, wall = metrics.get("eval/normalised"), metrics.get("wall_s")
        rows.append({"trial": int(trial.name[5:]), "params": params, "value": value,
                     "wall_s": wall})  # fmt: skip
    return rows


class TunedPresetCallback(Callback):
    """Hydra callback of ``experiment=tune``: after the study, write the best configuration as an
    agent preset and the study's record beside it (see the module docstring)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        results = OmegaConf.to_container(OmegaConf.load(sweep_dir / "optimization_results.yaml"))
        best = dict(results["best_params"])
        env, agent = config.env.name, config.agent.name
        out = preset_root(config) / "agent" / "tuned" / env
        out.mkdir(parents=True, exist_ok=True)
        sweeper = config.hydra.sweeper
        header = (
            f"# Tuned by experiment=tune on {config.env.id}: the best of {sweeper.n_trials}"
            f" trials\n# (Optuna TPE, sampler seed {sweeper.sampler.seed}), {config.budget} env"
            " steps each,"
            f" scored on\n# {config.eval.episodes} tuning days from seed {config.eval.seed_base}"
            f" (final score {results['best_value']:.4f}).\n"
            f"# Record: {agent}.study.json. Use: agent=tuned/{env}/{agent}\n"
        )
        preset = {"defaults": [f"/agent/{agent}@_here_", "_self_"], "name": f"{agent}_tuned",
                  **_nest(best)}  # fmt: skip
        (out / f"{agent}.yaml").write_text(header + yaml.safe_dump(preset, sort_keys=False))
        record = {
            "env": env, "env_id": config.env.id, "agent": agent,
            "n_trials": int(sweeper.n_trials), "sampler": "TPE",
            "sampler_seed": int(sweeper.sampler.seed), "budget": int(config.budget),
            "train_seed": int(config.seed), "eval_episodes": int(config.eval.episodes),
            "eval_seed_base": int(config.eval.seed_base),
            "search_space": OmegaConf.to_container(sweeper.params),
            "best": {"params": best, "value": results["best_value"]},
            "trials": _trials(sweep_dir),
            "command": " ".join(["lowcarbon-train", *sys.argv[1:]]),
        }  # fmt: skip
        (out / f"{agent}.study.json").write_text(json.dumps(record, indent=1))
        logger.info("wrote the tuned preset %s", out / f"{agent}.yaml")


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="metaverse", help="an env config of conf/env")
    parser.add_argument("--agents", nargs="+", default=list(LEARNERS), choices=LEARNERS)
    parser.add_argument("--trials", type=int, default=20, help="Optuna trials per learner")
    parser.add_argument("--budget", type=int, default=20_000, help="env steps per trial")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides (after --)")
    args = parser.parse_args(argv)
    if args.trials < 1 or args.budget < 1:
        parser.error("--trials and --budget must be positive")
    records = []
    for agent in args.agents:
        cmd = [sys.executable, "-m", "lowcarbon.scripts.train", "-m", "experiment=tune",
               f"agent={agent}", f"hydra/sweeper=tune_{agent}", f"env={args.env}",
               f"hydra.sweeper.n_trials={args.trials}", f"budget={args.budget}",
               f"checkpoint.every={args.budget}", *args.overrides]  # fmt: skip
        logger.warning("tuning %s: %s", agent, " ".join(cmd[2:]))
        done = subprocess.run(cmd, check=False)
        if done.returncode:
            raise SystemExit(f"tuning {agent} failed (exit code {done.returncode})")
    from hydra import compose, initialize_config_module

    with initialize_config_module(config_module="lowcarbon.conf", version_base="1.3"):
        cfg = compose("train", overrides=["experiment=tune", f"env={args.env}", *args.overrides])
    root = preset_root(cfg) / "agent" / "tuned" / cfg.env.name
    print("| agent | trials | env steps / trial | best score (tuning days) | preset |")
    print("|---|---:|---:|---:|---|")
    for agent in args.agents:
        record = json.loads((root / f"{agent}.study.json").read_text())
        records.append(record)
        best = record["best"]["value"]
        print(f"| {agent} | {record['n_trials']} | {record['budget']:,} | {best:.3f} "
              f"| agent=tuned/{cfg.env.name}/{agent} |")  # fmt: skip
    return records


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    main()
