"""Geo-distributed data centres: carbon-aware batch scheduling and cooling (spec below)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from .. import signals
from ..backlog import (
    ARRIVAL_CAP,
    amount_score,
    batch_amount,
    draw_jobs,
    place,
    proportional_scores,
    serve_edf,
)
from ..carbon import MAX_INTENSITY_KG_PER_KWH
from ..core import (
    OBS_BOUND,
    BatchedCore,
    CoreEnv,
    EnvParams,
    check_and_clip,
    info_index,
    require,
    time_features,
)

#: Cooling setpoints (supply-air / server inlet temperature) the operator chooses from, degC:
#: 18-27 degC is ASHRAE TC 9.9's recommended inlet range, in 1 degC steps.
SETPOINTS_C = np.arange(18.0, 28.0)
MIN_LIFT_K = 5.0  # smallest chiller lift (condenser minus evaporator temperature) in the COP law
# Observation scales.
CI_SCALE_KG_PER_KWH = 0.5
PRICE_SCALE_USD_PER_MWH = 100.0
TEMP_SCALE_C = 30.0
FORECAST_FAR = 4  # slots averaged for the "next four hours" forecasts
#: facility energy per MWh of IT energy assumed for work left for tomorrow (terminal cost)
LEFTOVER_OVERHEAD = 1.2


@dataclass(frozen=True)
class DataCenterParams(EnvParams):
    """Parameters of :class:`DataCenterEnv`; units in the names or the env docstring.

    Per-site fields accept ``None`` (the defaults, cycled), a scalar, or one value per site.
    """

    n_sites: int = 3
    site_regions: tuple[str, ...] | None = None
    climate_mean_c: tuple[float, ...] | None = None
    it_capacity_mw: tuple[float, ...] | None = None
    interactive_share: tuple[float, ...] | None = None
    idle_fraction: float = 0.3
    batch_share: float = 0.35
    batch_slack_slots: tuple[int, int] = (2, 12)
    fan_max_fraction: float = 0.12
    fan_min_speed: float = 0.45
    economizer_mw_per_c: float = 0.12
    economizer_approach_c: float = 4.0
    chiller_carnot_fraction: float = 0.45
    chiller_approach_c: float = 8.0
    aux_fraction: float = 0.06
    carbon_price_per_t: float = 150.0
    drop_penalty_per_mwh: float = 600.0
    reward_scale_usd: float = 1000.0

    def __post_init__(self) -> None:
        self.check_base()
        require(self.n_sites >= 1, "n_sites", f"must be >= 1, got {self.n_sites}")
        n = self.n_sites
        self.expand("site_regions", n, ("solar", "wind", "mixed"))
        self.expand("climate_mean_c", n, (26.0, 10.0, 18.0))
        self.expand("it_capacity_mw", n, (10.0, 8.0, 12.0))
        self.expand("interactive_share", n, (0.35, 0.35, 0.3))
        signals.check_sources("site_regions", self.site_regions)
        require(all(c > 0 for c in self.it_capacity_mw), "it_capacity_mw", "entries must be > 0")
        require(all(0 <= s < 0.9 for s in self.interactive_share), "interactive_share",
                "entries must be in [0, 0.9)")  # fmt: skip
        for name in ("idle_fraction", "fan_min_speed"):
            v = getattr(self, name)
            require(0 <= v < 1, name, f"must be in [0, 1), got {v}")
        require(0 <= self.batch_share <= 1, "batch_share",
                f"must be in [0, 1], got {self.batch_share}")  # fmt: skip
        lo, hi = self.batch_slack_slots
        require(0 <= lo <= hi, "batch_slack_slots", f"needs 0 <= low <= high, got ({lo}, {hi})")
        for name in ("fan_max_fraction", "economizer_mw_per_c", "economizer_approach_c",
                     "chiller_approach_c", "aux_fraction", "carbon_price_per_t",
                     "drop_penalty_per_mwh"):  # fmt: skip
            require(getattr(self, name) >= 0, name, "must be >= 0")
        require(0 < self.chiller_carnot_fraction <= 1, "chiller_carnot_fraction",
                "must be in (0, 1]")  # fmt: skip
        require(self.reward_scale_usd > 0, "reward_scale_usd", "must be > 0")

    @property
    def slot_h(self) -> float:
        return self.slot_minutes / 60.0

    def fan(self, setpoint_c: np.ndarray) -> np.ndarray:
        """Server fan power per unit of IT power at a setpoint (cubic fan law)."""
        v = self.fan_min_speed + (1.0 - self.fan_min_speed) * (setpoint_c - 18.0) / 9.0
        return self.fan_max_fraction * v**3

    def cop(self, setpoint_c: np.ndarray, outside_c: np.ndarray) -> np.ndarray:
        """Chiller coefficient of performance: a fraction of Carnot's between an evaporator at
        ``setpoint - approach`` and a condenser at ``outside + approach`` (lift >= 5 K)."""
        evap = setpoint_c - self.chiller_approach_c
        lift = np.maximum(outside_c + self.chiller_approach_c - evap, MIN_LIFT_K)
        return self.chiller_carnot_fraction * (evap + 273.15) / lift

    def reward_bounds(self) -> dict[str, tuple[float, float]]:
        """Bounds of every reward term of one step (checked by the fuzz tests)."""
        cap = np.asarray(self.it_capacity_mw) * self.slot_h
        hot = signals.TEMPERATURE_RANGE_C[1]
        worst = self.fan(np.float64(27.0))
        chill = cap * (1.0 + worst) / self.cop(np.float64(18.0), np.float64(hot))
        e_max = float((cap * (1.0 + worst + self.aux_fraction) + chill).sum())  # MWh
        lo, hi = self.batch_slack_slots
        mean_arrivals = self.batch_share * float(cap.sum())
        due_max = (hi - lo + 1) * ARRIVAL_CAP * mean_arrivals
        s = self.reward_scale_usd
        return {
            "r_energy_cost": (-e_max * signals.MAX_PRICE_USD_PER_MWH / s, 0.0),
            "r_carbon": (-e_max * MAX_INTENSITY_KG_PER_KWH * self.carbon_price_per_t / s, 0.0),
            "r_drop": (-due_max * self.drop_penalty_per_mwh / s, 0.0),
            "r_terminal": (-hi * ARRIVAL_CAP * mean_arrivals * self.leftover_cap() / s, 0.0),
        }

    def leftover_cap(self) -> float:
        """Most a MWh of work left for tomorrow can cost ($, at the price and intensity caps)."""
        top = signals.MAX_PRICE_USD_PER_MWH + self.carbon_price_per_t * MAX_INTENSITY_KG_PER_KWH
        return (1.0 - self.idle_fraction) * LEFTOVER_OVERHEAD * top


_INFO_KEYS = (
    "energy_kwh", "co2_kg", "cost", "it_mwh", "cooling_mwh", "batch_run_mwh",
    "batch_dropped_mwh", "backlog_mwh", "deadline_met_ratio", "mean_pue", "mean_setpoint_c",
    "r_energy_cost", "r_carbon", "r_drop", "r_terminal",
)  # fmt: skip
_I = info_index(_INFO_KEYS)
I_ENERGY, I_CO2, I_COST, I_IT, I_COOL, I_RUN, I_DROP, I_BACKLOG = (_I[k] for k in _INFO_KEYS[:8])
I_MET, I_PUE, I_SETPOINT, I_RCOST, I_RCO2, I_RDROP, I_RTERM = (_I[k] for k in _INFO_KEYS[8:])


class DataCenterCore(BatchedCore):
    """Batched dynamics of :class:`DataCenterEnv` (see its docstring for the model)."""

    info_keys = _INFO_KEYS

    def __init__(self, params: DataCenterParams, batch_size: int) -> None:
        super().__init__(params, batch_size)
        p = self.p = params
        N = self.N = p.n_sites
        self.D = p.batch_slack_slots[1] + 1
        self.act_dim = 1 + 2 * N
        self.obs_dim = self.D + 7 * N + 3
        self.slot_h = p.slot_h
        self.cap = np.asarray(p.it_capacity_mw, float)
        self.sources = [signals.make_intensity_source(r) for r in p.site_regions]
        self.markets = [signals.price_market(r, "mixed") for r in p.site_regions]
        self.fan = p.fan(SETPOINTS_C)  # (L,)
        self.mean_arrivals = p.batch_share * float(self.cap.sum()) * self.slot_h  # MWh / slot
        self.backlog_scale = max(4.0 * self.mean_arrivals, 1e-9)
        self._coeffs = np.array([
            p.idle_fraction, p.economizer_mw_per_c, p.economizer_approach_c,
            p.chiller_carnot_fraction, p.chiller_approach_c, p.aux_fraction,
            p.carbon_price_per_t, p.drop_penalty_per_mwh, p.reward_scale_usd,
        ])  # fmt: skip
        hod = (np.arange(self.horizon) * p.slot_minutes / 60.0) % 24
        shape = signals.diurnal_arrival_rate(hod, peak_hour=20.0, depth=0.4) / 0.8
        self.interactive_mean = self.cap * np.asarray(p.interactive_share) * shape[:, None]
        self._glob = time_features(self.horizon, p.slot_minutes)
        self._reward = np.zeros(batch_size)
        self._info = np.zeros((batch_size, len(self.info_keys)))
        self._obs = np.zeros((batch_size, self.obs_dim), np.float32)
        self._run = np.zeros(N)

    def reset(self, rng: np.random.Generator) -> None:
        p, B, H, N = self.p, self.batch_size, self.horizon, self.N
        hours = signals.hours_needed(p.slot_minutes, H)
        per_slot = lambda x: signals.hourly_to_slots(x, p.slot_minutes, H)  # noqa: E731
        ci = per_slot(signals.sample_intensity(self.sources, rng, B, hours, 0))
        self.ci = np.minimum(ci, MAX_INTENSITY_KG_PER_KWH)  # (B,H,N) kg/kWh
        price = [signals.electricity_price(m, rng, B, hours, 0) for m in self.markets]
        self.price = per_slot(np.stack(price, -1))  # (B,H,N) $/MWh
        temp = [signals.outside_temperature(rng, B, hours, 0, mean_c=m) for m in p.climate_mean_c]
        self.temp = per_slot(np.stack(temp, -1))  # (B,H,N) degC
        noise = np.exp(0.05 * rng.standard_normal((B, H, N)))
        self.interactive_mw = np.minimum(self.interactive_mean * noise, self.cap)
        self.headroom = (self.cap - self.interactive_mw) * self.slot_h  # (B,H,N) MWh
        self.arrivals, self.due = draw_jobs(
            rng, B, H, self.mean_arrivals, p.batch_slack_slots, shape=8.0
        )
        # work still waiting at the end costs what running it tomorrow would, on average
        mean_cost = (self.price + p.carbon_price_per_t * self.ci).mean((1, 2))  # $/MWh
        self.leftover_usd_per_mwh = (1.0 - p.idle_fraction) * LEFTOVER_OVERHEAD * mean_cost
        self.backlog = np.zeros((B, self.D))
        self.backlog[np.arange(B), self.due[:, 0]] += self.arrivals[:, 0]
        self.t = 0

    def observe(self) -> np.ndarray:
        _observe(min(self.t, self.horizon - 1), self.backlog, self.backlog_scale, self.headroom,
                 self.cap * self.slot_h, self.ci, self.price, self.temp, self._glob,
                 self._obs)  # fmt: skip
        return self._obs.copy()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.t >= self.horizon:
            raise RuntimeError("episode is over: call reset()")
        check_and_clip(action)
        t, H = self.t, self.horizon
        nxt = min(t + 1, H - 1)
        _step(
            action, self.backlog, self.headroom[:, t], self.interactive_mw[:, t], self.cap,
            self.temp[:, t], self.ci[:, t], self.price[:, t], self.arrivals[:, nxt],
            self.due[:, nxt] - nxt, t + 1 < H, self.leftover_usd_per_mwh, self.slot_h,
            SETPOINTS_C, self.fan, self._coeffs, self._reward, self._info, self._run,
        )  # fmt: skip
        self.t += 1
        return self._reward.copy(), self._info.copy()

    def facility_mwh(self, load_mwh: np.ndarray, b: int, t: int) -> np.ndarray:
        """Facility energy (MWh) of each site at each setpoint for the IT work ``load_mwh`` (N,)
        run in slot ``t`` (interactive included): shape (N, L)."""
        return _facility(
            load_mwh[:, None],
            self.cap[:, None],
            self.temp[b, t][:, None],
            SETPOINTS_C[None, :],
            self.fan[None, :],
            self.slot_h,
            self._coeffs,
        )


def _facility(load, cap, temp, setpoint, fan, slot_h, coeffs):
    """Facility energy (MWh) for IT ``load`` (MWh) at ``setpoint``; numpy or numba scalars."""
    idle, econ, approach, carnot, ch_app, aux = (coeffs[0], coeffs[1], coeffs[2], coeffs[3],
                                                coeffs[4], coeffs[5])  # fmt: skip
    it = idle * cap * slot_h + (1.0 - idle) * load
    heat = it * (1.0 + fan)
    free = econ * cap * slot_h * np.maximum(setpoint - approach - temp, 0.0)
    evap = setpoint - ch_app
    cop = carnot * (evap + 273.15) / np.maximum(temp + ch_app - evap, MIN_LIFT_K)
    return it * (1.0 + fan + aux) + np.maximum(heat - free, 0.0) / cop


_facility_jit = njit(cache=True)(_facility)


@njit(cache=True)
def _observe(t, backlog, scale, headroom, cap_slot, ci, price, temp, glob, out):
    B, H, N = ci.shape
    D = backlog.shape[1]
    for b in range(B):
        for j in range(D):
            out[b, j] = backlog[b, j] / scale
        k = D
        for i in range(N):
            near = ci[b, min(t + 1, H - 1), i]
            far = 0.0
            pfar = 0.0
            for j in range(1, FORECAST_FAR + 1):
                far += ci[b, min(t + j, H - 1), i]
                pfar += price[b, min(t + j, H - 1), i]
            out[b, k] = headroom[b, t, i] / cap_slot[i]
            out[b, k + 1] = ci[b, t, i] / CI_SCALE_KG_PER_KWH
            out[b, k + 2] = near / CI_SCALE_KG_PER_KWH
            out[b, k + 3] = far / FORECAST_FAR / CI_SCALE_KG_PER_KWH
            out[b, k + 4] = price[b, t, i] / PRICE_SCALE_USD_PER_MWH
            out[b, k + 5] = pfar / FORECAST_FAR / PRICE_SCALE_USD_PER_MWH
            out[b, k + 6] = temp[b, t, i] / TEMP_SCALE_C
            k += 7
        for j in range(3):
            out[b, k + j] = glob[t, j]
        for j in range(out.shape[1]):
            out[b, j] = min(max(out[b, j], -OBS_BOUND), OBS_BOUND)


@njit(cache=True)
def _step(
    action, backlog, headroom, interactive_mw, cap, temp, ci, price, next_arrivals, next_slack,
    has_next, leftover_usd, slot_h, setpoints, fan, coeffs, out_reward, out_info, run,
):  # fmt: skip
    """One slot for every copy (model in the env docstring); mutates ``backlog``."""
    B, N = headroom.shape
    L = setpoints.shape[0]
    idle, aux = coeffs[0], coeffs[5]
    carbon_price, drop_pen, scale = coeffs[6], coeffs[7], coeffs[8]
    for b in range(B):
        due_now = backlog[b, 0]
        want = batch_amount(action[b, 0], backlog[b])
        placed = place(want, headroom[b], action[b, 1 : 1 + N], run)
        energy = 0.0
        it_total = 0.0
        cooling = 0.0
        co2 = 0.0
        cost = 0.0
        sp_sum = 0.0
        for i in range(N):
            lvl = int(np.floor((action[b, 1 + N + i] + 1.0) * 0.5 * (L - 1) + 0.5))
            lvl = min(max(lvl, 0), L - 1)
            load = interactive_mw[b, i] * slot_h + run[i]
            e = _facility_jit(load, cap[i], temp[b, i], setpoints[lvl], fan[lvl], slot_h, coeffs)
            it = idle * cap[i] * slot_h + (1.0 - idle) * load
            energy += e
            it_total += it
            cooling += e - it * (1.0 + aux)
            co2 += e * 1000.0 * ci[b, i]
            cost += e * price[b, i]
            sp_sum += setpoints[lvl]
        dropped, left = serve_edf(backlog[b], placed, next_arrivals[b], next_slack[b], has_next)
        r_cost = -cost / scale
        r_carbon = -carbon_price * co2 / 1000.0 / scale
        r_drop = -drop_pen * dropped / scale
        r_term = 0.0 if has_next else -left * leftover_usd[b] / scale
        out_reward[b] = r_cost + r_carbon + r_drop + r_term
        info = out_info[b]
        info[I_ENERGY] = energy * 1000.0
        info[I_CO2] = co2
        info[I_COST] = cost
        info[I_IT] = it_total
        info[I_COOL] = cooling
        info[I_RUN] = placed
        info[I_DROP] = dropped
        info[I_BACKLOG] = left
        info[I_MET] = 1.0 - dropped / due_now if due_now > 0.0 else 1.0
        info[I_PUE] = energy / it_total if it_total > 0.0 else 1.0
        info[I_SETPOINT] = sp_sum / N
        info[I_RCOST] = r_cost
        info[I_RCO2] = r_carbon
        info[I_RDROP] = r_drop
        info[I_RTERM] = r_term


@dataclass
class Decision:
    """One slot's decisions for every copy: batch MWh to run at each site ``run_mwh`` (B, N)
    and the setpoint index ``setpoint`` (B, N) into :data:`SETPOINTS_C`."""

    run_mwh: np.ndarray
    setpoint: np.ndarray


def encode(core: DataCenterCore, d: Decision) -> np.ndarray:
    """Actions (B, act_dim) that the step decodes back to ``d`` at the core's current slot;
    exact when each site's run fits its headroom and the total is within the backlog and at
    least the work due now."""
    B, N, t = core.batch_size, core.N, core.t
    run = np.minimum(np.maximum(np.asarray(d.run_mwh, float).reshape(B, N), 0.0),
                     core.headroom[:, t])  # fmt: skip
    out = np.zeros((B, core.act_dim))
    for b in range(B):
        out[b, 0] = amount_score(float(run[b].sum()), core.backlog[b])
    out[:, 1 : 1 + N] = proportional_scores(run, core.headroom[:, t])
    out[:, 1 + N :] = 2.0 * np.asarray(d.setpoint).reshape(B, N) / (len(SETPOINTS_C) - 1) - 1.0
    return np.clip(out, -1.0, 1.0)


class DataCenterEnv(CoreEnv):
    """Geo-distributed data centres: carbon-aware batch scheduling and cooling control.

    ``n_sites`` data centres in different grid regions and climates run interactive load that
    cannot wait and batch work that can, up to a deadline. Every hour the operator chooses how
    much of the batch backlog to run now and where, and each site's cooling setpoint.

    **Time scale.** One slot is ``slot_minutes`` (60) minutes; an episode is ``horizon`` (24)
    slots, one day from midnight.

    ## Action space
    ``Box(-1, 1, (1 + 2 N,))``, ``N = n_sites``; ``a = 0`` is a sensible neutral decision (batch
    work at its even pace, placed in proportion to headroom, setpoints at 23 degC) and every
    saturated action is valid:

    * ``a_0``, **batch amount**: work due this slot always runs; ``a_0 = 0`` runs the even pace
      ``sum_j backlog_j / (j + 1)``, ``-1`` only the work due now, ``+1`` the whole backlog;
    * ``a_1..a_N``, **placement**: in proportion to ``headroom_i (a_i + 1) / 2`` (to headroom when
      all are -1), each site capped at its headroom, what does not fit going to sites with room;
    * ``a_{N+1}..a_{2N}``, **setpoints**: level ``round((a + 1) / 2 * 9)`` of 18, 19, ..., 27 degC.
    Work is served earliest deadline first.

    ## Observation space
    ``Box(-10, 10, (D + 7 N + 3,))``, float32, ``D = batch_slack_slots[1] + 1``: the backlog due in
    0..D-1 slots (MWh / four slots of mean arrivals); per site: headroom / capacity, carbon
    intensity now, next slot, mean over the next four (/ 0.5 kg/kWh; perfect forecasts), price now
    and mean over the next four (/ 100 $/MWh), outside temperature / 30 degC; sin and cos of the
    hour; fraction of the day elapsed.

    ## Model (slot ``t`` of ``dt`` h, site ``i`` of IT capacity ``C`` MW)
    * **Interactive load** ``I`` MW: ``interactive_share`` of capacity with an evening peak and
      5 % noise; headroom ``(C - I) dt`` MWh.
    * **Batch jobs**: arrivals with mean ``batch_share`` of the fleet's capacity per slot
      (Gamma(8), capped at 4x), deadline slack ``U{batch_slack_slots}`` slots (2-12 h); earliest
      deadline first; work not run by its deadline is dropped; work due after the day is left
      for tomorrow at a terminal cost.
    * **IT energy** (linear server power model, Barroso, Clidaras and Hoelzle, *The Datacenter as
      a Computer*): ``IT = idle_fraction C dt + (1 - idle_fraction) L`` for the work ``L`` run
      (interactive plus batch, MWh).
    * **Cooling** at setpoint ``s`` with outside temperature ``T``: server fans draw
      ``fan_max_fraction v^3`` of IT power, fan speed ``v`` rising linearly from
      ``fan_min_speed`` at 18 degC to 1 at 27 degC (the cubic fan law); all of it becomes heat
      ``Q = IT (1 + fan)``. An air-side economiser removes up to
      ``economizer_mw_per_c * C * max(0, s - economizer_approach_c - T)`` for free; a chiller
      removes the rest at ``COP = chiller_carnot_fraction * T_evap / (T_cond - T_evap)`` (K),
      ``T_evap = s - chiller_approach_c``, ``T_cond = T + chiller_approach_c``, lift >= 5 K
      (4-7 for a hot day, as for real chillers). Raising the setpoint saves chiller energy and
      widens free cooling but speeds the fans up: the best setpoint depends on the weather and
      on the load.
    * **Facility energy** ``E = IT (1 + fan + aux_fraction) + max(0, Q - free) / COP`` (UPS and
      lighting as ``aux_fraction``); ``info["mean_pue"]`` is ``E / IT``.
    * **Carbon** ``co2_kg = E * 1000 * intensity`` (:mod:`lowcarbon.envs.carbon`; intensities
      capped at 2 kg/kWh); cost ``E * price`` (prices capped at 1,000 $/MWh). Default regions:
      ``solar`` (hot climate), ``wind`` (cool), ``mixed`` (temperate).

    ## Reward (per slot, in units of ``reward_scale_usd``)
    ``-(cost + carbon_price_per_t * t CO2 + drop_penalty_per_mwh * dropped MWh) /
    reward_scale_usd``; on the last slot, the **terminal cost** of the work still waiting (due
    after the day): ``(1 - idle_fraction) * 1.2 *`` the day's mean of price plus carbon cost per
    MWh, what running it tomorrow at a typical PUE costs. The drop penalty (600 $/MWh) exceeds
    the cost of running a MWh whenever the price is below 300 $/MWh and the intensity below
    1 kg/kWh (every synthetic region), so dropping work is then never cheaper than running it;
    the oracle is exact under that condition (an upper bound always). Bounds per term:
    :meth:`DataCenterParams.reward_bounds` (checked by fuzzing); measured under random play, the
    zero action, the rules and the oracle, 98 % of steps are in [-4.1, -1.4] and the last one in
    [-8.6, -2].
    Terms in ``info``: ``r_energy_cost``, ``r_carbon``, ``r_drop``, ``r_terminal``.

    ## Info
    ``energy_kwh``, ``co2_kg``, ``cost`` ($); ``it_mwh``, ``cooling_mwh``, ``mean_pue``,
    ``mean_setpoint_c``; QoS: ``deadline_met_ratio`` (of the work due this slot),
    ``batch_run_mwh``, ``batch_dropped_mwh``, ``backlog_mwh``; reward terms.

    ## Start state and episode end
    Reset draws a day of intensities, prices, temperatures, interactive load and batch arrivals;
    the backlog holds the first slot's arrivals. The episode terminates after ``horizon`` slots.

    ## Oracle
    :func:`lowcarbon.envs.data_center.oracle.solve`: the perfect-foresight optimum of the day, a
    MILP (HiGHS) with one binary per site, slot and setpoint and continuous job-class flows. It
    bounds every policy's return; replaying its plan attains it (tests) whenever dropping work
    is dearer than running it (see the reward), since the env runs work due now when there is
    room.

    ## Version history
    * v1: the cooling model is a chiller with a weather-dependent COP, an air-side economiser
      of limited capacity and cubic server fans, so the best setpoint depends on weather and
      load (v0 had 24 degC optimal everywhere); idle power and cooling of all load count, and a
      larger batch share puts more of the cost under control; setpoints are 10 levels; ``a = 0``
      runs the even pace and due work always runs; work left at the end of the day has a
      terminal cost (v0 cut deadlines at the end, so the horizon was a free deadline); forecasts of
      intensity and price are observed; prices, temperatures and intensities are capped, so
      every reward term is bounded.
    * v0 (unreleased): linear cooling multiplier, work share ``(a + 1) / 2`` of the backlog.
    """

    params_cls = DataCenterParams
    core_cls = DataCenterCore


#: ``gym.make_vec(id, n, vectorization_mode="vector_entry_point")``'s entry point (a name, so
#: that specs pickle and serialise): the native :class:`~lowcarbon.envs.core.CoreVectorEnv`.
make_vector = DataCenterEnv.vector
