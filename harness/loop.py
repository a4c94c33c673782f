"""The training loop of the harness behind ``lowcarbon-train`` and ``lowcarbon-benchmark``.

:func:`run` trains one agent on one env with one seed for a budget of env steps, evaluates it
deterministically every ``eval.every`` steps on held-out episodes (seeds ``eval.seed_base + i``,
disjoint from the training seeds), scores it against the random policy and the oracle on the very
same episodes, checkpoints, resumes from the last checkpoint, logs to Weights & Biases and
TensorBoard, and measures its own emissions with CodeCarbon. Each run writes into its directory:

* ``results.csv``: one row per evaluation episode (tidy), the file benchmarks concatenate;
* ``metrics.json``: the final summary; ``checkpoint/``: what resuming needs;
* ``tb/``: TensorBoard events; ``wandb/``: the W&B run (offline unless told otherwise);
* ``emissions.csv``: CodeCarbon's record.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
import uuid
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

import lowcarbon.envs  # noqa: F401  (registers the suite)
from lowcarbon.agents.runners import (
    AGENT_KINDS,
    AgentRunner,
    RunnerConfig,
    make_runner,
    resolve_device,
)
from lowcarbon.agents.vector import EnvSource
from lowcarbon.conf.schemas import env_kwargs
from lowcarbon.envs.multiagent import is_multiagent, multiagent_entry

from .checkpoints import fingerprint, previous_session, write_checkpoint
from .records import EvalRow, read_rows, summary, write_rows
from .references import evaluate_runner, reference_episodes
from .run_logging import RunLogger, emissions_tracker

logger = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A configuration value is invalid; the message starts with its key."""


