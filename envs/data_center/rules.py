"""Rule-based policies for :class:`~.env.DataCenterEnv` (current slot only, no look-ahead)."""

from __future__ import annotations

import numpy as np

from ..policy import Policy
from .env import SETPOINTS_C, DataCenterCore, Decision, encode


class CarbonGreedyPolicy(Policy):
    """The strongest rule we could write: deadline-, capacity- and carbon-aware greedy.

    * **Cost of a MWh** at a site: price plus carbon price times intensity, now.
    * **Batch amount**: the work due now, plus enough that the backlog's later deadlines stay
      within the room the coming slots are expected to have (capacity minus the mean interactive
      load of the model's daily profile, less 10 %) after the work expected to arrive and fall
      due meanwhile (twice the mean, from the documented arrival and slack laws), plus whatever fits
      at sites that are cheap now (cost at least 10 % below the site's long-run mean).
    * **Placement**: cheapest sites first, each up to its headroom.
    * **Setpoint**: for the load each site then runs, the setpoint that minimises its facility
      energy this slot (the model is known: exact, myopically).
    """

    name = "carbon_greedy"

    def act(self, obs: np.ndarray | None = None) -> np.ndarray:
        core: DataCenterCore = self.core
        p, t = core.p, core.t
        mean_ci = np.array([s.mean_kg_per_kwh for s in core.sources])
        from .. import signals

        mean_price = np.array([signals.PRICE_SHAPES.get(m, signals.PRICE_SHAPES["mixed"])[0]
                               for m in core.markets])  # fmt: skip
        cost = core.price[0, t] + p.carbon_price_per_t * core.ci[0, t]
        cheap = cost <= 0.9 * (mean_price + p.carbon_price_per_t * mean_ci)
        room = core.headroom[0, t].copy()
        backlog = core.backlog[0]
        # room expected in the coming slots: capacity minus the mean interactive load (the
        # model's daily profile), with a 10 % margin
        H = core.horizon
        later = (core.cap - core.interactive_mean[np.minimum(np.arange(t + 1, t + backlog.size),
                                                              H - 1)]).sum(1)  # fmt: skip
        later = 0.9 * later * core.slot_h
        # work expected to arrive and fall due within j slots (the documented slack law)
        lo, hi = p.batch_slack_slots
        j = np.arange(backlog.size)
        k = np.arange(1, backlog.size)
        p_due = np.clip((j[:, None] - k[None, :] - lo + 1) / (hi - lo + 1), 0.0, 1.0)
        expected = 2.0 * core.mean_arrivals * (p_due * (k[None, :] <= j[:, None])).sum(1)
        ahead = np.cumsum(backlog) + expected - np.r_[0.0, np.cumsum(later)]
        want = max(float(backlog[0]), float(ahead.max()))
        run = np.zeros(core.N)
        order = np.argsort(cost, kind="stable")
        for i in order:
            take = min(want, room[i])
            run[i] += take
            room[i] -= take
            want -= take
        extra = backlog.sum() - run.sum()
        for i in order:
            if cheap[i] and extra > 0:
                take = min(extra, room[i])
                run[i] += take
                room[i] -= take
                extra -= take
        load = core.interactive_mw[0, t] * core.slot_h + run
        setpoint = core.facility_mwh(load, 0, t).argmin(-1)
        return encode(core, Decision(run[None], setpoint[None]))[0]


class LatencyGreedyPolicy(Policy):
    """Service first, carbon ignored: run the whole backlog now wherever there is headroom (in
    proportion to it) at a fixed, conservative 22 degC setpoint."""

    name = "latency_greedy"

    def act(self, obs: np.ndarray | None = None) -> np.ndarray:
        core: DataCenterCore = self.core
        room = core.headroom[0, core.t]
        total = min(core.backlog[0].sum(), room.sum())
        run = total * room / room.sum() if room.sum() > 0 else np.zeros(core.N)
        setpoint = np.full(core.N, int(np.flatnonzero(SETPOINTS_C == 22.0)[0]))
        return encode(core, Decision(run[None], setpoint[None]))[0]


RULES: dict[str, type[Policy]] = {
    "carbon_greedy": CarbonGreedyPolicy,
    "latency_greedy": LatencyGreedyPolicy,
}
