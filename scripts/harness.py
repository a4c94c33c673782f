"""The training and evaluation harness behind ``lowcarbon-train`` and ``lowcarbon-benchmark``.

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

import contextlib
import csv
import hashlib
import inspect
import json
import logging
import math
import os
import shutil
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from omegaconf import DictConfig, OmegaConf

import lowcarbon.envs  # noqa: F401  (registers the suite)
from lowcarbon.agents.baselines import POLICIES
from lowcarbon.agents.evaluation import normalised_score, rollout, rollout_vector
from lowcarbon.agents.runners import AGENT_KINDS, AgentRunner, RunnerConfig, make_runner
from lowcarbon.agents.vector import EnvSource
from lowcarbon.conf.schemas import env_kwargs
from lowcarbon.envs.oracles import OraclePolicy
from lowcarbon.envs.suite import entry, in_suite

logger = logging.getLogger(__name__)

RESULT_FIELDS = ["env", "agent", "seed", "env_steps", "episode_seed", "return", "co2_kg",
                 "energy_kwh", "qos", "normalised", "final"]  # fmt: skip


class ConfigError(ValueError):
    """A configuration value is invalid; the message starts with its key."""


def _require(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{key}: {message}")


def validate(cfg: DictConfig) -> None:
    """Check the values :func:`run` relies on, naming the offending key."""
    _require(cfg.agent.kind in AGENT_KINDS, "agent.kind", f"{cfg.agent.kind!r} is not one of "
             f"{tuple(AGENT_KINDS)}")  # fmt: skip
    try:
        gym.spec(cfg.env.id)
    except gym.error.Error as err:
        raise ConfigError(f"env.id: {cfg.env.id!r} is not a registered env ({err})") from None
    kwargs = env_kwargs(cfg.env)
    try:
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
    _require(cfg.logger.mode in ("offline", "online", "disabled"), "logger.mode",
             f"must be offline, online or disabled, got {cfg.logger.mode!r}")  # fmt: skip


# --- references: the random policy and the oracle on the evaluation episodes -----------------


def _reference_episodes(cfg: DictConfig, seeds: list[int]) -> dict[str, list[dict[str, float]]]:
    """Random-policy and oracle episodes (return, kg CO2, kWh, QoS) on ``seeds``, cached on disk
    by env id, kwargs and seeds (the metaverse oracle solves a MILP per slot, ~17 s an episode).
    Outside the suite there is no oracle: its entries are NaN."""
    env_id, kwargs = cfg.env.id, env_kwargs(cfg.env)
    suite_env = in_suite(env_id)
    # the env's and its oracle's source belong to the key: editing either invalidates the cache
    sources = [inspect.getfile(OraclePolicy)]
    if suite_env:
        family = entry(env_id).family
        sources += [inspect.getfile(family.env_cls), inspect.getfile(family.oracle)]
    code = hashlib.sha1(b"".join(Path(f).read_bytes() for f in sources)).hexdigest()[:12]
    key = json.dumps([env_id, kwargs, seeds, code], sort_keys=True)
    digest = hashlib.sha1(key.encode()).hexdigest()
    path = Path(cfg.paths.cache_dir) / "references" / f"{digest}.json"
    if path.exists():
        return json.loads(path.read_text())["episodes"]
    refs: dict[str, list[dict[str, float]]] = {}
    for name, make in (("random", POLICIES["random"]), ("oracle", OraclePolicy)):
        if suite_env:
            eps = [rollout(env_id, make, s, name, **kwargs) for s in seeds]
            refs[name] = [dict(ret=e.ret, co2_kg=e.co2_kg, energy_kwh=e.energy_kwh, qos=e.qos)
                          for e in eps]  # fmt: skip
        else:  # outside the suite there is no oracle, hence no normalised score
            refs[name] = [dict(ret=math.nan, co2_kg=math.nan, energy_kwh=math.nan, qos=math.nan)
                          for _ in seeds]  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # parallel jobs may race: last rename wins
    tmp.write_text(json.dumps({"key": key, "episodes": refs}))
    tmp.replace(path)
    return refs


def evaluate_runner(runner: AgentRunner, cfg: DictConfig, refs: dict[str, list[dict]],
                    seeds: list[int]) -> list[dict[str, Any]]:  # fmt: skip
    """Deterministic episodes of the runner's policy on the held-out seeds, one row each.

    Learners play all the episodes at once in a vector env of ``len(seeds)`` copies, copy ``i``
    seeded ``seeds[i]`` (the same episodes the references played one by one). The random policy
    and the oracle are the references themselves: their cached episodes are reused rather than
    solved again; the other rules play episode by episode."""
    kwargs = env_kwargs(cfg.env)
    cached = refs.get(cfg.agent.kind)
    if cached is not None and all(math.isfinite(c["ret"]) for c in cached):
        eps = [dict(c) for c in cached]
    elif runner.trains:
        venv = EnvSource(cfg.env.id, kwargs).make_vec(len(seeds))
        try:
            results = rollout_vector(venv, runner.act_batch, seeds, cfg.env.id, cfg.agent.name)
        finally:
            venv.close()
        eps = [dict(ret=e.ret, co2_kg=e.co2_kg, energy_kwh=e.energy_kwh, qos=e.qos)
               for e in results]  # fmt: skip
    else:
        eps = []
        for s in seeds:
            e = rollout(cfg.env.id, runner.make_policy, s, cfg.agent.name, **kwargs)
            eps.append(dict(ret=e.ret, co2_kg=e.co2_kg, energy_kwh=e.energy_kwh, qos=e.qos))
    rows = []
    for i, (s, ep) in enumerate(zip(seeds, eps, strict=True)):
        score = normalised_score(ep["ret"], refs["random"][i]["ret"], refs["oracle"][i]["ret"])
        rows.append(dict(env=cfg.env.name, agent=cfg.agent.name, seed=cfg.seed,
                         env_steps=runner.env_steps, episode_seed=s, **ep, normalised=score,
                         final=False))  # fmt: skip
    return rows


# --- logging -----------------------------------------------------------------------------------


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


# --- the run -----------------------------------------------------------------------------------


def _write_rows(path: Path, rows: list[dict[str, Any]], append: bool) -> None:
    mode = "a" if append and path.exists() else "w"
    with open(path, mode, newline="") as f:
        w = csv.writer(f)
        if mode == "w":
            w.writerow(RESULT_FIELDS)
        for r in rows:
            w.writerow([r["env"], r["agent"], r["seed"], r["env_steps"], r["episode_seed"],
                        r["ret"], r["co2_kg"], r["energy_kwh"], r["qos"], r["normalised"],
                        r["final"]])  # fmt: skip


def _summary(rows: list[dict[str, Any]]) -> dict[str, float]:
    return {
        "eval/return": float(np.mean([r["ret"] for r in rows])),
        "eval/co2_kg": float(np.mean([r["co2_kg"] for r in rows])),
        "eval/qos": float(np.nanmean([r["qos"] for r in rows])) if rows else math.nan,
        "eval/normalised": float(np.nanmean([r["normalised"] for r in rows]))
        if any(np.isfinite(r["normalised"]) for r in rows) else math.nan,
    }  # fmt: skip


def fingerprint(cfg: DictConfig) -> str:
    """Hash of what defines a run (env, agent, seed, evaluation): a checkpoint is resumed only
    by a configuration with the same fingerprint. Budget, logging, progress and paths may
    change between sessions."""
    keep = {k: OmegaConf.to_container(cfg[k], resolve=True) for k in ("env", "agent", "eval")}
    return hashlib.sha1(json.dumps([keep, cfg.seed], sort_keys=True).encode()).hexdigest()[:12]


def _previous_session(ckpt_dir: Path, cfg: DictConfig) -> dict[str, Any] | None:
    """The checkpoint's meta data if this run should resume from it, else None. A checkpoint of
    another configuration is moved aside (never deleted) and the run starts afresh."""
    old = ckpt_dir.with_name(ckpt_dir.name + ".old")
    if not (ckpt_dir / "meta.json").exists() and (old / "meta.json").exists():
        old.rename(ckpt_dir)  # killed between the two renames of _checkpoint
    if not cfg.resume or not (ckpt_dir / "meta.json").exists():
        return None
    meta = json.loads((ckpt_dir / "meta.json").read_text())
    if meta.get("fingerprint") != fingerprint(cfg):
        aside = ckpt_dir.with_name(f"checkpoint.replaced-{int(time.time())}")
        ckpt_dir.rename(aside)
        logger.warning("%s was made with another configuration: moved to %s; starting afresh",
                       ckpt_dir, aside.name)  # fmt: skip
        return None
    return meta


def run(cfg: DictConfig, run_dir: str | Path) -> dict[str, Any]:
    """Train and evaluate per ``cfg`` in ``run_dir``; returns the final metrics (also written to
    ``metrics.json``). Resumes from ``run_dir/checkpoint`` when ``cfg.resume`` and the checkpoint
    was made with the same configuration (see :func:`fingerprint`); a finished run is not redone.
    """
    validate(cfg)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_dir, results = run_dir / "checkpoint", run_dir / "results.csv"
    meta = _previous_session(ckpt_dir, cfg)
    done_path = run_dir / "metrics.json"
    if meta is not None and done_path.exists():
        done = json.loads(done_path.read_text())
        if done.get("fingerprint") == meta["fingerprint"] and done["env_steps"] >= cfg.budget:
            logger.info("%s is complete (%d env steps): nothing to do", run_dir, done["env_steps"])
            return done
    kwargs = env_kwargs(cfg.env)
    algo = OmegaConf.to_container(cfg.agent.algo, resolve=True) or {}
    try:
        settings = RunnerConfig(**OmegaConf.to_container(cfg.agent.runner, resolve=True))
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
        kept = [r for r in _read_rows(results)
                if int(r["env_steps"]) < runner.env_steps
                or (int(r["env_steps"]) == runner.env_steps and runner.env_steps < cfg.budget
                    and r["final"] != "True")]  # fmt: skip
        _write_rows(results, [_row_from_csv(r) for r in kept], append=False)
        logger.info("resumed %s at %d env steps", run_dir, runner.env_steps)
    else:
        run_id = f"{cfg.env.name}-{cfg.agent.name}-s{cfg.seed}-{uuid.uuid4().hex[:8]}"
        meta = {"env_steps": 0, "wall_s": 0.0, "train_kg_co2": 0.0,
                "fingerprint": fingerprint(cfg), "run_id": run_id}  # fmt: skip
        results.unlink(missing_ok=True)
    meta["session"] = session
    seeds = [int(cfg.eval.seed_base) + i for i in range(int(cfg.eval.episodes))]
    refs = _reference_episodes(cfg, seeds)
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
    last: list[dict[str, Any]] = []
    with emissions_tracker(cfg, run_dir) as carbon:
        bar = tqdm(total=budget if runner.trains else 0, initial=runner.env_steps,
                   desc=f"{cfg.agent.name} on {cfg.env.name}", unit="step",
                   disable=not cfg.progress)  # fmt: skip
        if not runner.trains:
            last = evaluate_runner(runner, cfg, refs, seeds)
            _write_rows(results, last, append=False)
        next_eval = (runner.env_steps // every_eval + 1) * every_eval
        next_ckpt = (runner.env_steps // every_ckpt + 1) * every_ckpt
        while runner.trains and runner.env_steps < budget:
            before = runner.env_steps
            stats = runner.train(min(next_eval, next_ckpt, budget) - before)
            bar.update(runner.env_steps - before)
            if runner.env_steps >= min(next_eval, budget):
                next_eval = (runner.env_steps // every_eval + 1) * every_eval
                last = evaluate_runner(runner, cfg, refs, seeds)
                _write_rows(results, last, append=True)
                summary = _summary(last)
                bar.set_postfix(score=f"{summary['eval/normalised']:.3f}")
                log.log({**summary, **{f"train/{k}": v for k, v in stats.items()},
                         "time/wall_s": time.perf_counter() - start}, runner.env_steps)  # fmt: skip
            if runner.env_steps >= min(next_ckpt, budget):
                next_ckpt = (runner.env_steps // every_ckpt + 1) * every_ckpt
                _checkpoint(
                    runner,
                    ckpt_dir,
                    {**meta, "env_steps": runner.env_steps, "wall_s": time.perf_counter() - start},
                )
        bar.close()
        if not last:  # resumed at the end of the budget, killed before the final evaluation
            last = evaluate_runner(runner, cfg, refs, seeds)
            _write_rows(results, last, append=True)
    # emissions of sessions killed before their end are not known: the total is a lower bound
    session_kg = carbon["kg"]
    train_kg = float(meta["train_kg_co2"]) + (session_kg if np.isfinite(session_kg) else math.nan)
    final = [{**r, "final": True} for r in last]
    _write_rows(results, final, append=True)
    metrics = {"env": cfg.env.name, "env_id": cfg.env.id, "agent": cfg.agent.name,
               "seed": cfg.seed, "env_steps": runner.env_steps, **_summary(final),
               "wall_s": time.perf_counter() - start,
               "train_kg_co2": train_kg if cfg.carbon.enabled else math.nan,
               "resumed": bool(meta["session"]), "sessions": int(meta["session"]) + 1,
               "fingerprint": meta["fingerprint"]}  # fmt: skip
    if runner.trains:
        _checkpoint(
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
    log.finish(metrics, [{k: v for k, v in r.items() if k != "final"} for r in final])
    return metrics


def _checkpoint(runner: AgentRunner, ckpt_dir: Path, meta: dict[str, Any]) -> None:
    """Write the checkpoint beside the old one, then swap, so a kill never leaves half a file."""
    tmp = ckpt_dir.with_name(ckpt_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    runner.save(tmp)
    (tmp / "meta.json").write_text(json.dumps(meta))
    old = ckpt_dir.with_name(ckpt_dir.name + ".old")
    if ckpt_dir.exists():
        ckpt_dir.rename(old)
    tmp.rename(ckpt_dir)
    shutil.rmtree(old, ignore_errors=True)


def _read_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _row_from_csv(r: dict[str, str]) -> dict[str, Any]:
    return dict(env=r["env"], agent=r["agent"], seed=int(r["seed"]), env_steps=int(r["env_steps"]),
                episode_seed=int(r["episode_seed"]), ret=float(r["return"]),
                co2_kg=float(r["co2_kg"]), energy_kwh=float(r["energy_kwh"]), qos=float(r["qos"]),
                normalised=float(r["normalised"]), final=r["final"] == "True")  # fmt: skip
