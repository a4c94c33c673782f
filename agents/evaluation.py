"""Roll policies out in suite envs and summarise return, carbon, QoS and normalised score."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from lowcarbon.envs.multiagent import is_multiagent, multiagent_entry
from lowcarbon.envs.suite import QoS, entry, in_suite

logger = logging.getLogger(__name__)


def qos_of(env_id: str) -> QoS | None:
    """The QoS figure a suite env reports (from the registry), or None outside the suite."""
    if is_multiagent(env_id):
        return multiagent_entry(env_id).qos
    return entry(env_id).family.qos if in_suite(env_id) else None


@dataclass
class EpisodeResult:
    """One episode of one policy: undiscounted return, kg CO2, energy, cost and QoS."""

    env_id: str
    policy: str
    seed: int
    ret: float
    co2_kg: float
    energy_kwh: float
    cost: float
    qos: float
    steps: int


def rollout(
    env_id: str,
    make_policy: Callable,
    seed: int,
    policy_name: str | None = None,
    **env_kwargs,
) -> EpisodeResult:
    """One episode of ``make_policy(env)`` on ``gym.make(env_id, **env_kwargs)`` from ``seed``.

    Envs outside the suite work too: carbon, energy and cost count as 0 and QoS as NaN where the
    env's ``info`` does not carry them."""
    env = gym.make(env_id, **env_kwargs)
    policy = make_policy(env)
    obs, _ = env.reset(seed=seed)
    policy.reset()
    qos = qos_of(env_id)
    ret = co2 = energy = cost = 0.0
    values: list[float] = []
    steps = 0
    done = False
    while not done:
        obs, reward, terminated, truncated, info = env.step(policy.act(obs))
        ret += float(reward)
        co2 += info.get("co2_kg", 0.0)
        energy += info.get("energy_kwh", 0.0)
        cost += info.get("cost", 0.0)
        if qos is not None:
            values.append(info[qos.key])
        steps += 1
        done = terminated or truncated
    env.close()
    q = qos.reduce(values) if qos is not None else float("nan")
    name = policy_name or getattr(policy, "name", type(policy).__name__)
    return EpisodeResult(env_id, name, seed, ret, co2, energy, cost, q, steps)


def rollout_vector(
    venv: gym.vector.VectorEnv,
    act: Callable[[np.ndarray], np.ndarray],
    seeds: Sequence[int],
    env_id: str,
    policy_name: str,
) -> list[EpisodeResult]:
    """One episode per seed, all at once: copy ``i`` of ``venv`` (``len(seeds)`` copies) is reset
    with ``seeds[i]`` and stepped with ``act(obs)`` on the whole (n, obs_dim) batch until every
    copy has finished its first episode.

    With per-copy seeding (the suite's native vector env, Gymnasium's ``SyncVectorEnv``) each
    episode is the one :func:`rollout` plays from the same seed, so the two give the same results
    for the same deterministic policy. A copy that finishes early is ignored until the last one
    does (its next-step autoreset is stepped but not counted)."""
    n = len(seeds)
    if venv.num_envs != n:
        raise ValueError(f"the vector env has {venv.num_envs} copies for {n} seeds")
    qos = qos_of(env_id)
    obs, _ = venv.reset(seed=[int(s) for s in seeds])
    running = np.ones(n, dtype=bool)
    ret, co2, energy, cost = (np.zeros(n) for _ in range(4))
    steps = np.zeros(n, dtype=np.int64)
    values: list[list[float]] = [[] for _ in range(n)]
    while running.any():
        obs, reward, terminated, truncated, info = venv.step(act(obs))
        live = running.copy()
        ret[live] += np.asarray(reward, dtype=np.float64)[live]
        for key, total in (("co2_kg", co2), ("energy_kwh", energy), ("cost", cost)):
            if key in info:
                total[live] += np.asarray(info[key], dtype=np.float64)[live]
        if qos is not None:
            for i in np.flatnonzero(live):
                values[i].append(float(info[qos.key][i]))
        steps[live] += 1
        running &= ~(np.asarray(terminated) | np.asarray(truncated))
    return [
        EpisodeResult(env_id, policy_name, int(s), float(ret[i]), float(co2[i]),
                      float(energy[i]), float(cost[i]),
                      qos.reduce(values[i]) if qos is not None else float("nan"), int(steps[i]))
        for i, s in enumerate(seeds)
    ]  # fmt: skip


def rollout_joint(
    env_id: str,
    make_policy: Callable,
    seed: int,
    policy_name: str | None = None,
    **env_kwargs,
) -> EpisodeResult:
    """One episode of a multi-agent env (``env_id`` a module name such as
    ``"carbon_market_v0"``) played by the joint policy ``make_policy(parallel_env)``, whose
    ``act()`` returns every agent's action, (n_agents, act_dim). ``ret`` is the **welfare**,
    the sum of all agents' rewards; carbon, energy and cost are summed over the agents too."""
    e = multiagent_entry(env_id)
    env = e.env_cls(**env_kwargs)
    policy = make_policy(env)
    env.reset(seed=seed)
    policy.reset()
    agent_keys = set(env.core.agent_info_keys)
    ret = co2 = energy = cost = 0.0
    values: list[float] = []
    steps = 0
    while env.agents:
        joint = np.asarray(policy.act(), dtype=np.float64)
        _, rewards, _, _, infos = env.step({a: joint[i] for i, a in enumerate(env.agents)})
        ret += float(sum(rewards.values()))
        co2 += sum(i.get("co2_kg", 0.0) for i in infos.values())
        energy += sum(i.get("energy_kwh", 0.0) for i in infos.values())
        cost += sum(i.get("cost", 0.0) for i in infos.values())
        first = next(iter(infos.values()))
        values.append(sum(i[e.qos.key] for i in infos.values()) if e.qos.key in agent_keys
                      else first[e.qos.key])  # fmt: skip
        steps += 1
    name = policy_name or getattr(policy, "name", type(policy).__name__)
    return EpisodeResult(env_id, name, seed, ret, co2, energy, cost, e.qos.reduce(values), steps)


