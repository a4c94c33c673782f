"""Oracles: exact or perfect-foresight optima of the suite's environments, solved with HiGHS.

* :func:`metaverse_slot_milp`: slots of ``MetaverseOffload`` do not interact, so the optimum of
  each slot, a multiple-choice knapsack MILP over (server, denoising steps, resource blocks) per
  user with one capacity row per server and one for the resource blocks, is the episode optimum.
* :func:`datacenter_lp`: ``DataCenter`` couples slots through the backlog; with the day's signals
  known in advance the optimum is an LP over job flows (the setpoint separates).
* :func:`energy_internet_lp`: ``EnergyInternet`` couples slots through storage and EV deadlines;
  perfect-foresight LP with charge and discharge split (an upper bound, attained in practice).

:class:`OraclePolicy` turns them into a policy that acts in a :class:`~lowcarbon.envs.core.CoreEnv`:
it reads the episode drawn at ``reset`` from the env's core (perfect foresight is the point of an
oracle) and returns actions that the env decodes back to the optimal decisions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from .carbon import J_PER_KWH
from .core import CoreEnv
from .data_center import SETPOINT_MAX_C, SETPOINT_MIN_C, DataCenterCore
from .energy_internet import EnergyInternetCore
from .metaverse_offload import MetaverseOffloadCore


class OracleError(RuntimeError):
    """HiGHS did not return an optimal solution."""


@dataclass
class SlotDecision:
    """Optimal decisions of one metaverse slot: per user (U,) arrays and the slot's reward."""

    choice: np.ndarray  # 0 = reject, s + 1 = server s
    level: np.ndarray  # index into the step levels
    blocks: np.ndarray  # resource blocks
    value: float


def metaverse_slot_milp(core: MetaverseOffloadCore, b: int = 0) -> SlotDecision:
    """Exact optimum of copy ``b`` at the core's current slot (MILP, HiGHS).

    Each active user picks at most one option (server s, step level k, blocks n >= 1) worth
    ``v = w_q q(k) - w_lat late - w_co2 g CO2``, or rejection worth ``-w_reject``. Rows: one
    choice per user, ``sum n <= M``, and ``sum steps <= capacity_s`` per server, so no server
    overloads. Options no better than rejecting are dropped before solving (they use resources and
    gain nothing), which keeps the MILP small without changing its optimum.
    """
    p, t = core.p, core.t
    U, S, M = core.U, core.S, core.M
    active = core.active[b, t]
    steps = core.levels  # (K,)
    tau = core.tau_ext[1:]
    power = core.power_ext[1:]
    compute_s = steps[None, :] * tau[:, None]  # (S,K)
    latency = (
        core.t_up[b, t, :, None, None, 1:]
        + core.backhaul_ext[1:][None, :, None, None]
        + compute_s[None, :, :, None]
    )  # (U,S,K,M)
    dl = core.deadline[b, t][:, None, None, None]
    late = np.maximum(latency - dl, 0.0) / dl
    co2_gpu = compute_s * power[:, None] / J_PER_KWH * core.ci_srv[b, t][:, None]  # (S,K) kg
    co2_up = core.e_up[b, t, :, 1:] / J_PER_KWH * core.ci_cell[b, t]  # (U,M) kg
    co2 = co2_gpu[None, :, :, None] + co2_up[:, None, None, :]
    value = (
        p.w_quality * core.quality_levels[None, None, :, None]
        - p.w_latency * late
        - p.w_carbon_per_g * 1000.0 * co2
    )
    gain = value + p.w_reject  # improvement over rejecting
    keep = (gain > 1e-12) & active[:, None, None, None]
    uu, ss, kk, nn = np.nonzero(keep)
    base = -p.w_reject * float(active.sum())
    choice = np.zeros(U, np.int64)
    level = np.zeros(U, np.int64)
    blocks = np.zeros(U, np.int64)
    if uu.size == 0:
        return SlotDecision(choice, level, blocks, base)
    g = gain[uu, ss, kk, nn]
    n_var = g.size
    cols = np.arange(n_var)
    rows_user = sp.csr_array((np.ones(n_var), (uu, cols)), shape=(U, n_var))
    row_blocks = sp.csr_array(((nn + 1).astype(float), (np.zeros(n_var, int), cols)), (1, n_var))
    rows_cap = sp.csr_array((steps[kk], (ss, cols)), shape=(S, n_var))
    A = sp.vstack([rows_user, row_blocks, rows_cap]).tocsr()
    ub = np.r_[np.ones(U), M, np.asarray(p.capacity_steps, float)]
    res = milp(
        c=-g,
        integrality=np.ones(n_var),
        bounds=Bounds(0, 1),
        constraints=LinearConstraint(A, -np.inf, ub),
        options={"mip_rel_gap": 0.0},
    )
    if res.status != 0 or res.x is None:
        raise OracleError(f"metaverse slot MILP failed: {res.message}")
    chosen = np.flatnonzero(res.x > 0.5)
    choice[uu[chosen]] = ss[chosen] + 1
    level[uu[chosen]] = kk[chosen]
    blocks[uu[chosen]] = nn[chosen] + 1
    # Blocks the solver left idle (their gain is below its tolerance) go to an admitted user: the
    # env always hands out all M blocks, and more blocks never hurt (faster, less upload energy).
    admitted = np.flatnonzero(choice > 0)
    if admitted.size:
        blocks[admitted[0]] += M - blocks.sum()
    return SlotDecision(choice, level, blocks, base - float(res.fun))


