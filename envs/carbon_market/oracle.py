"""The social optimum of :class:`~.env.CarbonMarketEnv`: one central LP over the day (HiGHS).

For copy ``b`` at the start of its episode, per slot ``t`` and prosumer ``i``: battery charge
``c`` and discharge ``d`` (kW) and the state of charge ``soc`` (kWh, end of slot); per slot the
community's grid import ``g+`` and export ``g-`` (kWh); one pooled shortfall ``s`` (kg). Rows:
balance ``g+ - g- - sum_i (c - d) dt = sum_i (load - renewable) dt``; storage ``soc_t =
soc_{t-1} + (eta_c c - d / eta_d) dt``; cap ``sum_t intensity_t g+_t - s <= cap_kg``. The
objective is the welfare, the sum of the agents' rewards (payments between agents cancel):
``-p_imp g+ + p_exp g- - degradation + v (soc_H - soc0) - penalty s``.

It relaxes the game three ways, so its value bounds the welfare of every joint play: the
community nets its positions (the auction clears at most that), the battery's signed power is
split into ``c`` and ``d``, and the cap is pooled (each agent's own shortfall adds up to at
least the pooled one). The relaxations are tight at the optimum: with ``p_imp > p_exp`` it
never imports and exports at once, charging and discharging together only loses energy, and
allowances can be passed to whoever owes them. :class:`SocialOptimumPolicy` replays the plan.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from ..oracles import Program
from .env import KG_PER_T, CarbonMarketCore


@dataclass
class MarketPlan:
    """The social optimum of one day: ``battery_kw`` (H, N), + charges; the community's
    ``import_kwh`` and ``export_kwh`` (H,), ``shortfall_kg`` and ``co2_kg``; ``value``, the
    optimal welfare (an upper bound on every joint play's) and ``bound`` (equal to it: an LP)."""

    battery_kw: np.ndarray
    import_kwh: np.ndarray
    export_kwh: np.ndarray
    shortfall_kg: float
    co2_kg: float
    value: float
    bound: float


def solve(core: CarbonMarketCore, b: int = 0, cap: bool = True) -> MarketPlan:
    """Plan copy ``b`` of ``core`` (at the start of its episode) with perfect foresight; with
    ``cap=False`` the cap is lifted (to measure whether it binds)."""
    if core.t != 0:
        raise ValueError("the carbon-market oracle plans from the start of an episode")
    p, H, N, dt = core.p, core.horizon, core.N, core.dt
    s = p.reward_scale_usd
    prog = Program()
    deg = p.degradation_usd_per_kwh * dt / s
    c = prog.variables((H, N), ub=core.p_bat, gain=-deg)
    d = prog.variables((H, N), ub=core.p_bat, gain=-deg)
    last = np.zeros((H, N))
    last[-1] = core.storage_value[b] / s
    soc = prog.variables((H, N), ub=core.cap_kwh, gain=last)
    prog.offset -= float(core.storage_value[b] * core.soc0[b].sum()) / s
    gp = prog.variables(H, gain=-core.import_price[b] / s)
    gm = prog.variables(H, gain=core.export_price[b] / s)
    rhs = ((core.load_kw[b] - core.renewable_kw[b]) * dt).sum(1)
    balance = prog.constraints(rhs, rhs)
    prog.coefficients(balance, gp)
    prog.coefficients(balance, gm, -1.0)
    prog.coefficients(balance[:, None], c, -dt)
    prog.coefficients(balance[:, None], d, dt)
    prog.storage(soc, c, d, core.soc0[b], p.charge_efficiency, p.discharge_efficiency, dt)
    short = prog.variables(1, gain=-p.penalty_usd_per_t / KG_PER_T / s)
    if cap:
        row = prog.constraints(-np.inf, p.cap_kg, 1)
        prog.coefficients(row[0], gp, core.ci[b])
        prog.coefficients(row, short, -1.0)
    x, value = prog.solve()
    return MarketPlan(x[c] - x[d], x[gp], x[gm], float(x[short][0]), float(x[gp] @ core.ci[b]),
                      value, prog.bound)  # fmt: skip


class SocialOptimumPolicy:
    """The central planner: replays the social optimum's batteries, asks and bids every energy
    position at the mid price (every possible peer trade clears), and passes allowances each
    slot from agents that hold them to agents that owe them (it previews the slot on a copy of
    the core). Acts jointly: :meth:`act` returns the (N, 4) actions of all agents.

    ``bound`` is the plan's value after :meth:`reset`, the welfare no joint play beats.
    """

    name = "oracle"

    def __init__(self, env) -> None:
        self.env = env.unwrapped if hasattr(env, "unwrapped") else env
        self.core: CarbonMarketCore = self.env.core
        self.plan: MarketPlan | None = None
        self.bound = float("nan")

    def reset(self) -> None:
        self.plan = solve(self.core, 0)
        self.bound = self.plan.value

    def act(self, obs: object = None) -> np.ndarray:
        if self.plan is None:
            raise RuntimeError("call reset() after env.reset() before act()")
        core, N = self.core, self.core.N
        t = core.t
        bat = np.divide(self.plan.battery_kw[t], core.p_bat, out=np.zeros(N),
                        where=core.p_bat > 0)  # fmt: skip
        joint = np.zeros((N, 4))
        joint[:, 0] = np.clip(bat, -1.0, 1.0)
        # preview this slot's emissions: step a copy with no allowance trade
        preview = copy.deepcopy(core)
        preview.step(joint[None].copy())
        held = preview.bank[0]
        owed = np.maximum(-held, 0.0)
        spare = np.maximum(held, 0.0)
        q = np.where(owed > 0, owed, -spare) / max(core.p.max_trade_kg, 1e-12)
        joint[:, 2] = np.clip(q, -1.0, 1.0)
        joint[:, 3] = np.where(owed > 0, 1.0, -1.0)  # buyers bid the most, holders ask the least
        return joint


__all__ = ["MarketPlan", "SocialOptimumPolicy", "solve"]
