"""Energy Internet: prosumers with PV, wind, batteries and EV charging behind one feeder."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from .. import signals
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

LOAD_CAP = 3.0  # household load is capped at 3x its hourly mean (log-normal tail)
# Observation scales.
LOAD_SCALE_KW = 5.0
EV_NEED_SCALE_KWH = 25.0
PRICE_SCALE_KWH_PER_USD = 5.0  # prices in $/kWh times 5
CI_SCALE_KG_PER_KWH = 0.4
FORECAST_FAR = 4  # slots averaged for the "next four hours" forecasts


@dataclass(frozen=True)
class EnergyInternetParams(EnvParams):
    """Parameters of :class:`EnergyInternetEnv`; units in the names or the env docstring.

    Per-prosumer fields accept ``None`` (the defaults, cycled), a scalar, or one value each.
    """

    n_prosumers: int = 4
    region: str = "solar"
    pv_kwp: tuple[float, ...] | None = None
    wind_kw: tuple[float, ...] | None = None
    base_load_kw: tuple[float, ...] | None = None
    battery_kwh: tuple[float, ...] | None = None
    battery_kw: tuple[float, ...] | None = None
    ev_charger_kw: tuple[float, ...] | None = None
    ev_demand_kwh: tuple[float, float] = (6.0, 24.0)
    charge_efficiency: float = 0.95
    discharge_efficiency: float = 0.95
    degradation_usd_per_kwh: float = 0.02
    network_charge_usd_per_kwh: float = 0.10
    export_fee_usd_per_kwh: float = 0.02
    feeder_limit_kw: float = 30.0
    overload_penalty_usd_per_kwh: float = 1.0
    ev_unmet_penalty_usd_per_kwh: float = 0.5
    carbon_price_per_t: float = 150.0
    reward_scale_usd: float = 1.0

    def __post_init__(self) -> None:
        self.check_base()
        require(self.n_prosumers >= 1, "n_prosumers", f"must be >= 1, got {self.n_prosumers}")
        n = self.n_prosumers
        self.expand("pv_kwp", n, (6.0, 10.0, 0.0, 8.0))
        self.expand("wind_kw", n, (0.0, 0.0, 10.0, 3.0))
        self.expand("base_load_kw", n, (1.0, 1.5, 2.5, 1.2))
        self.expand("battery_kwh", n, (10.0, 13.5, 20.0, 5.0))
        self.expand("battery_kw", n, (5.0, 5.0, 10.0, 2.5))
        self.expand("ev_charger_kw", n, (7.4, 11.0, 7.4, 3.7))
        signals.check_sources("region", [self.region])
        for name in ("pv_kwp", "wind_kw", "base_load_kw", "battery_kwh", "battery_kw",
                     "ev_charger_kw"):  # fmt: skip
            require(all(v >= 0 for v in getattr(self, name)), name, "entries must be >= 0")
        lo, hi = self.ev_demand_kwh
        require(0 <= lo <= hi, "ev_demand_kwh", f"needs 0 <= low <= high, got ({lo}, {hi})")
        for name in ("charge_efficiency", "discharge_efficiency"):
            v = getattr(self, name)
            require(0 < v <= 1, name, f"must be in (0, 1], got {v}")
        for name in ("degradation_usd_per_kwh", "network_charge_usd_per_kwh",
                     "export_fee_usd_per_kwh", "overload_penalty_usd_per_kwh",
                     "ev_unmet_penalty_usd_per_kwh", "carbon_price_per_t"):  # fmt: skip
            require(getattr(self, name) >= 0, name, "must be >= 0")
        require(self.feeder_limit_kw > 0, "feeder_limit_kw", "must be > 0")
        require(self.reward_scale_usd > 0, "reward_scale_usd", "must be > 0")

    @property
    def dt(self) -> float:
        return self.slot_minutes / 60.0

    def max_import_usd_per_kwh(self) -> float:
        """Import price plus carbon cost at the caps, $/kWh."""
        return (signals.MAX_PRICE_USD_PER_MWH / 1000.0 + self.network_charge_usd_per_kwh
                + self.carbon_price_per_t / 1000.0 * MAX_INTENSITY_KG_PER_KWH)  # fmt: skip

    def reward_bounds(self) -> dict[str, tuple[float, float]]:
        """Bounds of every reward term of one step (the terminal term only on the last step)."""
        s, dt = self.reward_scale_usd, self.dt
        bat = np.asarray(self.battery_kw)
        draw = (
            LOAD_CAP * np.asarray(self.base_load_kw) * 1.3 + np.asarray(self.ev_charger_kw) + bat
        ).sum() * dt  # kWh a slot can import at most (load peaks at 1.3x its base)
        feed = (np.asarray(self.pv_kwp) + np.asarray(self.wind_kw) + bat).sum() * dt
        p_imp = signals.MAX_PRICE_USD_PER_MWH / 1000.0 + self.network_charge_usd_per_kwh
        p_exp = signals.MAX_PRICE_USD_PER_MWH / 1000.0  # export earns at most wholesale
        fee = self.export_fee_usd_per_kwh
        stored = float(np.sum(self.battery_kwh)) * self.discharge_efficiency
        t_max = stored * self.max_import_usd_per_kwh() / s
        co2 = self.carbon_price_per_t / 1000.0 * MAX_INTENSITY_KG_PER_KWH
        ev = self.ev_unmet_penalty_usd_per_kwh * self.ev_demand_kwh[1] * self.n_prosumers
        over = self.overload_penalty_usd_per_kwh * max(draw, feed)
        return {
            # paying to export (negative export price) can cost up to the export fee
            "r_energy_cost": (-(draw * p_imp + feed * fee) / s, feed * p_exp / s),
            "r_carbon": (-draw * co2 / s, 0.0),
            "r_degradation": (-self.degradation_usd_per_kwh * float(bat.sum()) * dt / s, 0.0),
            "r_ev_unmet": (-ev / s, 0.0),
            "r_overload": (-over / s, 0.0),
            "r_terminal": (-t_max, t_max),
        }


_INFO_KEYS = (
    "energy_kwh", "co2_kg", "cost", "import_kwh", "export_kwh", "curtailed_kwh",
    "ev_charged_kwh", "ev_unmet_kwh", "overload_kwh", "renewable_share", "soc_mean",
    "r_energy_cost", "r_carbon", "r_degradation", "r_ev_unmet", "r_overload", "r_terminal",
)  # fmt: skip
_I = info_index(_INFO_KEYS)
I_ENERGY, I_CO2, I_COST, I_IMP, I_EXP, I_CURT, I_EV, I_UNMET = (_I[k] for k in _INFO_KEYS[:8])
I_OVER, I_SHARE, I_SOC = (_I[k] for k in _INFO_KEYS[8:11])
I_RCOST, I_RCO2, I_RDEG, I_RUNMET, I_ROVER, I_RTERM = (_I[k] for k in _INFO_KEYS[11:])


class EnergyInternetCore(BatchedCore):
    """Batched dynamics of :class:`EnergyInternetEnv` (see its docstring for the model)."""

    info_keys = _INFO_KEYS

    def __init__(self, params: EnergyInternetParams, batch_size: int) -> None:
        super().__init__(params, batch_size)
        p = self.p = params
        N = self.N = p.n_prosumers
        self.act_dim = 3 * N
        self.obs_dim = 6 * N + 12
        self.dt = p.dt
        self.cap_kwh = np.asarray(p.battery_kwh, float)
        self.p_bat = np.asarray(p.battery_kw, float)
        self.p_ev = np.asarray(p.ev_charger_kw, float)
        self.source = signals.make_intensity_source(p.region)
        self.market = signals.price_market(p.region, "solar")
        self._ren_cap = np.maximum(np.asarray(p.pv_kwp) + np.asarray(p.wind_kw), 1e-9)
        self._coeffs = np.array([
            p.charge_efficiency, p.discharge_efficiency, p.degradation_usd_per_kwh,
            p.feeder_limit_kw, p.overload_penalty_usd_per_kwh, p.ev_unmet_penalty_usd_per_kwh,
            p.carbon_price_per_t, p.reward_scale_usd,
        ])  # fmt: skip
        self._glob = time_features(self.horizon, p.slot_minutes)
        # Household load shape: evening peak at 19:00 and a morning bump at 08:00.
        hod = (np.arange(self.horizon) * p.slot_minutes / 60.0) % 24
        house = 0.6 + 0.4 * np.cos(2 * np.pi * (hod - 19) / 24)
        house += 0.3 * np.exp(-0.5 * ((hod - 8) / 1.5) ** 2)
        self._load_mean = np.asarray(p.base_load_kw) * house[:, None]
        self._reward = np.zeros(batch_size)
        self._info = np.zeros((batch_size, len(self.info_keys)))
        self._obs = np.zeros((batch_size, self.obs_dim), np.float32)

    def reset(self, rng: np.random.Generator) -> None:
        p, B, H, N = self.p, self.batch_size, self.horizon, self.N
        hours = signals.hours_needed(p.slot_minutes, H)
        per_slot = lambda x: signals.hourly_to_slots(x, p.slot_minutes, H)  # noqa: E731
        ci = per_slot(self.source.sample(rng, B, hours, 0))
        self.ci = np.minimum(ci, MAX_INTENSITY_KG_PER_KWH)  # (B,H) kg/kWh
        wholesale = per_slot(signals.electricity_price(self.market, rng, B, hours, 0)) / 1000.0
        self.import_price = wholesale + p.network_charge_usd_per_kwh  # $/kWh
        self.export_price = wholesale - p.export_fee_usd_per_kwh  # $/kWh, < 0 in a solar glut
        self.pv = per_slot(signals.pv_power_per_kwp(rng, B, hours, 0))  # (B,H) shared weather
        self.wind = per_slot(signals.wind_power_per_kw(rng, B, hours))
        if self.fast_draws:
            self._fast_loads(rng)
        else:
            self.renewable_kw = (self.pv[..., None] * np.asarray(p.pv_kwp)
                                 + self.wind[..., None] * np.asarray(p.wind_kw))  # fmt: skip
            noise = rng.lognormal(-0.02, 0.2, size=(B, H, N))
            self.load_kw = self._load_mean * np.minimum(noise, LOAD_CAP)
        # EV sessions: plugged in at a slot in the first half of the day for 4-12 hours.
        arrive = rng.integers(0, max(H // 2, 1), size=(B, N))
        stay = np.ceil(rng.uniform(4.0, 12.0, size=(B, N)) / self.dt).astype(np.int64)
        self.ev_arrive = arrive
        self.ev_depart = np.minimum(arrive + stay, H)  # exclusive
        tt = np.arange(H)[None, :, None]
        present = self.buffer("ev_present", (B, H, N), bool) if self.fast_draws else None
        self.ev_present = np.greater_equal(tt, arrive[:, None, :], out=present)
        self.ev_present &= tt < self.ev_depart[:, None, :]
        self.ev_demand = rng.uniform(*p.ev_demand_kwh, size=(B, N))
        self.ev_need = self.ev_demand.copy()
        self.soc = self.cap_kwh * rng.uniform(0.2, 0.8, size=(B, N))
        self.soc0 = self.soc.copy()
        # Stored energy left at the end is worth what it saves on an average slot of the day.
        self.storage_value = p.discharge_efficiency * (
            self.import_price + p.carbon_price_per_t / 1000.0 * self.ci
        ).mean(1)  # (B,) $/kWh
        self.t = 0

    def _fast_loads(self, rng: np.random.Generator) -> None:
        """Renewable output and loads as :meth:`reset` draws them, the same distributions, in
        arrays kept from one reset to the next (the log-normal noise as ``exp`` of a normal,
        numpy's vectorised ``exp``): what ``fast_draws`` resets use."""
        p, B, H, N = self.p, self.batch_size, self.horizon, self.N
        ren = self.buffer("renewable_kw", (B, H, N))
        np.multiply(self.pv[..., None], np.asarray(p.pv_kwp), out=ren)
        ren += np.multiply(
            self.wind[..., None], np.asarray(p.wind_kw), out=self.buffer("tmp", (B, H, N))
        )
        self.renewable_kw = ren
        load = rng.standard_normal(out=self.buffer("load_kw", (B, H, N)))
        load *= 0.2
        load -= 0.02
        np.exp(load, out=load)
        np.minimum(load, LOAD_CAP, out=load)
        load *= self._load_mean
        self.load_kw = load

    def observe(self) -> np.ndarray:
        _observe(
            min(self.t, self.horizon - 1), self.soc, self.cap_kwh, self.load_kw,
            self.renewable_kw, self._ren_cap, self.ev_present, self.ev_need, self.ev_depart,
            self.import_price, self.export_price, self.ci, self.pv, self.wind, self._glob,
            self._obs,
        )  # fmt: skip
        return self._obs.copy()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.t >= self.horizon:
            raise RuntimeError("episode is over: call reset()")
        check_and_clip(action)
        t = self.t
        _step(
            action, t, self.horizon, self.soc, self.soc0, self.ev_need, self.cap_kwh, self.p_bat,
            self.p_ev, self.load_kw[:, t], self.renewable_kw[:, t], self.ev_present[:, t],
            self.ev_depart, self.import_price[:, t], self.export_price[:, t], self.ci[:, t],
            self.storage_value, self.dt, self._coeffs, self._reward, self._info,
        )  # fmt: skip
        self.t += 1
        return self._reward.copy(), self._info.copy()


@njit(cache=True)
def ev_power(a, need, slots_left, p_max, dt):
    """EV charging power (kW) from action ``a``: ``a = 0`` charges at the pace that just meets
    the departure (``need / (slots_left dt)``), ``-1`` not at all, ``+1`` at full power; linear in
    between; never above the charger or the energy still needed."""
    top = min(p_max, max(need, 0.0) / dt)
    pace = min(max(need, 0.0) / (max(slots_left, 1) * dt), top)
    if a <= 0.0:
        return pace * (1.0 + a)
    return pace + (top - pace) * a


@njit(cache=True)
def _observe(t, soc, cap_kwh, load, renewable, ren_cap, ev_present, ev_need, ev_depart,
             imp_price, exp_price, ci, pv, wind, glob, out):  # fmt: skip
    B, N = soc.shape
    H = ci.shape[1]
    nxt = min(t + 1, H - 1)
    for b in range(B):
        for i in range(N):
            here = ev_present[b, t, i]
            out[b, i] = soc[b, i] / cap_kwh[i] if cap_kwh[i] > 0 else 0.0
            out[b, N + i] = load[b, t, i] / LOAD_SCALE_KW
            out[b, 2 * N + i] = renewable[b, t, i] / ren_cap[i]
            out[b, 3 * N + i] = 1.0 if here else 0.0
            out[b, 4 * N + i] = ev_need[b, i] / EV_NEED_SCALE_KWH if here else 0.0
            out[b, 5 * N + i] = (ev_depart[b, i] - t) / H if here else 0.0
        far_p = 0.0
        far_c = 0.0
        for j in range(1, FORECAST_FAR + 1):
            far_p += imp_price[b, min(t + j, H - 1)]
            far_c += ci[b, min(t + j, H - 1)]
        k = 6 * N
        out[b, k] = imp_price[b, t] * PRICE_SCALE_KWH_PER_USD
        out[b, k + 1] = exp_price[b, t] * PRICE_SCALE_KWH_PER_USD
        out[b, k + 2] = ci[b, t] / CI_SCALE_KG_PER_KWH
        out[b, k + 3] = imp_price[b, nxt] * PRICE_SCALE_KWH_PER_USD
        out[b, k + 4] = far_p / FORECAST_FAR * PRICE_SCALE_KWH_PER_USD
        out[b, k + 5] = ci[b, nxt] / CI_SCALE_KG_PER_KWH
        out[b, k + 6] = far_c / FORECAST_FAR / CI_SCALE_KG_PER_KWH
        out[b, k + 7] = pv[b, nxt]
        out[b, k + 8] = wind[b, nxt]
        for j in range(3):
            out[b, k + 9 + j] = glob[t, j]
        for j in range(out.shape[1]):
            out[b, j] = min(max(out[b, j], -OBS_BOUND), OBS_BOUND)


@njit(cache=True)
def _step(
    action, t, H, soc, soc0, ev_need, cap_kwh, p_bat, p_ev, load, renewable, ev_present,
    ev_depart, imp_price, exp_price, ci, storage_value, dt, coeffs, out_reward, out_info,
):  # fmt: skip
    """One slot for every copy (model in the env docstring); mutates ``soc`` and ``ev_need``."""
    B, N = soc.shape
    eta_c, eta_d, deg_cost, feeder_limit, over_pen, unmet_pen, carbon_price, scale = (
        coeffs[0], coeffs[1], coeffs[2], coeffs[3], coeffs[4], coeffs[5], coeffs[6], coeffs[7],
    )  # fmt: skip
    for b in range(B):
        imp = 0.0
        exp = 0.0
        feeder = 0.0
        throughput = 0.0
        unmet = 0.0
        curtailed = 0.0
        used_ren = 0.0
        demand = 0.0
        charged = 0.0
        soc_sum = 0.0
        term = 0.0
        for i in range(N):
            bat = action[b, i] * p_bat[i]
            bat = min(max(bat, -soc[b, i] * eta_d / dt), (cap_kwh[i] - soc[b, i]) / (eta_c * dt))
            ev = 0.0
            if ev_present[b, i]:
                ev = ev_power(action[b, N + i], ev_need[b, i], ev_depart[b, i] - t, p_ev[i], dt)
            # curtailment limits the export: it never makes the household import
            export = min(max(renewable[b, i] - load[b, i] - ev - bat, 0.0), renewable[b, i])
            curtail = max(action[b, 2 * N + i], 0.0) * export
            if bat > 0.0:
                soc[b, i] += eta_c * bat * dt
                throughput += bat * dt
            else:
                soc[b, i] += bat / eta_d * dt
                throughput -= bat * dt
            soc[b, i] = min(max(soc[b, i], 0.0), cap_kwh[i])
            ev_need[b, i] -= ev * dt
            charged += ev * dt
            if ev_depart[b, i] == t + 1:
                unmet += max(ev_need[b, i], 0.0)
            net = load[b, i] + ev + bat - renewable[b, i] + curtail
            if net > 0.0:
                imp += net * dt
            else:
                exp -= net * dt
            feeder += net
            curtailed += curtail * dt
            used_ren += (renewable[b, i] - curtail) * dt
            demand += (load[b, i] + ev) * dt
            soc_sum += soc[b, i] / cap_kwh[i] if cap_kwh[i] > 0.0 else 0.0
            if t == H - 1:
                term += (soc[b, i] - soc0[b, i]) * storage_value[b]
        overload = max(abs(feeder) - feeder_limit, 0.0) * dt
        co2 = imp * ci[b]
        energy_cost = imp * imp_price[b] - exp * exp_price[b]
        degradation = deg_cost * throughput
        r_cost = -energy_cost / scale
        r_carbon = -carbon_price * co2 / 1000.0 / scale
        r_deg = -degradation / scale
        r_unmet = -unmet_pen * unmet / scale
        r_over = -over_pen * overload / scale
        r_term = term / scale
        out_reward[b] = r_cost + r_carbon + r_deg + r_unmet + r_over + r_term
        info = out_info[b]
        info[I_ENERGY] = imp
        info[I_CO2] = co2
        info[I_COST] = energy_cost + degradation
        info[I_IMP] = imp
        info[I_EXP] = exp
        info[I_CURT] = curtailed
        info[I_EV] = charged
        info[I_UNMET] = unmet
        info[I_OVER] = overload
        info[I_SHARE] = min(used_ren / demand, 1.0) if demand > 1e-9 else 1.0
        info[I_SOC] = soc_sum / N
        info[I_RCOST] = r_cost
        info[I_RCO2] = r_carbon
        info[I_RDEG] = r_deg
        info[I_RUNMET] = r_unmet
        info[I_ROVER] = r_over
        info[I_RTERM] = r_term


@dataclass
class Decision:
    """One slot's decisions for every copy, kW per prosumer (B, N): ``battery_kw`` (+ charges),
    ``ev_kw`` and ``curtail_kw``."""

    battery_kw: np.ndarray
    ev_kw: np.ndarray
    curtail_kw: np.ndarray


def encode(core: EnergyInternetCore, d: Decision) -> np.ndarray:
    """Actions (B, act_dim) that the step decodes back to ``d`` at the core's current slot
    (exact within the charger, battery and renewable limits)."""
    B, N, t, dt = core.batch_size, core.N, core.t, core.dt
    bat = np.divide(d.battery_kw, core.p_bat, out=np.zeros((B, N)), where=core.p_bat > 0)
    need = np.maximum(core.ev_need, 0.0)
    top = np.minimum(core.p_ev, need / dt)
    pace = np.minimum(need / (np.maximum(core.ev_depart - t, 1) * dt), top)
    ev = np.asarray(d.ev_kw, float).reshape(B, N)
    lower = np.divide(ev, pace, out=np.zeros((B, N)), where=pace > 0) - 1.0
    upper = np.divide(ev - pace, top - pace, out=np.ones((B, N)), where=top > pace)
    ev_a = np.where(ev <= pace, np.where(pace > 0, lower, -1.0), upper)
    ren = core.renewable_kw[:, t]
    export = np.clip(ren - core.load_kw[:, t] - ev - np.asarray(d.battery_kw, float), 0.0, ren)
    cur = np.divide(d.curtail_kw, export, out=np.zeros((B, N)), where=export > 1e-12)
    return np.clip(np.concatenate([bat, ev_a, cur], 1), -1.0, 1.0)


class EnergyInternetEnv(CoreEnv):
    """Energy Internet: prosumers trading with the grid behind one feeder.

    ``n_prosumers`` households or small businesses, each with PV and/or a small wind turbine, a
    battery, a base load and an EV with a charging deadline, exchange power with the grid through a
    shared feeder. Import and export prices and the grid's carbon intensity vary by hour, and they
    disagree: in a solar-heavy grid midday power is cheap and clean, evening power expensive and
    dirty, but cheapest-import and cleanest-import hours need not coincide.

    **Time scale.** One slot is ``slot_minutes`` (60) minutes; an episode is ``horizon`` (24)
    slots, one day from midnight.

    ## Action space
    ``Box(-1, 1, (3 N,))``, ``N = n_prosumers``; ``a = 0`` is a sensible neutral decision
    (batteries idle, EVs charged at the pace that just meets their departure, nothing
    curtailed) and every saturated action is valid:

    * ``a_0..a_{N-1}``, **battery power** ``a * battery_kw`` kW (+ charges), clipped to what the
      state of charge allows;
    * ``a_N..a_{2N-1}``, **EV charging** while plugged in: ``a = 0`` the pace
      ``need / (slots to departure * dt)``, ``-1`` none, ``+1`` full power (linear in between;
      never more than the charger or the energy still needed);
    * ``a_{2N}..a_{3N-1}``, **curtailment**: ``max(a, 0)`` of what would be exported (an export
      limit: curtailment never makes the household import).

    ## Observation space
    ``Box(-10, 10, (6 N + 12,))``, float32. Per prosumer: state of charge / capacity, load / 5 kW,
    renewable output / installed kW, EV plugged in, EV energy still needed / 25 kWh, slots to
    departure / horizon. Then import and export price (x 5 kWh/$) and intensity (/ 0.4 kg/kWh)
    now; import price next slot and mean over the next four; intensity next slot and mean over
    the next four (perfect forecasts); PV output per kWp and wind output per kW next slot; sin
    and cos of the hour; fraction of the day elapsed.

    ## Model (slot ``t`` of ``dt = slot_minutes / 60`` h, prosumer ``i``)
    * renewables: PV ``pv_kwp * pv(t)`` (clear-sky half-sine, daily clearness, cloud noise) plus
      wind ``wind_kw * w(t)`` (Weibull level, generic cut-in 3 / rated 12 / cut-out 25 m/s curve);
    * load: ``base_load_kw`` times an evening-peaking daily shape times log-normal noise, capped
      at 3x;
    * battery: ``soc' = soc + (eta_c b+ - b- / eta_d) dt``, ``0 <= soc <= battery_kwh``,
      ``|b| <= battery_kw``; degradation ``degradation_usd_per_kwh`` per kWh of throughput;
    * EV: plugged in for 4-12 h from a slot in the first half of the day, needs
      ``U(ev_demand_kwh)`` kWh by departure; unmet energy costs ``ev_unmet_penalty_usd_per_kwh``;
    * net power ``g = load + ev + b - renewable + curtailed`` kW; import ``max(g, 0) dt`` kWh pays
      wholesale + ``network_charge``; export ``max(-g, 0) dt`` earns wholesale - ``export_fee``
      (negative in a midday glut, which makes curtailing the export worthwhile);
    * feeder: ``|sum_i g_i|`` above ``feeder_limit_kw`` costs ``overload_penalty_usd_per_kwh``;
    * carbon: imports only, ``co2_kg = import_kwh * intensity`` (:mod:`lowcarbon.envs.carbon`;
      intensities capped at 2 kg/kWh, wholesale prices at 1,000 $/MWh).

    ## Reward (per slot, $ / ``reward_scale_usd``)
    ``-(energy cost + carbon_price_per_t * t CO2 + degradation + EV unmet + overload)``, and on the
    last slot the **terminal value** of the energy stored beyond the start: ``sum_i (soc_i -
    soc0_i) * v`` with ``v = eta_d *`` the day's mean of (import price + carbon cost) per kWh, what
    a stored kWh saves on an average slot, so that neither draining nor hoarding pays. Bounds per
    term: :meth:`EnergyInternetParams.reward_bounds` (fuzz-tested; generous, at the price and
    intensity caps); measured under random play, the zero action, the rules and the oracle, 98 %
    of steps are in [-3.5, 0.6] and the last one in [-5.1, 2.4]. Terms in ``info`` as
    ``r_energy_cost``,
    ``r_carbon``, ``r_degradation``, ``r_ev_unmet``, ``r_overload``, ``r_terminal``.

    ## Info
    ``energy_kwh`` (= grid import), ``co2_kg``, ``cost`` ($, energy plus degradation), QoS:
    ``ev_unmet_kwh``, ``overload_kwh``, ``renewable_share``; flows ``import_kwh``,
    ``export_kwh``, ``curtailed_kwh``, ``ev_charged_kwh``; ``soc_mean``; reward terms.

    ## Start state and episode end
    Reset draws a day of intensity, prices, weather, loads and EV sessions, and initial states of
    charge uniform in 20-80 %. The episode terminates after ``horizon`` slots. The native vector
    env's throughput mode (``seeding="batch"``) draws the same distributions faster (numpy's
    SFC64 generator, the load noise as ``exp`` of a normal, arrays kept between resets).

    ## Oracle
    Storage couples slots, so the oracle is the perfect-foresight LP over the day
    (:func:`lowcarbon.envs.energy_internet.oracle.solve`, HiGHS), terminal value included. It
    splits battery power into charge and discharge, a relaxation of the signed action, so its
    value is an upper bound; charging and discharging at once only loses energy and pays
    degradation, so the optimum does not, and replaying its plan attains the bound (tests).

    ## Version history
    * v1: terminal value for stored energy (v0 valued it at zero, so the oracle drained every
      battery); ``a = 0`` curtails nothing (curtailment ``max(a, 0)``, v0 curtailed half) and
      charges EVs at the pace that meets their departure; forecasts of price, intensity and
      renewables are observed; loads, prices and intensities are capped, so every reward term is
      bounded.
    * v0 (unreleased): initial version.
    """

    params_cls = EnergyInternetParams
    core_cls = EnergyInternetCore


#: ``gym.make_vec(id, n, vectorization_mode="vector_entry_point")``'s entry point (a name, so
#: that specs pickle and serialise): the native :class:`~lowcarbon.envs.core.CoreVectorEnv`.
make_vector = EnergyInternetEnv.vector