@dataclass
class DataCenterPlan:
    """Perfect-foresight plan of one copy: batch MWh per (slot, site), setpoints, and its return."""

    run_mwh: np.ndarray  # (H, N)
    setpoint_c: np.ndarray  # (H, N)
    value: float


def datacenter_lp(core: DataCenterCore, b: int = 0) -> DataCenterPlan:
    """Perfect-foresight optimum of copy ``b`` over its episode (LP, HiGHS).

    Each slot's arrivals form one job class ``a`` with one deadline ``due[a]``. Variables
    ``y[a, t, i] >= 0``: work of class ``a`` run in slot ``t`` (``a <= t <= due[a]``) at site
    ``i``. Rows: ``sum_a y[a, t, i] <= headroom[t, i]`` and ``sum_{t, i} y[a, t, i] <= A_a``; what
    a class does not get is dropped at ``drop_penalty``. For fixed per-slot totals, earliest
    deadline first (what the env does) drops no more than any other assignment, so the env
    replaying the LP's totals attains the LP optimum: the oracle is exact for this action space.
    The setpoint multiplies a positive cost per MWh and is chosen per site-slot by
    :meth:`DataCenterCore.best_setpoint`.
    """
    p, H, N = core.p, core.horizon, core.N
    setpoint, mult = core.best_setpoint()
    setpoint, mult = setpoint[b], mult[b]
    per_mwh = mult * (core.price[b] + p.carbon_price_per_t * core.ci[b]) / p.reward_scale_usd
    const = float((core.interactive_mw[b] * core.slot_h * per_mwh).sum())
    arrivals, due = core.arrivals[b], core.due[b]
    cls, slot = zip(*[(a, t) for a in range(H) for t in range(a, due[a] + 1)], strict=True)
    cls = np.repeat(np.asarray(cls), N)
    slot = np.repeat(np.asarray(slot), N)
    site = np.tile(np.arange(N), cls.size // N)
    n_var = cls.size
    cols = np.arange(n_var)
    drop = p.drop_penalty_per_mwh / p.reward_scale_usd
    c = per_mwh[slot, site] - drop  # serving a MWh also avoids its drop penalty
    A_ub = sp.vstack(
        [
            sp.csr_array((np.ones(n_var), (slot * N + site, cols)), shape=(H * N, n_var)),
            sp.csr_array((np.ones(n_var), (cls, cols)), shape=(H, n_var)),
        ]
    ).tocsr()
    b_ub = np.r_[core.headroom[b].reshape(-1), arrivals]
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=(0, None), method="highs")
    if res.status != 0:
        raise OracleError(f"data-centre LP failed: {res.message}")
    run = np.zeros((H, N))
    np.add.at(run, (slot, site), np.maximum(res.x, 0.0))
    value = -(float(res.fun) + drop * float(arrivals.sum()) + const)
    return DataCenterPlan(run, setpoint, value)


@dataclass
class EnergyInternetPlan:
    """Perfect-foresight plan of one copy: battery kW (+ charge), EV kW, curtailed kW, (H, N)."""

    battery_kw: np.ndarray
    ev_kw: np.ndarray
    curtail_kw: np.ndarray
    value: float