def _require(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{key}: {message}")


def validate(cfg: DictConfig) -> None:
    """Check the values :func:`run` relies on, naming the offending key."""
    _require(cfg.agent.kind in AGENT_KINDS, "agent.kind", f"{cfg.agent.kind!r} is not one of "
             f"{tuple(AGENT_KINDS)}")  # fmt: skip
    multiagent = is_multiagent(cfg.env.id)
    if multiagent:
        _require(cfg.agent.kind not in AGENT_KINDS or AGENT_KINDS[cfg.agent.kind].trains
                 or cfg.agent.kind in ("random", "oracle"), "agent.kind",
                 f"{cfg.agent.kind!r} has no multi-agent version: a multi-agent env takes the "
                 "learners (parameter-shared), random and oracle (the social optimum)")  # fmt: skip
    else:
        try:
            gym.spec(cfg.env.id)
        except gym.error.Error as err:
            raise ConfigError(f"env.id: {cfg.env.id!r} is not a registered env ({err})") from None
    kwargs = env_kwargs(cfg.env)
    try:
        if multiagent:
            multiagent_entry(cfg.env.id).env_cls(**kwargs).close()
        else:
            gym.make(cfg.env.id, **kwargs).close()
    except (TypeError, ValueError) as err:
        name = str(err).split(":")[0]
        if name in kwargs:  # the envs name the argument first: "horizon: must be >= 1, got 0"
            raise ConfigError(f"env.kwargs.{err}") from None
        raise ConfigError(f"env.kwargs: {cfg.env.id} rejects {kwargs} ({err})") from None
    for key in ("budget", "eval.every", "eval.episodes", "checkpoint.every"):
        value = OmegaConf.select(cfg, key)
        _require(isinstance(value, int) and value > 0, key, f"must be a positive integer, got "
                 f"{value!r}")  # fmt: skip
    _require(isinstance(cfg.seed, int) and cfg.seed >= 0, "seed", f"must be an integer >= 0, got "
             f"{cfg.seed!r}")  # fmt: skip
    threads = OmegaConf.select(cfg, "threads")
    _require(threads is None or (isinstance(threads, int) and threads > 0), "threads",
             f"must be a positive integer or null, got {threads!r}")  # fmt: skip
    _require(cfg.logger.mode in ("offline", "online", "disabled"), "logger.mode",
             f"must be offline, online or disabled, got {cfg.logger.mode!r}")  # fmt: skip


def run(cfg: DictConfig, run_dir: str | Path) -> dict[str, Any]:
    """Train and evaluate per ``cfg`` in ``run_dir``; returns the final metrics (also written to
    ``metrics.json``). Resumes from ``run_dir/checkpoint`` when ``cfg.resume`` and the checkpoint
    was made with the same configuration (see :func:`fingerprint`); a finished run is not redone.
    """
    validate(cfg)
    if OmegaConf.select(cfg, "threads"):
        torch.set_num_threads(int(cfg.threads))
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_dir, results = run_dir / "checkpoint", run_dir / "results.csv"
    meta = previous_session(ckpt_dir, cfg)
    done_path = run_dir / "metrics.json"
    if meta is not None and done_path.exists():
        done = json.loads(done_path.read_text())
        same = done.get("fingerprint") in (meta["fingerprint"], fingerprint(cfg, any_device=False))
        if same and done["env_steps"] >= cfg.budget:
            logger.info("%s is complete (%d env steps): nothing to do", run_dir, done["env_steps"])
            return done
    kwargs = env_kwargs(cfg.env)
    algo = OmegaConf.to_container(cfg.agent.algo, resolve=True) or {}
    try:
        settings = RunnerConfig(**OmegaConf.to_container(cfg.agent.runner, resolve=True))
        resolve_device(settings.device)  # no GPU, or no such GPU: a configuration error
    except (TypeError, ValueError) as err:
        raise ConfigError(f"agent.runner.{err}") from None
    try:
        runner = make_runner(cfg.agent.kind, EnvSource(cfg.env.id, kwargs), algo, settings,
                             cfg.seed)  # fmt: skip
    except (TypeError, ValueError) as err:  # an unknown or invalid hyperparameter
        raise ConfigError(f"agent.algo: {err}") from None
    session = 0
    if meta is not None:
        runner.load(ckpt_dir)
        runner.env_steps = int(meta["env_steps"])
        session = int(meta.get("session", 0)) + 1
        # rows written after the checkpoint are redone; at the budget's end only the final ones
        kept = [r for r in read_rows(results)
                if r.env_steps < runner.env_steps
                or (r.env_steps == runner.env_steps and runner.env_steps < cfg.budget
                    and not r.final)]  # fmt: skip
        write_rows(results, kept, append=False)
        logger.info("resumed %s at %d env steps", run_dir, runner.env_steps)
    else:
        run_id = f"{cfg.env.name}-{cfg.agent.name}-s{cfg.seed}-{uuid.uuid4().hex[:8]}"
        meta = {"env_steps": 0, "wall_s": 0.0, "train_kg_co2": 0.0,
                "fingerprint": fingerprint(cfg), "run_id": run_id}  # fmt: skip
        results.unlink(missing_ok=True)
    meta["session"] = session
    seeds = [int(cfg.eval.seed_base) + i for i in range(int(cfg.eval.episodes))]
    refs = reference_episodes(cfg, seeds)
    # offline W&B runs cannot be resumed in place: each session is its own run, in one group
    log = RunLogger(cfg, run_dir, meta["run_id"] + (f"-r{session}" if session else ""))
    try:
        metrics = _train_and_evaluate(cfg, runner, run_dir, meta, refs, seeds, log)
    except BaseException:
        log.abort()
        raise
    finally:
        runner.close()
    return metrics


def _train_and_evaluate(
    cfg: DictConfig,
    runner: AgentRunner,
    run_dir: Path,
    meta: dict,
    refs: dict,
    seeds: list[int],
    log: RunLogger,
) -> dict[str, Any]:
    from tqdm.auto import tqdm

    ckpt_dir, results = run_dir / "checkpoint", run_dir / "results.csv"
    start, budget = time.perf_counter() - float(meta["wall_s"]), int(cfg.budget)
    every_eval, every_ckpt = int(cfg.eval.every), int(cfg.checkpoint.every)
    last: list[EvalRow] = []
    with emissions_tracker(cfg, run_dir) as carbon:
        bar = tqdm(total=budget if runner.trains else 0, initial=runner.env_steps,
                   desc=f"{cfg.agent.name} on {cfg.env.name}", unit="step",
                   disable=not cfg.progress)  # fmt: skip
        if not runner.trains:
            last = evaluate_runner(runner, cfg, refs, seeds)
            write_rows(results, last, append=False)
        next_eval = (runner.env_steps // every_eval + 1) * every_eval
        next_ckpt = (runner.env_steps // every_ckpt + 1) * every_ckpt
        while runner.trains and runner.env_steps < budget:
            before = runner.env_steps
            stats = runner.train(min(next_eval, next_ckpt, budget) - before)
            bar.update(runner.env_steps - before)
            if runner.env_steps >= min(next_eval, budget):
                next_eval = (runner.env_steps // every_eval + 1) * every_eval
                last = evaluate_runner(runner, cfg, refs, seeds)
                write_rows(results, last, append=True)
                summary_ = summary(last)
                bar.set_postfix(score=f"{summary_['eval/normalised']:.3f}")
                log.log({**summary_, **{f"train/{k}": v for k, v in stats.items()},
                         "time/wall_s": time.perf_counter() - start}, runner.env_steps)  # fmt: skip
            if runner.env_steps >= min(next_ckpt, budget):
                next_ckpt = (runner.env_steps // every_ckpt + 1) * every_ckpt
                write_checkpoint(
                    runner,
                    ckpt_dir,
                    {**meta, "env_steps": runner.env_steps, "wall_s": time.perf_counter() - start},
                )
        bar.close()
        if not last:  # resumed at the end of the budget, killed before the final evaluation
            last = evaluate_runner(runner, cfg, refs, seeds)
            write_rows(results, last, append=True)
    # emissions of sessions killed before their end are not known: the total is a lower bound
    session_kg = carbon["kg"]
    train_kg = float(meta["train_kg_co2"]) + (session_kg if np.isfinite(session_kg) else math.nan)
    final = [dataclasses.replace(r, final=True) for r in last]
    write_rows(results, final, append=True)
    metrics = {"env": cfg.env.name, "env_id": cfg.env.id, "agent": cfg.agent.name,
               "seed": cfg.seed, "env_steps": runner.env_steps, **summary(final),
               "wall_s": time.perf_counter() - start,
               "train_kg_co2": train_kg if cfg.carbon.enabled else math.nan,
               "resumed": bool(meta["session"]), "sessions": int(meta["session"]) + 1,
               "fingerprint": meta["fingerprint"]}  # fmt: skip
    if runner.trains:
        write_checkpoint(
            runner,
            ckpt_dir,
            {
                **meta,
                "env_steps": runner.env_steps,
                "wall_s": metrics["wall_s"],
                "train_kg_co2": train_kg,
            },
        )
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    log.log({"train/kg_co2": metrics["train_kg_co2"]}, runner.env_steps)
    log.finish(metrics, [{k: v for k, v in r.as_dict().items() if k != "final"} for r in final])
    return metrics
