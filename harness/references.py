"""The references of every score: random-policy and oracle episodes on the held-out days, cached;
and the deterministic evaluation of a runner on those same days."""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
from pathlib import Path

from omegaconf import DictConfig

from lowcarbon.agents.baselines import POLICIES
from lowcarbon.agents.evaluation import (
    normalised_score,
    rollout,
    rollout_joint,
    rollout_shared,
    rollout_vector,
)
from lowcarbon.agents.runners import AgentRunner
from lowcarbon.agents.vector import EnvSource
from lowcarbon.conf.schemas import env_kwargs
from lowcarbon.envs.multiagent import JointRandomPolicy, is_multiagent, multiagent_entry
from lowcarbon.envs.oracles import OraclePolicy
from lowcarbon.envs.suite import entry, in_suite

from .records import EvalRow


def reference_episodes(cfg: DictConfig, seeds: list[int]) -> dict[str, list[dict[str, float]]]:
    """Random-policy and oracle episodes (return, kg CO2, kWh, QoS) on ``seeds``, cached on disk
    by env id, its registered and given kwargs, the seeds and the code that makes them (the
    whole ``lowcarbon.envs`` package with its data, the random policy and the rollout: editing
    any invalidates the cache). Outside the suite there is no oracle: its entries are NaN. A
    multi-agent env's references are the welfare of joint random play and of its central
    reference (the social optimum)."""
    env_id, kwargs = cfg.env.id, env_kwargs(cfg.env)
    suite_env = in_suite(env_id) or is_multiagent(env_id)
    envs_dir = Path(inspect.getfile(OraclePolicy)).parent
    sources = sorted(p for p in envs_dir.rglob("*") if p.suffix in (".py", ".csv", ".txt"))
    sources += [Path(inspect.getfile(rollout)), Path(inspect.getfile(POLICIES["random"]))]
    code = hashlib.sha1(b"".join(p.read_bytes() for p in sources)).hexdigest()[:12]
    registered = dict(entry(env_id).kwargs) if in_suite(env_id) else {}
    key = json.dumps([env_id, registered, kwargs, seeds, code], sort_keys=True, default=str)
    digest = hashlib.sha1(key.encode()).hexdigest()
    path = Path(cfg.paths.cache_dir) / "references" / f"{digest}.json"
    if path.exists():
        return json.loads(path.read_text())["episodes"]
    refs: dict[str, list[dict[str, float]]] = {}
    if is_multiagent(env_id):  # welfare of joint random play and of the central reference
        e = multiagent_entry(env_id)
        for name, make in (("random", JointRandomPolicy), ("oracle", e.oracle)):
            eps = [rollout_joint(env_id, make, s, name, **kwargs) for s in seeds]
            refs[name] = [dict(ret=x.ret, co2_kg=x.co2_kg, energy_kwh=x.energy_kwh, qos=x.qos)
                          for x in eps]  # fmt: skip
    for name, make in (("random", POLICIES["random"]), ("oracle", OraclePolicy)):
        if name in refs:
            continue
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
                    seeds: list[int]) -> list[EvalRow]:  # fmt: skip
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
        rollout_many = rollout_shared if is_multiagent(cfg.env.id) else rollout_vector
        try:
            results = rollout_many(venv, runner.act_batch, seeds, cfg.env.id, cfg.agent.name)
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
        rows.append(EvalRow(env=cfg.env.name, agent=cfg.agent.name, seed=cfg.seed,
                            env_steps=runner.env_steps, episode_seed=s, **ep,
                            normalised=score))  # fmt: skip
    return rows