def energy_internet_lp(core: EnergyInternetCore, b: int = 0) -> EnergyInternetPlan:
    """Perfect-foresight optimum of copy ``b`` over its episode (LP, HiGHS).

    Per (slot, prosumer): charge ``c``, discharge ``d``, EV power ``e``, curtailment ``r``, import
    ``g+`` and export ``g-`` (kW); per slot the feeder overload ``o``; per prosumer the unmet EV
    energy ``u``; states of charge ``soc[t, i]`` for t = 1..H. Rows: power balance
    ``g+ - g- = load + e + c - d - renewable + r``; storage ``soc_t = soc_{t-1} + (eta_c c -
    d / eta_d) dt``; EV energy ``sum e dt <= demand``, ``u >= demand - sum e dt``; overload
    ``o >= +-sum_i (g+ - g-) - limit``. Splitting the battery into ``c`` and ``d`` relaxes the
    env's signed action, so the value is an upper bound; since simultaneous charge and discharge
    only loses energy and pays degradation while curtailment is free, the optimum does not use it
    and the replayed plan attains the bound.
    """
    p, H, N, dt = core.p, core.horizon, core.N, core.dt
    HN = H * N
    # Variable blocks, each (H, N) flattened t-major, then o (H), u (N), soc (H, N).
    blocks = ["c", "d", "e", "r", "gp", "gm"]
    off = {k: i * HN for i, k in enumerate(blocks)}
    off["o"] = 6 * HN
    off["u"] = off["o"] + H
    off["soc"] = off["u"] + N
    n_var = off["soc"] + HN
    idx = np.arange(HN)
    t_of = idx // N
    i_of = idx % N

    def block(name: str, coef: float | np.ndarray, rows: np.ndarray, n_rows: int) -> sp.csr_array:
        data = np.broadcast_to(np.asarray(coef, float), rows.shape)
        return sp.csr_array((data, (rows, off[name] + idx)), shape=(n_rows, n_var))

    # Equalities: power balance (HN rows) and storage dynamics (HN rows).
    balance = (
        block("gp", 1, idx, HN) + block("gm", -1, idx, HN) + block("e", -1, idx, HN)
        + block("c", -1, idx, HN) + block("d", 1, idx, HN) + block("r", -1, idx, HN)
    )  # fmt: skip
    balance_rhs = (core.load_kw[b] - core.renewable_kw[b]).reshape(-1)
    prev = idx - N  # soc of the previous slot (t >= 1)
    storage = (
        block("soc", 1, idx, HN)
        + block("c", -p.charge_efficiency * dt, idx, HN)
        + block("d", dt / p.discharge_efficiency, idx, HN)
    )
    has_prev = t_of >= 1
    storage = storage + sp.csr_array(
        (-np.ones(has_prev.sum()), (idx[has_prev], off["soc"] + prev[has_prev])),
        shape=(HN, n_var),
    )
    storage_rhs = np.where(has_prev, 0.0, core.soc[b][i_of] if core.t == 0 else np.nan)
    if core.t != 0:
        raise ValueError(
            "energy_internet_lp plans from the start of an episode: call it after reset"
        )
    # Inequalities: EV energy (2N rows), feeder overload (2H rows).
    ev_sum = sp.csr_array((np.full(HN, dt), (i_of, off["e"] + idx)), shape=(N, n_var))
    unmet = sp.csr_array((-np.ones(N), (np.arange(N), off["u"] + np.arange(N))), shape=(N, n_var))
    flow = sp.csr_array(
        (
            np.r_[np.ones(HN), -np.ones(HN)],
            (np.r_[t_of, t_of], np.r_[off["gp"] + idx, off["gm"] + idx]),
        ),
        shape=(H, n_var),
    )
    over = sp.csr_array((-np.ones(H), (np.arange(H), off["o"] + np.arange(H))), shape=(H, n_var))
    A_ub = sp.vstack([ev_sum, -ev_sum + unmet, flow + over, -flow + over]).tocsr()
    demand = core.ev_demand[b]
    b_ub = np.r_[demand, -demand, np.full(2 * H, p.feeder_limit_kw)]
    # Bounds.
    lo = np.zeros(n_var)
    hi = np.full(n_var, np.inf)
    hi[off["c"] + idx] = core.p_bat[i_of]
    hi[off["d"] + idx] = core.p_bat[i_of]
    hi[off["e"] + idx] = core.p_ev[i_of] * core.ev_present[b].reshape(-1)
    hi[off["r"] + idx] = core.renewable_kw[b].reshape(-1)
    hi[off["soc"] + idx] = core.cap_kwh[i_of]
    # Objective ($ / reward_scale), minimised.
    s = p.reward_scale_usd
    imp_cost = (core.import_price[b] + p.carbon_price_per_t / 1000.0 * core.ci[b])[t_of] * dt
    c = np.zeros(n_var)
    c[off["gp"] + idx] = imp_cost / s
    c[off["gm"] + idx] = -core.export_price[b][t_of] * dt / s
    c[off["c"] + idx] = p.degradation_usd_per_kwh * dt / s
    c[off["d"] + idx] = p.degradation_usd_per_kwh * dt / s
    c[off["o"] : off["o"] + H] = p.overload_penalty_usd_per_kwh * dt / s
    c[off["u"] : off["u"] + N] = p.ev_unmet_penalty_usd_per_kwh / s
    res = linprog(
        c,
        A_ub=A_ub,
        b_ub=b_ub,
        A_eq=sp.vstack([balance, storage]).tocsr(),
        b_eq=np.r_[balance_rhs, storage_rhs],
        bounds=np.c_[lo, hi],
        method="highs",
    )
    if res.status != 0:
        raise OracleError(f"energy-internet LP failed: {res.message}")
    x = res.x
    get = lambda k: x[off[k] + idx].reshape(H, N)  # noqa: E731
    return EnergyInternetPlan(get("c") - get("d"), get("e"), get("r"), -float(res.fun))


