"""Edge offload: metaverse service providers sharing edge servers (spec below)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numba import njit

from ..carbon import G_PER_KG, J_PER_KWH
from ..core import OBS_BOUND, EnvParams, check_and_clip, require
from ..metaverse_offload.env import (
    I_CO2,
    I_NREQ,
    I_NSERVED,
    I_REXC,
    MetaverseOffloadCore,
    MetaverseOffloadParams,
)
from ..multiagent import MultiAgentCore, ParallelCoreEnv

# MetaverseOffload observation layout: 3 per user, 7 per site, batch backlog (3), allowance
# left (1), time (3); each provider sees its own users, the sites, the allowance and the time.
_USER_COLS, _SITE_COLS, _BATCH_COLS = 3, 7, 3


@dataclass(frozen=True)
class EdgeOffloadParams(EnvParams):
    """Parameters of :class:`EdgeOffloadEnv`; units in the names or the env docstring.

    ``site`` holds further :class:`~lowcarbon.envs.MetaverseOffloadParams` fields of the shared
    sites and users (for example ``{"server_regions": ["coal", "hydro", "mixed"]}``); batteries
    and batch work are not part of this game and are fixed at zero.
    """

    horizon: int = 96
    slot_minutes: int = 15
    n_providers: int = 3
    users_per_provider: int = 2
    n_servers: int = 3
    carbon_allowance_kg: float = 15.0
    site: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.check_base()
        require(self.n_providers >= 2, "n_providers", f"a shared game needs >= 2, got "
                f"{self.n_providers}")  # fmt: skip
        require(self.users_per_provider >= 1, "users_per_provider",
                f"must be >= 1, got {self.users_per_provider}")  # fmt: skip
        fixed = {"n_users", "n_servers", "horizon", "slot_minutes", "battery_kwh", "battery_kw",
                 "batch_steps_per_slot", "carbon_allowance_kg"}  # fmt: skip
        clash = sorted(fixed & set(self.site))
        require(not clash, "site", f"{clash} are set by the edge-offload game itself")
        self.metaverse()  # validates the site fields, naming a bad one

    @property
    def n_users(self) -> int:
        return self.n_providers * self.users_per_provider

    def metaverse(self) -> MetaverseOffloadParams:
        """The MetaverseOffload-v1 instance the providers share (all their users, no batteries,
        no batch work)."""
        return MetaverseOffloadParams(
            horizon=self.horizon, slot_minutes=self.slot_minutes, n_users=self.n_users,
            n_servers=self.n_servers, battery_kwh=0.0, battery_kw=0.0, batch_steps_per_slot=0.0,
            carbon_allowance_kg=self.carbon_allowance_kg, **dict(self.site),
        )  # fmt: skip


_INFO_KEYS = ("co2_total_kg", "served_ratio_total", "site_load_max")
_AGENT_KEYS = ("energy_kwh", "co2_kg", "cost", "n_requests", "n_served", "n_missed",
               "served_ratio", "mean_quality")  # fmt: skip


class EdgeOffloadCore(MultiAgentCore):
    """Batched dynamics of :class:`EdgeOffloadEnv`: a :class:`MetaverseOffloadCore` over all
    providers' users, with each step's reward split among the providers."""

    info_keys = _INFO_KEYS
    agent_info_keys = _AGENT_KEYS

    def __init__(self, params: EdgeOffloadParams, batch_size: int) -> None:
        super().__init__(params, batch_size)
        p = self.p = params
        self.joint = MetaverseOffloadCore(p.metaverse(), batch_size)
        j = self.joint
        self.n_agents, self.S, self.u = p.n_providers, j.S, p.users_per_provider
        self.act_dim = self.u * (j.S + 1)
        self.obs_dim = self.u * _USER_COLS + j.S * _SITE_COLS + 4 + j.S
        self._w = np.array([j.p.w_quality, j.p.w_miss, j.p.w_carbon_per_g, j.p.requests_ref])
        self._load = np.zeros((batch_size, j.S))  # last slot's interactive load / capacity
        self._joint_action = np.zeros((batch_size, j.act_dim))
        self._reward = np.zeros((batch_size, self.n_agents))
        self._agent_info = np.zeros((batch_size, self.n_agents, len(_AGENT_KEYS)))
        self._info = np.zeros((batch_size, len(_INFO_KEYS)))

    def reset(self, rng: np.random.Generator) -> None:
        self.joint.reset(rng)
        self._load[:] = 0.0
        self.t = 0

    def observe(self) -> np.ndarray:
        full = self.joint.observe()  # (B, 3 U + 7 S + 7)
        B, U, S, u = self.batch_size, self.joint.U, self.S, self.u
        users = full[:, : U * _USER_COLS].reshape(B, self.n_agents, u * _USER_COLS)
        shared = np.concatenate([
            full[:, U * _USER_COLS : U * _USER_COLS + S * _SITE_COLS],
            full[:, U * _USER_COLS + S * _SITE_COLS + _BATCH_COLS :],
            np.minimum(self._load, OBS_BOUND).astype(np.float32),
        ], 1)  # fmt: skip
        return np.concatenate(
            [users, np.broadcast_to(shared[:, None], (B, self.n_agents, shared.shape[1]))], 2
        )

    def step(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.t >= self.horizon:
            raise RuntimeError("episode is over: call reset()")
        check_and_clip(action)
        j, t = self.joint, self.t
        B, U = self.batch_size, j.U
        joint = self._joint_action
        joint[:] = 0.0  # batch work and batteries: neutral (there are none)
        joint[:, : U * (j.S + 1)] = action.reshape(B, U * (j.S + 1))
        n_req, upload = j.n_req[:, t], j.upload_s[:, t]
        ci, pv = j.ci[:, t], j.pv_kw[:, t]
        joint_reward, info = j.step(joint)
        _attribute(
            joint, n_req, upload, j.deadline, ci, pv, j.levels, j.quality, j.cap, j.cap_share,
            j.tau, j.step_j, j.idle_kwh, j.pue, j.backhaul_s, j.dt_h, info[:, I_REXC], self._w,
            self.n_agents, self._reward, self._agent_info, self._load,
        )  # fmt: skip
        self._info[:, 0] = info[:, I_CO2]
        n = info[:, I_NREQ]
        self._info[:, 1] = np.divide(info[:, I_NSERVED], n, out=np.ones(B), where=n > 0)
        self._info[:, 2] = self._load.max(1)
        self.t = j.t
        self.last_joint_reward = joint_reward  # the shares add up to it (tested)
        return self._reward.copy(), self._info.copy(), self._agent_info.copy()


@njit(cache=True)
def _attribute(action, n_req, upload_s, deadline, ci, pv_kw, levels, quality, cap, cap_share,
               tau, step_j, idle_kwh, pue, backhaul_s, dt_h, r_excess, weights, n_agents,
               out_reward, out_agent, out_load):  # fmt: skip
    """Each provider's share of one slot of the joint MetaverseOffload step.

    Requests are decoded as the joint step decodes them (level, routing in proportion to the
    scores, deadline-aware admission, an over-full site serving the same fraction of every
    request); quality and misses belong to the requests' provider; a site's grid carbon is
    split in proportion to the steps each provider runs there (its idle draw, which PV offsets
    first, equally when nobody runs any); the allowance's excess cost in proportion to carbon.
    The shares add up to the joint reward (tested).
    """
    B, U = n_req.shape
    S = cap.shape[0]
    K = levels.shape[0]
    w_q, w_miss, w_co2, ref = weights[0], weights[1], weights[2], weights[3]
    per = U // n_agents
    steps = np.zeros((U, S))  # denoising steps sent, then admitted
    sent_n = np.zeros((U, S))
    sent_q = np.zeros((U, S))
    share = np.zeros(S)
    load = np.zeros(S)
    agent_steps = np.zeros((n_agents, S))
    agent_co2 = np.zeros(n_agents)
    agent_kwh = np.zeros(n_agents)
    for b in range(B):
        load[:] = 0.0
        for u in range(U):
            k0 = math.floor((action[b, u * (S + 1)] + 1.0) * 0.5 * (K - 1) + 0.5)
            k0 = min(max(k0, 0), K - 1)
            wsum = 0.0
            for s in range(S):
                share[s] = cap_share[s] * (action[b, u * (S + 1) + 1 + s] + 1.0) * 0.5
                wsum += share[s]
            for s in range(S):
                f = share[s] / wsum if wsum > 0.0 else cap_share[s]
                r = n_req[b, u] * f
                k = k0
                slack = deadline[b, u] - upload_s[b, u] - backhaul_s[s]
                while k >= 0 and levels[k] * tau[s] > slack:
                    k -= 1
                if k >= 0:
                    steps[u, s] = r * levels[k]
                    sent_n[u, s] = r
                    sent_q[u, s] = r * quality[k]
                    load[s] += r * levels[k]
                else:
                    steps[u, s] = 0.0
                    sent_n[u, s] = 0.0
                    sent_q[u, s] = 0.0
        agent_steps[:] = 0.0
        agent_co2[:] = 0.0
        agent_kwh[:] = 0.0
        for s in range(S):
            admit = 1.0 if load[s] <= cap[s] else cap[s] / load[s]
            out_load[b, s] = load[s] / cap[s]
            for u in range(U):
                agent_steps[u // per, s] += steps[u, s] * admit
            total = 0.0
            for a in range(n_agents):
                total += agent_steps[a, s]
            site = (idle_kwh[s] + step_j[s] * total / J_PER_KWH) * pue[s]
            co2 = max(site - pv_kw[b, s] * dt_h, 0.0) * ci[b, s]
            for a in range(n_agents):
                f = agent_steps[a, s] / total if total > 0.0 else 1.0 / n_agents
                agent_co2[a] += co2 * f
                agent_kwh[a] += site * f
        co2_sum = 0.0
        for a in range(n_agents):
            co2_sum += agent_co2[a]
        for a in range(n_agents):
            n = 0.0
            sn = 0.0
            sq = 0.0
            for u in range(a * per, (a + 1) * per):
                n += n_req[b, u]
                for s in range(S):
                    admit = 1.0 if load[s] <= cap[s] else cap[s] / load[s]
                    sn += sent_n[u, s] * admit
                    sq += sent_q[u, s] * admit
            missed = max(n - sn, 0.0)
            excess = r_excess[b] * agent_co2[a] / co2_sum if co2_sum > 0.0 else 0.0
            reward = (w_q * sq - w_miss * missed - w_co2 * agent_co2[a] * G_PER_KG) / ref
            out_reward[b, a] = reward + excess
            info = out_agent[b, a]
            info[0] = agent_kwh[a]
            info[1] = agent_co2[a]
            info[2] = 0.0
            info[3] = n
            info[4] = sn
            info[5] = missed
            info[6] = sn / n if n > 0.0 else 1.0
            info[7] = sq / sn if sn > 0.0 else 0.0


class EdgeOffloadEnv(ParallelCoreEnv):
    """Edge offload: metaverse service providers sharing carbon-aware edge sites.

    ``n_providers`` agents, each a metaverse service provider with ``users_per_provider`` VR
    users of its own, offload their users' AIGC requests to the same ``n_servers`` edge sites
    of :class:`~lowcarbon.envs.MetaverseOffloadEnv` (the paper's case study): the same
    requests, radio, deadlines, sites, capacities, intensities and PV, and one daily carbon
    allowance for the sites. Each provider picks its users' denoising steps and routes; the
    sites' capacity, and with it every provider's on-time service, depends on what all of them
    send. Agents ``provider_0 ... provider_{P-1}``; provider ``p`` owns users ``p u ... p u + u
    - 1`` of the shared instance (:meth:`EdgeOffloadParams.metaverse`).

    **Time scale.** As MetaverseOffload-v1: 15-minute slots, 96 a day.

    ## Action space (per agent)
    ``Box(-1, 1, (u (S + 1),))``: for each of its ``u`` users, MetaverseOffload-v1's user block
    (step level, then ``S`` routing scores; ``a = 0`` is the middle level routed in proportion
    to capacity). The sites run no batch work and have no batteries in this game.

    ## Observation space (per agent)
    ``Box(-10, 10, (3 u + 7 S + 4 + S,))``, float32: its own users' features (requests / peak
    rate, upload time / 1 s, deadline / 10 s), each site's seven features and the allowance
    left and time (all as in MetaverseOffload-v1), and each site's interactive load last slot /
    its capacity (above 1: the site was over-full and dropped requests).

    ## Model
    The joint step is MetaverseOffload-v1's over all ``P u`` users (its model, with no batteries
    and no batch work): an over-full site serves the same fraction of every request sent to it,
    whoever sent it, so each provider's routing costs the others service.

    ## Reward (per agent and slot)
    The provider's share of MetaverseOffload-v1's reward, in the same unit (request-equivalents /
    the sum of all users' peak rates): ``w_quality`` times the quality of its users' requests
    served on time, minus ``w_miss`` per missed request, minus ``w_carbon_per_g`` per g of its
    carbon (a site's grid carbon split in proportion to the denoising steps each provider runs
    there; equally when nobody runs any), minus its share, in proportion to its carbon, of the
    cost of emissions beyond the allowance. The shares add up to the joint reward, so the
    **welfare** is MetaverseOffload-v1's return.

    ## Info (per agent)
    ``energy_kwh`` and ``co2_kg`` (its share), ``cost`` (0: no prices in this game),
    ``n_requests``, ``n_served``, ``n_missed``, ``served_ratio``, ``mean_quality``; and the
    sites': ``co2_total_kg``, ``served_ratio_total``, ``site_load_max`` (the fullest site's load
    / capacity).

    ## Start state and episode end
    Reset draws MetaverseOffload-v1's day for all users. All agents terminate after ``horizon``
    slots (``max_cycles`` truncates earlier).

    ## Reference: the central oracle
    :func:`lowcarbon.envs.edge_offload.oracle.solve`: the MetaverseOffload-v1 MILP of the joint
    instance (every provider's users at once; HiGHS), whose value bounds the welfare of every
    joint play and which its replay attains (tests).

    ## Version history
    * v0: initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "edge_offload_v0",
        "render_modes": [],
        "is_parallelizable": True,
    }
    params_cls = EdgeOffloadParams
    core_cls = EdgeOffloadCore
    agent_prefix = "provider"