def rollout_shared(
    venv: gym.vector.VectorEnv,
    act: Callable[[np.ndarray], np.ndarray],
    seeds: Sequence[int],
    env_id: str,
    policy_name: str,
) -> list[EpisodeResult]:
    """One episode per seed of a multi-agent env through its
    :class:`~lowcarbon.envs.multiagent.SharedPolicyVectorEnv` (``len(seeds)`` copies; copy ``i``
    replays the parallel env reset with ``seeds[i]``): every slot acts with ``act`` on its
    agent's observation (a parameter-shared policy). Returns the welfare per episode, as
    :func:`rollout_joint` does."""
    e = multiagent_entry(env_id)
    n, n_agents = len(seeds), venv.n_agents
    if venv.copies != n:
        raise ValueError(f"the vector env has {venv.copies} copies for {n} seeds")
    agent_keys = set(venv.core.agent_info_keys)
    obs, _ = venv.reset(seed=[int(s) for s in seeds])
    ret, co2, energy, cost = (np.zeros(n) for _ in range(4))
    values: list[np.ndarray] = []
    steps = 0
    done = False
    while not done:
        obs, reward, terminated, truncated, info = venv.step(act(obs))
        per_copy = lambda x: np.asarray(x, np.float64).reshape(n, n_agents)  # noqa: E731
        ret += per_copy(reward).sum(1)
        for key, total in (("co2_kg", co2), ("energy_kwh", energy), ("cost", cost)):
            if key in info:
                total += per_copy(info[key]).sum(1)
        q = per_copy(info[e.qos.key])
        values.append(q.sum(1) if e.qos.key in agent_keys else q[:, 0])
        steps += 1
        done = bool(np.all(terminated | truncated))
    qos = np.stack(values, 1)
    return [
        EpisodeResult(env_id, policy_name, int(s), float(ret[i]), float(co2[i]),
                      float(energy[i]), float(cost[i]), e.qos.reduce(list(qos[i])), steps)
        for i, s in enumerate(seeds)
    ]  # fmt: skip


def evaluate(
    env_ids: Iterable[str],
    policies: dict[str, Callable],
    seeds: Sequence[int],
    progress: bool = True,
    **env_kwargs,
) -> list[EpisodeResult]:
    """Every policy on every env and seed (the same seeds draw the same episodes for all)."""
    from tqdm.auto import tqdm

    jobs = [(e, n, s) for e in env_ids for n in policies for s in seeds]
    results = []
    for env_id, name, seed in tqdm(jobs, desc="episodes", disable=not progress):
        results.append(rollout(env_id, policies[name], seed, policy_name=name, **env_kwargs))
    return results


def normalised_score(ret: float, random_ret: float, oracle_ret: float) -> float:
    """``(return - random) / (oracle - random)``: 0 = random, 1 = oracle."""
    span = oracle_ret - random_ret
    return float("nan") if abs(span) < 1e-12 else (ret - random_ret) / span


def summary_table(results: Sequence[EpisodeResult]) -> list[dict]:
    """Per (env, policy): mean and std of return, mean kg CO2, QoS and normalised score.

    The score is computed per seed against that seed's random and oracle returns, then averaged.
    """
    by = {(r.env_id, r.policy, r.seed): r for r in results}
    rows = []
    for env_id in dict.fromkeys(r.env_id for r in results):
        for policy in dict.fromkeys(r.policy for r in results if r.env_id == env_id):
            runs = [r for r in results if r.env_id == env_id and r.policy == policy]
            scores = [
                normalised_score(r.ret, by[(env_id, "random", r.seed)].ret,
                                 by[(env_id, "oracle", r.seed)].ret)
                for r in runs
                if (env_id, "random", r.seed) in by and (env_id, "oracle", r.seed) in by
            ]  # fmt: skip
            rets = np.array([r.ret for r in runs])
            rows.append(
                {
                    "env": env_id,
                    "policy": policy,
                    "episodes": len(runs),
                    "return": float(rets.mean()),
                    "return_std": float(rets.std()),
                    "co2_kg": float(np.mean([r.co2_kg for r in runs])),
                    "qos_name": qos.key if (qos := qos_of(env_id)) else "",
                    "qos": float(np.mean([r.qos for r in runs])),
                    "score": float(np.mean(scores)) if scores else float("nan"),
                }
            )
    return rows


def format_table(rows: Sequence[dict]) -> str:
    """A Markdown table of :func:`summary_table` rows."""
    head = "| env | policy | return (mean ± std) | kg CO2 / episode | QoS | normalised score |"
    lines = [head, "|---|---|---:|---:|---|---:|"]
    for r in rows:
        lines.append(
            f"| {r['env'].removeprefix('LowCarbon/')} | {r['policy']} "
            f"| {r['return']:.3f} ± {r['return_std']:.3f} | {r['co2_kg']:.4g} "
            f"| {r['qos_name']} = {r['qos']:.3f} | {r['score']:.3f} |"
        )
    return "\n".join(lines)
