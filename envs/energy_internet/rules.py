"""Rule-based policies for :class:`~.env.EnergyInternetEnv` (current slot only, no look-ahead)."""

from __future__ import annotations

import numpy as np

from .. import signals
from ..policy import Policy
from .env import Decision, EnergyInternetCore, encode


class CarbonGreedyPolicy(Policy):
    """The strongest rule we could write: a carbon- and price-aware self-consumption controller.

    With ``cost`` = import price + carbon price x intensity now, against its long-run mean:

    * **Battery**: store surplus renewables; charge from the grid at full power while the cost is
      at least 20 % below the mean; discharge to cover the household's own deficit while it is
      at least 10 % above; otherwise idle.
    * **EV**: full power while the cost is below the mean; otherwise what the surplus
      renewables cover, but at least the pace that just meets the departure (never late).
    * **Curtailment**: only when exporting would earn less than nothing, and only what the
      battery cannot take.
    * **Feeder**: if the planned net flow exceeds the feeder limit, charging (battery first, then
      EVs above their pace) is scaled back to fit.
    """

    name = "carbon_greedy"

    def act(self, obs: np.ndarray | None = None) -> np.ndarray:
        core: EnergyInternetCore = self.core
        p, t, N, dt = core.p, core.t, core.N, core.dt
        mean_price = signals.PRICE_SHAPES[core.market][0] / 1000.0 + p.network_charge_usd_per_kwh
        mean_cost = mean_price + p.carbon_price_per_t / 1000.0 * core.source.mean_kg_per_kwh
        cost = core.import_price[0, t] + p.carbon_price_per_t / 1000.0 * core.ci[0, t]
        surplus = core.renewable_kw[0, t] - core.load_kw[0, t]  # kW, per prosumer
        soc = core.soc[0]
        room = (core.cap_kwh - soc) / (p.charge_efficiency * dt)  # kW the battery can take
        avail = soc * p.discharge_efficiency / dt  # kW it can give
        here = core.ev_present[0, t]
        need = np.maximum(core.ev_need[0], 0.0)
        top = np.where(here, np.minimum(core.p_ev, need / dt), 0.0)
        pace = np.minimum(need / (np.maximum(core.ev_depart[0] - t, 1) * dt), top)
        # full power while the grid is cheap; else what the surplus covers, at least the pace
        ev = np.where(cost < mean_cost, top, np.clip(surplus, pace, top))
        spare = surplus - ev  # what is left for the battery (kW), < 0 is a deficit
        bat = np.where(spare > 0, np.minimum(spare, np.minimum(core.p_bat, room)), 0.0)
        bat = np.where((spare <= 0) & (cost < 0.8 * mean_cost), np.minimum(core.p_bat, room), bat)
        cover = np.minimum(np.minimum(-spare, core.p_bat), avail)
        bat = np.where((spare <= 0) & (cost > 1.1 * mean_cost), -cover, bat)
        curtail = np.zeros(N)
        if core.export_price[0, t] < 0:
            curtail = np.clip(spare - bat, 0.0, core.renewable_kw[0, t])
        net = core.load_kw[0, t] + ev + bat - core.renewable_kw[0, t] + curtail
        over = net.sum() - p.feeder_limit_kw
        if over > 0:  # scale back charging to respect the feeder
            charge = np.maximum(bat, 0.0)
            cut = min(over, charge.sum())
            if charge.sum() > 0:
                bat = bat - charge * cut / charge.sum()
            over -= cut
            extra = ev - pace
            if over > 0 and extra.sum() > 0:
                ev = ev - extra * min(over / extra.sum(), 1.0)
        return encode(core, Decision(bat[None], ev[None], curtail[None]))[0]


class LatencyGreedyPolicy(Policy):
    """No control: batteries idle, EVs charge at full power on arrival, nothing curtailed."""

    name = "latency_greedy"

    def act(self, obs: np.ndarray | None = None) -> np.ndarray:
        core: EnergyInternetCore = self.core
        N = core.N
        return np.r_[np.zeros(N), np.ones(N), -np.ones(N)]


RULES: dict[str, type[Policy]] = {
    "carbon_greedy": CarbonGreedyPolicy,
    "latency_greedy": LatencyGreedyPolicy,
}
