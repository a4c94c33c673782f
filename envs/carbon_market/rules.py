"""Selfish rules of :class:`~.env.CarbonMarketEnv`: each prosumer on its own, myopic.

The welfare they lose against the social optimum is the benchmark's price of anarchy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .env import CarbonMarketCore


class SelfishPolicy:
    """Every prosumer minimises its own bill slot by slot, as a price taker.

    * **Battery**: self-consumption: store its own surplus renewables, cover its own deficit
      from the battery; nothing else (no arbitrage, no look-ahead).
    * **Energy**: bids its deficit at the grid's import price and asks its surplus at the export
      price (its true values; every possible peer trade clears, at the mid price).
    * **Allowances**: buys, at the penalty price, what it would owe after this slot if all its
      deficit came from the grid; offers, at half the penalty, what it holds beyond the
      emissions it expects for the rest of the day at its average so far (net of the allocation
      still to come).

    Acts jointly: :meth:`act` returns the (N, 4) actions of all prosumers.
    """

    name = "selfish"

    def __init__(self, env: Any) -> None:
        self.env = env.unwrapped if hasattr(env, "unwrapped") else env
        self.core: CarbonMarketCore = self.env.core

    def reset(self) -> None:
        self._emitted = np.zeros(self.core.N)

    def act(self, obs: object = None) -> np.ndarray:
        core, p = self.core, self.core.p
        t, dt, H = core.t, core.dt, core.horizon
        surplus = core.renewable_kw[0, t] - core.load_kw[0, t]  # kW
        soc = core.soc[0]
        room = (core.cap_kwh - soc) / (p.charge_efficiency * dt)
        avail = soc * p.discharge_efficiency / dt
        bat = np.where(surplus > 0, np.minimum(surplus, room), -np.minimum(-surplus, avail))
        bat = np.clip(bat, -core.p_bat, core.p_bat)
        net = (core.load_kw[0, t] + bat - core.renewable_kw[0, t]) * dt
        joint = np.zeros((core.N, 4))
        joint[:, 0] = np.divide(bat, core.p_bat, out=np.zeros(core.N), where=core.p_bat > 0)
        joint[:, 1] = np.where(net > 0, 1.0, -1.0)
        # allowances: worst case, this slot's deficit all from the grid
        co2_now = np.maximum(net, 0.0) * core.ci[0, t]
        held = core.bank[0] + core.alloc_kg / H - co2_now
        self._emitted += co2_now
        slots_left = H - t - 1
        expected = self._emitted / (t + 1) * slots_left - core.alloc_kg * slots_left / H
        spare = held - np.maximum(expected, 0.0)
        cap = max(p.max_trade_kg, 1e-12)
        joint[:, 2] = np.clip(np.where(held < 0, -held, -np.maximum(spare, 0.0)) / cap, -1, 1)
        joint[:, 3] = np.where(held < 0, 1.0, 0.0)
        return joint


RULES = {"selfish": SelfishPolicy}
