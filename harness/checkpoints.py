"""Checkpoints and resume: what identifies a run, whether a checkpoint may be resumed, and an
atomic write (a kill never leaves half a checkpoint)."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lowcarbon.agents.runners import AgentRunner

logger = logging.getLogger(__name__)


def fingerprint(cfg: DictConfig, *, any_device: bool = True) -> str:
    """Hash of what defines a run (env, agent, seed, evaluation): a checkpoint is resumed only
    by a configuration with the same fingerprint. Budget, logging, progress, paths and the
    device (``agent.runner.device``: a run started on a GPU may go on on a CPU) may change between
    sessions. ``any_device=False`` hashes the device too, as checkpoints written before
    2026-11-28 did (they are still resumed)."""
    keep = {k: OmegaConf.to_container(cfg[k], resolve=True) for k in ("env", "agent", "eval")}
    runner = keep["agent"].get("runner")
    if any_device and isinstance(runner, dict) and "device" in runner:
        runner["device"] = "auto"  # every device hashes as the default does
    return hashlib.sha1(json.dumps([keep, cfg.seed], sort_keys=True).encode()).hexdigest()[:12]


def previous_session(ckpt_dir: Path, cfg: DictConfig) -> dict[str, Any] | None:
    """The checkpoint's meta data if this run should resume from it, else None. A checkpoint of
    another configuration is moved aside (never deleted) and the run starts afresh."""
    old = ckpt_dir.with_name(ckpt_dir.name + ".old")
    if not (ckpt_dir / "meta.json").exists() and (old / "meta.json").exists():
        old.rename(ckpt_dir)  # killed between the two renames of _checkpoint
    if not cfg.resume or not (ckpt_dir / "meta.json").exists():
        return None
    meta = json.loads((ckpt_dir / "meta.json").read_text())
    if meta.get("fingerprint") == fingerprint(cfg, any_device=False):
        meta["fingerprint"] = fingerprint(cfg)  # an older checkpoint of an explicit device
    if meta.get("fingerprint") != fingerprint(cfg):
        aside = ckpt_dir.with_name(f"checkpoint.replaced-{int(time.time())}")
        ckpt_dir.rename(aside)
        logger.warning("%s was made with another configuration: moved to %s; starting afresh",
                       ckpt_dir, aside.name)  # fmt: skip
        return None
    return meta


def write_checkpoint(runner: AgentRunner, ckpt_dir: Path, meta: dict[str, Any]) -> None:
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
