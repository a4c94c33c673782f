"""Geo-distributed data centres: carbon-aware scheduling of deferrable batch work and cooling."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from . import signals
from .core import (
    OBS_BOUND,
    BatchedCore,
    CoreEnv,
    EnvParams,
    check_and_clip,
    require,
    time_features,
)

SETPOINT_MIN_C = 18.0
SETPOINT_MAX_C = 27.0  # ASHRAE TC 9.9 recommended inlet range for IT equipment: 18-27 degC


@dataclass(frozen=True)
class DataCenterParams(EnvParams):
    """Parameters of :class:`DataCenterEnv` (units in the names or the env docstring)."""

    n_sites: int = 3
    site_regions: tuple[str, ...] | None = None
    climate_mean_c: tuple[float, ...] | None = None
    it_capacity_mw: tuple[float, ...] | None = None
    interactive_share: tuple[float, ...] | None = None
    batch_share: float = 0.25
    max_slack_slots: int = 8
    pue_base: float = 0.08
    cooling_per_c: float = 0.025
    fan_per_c: float = 0.03
    carbon_price_per_t: float = 150.0
    drop_penalty_per_mwh: float = 500.0
    reward_scale_usd: float = 1000.0

    def __post_init__(self) -> None:
        self.check_time()
        require(self.n_sites >= 1, "n_sites", f"must be >= 1, got {self.n_sites}")
        n = self.n_sites
        self.expand("site_regions", n, ("solar", "nuclear", "coal"))
        self.expand("climate_mean_c", n, (24.0, 14.0, 20.0))
        self.expand("it_capacity_mw", n, (10.0, 8.0, 12.0))
        self.expand("interactive_share", n, (0.45, 0.5, 0.4))
        for r in self.site_regions:
            signals.make_intensity_source(r)
        require(all(c > 0 for c in self.it_capacity_mw), "it_capacity_mw", "entries must be > 0")
        require(
            all(0 <= s < 0.9 for s in self.interactive_share),
            "interactive_share",
            "entries must be in [0, 0.9)",
        )
        require(
            0 <= self.batch_share <= 1, "batch_share", f"must be in [0, 1], got {self.batch_share}"
        )
        require(self.max_slack_slots >= 0, "max_slack_slots", "must be >= 0")
        for name in (
            "pue_base",
            "cooling_per_c",
            "fan_per_c",
            "carbon_price_per_t",
            "drop_penalty_per_mwh",
        ):
            require(getattr(self, name) >= 0, name, "must be >= 0")
        require(self.reward_scale_usd > 0, "reward_scale_usd", "must be > 0")

    def energy_multiplier(self, setpoint_c: np.ndarray, outside_c: np.ndarray) -> np.ndarray:
        """Facility energy per unit of IT energy at nominal inlet temperature (dimensionless):
        ``1 + pue_base + fan_per_c * max(0, s - 24) + cooling_per_c * max(0, T_out - s + 8)``."""
        fan = self.fan_per_c * np.maximum(setpoint_c - 24.0, 0.0)
        cooling = self.cooling_per_c * np.maximum(outside_c - setpoint_c + 8.0, 0.0)
        return 1.0 + self.pue_base + fan + cooling


class DataCenterCore(BatchedCore):
    """Batched dynamics of :class:`DataCenterEnv` (see its docstring for the model)."""

    info_keys = (
        "energy_kwh", "co2_kg", "cost", "batch_served_mwh", "batch_dropped_mwh", "backlog_mwh",
        "deadline_met_ratio", "mean_pue", "r_energy_cost", "r_carbon", "r_drop",
    )  # fmt: skip

    def __init__(self, params: DataCenterParams, batch_size: int) -> None:
        super().__init__(params, batch_size)
        p = self.p = params
        N, D = p.n_sites, p.max_slack_slots + 1
        self.N, self.D = N, D
        self.act_dim = 1 + 2 * N
        self.obs_dim = D + 5 * N + 3
        self.slot_h = p.slot_minutes / 60.0
        self.cap = np.asarray(p.it_capacity_mw, float)
        self.sources = [signals.make_intensity_source(r) for r in p.site_regions]
        self.markets = list(p.site_regions)
        self._cap_slot = self.cap.sum() * self.slot_h  # MWh of IT work per slot, all sites
        self._rows = np.arange(batch_size)
        self._coeffs = np.array([
            p.pue_base, p.cooling_per_c, p.fan_per_c, p.carbon_price_per_t,
            p.drop_penalty_per_mwh, p.reward_scale_usd,
        ])  # fmt: skip
        self._reward = np.zeros(batch_size)
        self._glob = time_features(self.horizon, p.slot_minutes)
        hod = (np.arange(self.horizon) * p.slot_minutes // 60) % 24
        shape = signals.diurnal_arrival_rate(hod, peak_hour=20.0, depth=0.4) / 0.8
        self._interactive_mean = self.cap * np.asarray(p.interactive_share) * shape[None, :, None]
        self._info = np.zeros((batch_size, len(self.info_keys)))
        self._obs = np.zeros((batch_size, self.obs_dim), np.float32)

    def reset(self, rng: np.random.Generator) -> None:
        p, B, H, N, D = self.p, self.batch_size, self.horizon, self.N, self.D
        hours = signals.hours_needed(p.slot_minutes, H)
        per_slot = lambda x: signals.hourly_to_slots(x, p.slot_minutes, H)  # noqa: E731
        self.ci = per_slot(signals.sample_intensity(self.sources, rng, B, hours, 0))  # (B,H,N)
        self.price = per_slot(
            np.stack([signals.electricity_price(m, rng, B, hours, 0) for m in self.markets], -1)
        )  # $/MWh
        self.temp = per_slot(
            np.stack(
                [signals.outside_temperature(rng, B, hours, 0, mean_c=m) for m in p.climate_mean_c],
                -1,
            )
        )  # degC
        # Interactive (non-deferrable) load: diurnal, peaking in the evening, plus noise. MW.
        noise = np.exp(0.05 * rng.standard_normal((B, H, N)))
        self.interactive_mw = np.minimum(self._interactive_mean * noise, self.cap)
        # Batch arrivals per slot (MWh of IT work), deadline slack uniform on 0..max_slack_slots.
        total = p.batch_share * self._cap_slot
        self.arrivals = total * rng.gamma(4.0, 0.25, size=(B, H))
        slack = rng.integers(0, D, size=(B, H))
        # Deadlines beyond the episode are pulled in to its last slot.
        due = np.minimum(np.arange(H)[None, :] + slack, H - 1)
        self.due = due
        self.headroom = (self.cap - self.interactive_mw) * self.slot_h  # (B,H,N) MWh
        self.backlog = np.zeros((B, D))
        self._add_arrivals(0)
        self.t = 0

    def _add_arrivals(self, t: int) -> None:
        slot = self.due[:, t] - t  # buckets are "due in j slots"
        self.backlog[self._rows, np.minimum(slot, self.D - 1)] += self.arrivals[:, t]

    def observe(self) -> np.ndarray:
        t = min(self.t, self.horizon - 1)
        _datacenter_observe(
            self.backlog, self.headroom[:, t], self.ci[:, t], self.price[:, t], self.temp[:, t],
            self.ci[:, min(t + 1, self.horizon - 1)], self._glob[t], self._cap_slot, self.slot_h,
            self.cap, self._obs,
        )  # fmt: skip
        return self._obs.copy()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.t >= self.horizon:
            raise RuntimeError("episode is over: call reset()")
        check_and_clip(action)
        t = self.t
        nxt = min(t + 1, self.horizon - 1)
        _datacenter_step(
            action, self.backlog, self.headroom[:, t], self.interactive_mw[:, t], self.temp[:, t],
            self.ci[:, t], self.price[:, t], self.arrivals[:, nxt], self.due[:, nxt] - (t + 1),
            t + 1 < self.horizon, self.slot_h, self._coeffs, self._reward, self._info,
        )  # fmt: skip
        self.t += 1
        return self._reward.copy(), self._info.copy()

    def best_setpoint(self) -> tuple[np.ndarray, np.ndarray]:
        """Setpoint minimising the energy multiplier at every (copy, slot, site), and that minimum.

        The multiplier is convex piecewise linear in the setpoint, so its minimum over [18, 27]
        lies at a bound or a kink (24 degC, ``T_out + 8`` degC). Returns arrays (B, H, N).
        """
        cand = np.stack(
            np.broadcast_arrays(
                SETPOINT_MIN_C,
                SETPOINT_MAX_C,
                24.0,
                np.clip(self.temp + 8.0, SETPOINT_MIN_C, SETPOINT_MAX_C),
            ),
            -1,
        )
        mult = self.p.energy_multiplier(cand, self.temp[..., None])
        best = mult.argmin(-1)
        return (
            np.take_along_axis(cand, best[..., None], -1)[..., 0],
            np.take_along_axis(mult, best[..., None], -1)[..., 0],
        )


@njit(cache=True)
def _datacenter_observe(
    backlog, headroom, ci, price, temp, ci_next, glob, cap_slot, slot_h, cap, out
):
    B, D = backlog.shape
    N = cap.shape[0]
    for b in range(B):
        for j in range(D):
            out[b, j] = backlog[b, j] / cap_slot * 4.0
        for i in range(N):
            out[b, D + i] = headroom[b, i] / (cap[i] * slot_h)
            out[b, D + N + i] = ci[b, i] / 0.4
            out[b, D + 2 * N + i] = price[b, i] / 100.0
            out[b, D + 3 * N + i] = temp[b, i] / 30.0
            out[b, D + 4 * N + i] = ci_next[b, i] / 0.4
        for k in range(3):
            out[b, D + 5 * N + k] = glob[k]
        for j in range(out.shape[1]):
            out[b, j] = min(max(out[b, j], -OBS_BOUND), OBS_BOUND)


@njit(cache=True)
def _datacenter_step(
    action, backlog, headroom, interactive_mw, temp, ci, price, next_arrivals, next_slack,
    has_next, slot_h, coeffs, out_reward, out_info,
):  # fmt: skip
    """One slot for every copy (model in the env docstring); mutates ``backlog``.

    Decoding: run ``(a_0 + 1) / 2`` of the backlog, split by site weights ``(a_i + 1) / 2``
    (equal if all 0), capped at headroom; setpoint ``18 + (a + 1) / 2 * 9`` degC. Service is
    earliest deadline first; work still in the due-now bucket afterwards is dropped.
    """
    B, D = backlog.shape
    N = headroom.shape[1]
    pue_base, cool_c, fan_c, carbon_price, drop_pen, scale = (
        coeffs[0], coeffs[1], coeffs[2], coeffs[3], coeffs[4], coeffs[5],
    )  # fmt: skip
    for b in range(B):
        total = 0.0
        for j in range(D):
            total += backlog[b, j]
        rho = (action[b, 0] + 1.0) * 0.5
        wsum = 0.0
        for i in range(N):
            wsum += (action[b, 1 + i] + 1.0) * 0.5
        served = 0.0
        energy = 0.0
        it_total = 0.0
        co2 = 0.0
        cost = 0.0
        for i in range(N):
            w = (action[b, 1 + i] + 1.0) * 0.5 / wsum if wsum > 0.0 else 1.0 / N
            run = min(rho * total * w, headroom[b, i])
            served += run
            setpoint = SETPOINT_MIN_C + (action[b, 1 + N + i] + 1.0) * 0.5 * (
                SETPOINT_MAX_C - SETPOINT_MIN_C
            )
            mult = (
                1.0 + pue_base + fan_c * max(setpoint - 24.0, 0.0)
                + cool_c * max(temp[b, i] - setpoint + 8.0, 0.0)
            )  # fmt: skip
            it_mwh = interactive_mw[b, i] * slot_h + run
            e = it_mwh * mult
            it_total += it_mwh
            energy += e
            co2 += e * 1000.0 * ci[b, i]
            cost += e * price[b, i]
        # Earliest deadline first.
        left = served
        for j in range(D):
            take = min(backlog[b, j], left)
            backlog[b, j] -= take
            left -= take
        dropped = backlog[b, 0]
        remaining = 0.0
        for j in range(D - 1):
            backlog[b, j] = backlog[b, j + 1]
            remaining += backlog[b, j]
        backlog[b, D - 1] = 0.0
        if has_next:
            backlog[b, min(next_slack[b], D - 1)] += next_arrivals[b]
        r_cost = -cost / scale
        r_carbon = -carbon_price * co2 / 1000.0 / scale
        r_drop = -drop_pen * dropped / scale
        out_reward[b] = r_cost + r_carbon + r_drop
        due = served + dropped
        info = out_info[b]
        info[0] = energy * 1000.0
        info[1] = co2
        info[2] = cost
        info[3] = served
        info[4] = dropped
        info[5] = remaining
        info[6] = 1.0 - dropped / due if due > 0.0 else 1.0
        info[7] = energy / it_total if it_total > 0.0 else 1.0
        info[8] = r_cost
        info[9] = r_carbon
        info[10] = r_drop


class DataCenterEnv(CoreEnv):
    """Geo-distributed data centres with deferrable batch work and cooling control.

    ``n_sites`` data centres in different grid regions (own carbon intensity, wholesale price and
    climate) run interactive load that cannot wait and batch work that can, up to a deadline. Every
    slot the operator chooses how much of the batch backlog to run now and where, and each site's
    cooling setpoint.

    ## Action space
    ``Box(-1, 1, (1 + 2 N,))``, ``N = n_sites``: ``a_0`` -> fraction ``(a_0 + 1) / 2`` of the
    backlog to run this slot; ``a_1..a_N`` -> site weights ``(a + 1) / 2`` (normalised; equal if all
    are 0); each site's share is capped at its headroom (capacity minus interactive load); the
    last ``N`` -> cooling setpoints ``18 + (a + 1) / 2 * 9`` degC (ASHRAE recommended range). Work
    is taken from the backlog earliest deadline first.

    ## Observation space
    ``Box(-10, 10, (D + 5 N + 3,))``, float32, ``D = max_slack_slots + 1``: backlog due in
    0..D-1 slots (MWh, / a quarter of the fleet's capacity per slot); per site: headroom / capacity,
    carbon intensity / 0.4 kg/kWh, price / 100 $/MWh, outside temperature / 30 degC, next slot's
    intensity / 0.4; sin and cos of the hour; fraction of the episode elapsed.

    ## Model (slot ``t`` of ``slot_minutes``, site ``i``)
    * interactive IT load ``I_it`` MW: ``interactive_share`` of capacity with an evening peak and
      5 % noise; headroom ``(C_i - I_it) * dt`` MWh;
    * batch arrivals ``A_t`` MWh of IT work, mean ``batch_share`` of the fleet capacity per slot
      (Gamma(4, 1/4) factor), each with a deadline ``t + U{0..max_slack_slots}`` (cut at the
      episode's last slot); work not run by its deadline is dropped;
    * facility energy ``E_it = (I_it dt + x_it) * m(s_it, T_it)`` MWh with
      ``m(s, T) = 1 + pue_base + fan_per_c * max(0, s - 24) + cooling_per_c * max(0, T - s + 8)``
      (economiser free cooling when outside air is 8 degC below the setpoint; server fans speed up
      above 24 degC inlet). This is PUE times the IT-power increase, so ``info["mean_pue"]``
      reports the ratio of facility energy to nominal IT energy;
    * carbon ``co2_kg = E * 1000 * intensity`` (:mod:`lowcarbon.envs.carbon`), cost ``E * price``.

    ## Reward (per slot, in units of ``reward_scale_usd``)
    ``-(cost + carbon_price_per_t * t CO2 + drop_penalty_per_mwh * dropped MWh)``, divided by
    ``reward_scale_usd``.
    Terms in ``info``: ``r_energy_cost``, ``r_carbon``, ``r_drop``.

    ## Info
    ``energy_kwh``, ``co2_kg``, ``cost`` ($), QoS: ``deadline_met_ratio`` (of work due this slot),
    ``batch_served_mwh``, ``batch_dropped_mwh``, ``backlog_mwh``, ``mean_pue``; reward terms.

    ## Start state and episode end
    Reset draws a day of intensities, prices, temperatures, interactive load and arrivals; the
    backlog holds the first slot's arrivals. The episode terminates after ``horizon`` slots.

    ## Oracle
    Slots couple through the backlog, so the oracle is the perfect-foresight optimum over the
    episode: :func:`lowcarbon.envs.oracles.datacenter_lp`, an LP over per-arrival-slot job flows
    (HiGHS). The setpoint separates (its cost per MWh is positive), so each site-slot takes
    the multiplier's minimiser. The LP is exact for this action space; replaying its plan in the
    env attains its value.

    ## Version history
    * v0: initial version.
    """

    params_cls = DataCenterParams
    core_cls = DataCenterCore
