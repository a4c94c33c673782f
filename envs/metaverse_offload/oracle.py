"""Perfect-foresight oracle of :class:`~.env.MetaverseOffloadEnv`: one MILP over the day (HiGHS).

Variables, for copy ``b`` of a core at the start of its episode (slot ``t``, user ``u``, site
``s``, step level ``k``, batch job class ``a`` = the slot it arrived in):

* ``z[t,u,k]`` binary: user ``u`` runs level ``k`` in slot ``t`` (one per user and slot);
* ``f[t,u,s,k] >= 0``: share of the user's requests served on time at site ``s`` when the user's
  level is ``k`` (the site runs the highest level up to ``k`` that meets the deadline; only
  where one does); ``sum_s f[t,u,s,k] <= z[t,u,k]``; the rest is missed (in the env: routed
  where no level meets the deadline, or dropped by a full site);
* ``y[a,t,s] >= 0``: batch steps of class ``a`` run in slot ``t`` (``a <= t <= due[a]``) at ``s``;
  ``sum_{t,s} y[a,t,s] <= A_a``, the remainder dropped;
* per site and slot: battery charge ``c`` and discharge ``d`` (kW), state of charge ``soc``
  (kWh, end of slot), grid import ``g`` (kWh).

Rows: capacity ``sum n k f + sum_a y <= C_s``; storage ``soc_t = soc_{t-1} + (eta_c c - d / eta_d)
dt``; import ``g >= site energy + (c - d) dt - PV``. The objective is the env's reward summed
over the day, terminal value included, so the optimum bounds the return of every policy. The
env's signed battery action is relaxed into ``c`` and ``d``; charging and discharging at once
only loses energy, so the optimum never does, and the env replays the plan exactly (for fixed
per-slot batch totals, earliest deadline first drops no more than the plan's class flows). Levels
and routes are exact: the env decides one level per user and slot and routes in fractions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backlog import add_job_flows
from ..carbon import G_PER_KG
from ..oracles import Program
from .env import Decision, MetaverseOffloadCore, encode


@dataclass
class MetaversePlan:
    """The oracle's day: per slot ``level`` (H, U), ``route`` (H, U, S), ``batch_steps`` (H, S),
    ``battery_kw`` (H, S); ``value``, the plan's return, and ``bound``, HiGHS's proof that no plan
    returns more (the gap is at most 1e-6 of HiGHS's objective unless the time limit stopped it)."""

    level: np.ndarray
    route: np.ndarray
    batch_steps: np.ndarray
    battery_kw: np.ndarray
    value: float
    bound: float

    def action(self, core: MetaverseOffloadCore) -> np.ndarray:
        t = core.t
        d = Decision(self.level[t][None], self.route[t][None], self.batch_steps[t][None],
                     self.battery_kw[t][None])  # fmt: skip
        return encode(core, d)[0]


def solve(core: MetaverseOffloadCore, b: int = 0, time_limit: float = 120.0) -> MetaversePlan:
    """Plan copy ``b`` of ``core`` (at the start of its episode) with perfect foresight."""
    if core.t != 0:
        raise ValueError("the metaverse oracle plans from the start of an episode")
    p, H, U, S, K = core.p, core.horizon, core.U, core.S, core.K
    ref, dt = p.requests_ref, core.dt_h
    w_g = p.w_carbon_per_g * G_PER_KG / ref  # reward per kg CO2
    prog = Program()
    n = core.n_req[b]  # (H, U)
    # -- interactive: levels and on-time routes --
    z = prog.variables((H, U, K), ub=np.where(n[..., None] > 0, 1.0, 0.0), integer=True)
    one = prog.constraints(np.where(n > 0, 1.0, 0.0), np.where(n > 0, 1.0, 0.0))
    prog.coefficients(one[..., None], z)
    eff = np.stack([core.effective_level(b, t) for t in range(H)])  # (H, U, S, K)
    tt, uu, ss, kk = np.nonzero((eff >= 0) & (n[:, :, None, None] > 0))
    ek = eff[tt, uu, ss, kk]  # the level the site runs
    served = n[tt, uu] * (p.w_quality * core.quality[ek] + p.w_miss) / ref
    f = prog.variables(tt.size, ub=1.0, gain=served)
    prog.offset -= p.w_miss * n.sum() / ref  # every request counts as missed unless served
    link = prog.constraints(-np.inf, 0.0, (H, U, K))
    prog.coefficients(link[tt, uu, kk], f)
    prog.coefficients(link, z, -1.0)
    # -- batch: class flows --
    # a step served within the day avoids the drop penalty, or the terminal cost of running it
    # tomorrow if it is due after the day
    late = core.batch_due[b] > H - 1
    w_late = w_g * core.leftover_kg_per_step[b]  # run tomorrow, under a fresh allowance
    gain = np.where(late, w_late, p.w_batch_drop_per_kstep / 1000.0 / ref)
    y, slot = add_job_flows(prog, core.batch_arrivals[b], core.batch_due[b], S, gain)
    # -- capacity --
    cap = prog.constraints(-np.inf, np.broadcast_to(core.cap, (H, S)))
    prog.coefficients(cap[tt, ss], f, n[tt, uu] * core.levels[ek])
    prog.coefficients(cap[slot], y)
    # -- batteries and grid import --
    c = prog.variables((H, S), ub=core.bat_kw)
    d = prog.variables((H, S), ub=core.bat_kw)
    soc = prog.variables((H, S), ub=core.bat_kwh)
    # end below the starting charge: the shortfall is bought back at the allowance's price and
    # the day's mean intensity of the site
    w_end = (p.w_carbon_per_g + p.w_excess_per_g) * G_PER_KG / ref
    short = prog.variables(S, gain=-w_end * core.ci_end[b])
    end = prog.constraints(core.soc0[b], np.inf)  # soc_H + short >= soc0
    prog.coefficients(end, soc[-1])
    prog.coefficients(end, short)
    prog.storage(soc, c, d, core.soc0[b], p.charge_efficiency, p.discharge_efficiency, dt)
    g = prog.variables((H, S), gain=-w_g * core.ci[b])
    kwh_step = core.site_kwh_per_step()  # (S,)
    idle = core.idle_kwh * core.pue
    imp = prog.constraints(-np.inf, core.pv_kw[b] * dt - idle)
    prog.coefficients(imp[tt, ss], f, n[tt, uu] * core.levels[ek] * kwh_step[ss])
    prog.coefficients(imp[slot], y, kwh_step)
    prog.coefficients(imp, c, dt)
    prog.coefficients(imp, d, -dt)
    prog.coefficients(imp, g, -1.0)
    # emissions beyond the day's allowance
    over = prog.variables(1, gain=-p.w_excess_per_g * G_PER_KG / ref)
    cap_row = prog.constraints(-np.inf, p.carbon_allowance_kg, 1)
    prog.coefficients(cap_row[0], g, core.ci[b])
    prog.coefficients(cap_row, over, -1.0)
    x, value = prog.solve(time_limit=time_limit)
    bound = prog.bound
    # -- the plan in physical terms --
    zv = x[z].reshape(H, U, K)
    level = np.where(n > 0, zv.argmax(-1), (K - 1) // 2)
    route = np.zeros((H, U, S))
    on = kk == level[tt, uu]
    np.add.at(route, (tt[on], uu[on], ss[on]), x[f][on])
    idle_users = n <= 0
    route[idle_users] = core.cap_share
    batch = np.zeros((H, S))
    np.add.at(batch, slot, x[y])
    return MetaversePlan(level, np.clip(route, 0.0, 1.0), batch, x[c] - x[d], value, bound)
