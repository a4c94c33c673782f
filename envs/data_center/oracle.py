"""Perfect-foresight oracle of :class:`~.env.DataCenterEnv`: one MILP over the day (HiGHS).

For copy ``b`` at the start of its episode (slot ``t``, site ``i``, setpoint level ``l``):

* ``y[a,t,i] >= 0``: batch work of class ``a`` (arrived in slot ``a``) run in slot ``t`` at site
  ``i`` (``a <= t <= due[a]``), ``sum_{t,i} y[a,t,i] <= A_a``, the rest dropped;
* ``z[t,i,l]`` binary, one setpoint per site and slot; ``x[t,i,l] >= 0`` the batch work run at
  that setpoint (``x <= headroom * z``, ``sum_l x = sum_a y``); ``c[t,i,l] >= 0`` the chiller
  energy, ``COP_l c >= Q_l - free_l z`` with the heat ``Q_l`` linear in ``z`` and ``x``.

For a fixed setpoint the facility energy is convex piecewise linear in the work run (the
chiller only takes the heat above the economiser's capacity), so with one binary per setpoint
the program is the env's cost exactly. The objective is the env's reward summed over the day;
earliest deadline first replays the plan's per-slot totals without dropping more, so the env
attains the optimum (tests) whenever the plan drops nothing the env would run (dropping is
dearer than running below 300 $/MWh and 1 kg/kWh: every synthetic region).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backlog import add_job_flows
from ..oracles import Program
from .env import SETPOINTS_C, DataCenterCore, Decision, encode


@dataclass
class DataCenterPlan:
    """The oracle's day: batch MWh per (slot, site) ``run_mwh`` (H, N), setpoint levels
    ``setpoint`` (H, N); ``value``, the plan's return, and ``bound``, HiGHS's proof that no plan
    returns more (the gap is at most 1e-6 of HiGHS's objective)."""

    run_mwh: np.ndarray
    setpoint: np.ndarray
    value: float
    bound: float

    def action(self, core: DataCenterCore) -> np.ndarray:
        t = core.t
        return encode(core, Decision(self.run_mwh[t][None], self.setpoint[t][None]))[0]


def solve(core: DataCenterCore, b: int = 0) -> DataCenterPlan:
    """Plan copy ``b`` of ``core`` (at the start of its episode) with perfect foresight."""
    if core.t != 0:
        raise ValueError("the data-centre oracle plans from the start of an episode")
    p, H, N, dt = core.p, core.horizon, core.N, core.slot_h
    L = len(SETPOINTS_C)
    s = p.reward_scale_usd
    prog = Program()
    # serving a MWh avoids its drop penalty, or the terminal cost if it is due after the day
    late = core.due[b] > H - 1
    gain = np.where(late, core.leftover_usd_per_mwh[b], p.drop_penalty_per_mwh) / s
    y, slot = add_job_flows(prog, core.arrivals[b], core.due[b], N, gain)
    # per (t, i, l): price of a MWh of facility energy, heat and economiser terms
    usd = (core.price[b] + p.carbon_price_per_t * core.ci[b])[..., None] / s  # (H,N,1)
    cap = core.cap[None, :, None]
    temp = core.temp[b][..., None]
    fan = core.fan[None, None, :]
    interactive = core.interactive_mw[b][..., None] * dt
    base = p.idle_fraction * cap * dt + (1 - p.idle_fraction) * interactive
    free = p.economizer_mw_per_c * cap * dt * np.maximum(SETPOINTS_C - p.economizer_approach_c
                                                          - temp, 0.0)  # fmt: skip
    evap = SETPOINTS_C - p.chiller_approach_c
    cop = (
        p.chiller_carnot_fraction
        * (evap + 273.15)
        / np.maximum(temp + p.chiller_approach_c - evap, 5.0)
    )  # (H,N,L)
    grow = 1.0 - p.idle_fraction  # IT energy per MWh of work
    elec = 1.0 + fan + p.aux_fraction  # facility energy per MWh of IT, chiller aside
    z = prog.variables((H, N, L), ub=1.0, gain=-usd * base * elec, integer=True)
    x = prog.variables((H, N, L), gain=-usd * grow * elec)
    c = prog.variables((H, N, L), gain=-usd)
    one = prog.constraints(1.0, 1.0, (H, N))
    prog.coefficients(one[..., None], z)
    room = prog.constraints(-np.inf, 0.0, (H, N, L))  # x <= headroom z
    prog.coefficients(room, x)
    prog.coefficients(room, z, -np.broadcast_to(core.headroom[b][..., None], (H, N, L)))
    total = prog.constraints(0.0, 0.0, (H, N))  # sum_l x = sum_a y
    prog.coefficients(total[..., None], x)
    prog.coefficients(total[slot], y, -1.0)
    chill = prog.constraints(-np.inf, 0.0, (H, N, L))  # Q - free z - COP c <= 0
    prog.coefficients(chill, z, base * (1.0 + fan) - free)
    prog.coefficients(chill, x, np.broadcast_to(grow * (1.0 + fan), (H, N, L)))
    prog.coefficients(chill, c, -cop)
    sol, value = prog.solve()
    run = np.zeros((H, N))
    np.add.at(run, slot, sol[y])
    level = sol[z].reshape(H, N, L).argmax(-1)
    return DataCenterPlan(np.minimum(run, core.headroom[b]), level, value, prog.bound)
