"""Energy Internet: prosumers with PV, wind, batteries and EV charging behind one feeder."""

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


@dataclass(frozen=True)
class EnergyInternetParams(EnvParams):
    """Parameters of :class:`EnergyInternetEnv` (units in the names or the env docstring)."""

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
        self.check_time()
        require(self.n_prosumers >= 1, "n_prosumers", f"must be >= 1, got {self.n_prosumers}")
        n = self.n_prosumers
        self.expand("pv_kwp", n, (6.0, 10.0, 0.0, 8.0))
        self.expand("wind_kw", n, (0.0, 0.0, 10.0, 3.0))
        self.expand("base_load_kw", n, (1.0, 1.5, 2.5, 1.2))
        self.expand("battery_kwh", n, (10.0, 13.5, 20.0, 5.0))
        self.expand("battery_kw", n, (5.0, 5.0, 10.0, 2.5))
        self.expand("ev_charger_kw", n, (7.4, 11.0, 7.4, 3.7))
        signals.make_intensity_source(self.region)
        for name in (
            "pv_kwp",
            "wind_kw",
            "base_load_kw",
            "battery_kwh",
            "battery_kw",
            "ev_charger_kw",
        ):
            require(all(v >= 0 for v in getattr(self, name)), name, "entries must be >= 0")
        lo, hi = self.ev_demand_kwh
        require(0 <= lo <= hi, "ev_demand_kwh", f"needs 0 <= low <= high, got ({lo}, {hi})")
        for name in ("charge_efficiency", "discharge_efficiency"):
            v = getattr(self, name)
            require(0 < v <= 1, name, f"must be in (0, 1], got {v}")
        for name in (
            "degradation_usd_per_kwh",
            "network_charge_usd_per_kwh",
            "overload_penalty_usd_per_kwh",
            "ev_unmet_penalty_usd_per_kwh",
            "carbon_price_per_t",
        ):
            require(getattr(self, name) >= 0, name, "must be >= 0")
        require(self.feeder_limit_kw > 0, "feeder_limit_kw", "must be > 0")
        require(self.reward_scale_usd > 0, "reward_scale_usd", "must be > 0")


