"""Perfect-foresight oracle of :class:`~.env.EnergyInternetEnv`: one LP over the day (HiGHS).

For copy ``b`` at the start of its episode, per slot ``t`` and prosumer ``i`` (kW): battery
charge ``c`` and discharge ``d``, EV power ``e``, curtailment ``r``, import ``g+`` and export
``g-``; per slot the feeder overload ``o``; per prosumer the unmet EV energy ``u``; states of
charge ``soc[t, i]`` (kWh, end of slot). Rows: power balance ``g+ - g- = load + e + c - d -
renewable + r``; storage ``soc_t = soc_{t-1} + (eta_c c - d / eta_d) dt``; EV energy
``sum e dt <= demand``, ``u >= demand - sum e dt``; overload ``o >= +-sum_i (g+ - g-) - limit``.
The objective is the env's reward over the day, the terminal value of stored energy included.
Splitting the battery into ``c`` and ``d`` relaxes the env's signed action, so the value is an
upper bound; simultaneous charge and discharge only loses energy and pays degradation while
curtailment is free, so the optimum does not use it and the replayed plan attains the bound.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..oracles import Program
from .env import Decision, EnergyInternetCore, encode


@dataclass
class EnergyInternetPlan:
    """The oracle's day, kW per (slot, prosumer): ``battery_kw`` (+ charges), ``ev_kw``,
    ``curtail_kw``; ``value``, the plan's return (the LP optimum, an upper bound the env attains)
    and ``bound`` (equal to it for an LP)."""

    battery_kw: np.ndarray
    ev_kw: np.ndarray
    curtail_kw: np.ndarray
    value: float
    bound: float

    def action(self, core: EnergyInternetCore) -> np.ndarray:
        t = core.t
        d = Decision(self.battery_kw[t][None], self.ev_kw[t][None], self.curtail_kw[t][None])
        return encode(core, d)[0]


def solve(core: EnergyInternetCore, b: int = 0) -> EnergyInternetPlan:
    """Plan copy ``b`` of ``core`` (at the start of its episode) with perfect foresight."""
    if core.t != 0:
        raise ValueError("the Energy-Internet oracle plans from the start of an episode")
    p, H, N, dt = core.p, core.horizon, core.N, core.dt
    s = p.reward_scale_usd
    imp_cost = (core.import_price[b] + p.carbon_price_per_t / 1000.0 * core.ci[b])[:, None] * dt
    deg = p.degradation_usd_per_kwh * dt / s
    prog = Program()
    c = prog.variables((H, N), ub=core.p_bat, gain=-deg)
    d = prog.variables((H, N), ub=core.p_bat, gain=-deg)
    e = prog.variables((H, N), ub=core.p_ev * core.ev_present[b])
    r = prog.variables((H, N), ub=core.renewable_kw[b])
    gp = prog.variables((H, N), gain=-imp_cost / s)
    gm = prog.variables((H, N), gain=core.export_price[b][:, None] * dt / s)
    o = prog.variables(H, gain=-p.overload_penalty_usd_per_kwh * dt / s)
    u = prog.variables(N, gain=-p.ev_unmet_penalty_usd_per_kwh / s)
    last = np.zeros((H, N))
    last[-1] = core.storage_value[b] / s
    soc = prog.variables((H, N), ub=core.cap_kwh, gain=last)
    prog.offset -= float((core.storage_value[b] * core.soc0[b]).sum()) / s
    rhs = core.load_kw[b] - core.renewable_kw[b]
    balance = prog.constraints(rhs, rhs)
    for var, coef in ((gp, 1.0), (gm, -1.0), (e, -1.0), (c, -1.0), (d, 1.0), (r, -1.0)):
        prog.coefficients(balance, var, coef)
    prog.storage(soc, c, d, core.soc0[b], p.charge_efficiency, p.discharge_efficiency, dt)
    demand = core.ev_demand[b]
    ev_max = prog.constraints(-np.inf, demand)
    prog.coefficients(ev_max[None, :], e, dt)
    ev_unmet = prog.constraints(-np.inf, -demand)  # -sum e dt - u <= -demand
    prog.coefficients(ev_unmet[None, :], e, -dt)
    prog.coefficients(ev_unmet, u, -1.0)
    for sign in (1.0, -1.0):  # o >= sign * sum_i (g+ - g-) - limit
        row = prog.constraints(-np.inf, np.full(H, p.feeder_limit_kw))
        prog.coefficients(row[:, None], gp, sign)
        prog.coefficients(row[:, None], gm, -sign)
        prog.coefficients(row, o, -1.0)
    x, value = prog.solve()
    return EnergyInternetPlan(x[c] - x[d], x[e], x[r], value, prog.bound)