class OraclePolicy:
    """Acts optimally in a suite env given perfect knowledge of the episode drawn at reset.

    Call :meth:`reset` after each ``env.reset`` and :meth:`act` before each ``env.step``.
    ``bound`` holds the oracle's value for the episode (the LP/MILP optimum; for the metaverse the
    sum of per-slot optima, accumulated as the episode goes).
    """

    def __init__(self, env: CoreEnv) -> None:
        self.env = env.unwrapped if hasattr(env, "unwrapped") else env
        self.core = self.env.core
        self.bound = 0.0
        self._plan: DataCenterPlan | EnergyInternetPlan | None = None

    def reset(self) -> None:
        core = self.core
        self.bound = 0.0
        if isinstance(core, DataCenterCore):
            self._plan = datacenter_lp(core)
            self.bound = self._plan.value
        elif isinstance(core, EnergyInternetCore):
            self._plan = energy_internet_lp(core)
            self.bound = self._plan.value
        elif not isinstance(core, MetaverseOffloadCore):
            raise TypeError(f"no oracle for {type(core).__name__}")

    def act(self, obs: np.ndarray | None = None) -> np.ndarray:
        core, t = self.core, self.core.t
        if isinstance(core, MetaverseOffloadCore):
            d = metaverse_slot_milp(core)
            self.bound += d.value
            return core.encode(d.choice[None], d.level[None], d.blocks[None])[0].astype(np.float32)
        plan = self._plan
        if isinstance(plan, DataCenterPlan):
            run = plan.run_mwh[t]
            total = core.backlog[0].sum()
            served = run.sum()
            rho = min(served / total, 1.0) if total > 0 else 0.0
            w = run / served if served > 0 else np.full(core.N, 1.0 / core.N)
            span = SETPOINT_MAX_C - SETPOINT_MIN_C
            sp_a = 2.0 * (plan.setpoint_c[t] - SETPOINT_MIN_C) / span - 1.0
            return np.r_[2 * rho - 1, 2 * w - 1, sp_a].astype(np.float64)
        assert isinstance(plan, EnergyInternetPlan)
        bat = np.divide(plan.battery_kw[t], core.p_bat, out=np.zeros(core.N), where=core.p_bat > 0)
        ev = np.divide(plan.ev_kw[t], core.p_ev, out=np.zeros(core.N), where=core.p_ev > 0)
        ren = core.renewable_kw[0, t]
        cur = np.divide(plan.curtail_kw[t], ren, out=np.zeros(core.N), where=ren > 1e-12)
        return np.clip(np.r_[bat, 2 * ev - 1, 2 * cur - 1], -1.0, 1.0)