class EnergyInternetCore(BatchedCore):
    """Batched dynamics of :class:`EnergyInternetEnv` (see its docstring for the model)."""

    info_keys = (
        "energy_kwh", "co2_kg", "cost", "import_kwh", "export_kwh", "curtailed_kwh",
        "ev_unmet_kwh", "overload_kwh", "renewable_share",
        "r_energy_cost", "r_carbon", "r_degradation", "r_ev_unmet", "r_overload",
    )  # fmt: skip

    def __init__(self, params: EnergyInternetParams, batch_size: int) -> None:
        super().__init__(params, batch_size)
        p = self.p = params
        N = self.N = p.n_prosumers
        self.act_dim = 3 * N
        self.obs_dim = 6 * N + 8
        self.dt = p.slot_minutes / 60.0
        self.cap_kwh = np.asarray(p.battery_kwh, float)
        self.p_bat = np.asarray(p.battery_kw, float)
        self.p_ev = np.asarray(p.ev_charger_kw, float)
        self.source = signals.make_intensity_source(p.region)
        self.market = p.region if p.region in signals.PRICE_SHAPES else "solar"
        self._ren_cap = np.maximum(np.asarray(p.pv_kwp) + np.asarray(p.wind_kw), 1e-9)
        self._coeffs = np.array([
            p.charge_efficiency, p.discharge_efficiency, p.degradation_usd_per_kwh,
            p.feeder_limit_kw, p.overload_penalty_usd_per_kwh, p.ev_unmet_penalty_usd_per_kwh,
            p.carbon_price_per_t, p.reward_scale_usd,
        ])  # fmt: skip
        self._reward = np.zeros(batch_size)
        self._glob = time_features(self.horizon, p.slot_minutes)
        # Household load shape: evening peak at 19:00 and a morning bump at 08:00.
        hod = (np.arange(self.horizon) * p.slot_minutes // 60) % 24
        house = 0.6 + 0.4 * np.cos(2 * np.pi * (hod - 19) / 24)
        house += 0.3 * np.exp(-0.5 * ((hod - 8) / 1.5) ** 2)
        self._load_mean = np.asarray(p.base_load_kw) * house[None, :, None]
        self._info = np.zeros((batch_size, len(self.info_keys)))
        self._obs = np.zeros((batch_size, self.obs_dim), np.float32)

    def reset(self, rng: np.random.Generator) -> None:
        p, B, H, N = self.p, self.batch_size, self.horizon, self.N
        hours = signals.hours_needed(p.slot_minutes, H)
        per_slot = lambda x: signals.hourly_to_slots(x, p.slot_minutes, H)  # noqa: E731
        self.ci = per_slot(self.source.sample(rng, B, hours, 0))  # (B,H) kg/kWh
        wholesale = per_slot(signals.electricity_price(self.market, rng, B, hours, 0)) / 1000.0
        self.import_price = wholesale + p.network_charge_usd_per_kwh  # $/kWh
        self.export_price = wholesale - p.export_fee_usd_per_kwh  # $/kWh, < 0 in a solar glut
        pv = per_slot(signals.pv_power_per_kwp(rng, B, hours, 0))  # (B,H) shared weather
        wind = per_slot(signals.wind_power_per_kw(rng, B, hours))
        self.renewable_kw = pv[..., None] * np.asarray(p.pv_kwp) + wind[..., None] * np.asarray(
            p.wind_kw
        )  # (B,H,N)
        self.load_kw = self._load_mean * rng.lognormal(-0.02, 0.2, size=(B, H, N))
        # EV sessions: plugged in at a slot in the first half of the day for 4-12 hours.
        slots_per_h = 1.0 / self.dt
        arrive = rng.integers(0, max(H // 2, 1), size=(B, N))
        stay = np.ceil(rng.uniform(4.0, 12.0, size=(B, N)) * slots_per_h).astype(np.int64)
        self.ev_arrive = arrive
        self.ev_depart = np.minimum(arrive + stay, H)  # exclusive
        tt = np.arange(H)[None, :, None]
        self.ev_present = (tt >= arrive[:, None, :]) & (tt < self.ev_depart[:, None, :])
        self.ev_demand = rng.uniform(*p.ev_demand_kwh, size=(B, N))
        self.ev_need = self.ev_demand.copy()
        self.soc = self.cap_kwh * rng.uniform(0.2, 0.8, size=(B, N))
        self.soc0 = self.soc.copy()
        self.t = 0

    def observe(self) -> np.ndarray:
        t = min(self.t, self.horizon - 1)
        nxt = min(t + 1, self.horizon - 1)
        _energy_observe(
            self.soc, self.cap_kwh, self.load_kw[:, t], self.renewable_kw[:, t], self._ren_cap,
            self.ev_present[:, t], self.ev_need, self.ev_depart, t, self.horizon,
            self.import_price[:, t], self.export_price[:, t], self.ci[:, t],
            self.import_price[:, nxt], self.ci[:, nxt], self._glob[t], self._obs,
        )  # fmt: skip
        return self._obs.copy()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.t >= self.horizon:
            raise RuntimeError("episode is over: call reset()")
        check_and_clip(action)
        t = self.t
        _energy_step(
            action, self.soc, self.ev_need, self.cap_kwh, self.p_bat, self.p_ev,
            self.load_kw[:, t], self.renewable_kw[:, t], self.ev_present[:, t],
            self.ev_depart == t + 1, self.import_price[:, t], self.export_price[:, t],
            self.ci[:, t], self.dt, self._coeffs, self._reward, self._info,
        )  # fmt: skip
        self.t += 1
        return self._reward.copy(), self._info.copy()


@njit(cache=True)
def _energy_observe(
    soc, cap_kwh, load, renewable, ren_cap, ev_present, ev_need, ev_depart, t, horizon,
    imp_price, exp_price, ci, imp_next, ci_next, glob, out,
):  # fmt: skip
    B, N = soc.shape
    for b in range(B):
        for i in range(N):
            here = ev_present[b, i]
            out[b, i] = soc[b, i] / max(cap_kwh[i], 1e-9)
            out[b, N + i] = load[b, i] / 5.0
            out[b, 2 * N + i] = renewable[b, i] / ren_cap[i]
            out[b, 3 * N + i] = 1.0 if here else 0.0
            out[b, 4 * N + i] = ev_need[b, i] / 25.0 if here else 0.0
            out[b, 5 * N + i] = (ev_depart[b, i] - t) / horizon if here else 0.0
        k = 6 * N
        out[b, k] = imp_price[b] * 5.0
        out[b, k + 1] = exp_price[b] * 5.0
        out[b, k + 2] = ci[b] / 0.4
        out[b, k + 3] = imp_next[b] * 5.0
        out[b, k + 4] = ci_next[b] / 0.4
        for j in range(3):
            out[b, k + 5 + j] = glob[j]
        for j in range(out.shape[1]):
            out[b, j] = min(max(out[b, j], -OBS_BOUND), OBS_BOUND)


@njit(cache=True)
def _energy_step(
    action, soc, ev_need, cap_kwh, p_bat, p_ev, load, renewable, ev_present, leaving,
    imp_price, exp_price, ci, dt, coeffs, out_reward, out_info,
):  # fmt: skip
    """One slot for every copy (model in the env docstring); mutates ``soc`` and ``ev_need``.

    Decoding per prosumer: battery ``a * battery_kw`` kW (+ charges) clipped to what the state of
    charge allows; EV ``(a + 1) / 2 * ev_charger_kw`` kW if plugged in, clipped to the remaining
    need; curtailment ``(a + 1) / 2`` of the renewable output.
    """
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
        for i in range(N):
            bat = action[b, i] * p_bat[i]
            room = (cap_kwh[i] - soc[b, i]) / (eta_c * dt)
            avail = soc[b, i] * eta_d / dt
            bat = min(max(bat, -avail), room)
            ev = 0.0
            if ev_present[b, i]:
                ev = min((action[b, N + i] + 1.0) * 0.5 * p_ev[i], max(ev_need[b, i], 0.0) / dt)
            curtail = (action[b, 2 * N + i] + 1.0) * 0.5 * renewable[b, i]
            if bat > 0.0:
                soc[b, i] += eta_c * bat * dt
                throughput += bat * dt
            else:
                soc[b, i] += bat / eta_d * dt
                throughput -= bat * dt
            soc[b, i] = min(max(soc[b, i], 0.0), cap_kwh[i])
            ev_need[b, i] -= ev * dt
            if leaving[b, i]:
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
        overload = max(abs(feeder) - feeder_limit, 0.0) * dt
        co2 = imp * ci[b]
        energy_cost = imp * imp_price[b] - exp * exp_price[b]
        degradation = deg_cost * throughput
        r_cost = -energy_cost / scale
        r_carbon = -carbon_price * co2 / 1000.0 / scale
        r_deg = -degradation / scale
        r_unmet = -unmet_pen * unmet / scale
        r_over = -over_pen * overload / scale
        out_reward[b] = r_cost + r_carbon + r_deg + r_unmet + r_over
        info = out_info[b]
        info[0] = imp
        info[1] = co2
        info[2] = energy_cost + degradation
        info[3] = imp
        info[4] = exp
        info[5] = curtailed
        info[6] = unmet
        info[7] = overload
        info[8] = min(used_ren / demand, 1.0) if demand > 1e-9 else 1.0
        info[9] = r_cost
        info[10] = r_carbon
        info[11] = r_deg
        info[12] = r_unmet
        info[13] = r_over


class EnergyInternetEnv(CoreEnv):
    """Energy Internet: prosumers trading with the grid behind one feeder.

    ``n_prosumers`` households or small businesses, each with PV and/or a small wind turbine, a
    battery, a base load and an EV with a charging deadline, exchange power with the grid through a
    shared feeder. Import and export prices and the grid's carbon intensity vary by hour, and they
    disagree: in a solar-heavy grid midday power is cheap and clean, evening power expensive and
    dirty, but cheapest-import and cleanest-import hours need not coincide.

    ## Action space
    ``Box(-1, 1, (3 N,))``, ``N = n_prosumers``: battery power ``a * battery_kw`` kW (+ charges),
    clipped to what the state of charge allows; EV charging ``(a + 1) / 2 * ev_charger_kw`` kW when
    plugged in, clipped to the remaining need; curtailment ``(a + 1) / 2`` of the renewable output.

    ## Observation space
    ``Box(-10, 10, (6 N + 8,))``, float32. Per prosumer: state of charge / capacity, load / 5 kW,
    renewable output / installed kW, EV plugged in, EV energy still needed / 25 kWh, slots to
    departure / horizon. Then import and export price * 5 kWh/$, intensity / 0.4 kg/kWh, next slot's
    import price and intensity (a one-slot forecast), sin and cos of the hour, fraction elapsed.

    ## Model (slot ``t`` of ``dt = slot_minutes / 60`` h, prosumer ``i``)
    * renewables: PV ``pv_kwp * pv(t)`` (clear-sky half-sine, daily clearness, cloud noise) plus
      wind ``wind_kw * w(t)`` (Weibull level, generic cut-in 3 / rated 12 / cut-out 25 m/s curve);
    * battery: ``soc' = soc + (eta_c b+ - b- / eta_d) dt``, ``0 <= soc <= battery_kwh``,
      ``|b| <= battery_kw``; degradation ``degradation_usd_per_kwh`` per kWh of throughput;
    * EV: plugged in for 4-12 h from a slot in the first half of the day, needs
      ``U(ev_demand_kwh)`` kWh by departure; unmet energy costs ``ev_unmet_penalty_usd_per_kwh``;
    * net power ``g = load + ev + b - renewable + curtailed`` kW; import ``max(g, 0) dt`` kWh pays
      wholesale + ``network_charge``; export ``max(-g, 0) dt`` earns wholesale - ``export_fee``
      (negative in a midday glut, which makes curtailment worthwhile);
    * feeder: ``|sum_i g_i|`` above ``feeder_limit_kw`` costs ``overload_penalty_usd_per_kwh``;
    * carbon: imports only, ``co2_kg = import_kwh * intensity`` (:mod:`lowcarbon.envs.carbon`).

    ## Reward (per slot)
    ``-(energy cost + carbon_price_per_t * t CO2 + degradation + EV unmet + overload) /
    reward_scale_usd``; terms in ``info`` as ``r_energy_cost``, ``r_carbon``, ``r_degradation``,
    ``r_ev_unmet``, ``r_overload``.

    ## Info
    ``energy_kwh`` (= grid import), ``co2_kg``, ``cost`` ($, energy plus degradation), QoS:
    ``ev_unmet_kwh``, ``overload_kwh``, ``renewable_share``; flows ``import_kwh``, ``export_kwh``,
    ``curtailed_kwh``; reward terms.

    ## Start state and episode end
    Reset draws a day of intensity, prices, weather, loads and EV sessions, and initial states of
    charge uniform in 20-80 %. Energy left in the batteries at the end has no value. The episode
    terminates after ``horizon`` slots.

    ## Oracle
    Storage couples slots, so the oracle is the perfect-foresight LP over the episode
    (:func:`lowcarbon.envs.oracles.energy_internet_lp`, HiGHS). It splits battery power into
    charge and discharge parts, a relaxation of the signed action, so its value is an upper bound;
    with positive degradation cost and free curtailment it never charges and discharges at once,
    and replaying its plan attains the bound (checked in the tests).

    ## Version history
    * v0: initial version.
    """

    params_cls = EnergyInternetParams
    core_cls = EnergyInternetCore
