"""Rule-based policies for :class:`~.env.MetaverseOffloadEnv`.

Both read the current slot from the core in physical units and never look ahead; the forecasts
in the observation are not used (a rule that plans on them would be a model-predictive
controller, not a rule).
"""

from __future__ import annotations

import numpy as np

from ..carbon import G_PER_KG
from ..policy import Policy
from .env import Decision, MetaverseOffloadCore, encode


class CarbonGreedyPolicy(Policy):
    """The strongest rule we could write: deadline-, capacity- and carbon-aware greedy.

    * **Marginal carbon** of a site: 0 while its PV covers its idle draw and the work placed so
      far, else its grid intensity now.
    * **Interactive**: users with the tightest deadline first; each takes the step level and
      site that maximise ``w_quality q(k) - w_carbon g CO2`` per request among feasible options
      with room, then spills to the next-best sites at that level.
    * **Batch**: at least the work due now, and enough that the backlog's later deadlines stay
      within today's spare capacity; beyond that, whatever fits at sites that are clean now (PV
      surplus, or intensity at least 10 % below the region's long-run mean), cleanest first.
    * **Battery**: charge from PV surplus, or from the grid at full power while its intensity is
      25 % below the long-run mean; discharge to cover the site's draw while it is 10 % above;
      otherwise idle.
    """

    name = "carbon_greedy"

    def act(self, obs: np.ndarray | None = None) -> np.ndarray:
        core: MetaverseOffloadCore = self.core
        p, t, U, S = core.p, core.t, core.U, core.S
        kwh_step = core.site_kwh_per_step()
        ci = core.ci[0, t]
        mean = np.array([src.mean_kg_per_kwh for src in core.sources])
        pv = core.pv_kw[0, t] * core.dt_h
        base = core.idle_kwh * core.pue
        free_steps = np.maximum(pv - base, 0.0) / kwh_step  # steps PV can power at no carbon
        room = core.cap.copy()
        eff = core.effective_level(0, t)  # (U, S, K): the level each site would run
        n = core.n_req[0, t]
        # carbon price: the allowance's too once emissions run ahead of a pace that spends it in
        # proportion to the day's expected requests
        spent = np.cumsum(core.diurnal) / core.diurnal.sum()
        ahead = core.co2_kg[0] > p.carbon_allowance_kg * spent[t]
        w_c = p.w_carbon_per_g + (p.w_excess_per_g if ahead else 0.0)
        level = np.full(U, (core.K - 1) // 2)
        route = np.zeros((U, S))
        for u in np.argsort(core.deadline[0], kind="stable"):
            ok = eff[u] >= 0
            if n[u] <= 0 or not ok.any():  # no request, or none can be served on time
                route[u] = core.cap_share
                continue
            steps = np.where(ok, core.levels[np.maximum(eff[u], 0)], 0.0)  # (S, K)
            marg = np.where(free_steps > 0, 0.0, ci)  # kg/kWh
            g = steps * (kwh_step * marg)[:, None] * G_PER_KG
            value = np.where(ok, p.w_quality * core.quality[np.maximum(eff[u], 0)] - w_c * g,
                             -np.inf)  # fmt: skip
            fits = ok & (room[:, None] >= n[u] * steps * 0.999)
            _, k_best = np.unravel_index(
                np.argmax(np.where(fits if fits.any() else ok, value, -np.inf)), value.shape
            )
            level[u] = k_best
            order = [s for s in np.argsort(-value[:, k_best], kind="stable") if ok[s, k_best]]
            for s in order:  # the best site first, spilling to the next while there is room
                take = min(n[u] * (1.0 - route[u].sum()), room[s] / steps[s, k_best])
                if take > 0:
                    route[u, s] += take / n[u]
                    room[s] -= take * steps[s, k_best]
                    free_steps[s] = max(free_steps[s] - take * steps[s, k_best], 0.0)
        # what is left unrouted is missed (the encoder sends it where it cannot be served)
        # batch: due work at the cleanest sites, more where it is clean now
        backlog = core.backlog[0]
        clean = (free_steps > 0) | (ci <= 0.9 * mean)
        marg = np.where(free_steps > 0, 0.0, ci) * kwh_step
        # the least to run now so that, at today's spare capacity, no later deadline is missed
        spare_est = 0.8 * room.sum()
        ahead = np.cumsum(backlog) - np.arange(backlog.size) * spare_est
        want = max(float(backlog[0]), float(ahead.max()))
        batch = np.zeros(S)
        for s in np.argsort(marg, kind="stable"):
            take = min(want, room[s])
            batch[s] += take
            room[s] -= take
            want -= take
        extra = backlog.sum() - batch.sum()
        for s in np.argsort(marg, kind="stable"):
            if clean[s] and extra > 0:
                take = min(extra, room[s])
                batch[s] += take
                room[s] -= take
                extra -= take
        # batteries: store PV surplus and clean grid energy, discharge when the grid is dirty
        site = base + (core.cap - room) * kwh_step  # kWh this slot at each site
        surplus = (pv - site) / core.dt_h  # kW
        bat = np.where(surplus > 0, np.minimum(surplus, core.bat_kw), 0.0)
        bat = np.where((surplus <= 0) & (ci < 0.75 * mean), core.bat_kw, bat)
        dirty = (surplus <= 0) & (ci > 1.1 * mean)
        bat = np.where(dirty, -np.minimum(-surplus, core.bat_kw), bat)
        d = Decision(level[None], route[None], batch[None], bat[None])
        return encode(core, d)[0]


class LatencyGreedyPolicy(Policy):
    """Service first, carbon ignored (the "no-control" operating point).

    Each user asks for the top step level and goes to the fastest site with room, spilling to
    the next fastest (each site runs the highest level that meets the deadline); batch work
    runs as soon as there is room (fastest sites first);
    batteries stay idle.
    """

    name = "latency_greedy"

    def act(self, obs: np.ndarray | None = None) -> np.ndarray:
        core: MetaverseOffloadCore = self.core
        t, U, S = core.t, core.U, core.S
        room = core.cap.copy()
        eff = core.effective_level(0, t)
        n = core.n_req[0, t]
        fastest = np.argsort(core.tau + core.backhaul_s, kind="stable")
        level = np.full(U, core.K - 1)
        route = np.zeros((U, S))
        for u in np.argsort(core.deadline[0], kind="stable"):
            if n[u] <= 0:
                route[u] = core.cap_share
                continue
            for s in fastest:  # the top level (each site runs what meets the deadline)
                k = eff[u, s, -1]
                if k < 0:
                    continue
                take = min(n[u] * (1.0 - route[u].sum()), room[s] / core.levels[k])
                if take > 0:
                    route[u, s] += take / n[u]
                    room[s] -= take * core.levels[k]
        batch = np.zeros(S)
        want = core.backlog[0].sum()
        for s in fastest:
            take = min(want, room[s])
            batch[s] = take
            want -= take
        d = Decision(level[None], route[None], batch[None], np.zeros((1, S)))
        return encode(core, d)[0]


RULES: dict[str, type[Policy]] = {
    "carbon_greedy": CarbonGreedyPolicy,
    "latency_greedy": LatencyGreedyPolicy,
}
