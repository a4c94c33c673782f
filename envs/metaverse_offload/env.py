"""Mobile AIGC offloading to carbon-aware edge sites: the paper's case study (spec below)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from .. import signals
from ..backlog import (
    ARRIVAL_CAP as BATCH_ARRIVAL_CAP,
)
from ..backlog import (
    amount_score,
    backlog_totals,
    batch_amounts,
    draw_jobs,
    place_all,
    proportional_scores,
    serve_edf_all,
)
from ..carbon import G_PER_KG, J_PER_KWH, MAX_INTENSITY_KG_PER_KWH
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

# Observation scales (named so that the docstring, the rules and the tests agree).
CI_SCALE_KG_PER_KWH = 0.5  # carbon intensity
UPLOAD_SCALE_S = 1.0  # upload time of a request
DEADLINE_SCALE_S = 10.0  # a user's deadline
PV_SCALE_KW = 5.0  # on-site PV output
ARRIVAL_CAP = 3.0  # a user's requests in a slot are capped at 3x its peak mean (Poisson tail)
FORECAST_NEAR = 4  # slots averaged for the "next hour" forecasts
FORECAST_FAR = 16  # slots averaged for the "next four hours" forecasts


def _copies_innermost(x: np.ndarray) -> np.ndarray:
    """``x`` (B, ...) as a (B, ...) view of an array that holds the copies innermost in memory
    (the layout the kernels' loops over copies vectorise on): ``x`` itself if it does (or B is
    1), else a copy."""
    if x.shape[0] == 1 or x.strides[0] == x.itemsize:
        return x
    return np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 0, -1)), -1, 0)


def _dbm_to_w(dbm: float) -> float:
    return 10.0 ** ((dbm - 30.0) / 10.0)


@dataclass(frozen=True)
class MetaverseOffloadParams(EnvParams):
    """Parameters of :class:`MetaverseOffloadEnv`; units in the names or the env docstring.

    Per-user and per-site fields accept ``None`` (the defaults, cycled), a scalar, or one value
    per user or site.
    """

    horizon: int = 96
    slot_minutes: int = 15
    n_users: int = 4
    n_servers: int = 3
    # users
    requests_per_slot: tuple[float, ...] | None = None
    deadline_s: tuple[float, float] = (2.0, 8.0)
    request_mbit: tuple[float, float] = (0.5, 4.0)
    distance_m: tuple[float, float] = (30.0, 400.0)
    shadowing_db: float = 8.0
    bandwidth_hz: float = 20e6
    tx_power_dbm: float = 23.0
    noise_dbm: float = -100.0
    step_levels: tuple[int, ...] = (10, 20, 30, 40, 50)
    quality_levels: tuple[float, ...] = (0.5, 0.75, 0.88, 0.95, 1.0)
    # edge sites
    server_regions: tuple[str, ...] | None = None
    gpu_workers: tuple[int, ...] | None = None
    sec_per_step: tuple[float, ...] | None = None
    busy_power_w: tuple[float, ...] | None = None
    idle_power_w: tuple[float, ...] | None = None
    pue: tuple[float, ...] | None = None
    backhaul_ms: tuple[float, ...] | None = None
    pv_kwp: tuple[float, ...] | None = None
    battery_kwh: tuple[float, ...] | None = None
    battery_kw: tuple[float, ...] | None = None
    charge_efficiency: float = 0.95
    discharge_efficiency: float = 0.95
    # deferrable batch AIGC jobs
    batch_steps_per_slot: float = 18000.0
    batch_slack_slots: tuple[int, int] = (4, 32)
    # reward weights, per request-equivalent
    w_quality: float = 1.0
    w_miss: float = 1.0
    w_carbon_per_g: float = 0.5
    w_batch_drop_per_kstep: float = 25.0
    # daily carbon allowance of the operator (kg CO2); emissions beyond it cost w_excess_per_g more
    carbon_allowance_kg: float = 10.0
    w_excess_per_g: float = 1.5

    def __post_init__(self) -> None:
        self.check_base()
        require(self.n_users >= 1, "n_users", f"must be >= 1, got {self.n_users}")
        require(self.n_servers >= 1, "n_servers", f"must be >= 1, got {self.n_servers}")
        u, s = self.n_users, self.n_servers
        self.expand("requests_per_slot", u, (60.0, 90.0, 40.0, 110.0))
        self.expand("server_regions", s, ("solar", "wind", "mixed"))
        self.expand("gpu_workers", s, (1, 2, 2))
        self.expand("sec_per_step", s, (0.10, 0.12, 0.06))
        self.expand("busy_power_w", s, (700.0, 650.0, 800.0))
        self.expand("idle_power_w", s, (250.0, 250.0, 300.0))
        self.expand("pue", s, (1.4, 1.5, 1.6))
        self.expand("backhaul_ms", s, (20.0, 30.0, 5.0))
        self.expand("pv_kwp", s, (3.0, 1.0, 2.0))
        self.expand("battery_kwh", s, (12.0, 12.0, 12.0))
        self.expand("battery_kw", s, (4.0, 4.0, 4.0))
        require(all(r > 0 for r in self.requests_per_slot), "requests_per_slot", "entries > 0")
        require(all(int(w) == w and w >= 1 for w in self.gpu_workers), "gpu_workers",
                "entries must be integers >= 1")  # fmt: skip
        for name in ("sec_per_step", "busy_power_w"):
            require(all(v > 0 for v in getattr(self, name)), name, "entries must be > 0")
        require(all(0 <= i <= b for i, b in zip(self.idle_power_w, self.busy_power_w, strict=True)),
                "idle_power_w", "entries must be in [0, busy_power_w]")  # fmt: skip
        require(all(p >= 1.0 for p in self.pue), "pue", "entries must be >= 1")
        for name in ("backhaul_ms", "pv_kwp", "battery_kwh", "battery_kw"):
            require(all(v >= 0 for v in getattr(self, name)), name, "entries must be >= 0")
        signals.check_sources("server_regions", self.server_regions)
        for name in ("deadline_s", "request_mbit", "distance_m"):
            lo, hi = getattr(self, name)
            require(0 < lo <= hi, name, f"needs 0 < low <= high, got ({lo}, {hi})")
        require(self.shadowing_db >= 0, "shadowing_db", "must be >= 0")
        require(self.bandwidth_hz > 0, "bandwidth_hz", "must be > 0")
        levels, quality = tuple(self.step_levels), tuple(self.quality_levels)
        require(len(levels) >= 1 and all(int(k) == k and k >= 1 for k in levels), "step_levels",
                "needs integers >= 1")  # fmt: skip
        require(all(a < b for a, b in itertools.pairwise(levels)), "step_levels", "must increase")
        require(len(quality) == len(levels), "quality_levels", "needs one value per step level")
        require(all(0 <= q <= 1 for q in quality), "quality_levels", "entries must be in [0, 1]")
        for name in ("charge_efficiency", "discharge_efficiency"):
            v = getattr(self, name)
            require(0 < v <= 1, name, f"must be in (0, 1], got {v}")
        require(self.batch_steps_per_slot >= 0, "batch_steps_per_slot", "must be >= 0")
        lo, hi = self.batch_slack_slots
        require(0 <= lo <= hi, "batch_slack_slots", f"needs 0 <= low <= high, got ({lo}, {hi})")
        require(self.carbon_allowance_kg > 0, "carbon_allowance_kg", "must be > 0")
        for name in (
            "w_quality",
            "w_miss",
            "w_carbon_per_g",
            "w_batch_drop_per_kstep",
            "w_excess_per_g",
        ):
            require(getattr(self, name) >= 0, name, "reward weights must be >= 0")

    @property
    def slot_s(self) -> float:
        return self.slot_minutes * 60.0

    @property
    def capacity_steps(self) -> np.ndarray:
        """Denoising steps each site can run in one slot (all its GPU workers busy)."""
        return np.asarray(self.gpu_workers, float) * self.slot_s / np.asarray(self.sec_per_step)

    @property
    def requests_ref(self) -> float:
        """Reward scale: the users' summed peak mean requests per slot."""
        return float(sum(self.requests_per_slot))

    def max_requests(self) -> np.ndarray:
        """Cap on each user's requests in one slot."""
        return np.ceil(ARRIVAL_CAP * np.asarray(self.requests_per_slot, float))

    def max_site_kwh(self) -> np.ndarray:
        """Most energy a site can draw from the grid in one slot: every worker busy, times PUE,
        plus the battery charging at full power (kWh)."""
        it_w = np.asarray(self.gpu_workers, float) * np.asarray(self.busy_power_w)
        return (it_w * np.asarray(self.pue) / 1000.0 + np.asarray(self.battery_kw)) * (
            self.slot_minutes / 60.0
        )

    def reward_bounds(self) -> dict[str, tuple[float, float]]:
        """Bounds of every reward term of one step (the terminal term only on the last step).

        Derived from the caps on arrivals, the sites' power and ``MAX_INTENSITY_KG_PER_KWH``;
        the fuzz tests check them. A typical step is O(1): quality about 0.3-1.2 over the day.
        """
        ref = self.requests_ref
        n_max = float(self.max_requests().sum())
        lo, hi = self.batch_slack_slots
        # work due in one slot: at most the arrivals of the hi - lo + 1 slots whose deadline
        # can fall on it
        batch_max = BATCH_ARRIVAL_CAP * self.batch_steps_per_slot * (hi - lo + 1)
        g_max = float(self.max_site_kwh().sum()) * MAX_INTENSITY_KG_PER_KWH * G_PER_KG
        # end effects: every battery short of its starting charge (at the allowance's price)
        # and the work left for tomorrow (at most hi slots of arrivals)
        kwh_step = (np.asarray(self.busy_power_w) - np.asarray(self.idle_power_w)) * np.asarray(
            self.sec_per_step) * np.asarray(self.pue) / J_PER_KWH  # fmt: skip
        left = hi * BATCH_ARRIVAL_CAP * self.batch_steps_per_slot * float(kwh_step.max())
        short = float(np.sum(self.battery_kwh)) * (self.w_carbon_per_g + self.w_excess_per_g)
        g_end = (short + left * self.w_carbon_per_g) * MAX_INTENSITY_KG_PER_KWH * G_PER_KG
        return {
            "r_quality": (0.0, self.w_quality * n_max / ref),
            "r_miss": (-self.w_miss * n_max / ref, 0.0),
            "r_batch_drop": (-self.w_batch_drop_per_kstep * batch_max / 1000.0 / ref, 0.0),
            "r_carbon": (-self.w_carbon_per_g * g_max / ref, 0.0),
            "r_excess": (-self.w_excess_per_g * g_max / ref, 0.0),
            "r_terminal": (-g_end / ref, 0.0),
        }


_INFO_KEYS = (
    "energy_kwh", "grid_kwh", "co2_kg", "cost", "pv_used_kwh", "n_requests", "n_served",
    "n_missed", "served_ratio", "mean_quality", "mean_steps", "batch_run_ksteps",
    "batch_dropped_ksteps", "batch_backlog_ksteps", "soc_mean",
    "co2_over_allowance_kg", "r_quality", "r_miss", "r_batch_drop", "r_carbon", "r_excess",
    "r_terminal",
)  # fmt: skip
_I = info_index(_INFO_KEYS)
I_ENERGY, I_GRID, I_CO2, I_COST, I_PV = (_I[k] for k in _INFO_KEYS[:5])
I_NREQ, I_NSERVED, I_NMISSED, I_SERVED_RATIO = (_I[k] for k in _INFO_KEYS[5:9])
I_QUALITY, I_STEPS, I_BRUN, I_BDROP, I_BACKLOG, I_SOC = (_I[k] for k in _INFO_KEYS[9:15])
I_OVER, I_RQ, I_RMISS, I_RBD, I_RCO2, I_REXC, I_RTERM = (_I[k] for k in _INFO_KEYS[15:])


class MetaverseOffloadCore(BatchedCore):
    """Batched dynamics of :class:`MetaverseOffloadEnv` (see its docstring for the model)."""

    info_keys = _INFO_KEYS

    def __init__(self, params: MetaverseOffloadParams, batch_size: int) -> None:
        super().__init__(params, batch_size)
        p = self.p = params
        U, S = p.n_users, p.n_servers
        self.U, self.S = U, S
        self.levels = np.asarray(p.step_levels, float)
        self.quality = np.asarray(p.quality_levels, float)
        self.K = len(self.levels)
        self._levels_t = tuple(float(x) for x in self.levels)  # the step kernel's unrolled loop
        self._quality_t = tuple(float(x) for x in self.quality)
        self.D = p.batch_slack_slots[1] + 1  # backlog buckets: work due in 0..D-1 slots
        self.dt_h = p.slot_minutes / 60.0
        self.act_dim = U * (S + 1) + 1 + 2 * S
        self.obs_dim = 3 * U + 7 * S + 4 + 3
        self.cap = p.capacity_steps
        self.cap_share = self.cap / self.cap.sum()
        self.tau = np.asarray(p.sec_per_step, float)
        workers = np.asarray(p.gpu_workers, float)
        # energy above idle per denoising step (J), and the idle energy of a slot (kWh), IT side
        self.step_j = (np.asarray(p.busy_power_w) - np.asarray(p.idle_power_w)) * self.tau
        self.idle_kwh = workers * np.asarray(p.idle_power_w) * self.dt_h / 1000.0
        self.pue = np.asarray(p.pue, float)
        self.backhaul_s = np.asarray(p.backhaul_ms, float) / 1000.0
        self.bat_kwh = np.asarray(p.battery_kwh, float)
        self.bat_kw = np.asarray(p.battery_kw, float)
        self.eta = np.array([p.charge_efficiency, p.discharge_efficiency])
        self.sources = [signals.make_intensity_source(r) for r in p.server_regions]
        self.markets = [signals.price_market(r, "mixed") for r in p.server_regions]
        self.rate = np.asarray(p.requests_per_slot, float)
        self.n_cap = p.max_requests()
        self.batch_scale = max(p.batch_steps_per_slot * FORECAST_FAR, 1.0)
        self._weights = np.array(
            [p.w_quality, p.w_miss, p.w_carbon_per_g, p.w_batch_drop_per_kstep, p.requests_ref,
             p.w_excess_per_g, p.carbon_allowance_kg]
        )  # fmt: skip
        hod = (np.arange(self.horizon) * p.slot_minutes / 60.0) % 24
        # VR use peaks in the evening; at night about a third of the peak rate
        self.diurnal = signals.diurnal_arrival_rate(hod, peak_hour=20.0, depth=0.7)  # (H,)
        self._glob = time_features(self.horizon, p.slot_minutes)
        self._arrivals: signals.CappedPoisson | None = None  # fast_draws' request sampler
        self._reward = np.zeros(batch_size)
        self._info = np.zeros((batch_size, len(self.info_keys)))
        self._obs = np.zeros((batch_size, self.obs_dim), np.float32)
        work, iwork = _work_shape(batch_size, self.act_dim, S)
        self._work, self._iwork = np.zeros(work), np.zeros(iwork, np.int64)
        # the step kernel's per-site parameters, one row each (see _step)
        self._sites = np.stack([self.cap, self.cap_share, self.tau, self.step_j, self.idle_kwh,
                                self.pue, self.backhaul_s, self.bat_kwh, self.bat_kw])  # fmt: skip

    # -- episode generation ---------------------------------------------------------------
    def reset(self, rng: np.random.Generator) -> None:
        if self.fast_draws:
            self._reset_fast(rng)
            return
        p, B, H, U = self.p, self.batch_size, self.horizon, self.U
        hours = signals.hours_needed(p.slot_minutes, H)
        per_slot = lambda x: signals.hourly_to_slots(x, p.slot_minutes, H)  # noqa: E731
        ci = per_slot(signals.sample_intensity(self.sources, rng, B, hours, 0))
        self.ci = np.minimum(ci, MAX_INTENSITY_KG_PER_KWH)  # (B,H,S) kg/kWh
        # End effects, so that the day's end is no free deadline: a battery below its starting
        # charge buys the shortfall back at the allowance's price (w_carbon + w_excess per g)
        # and the day's mean intensity of its site (surplus charge is worth nothing, so there
        # is nothing to gain by hoarding); batch work still waiting runs tomorrow, under a fresh
        # allowance, at the day's mean intensity of an average site.
        self.ci_end = self.ci.mean(1)  # (B,S) kg/kWh
        self.leftover_kg_per_step = (self.site_kwh_per_step() * self.ci.mean(1)).mean(1)
        price = [signals.electricity_price(m, rng, B, hours, 0) for m in self.markets]
        self.price = per_slot(np.stack(price, -1))  # (B,H,S) $/MWh
        pv = per_slot(signals.pv_power_per_kwp(rng, B, hours, 0))  # (B,H), one weather
        self.pv_kw = pv[..., None] * np.asarray(p.pv_kwp)  # (B,H,S)
        # Interactive requests: Poisson around the diurnal rate, capped.
        mean = self.diurnal[None, :, None] * self.rate
        self.n_req = np.minimum(rng.poisson(np.broadcast_to(mean, (B, H, U))), self.n_cap)
        self.n_req = self.n_req.astype(np.float64)
        # Upload time of a request on the user's share of the uplink (equal shares: the
        # resource-block scheduler works at millisecond scale, far below a slot).
        band = p.bandwidth_hz / U
        noise_w = _dbm_to_w(p.noise_dbm) * band / p.bandwidth_hz
        dist = rng.uniform(*p.distance_m, size=(B, H, U))
        shadow = p.shadowing_db * rng.standard_normal((B, H, U))
        gain_db = -signals.path_loss_db(dist) + shadow
        snr = _dbm_to_w(p.tx_power_dbm) * 10.0 ** (gain_db / 10.0) / noise_w
        size_bit = rng.uniform(*p.request_mbit, size=(B, H, U)) * 1e6
        self.upload_s = size_bit / (band * np.log2(1.0 + snr))
        self._start_day(rng)

    def _start_day(self, rng: np.random.Generator) -> None:
        """Draw the deadlines, batch jobs and battery charges and set the day's start state."""
        p, B, H, U, S = self.p, self.batch_size, self.horizon, self.U, self.S
        if self.fast_draws:  # drawn with the copies innermost
            self.deadline = rng.uniform(*p.deadline_s, size=(U, B)).T
        else:
            self.deadline = rng.uniform(*p.deadline_s, size=(B, U))
        # Deferrable batch AIGC jobs (work due after the day has a terminal cost).
        self.batch_arrivals, self.batch_due = draw_jobs(
            rng, B, H, p.batch_steps_per_slot, p.batch_slack_slots
        )
        if self.fast_draws:
            self.soc = (self.bat_kwh[:, None] * rng.uniform(0.2, 0.8, size=(S, B))).T
        else:
            self.soc = self.bat_kwh * rng.uniform(0.2, 0.8, size=(B, S))
        self.soc0 = self.soc.copy(order="K")
        self.co2_kg = np.zeros(B)  # emitted so far today
        self.backlog = np.zeros((self.D, B)).T
        self.backlog[np.arange(B), self.batch_due[:, 0]] += self.batch_arrivals[:, 0]
        self.forecast = None  # summed by _prepare, once the episode's arrays are final
        self.t = 0

    def _prepare(self) -> None:
        """Before the first observation or step of an episode (after ``reset``, and after
        :func:`~lowcarbon.envs.core.copy_episodes` has filled the copies): store the episode
        arrays with the copies innermost, the layout the kernels' loops over copies vectorise
        on (``fast_draws`` draws them so), and sum the forecasts."""
        B, H, S = self.batch_size, self.horizon, self.S
        for name in ("ci", "ci_end", "price", "pv_kw", "n_req", "upload_s", "deadline", "soc",
                     "soc0", "backlog"):  # fmt: skip
            setattr(self, name, _copies_innermost(getattr(self, name)))
        # (B, H, 3, S) view of a (H, 3, S, B) array, from (H, S, B) views of the signals
        forecast = self.buffer("forecast", (H, 3, S * B)) if self.fast_draws else None
        forecast = np.empty((H, 3, S * B)) if forecast is None else forecast
        site_major = lambda x: x.transpose(1, 2, 0).reshape(H, S * B)  # noqa: E731
        _forecasts(site_major(self.ci), site_major(self.pv_kw), forecast)
        self.forecast = forecast.reshape(H, 3, S, B).transpose(3, 0, 1, 2)

    def _reset_fast(self, rng: np.random.Generator) -> None:
        """:meth:`reset` with ``fast_draws``: the same distributions, drawn by faster samplers.

        The draws come from an SFC64 generator seeded from ``rng`` (faster than PCG64);
        requests by inverse CDF (:class:`~lowcarbon.envs.signals.CappedPoisson`, tables built
        on the first call), the radio draws in a numba loop and their transcendentals in place.
        The arrays are (B, ...) views of arrays with the copies innermost, (H, U, B) per user and
        (H, S, B) per site, ``deadline`` (U, B), ``soc``, ``soc0`` and ``ci_end`` (S, B) and
        ``backlog`` (D, B), so that the kernels' loops over copies run over adjacent entries
        and vectorise. The largest arrays are drawn into the same memory at every reset.
        """
        p, B, H, U = self.p, self.batch_size, self.horizon, self.U
        # the day's draws come from a stream seeded by ``rng``: SFC64 is faster than PCG64
        rng = np.random.Generator(np.random.SFC64(rng.integers(2**63)))
        hours = signals.hours_needed(p.slot_minutes, H)
        hour = (np.arange(H) * p.slot_minutes) // 60  # as signals.hourly_to_slots

        def slots(hourly: np.ndarray, name: str) -> np.ndarray:  # (B, hours, ...) -> (H, ..., B)
            hourly = np.ascontiguousarray(np.moveaxis(hourly, 0, -1))
            return np.take(hourly, hour, axis=0, out=self.buffer(name, (H, *hourly.shape[1:])))

        ci = signals.sample_intensity(self.sources, rng, B, hours, 0)
        ci = slots(np.minimum(ci, MAX_INTENSITY_KG_PER_KWH), "ci")  # (H,S,B)
        self.ci = ci.transpose(2, 0, 1)
        ci_end = ci.mean(0)  # (S,B), the end effects of reset
        self.ci_end = ci_end.T
        self.leftover_kg_per_step = (self.site_kwh_per_step()[:, None] * ci_end).mean(0)
        price = [signals.electricity_price(m, rng, B, hours, 0) for m in self.markets]
        self.price = slots(np.stack(price, -1), "price").transpose(2, 0, 1)
        pv = signals.pv_power_per_kwp(rng, B, hours, 0)[:, hour].T  # (H,B), one weather
        pv_kw = self.buffer("pv_kw", (H, len(p.pv_kwp), B))
        np.multiply(pv[:, None, :], np.asarray(p.pv_kwp)[:, None], out=pv_kw)
        self.pv_kw = pv_kw.transpose(2, 0, 1)
        if self._arrivals is None:
            mean = self.diurnal[:, None] * self.rate
            self._arrivals = signals.CappedPoisson(mean, np.broadcast_to(self.n_cap, mean.shape))
        n_req = self._arrivals.sample(rng, B, axis=2, out=self.buffer("n_req", (H, U, B)))
        self.n_req = n_req.transpose(2, 0, 1)
        # upload time as in reset: snr = P_tx 10^(gain_db / 10) / noise, with gain_db = shadowing
        # - path loss, the transcendentals in place in numpy (vectorised)
        band = p.bandwidth_hz / U
        noise_w = _dbm_to_w(p.noise_dbm) * band / p.bandwidth_hz
        dist, gain, upload = self.buffer("uplink", (3, H, U, B))
        _uplink_draws(rng, p.distance_m, p.shadowing_db, p.request_mbit, dist, gain, upload)
        gain -= signals.path_loss_db(dist, out=dist)  # dB
        gain *= math.log(10.0) / 10.0
        snr = np.exp(gain, out=gain)
        snr *= _dbm_to_w(p.tx_power_dbm) / noise_w
        snr += 1.0
        rate = np.log2(snr, out=snr)
        rate *= band  # bit/s
        upload /= rate
        self.upload_s = upload.transpose(2, 0, 1)
        self._start_day(rng)

    def observe(self) -> np.ndarray:
        if self.forecast is None:
            self._prepare()
        _observe(
            min(self.t, self.horizon - 1), self.n_req, self.rate, self.upload_s, self.deadline,
            self.ci, self.forecast, self.pv_kw, self.soc, self.soc0, self.bat_kwh, self.backlog,
            self.batch_scale, self.co2_kg, self.p.carbon_allowance_kg, self._glob, self._obs,
        )  # fmt: skip
        return self._obs.copy()

    # -- dynamics -------------------------------------------------------------------------
    def step(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.t >= self.horizon:
            raise RuntimeError("episode is over: call reset()")
        check_and_clip(action)
        if self.forecast is None:
            self._prepare()
        t = self.t
        nxt = min(t + 1, self.horizon - 1)
        # slices taken here, not in the kernel: numba then compiles for their actual layout
        _step(
            action, t, self.horizon, self.n_req[:, t], self.upload_s[:, t], self.deadline,
            self.ci[:, t], self.price[:, t], self.pv_kw[:, t], self.ci_end,
            self.leftover_kg_per_step, self.soc0, self.levels, self.quality, self._sites,
            self.eta, self.dt_h, self.soc, self.co2_kg, self.backlog, self.batch_arrivals[:, nxt],
            self.batch_due[:, nxt], nxt, self._weights, self._reward, self._info, self._work,
            self._iwork, self._levels_t, self._quality_t,
        )  # fmt: skip
        self.t += 1
        return self._reward.copy(), self._info.copy()

    # -- helpers for rules and oracle (physical units) ------------------------------------
    def feasible(self, b: int, t: int) -> np.ndarray:
        """(U, S, K) bool: request of user u at site s with level k meets its deadline."""
        slack = self.deadline[b][:, None] - self.upload_s[b, t][:, None] - self.backhaul_s[None, :]
        compute = self.levels[None, None, :] * self.tau[None, :, None]
        return compute <= slack[:, :, None]

    def effective_level(self, b: int, t: int) -> np.ndarray:
        """(U, S, K) int: the level a site runs for a request of user u sent with level k (the
        highest level up to k that meets the deadline there), or -1 if none does."""
        feas = self.feasible(b, t)
        k = np.arange(self.K)
        return np.maximum.accumulate(np.where(feas, k, -1), axis=-1)

    def site_kwh_per_step(self) -> np.ndarray:
        """Facility energy of one denoising step at each site (kWh, PUE included)."""
        return self.step_j * self.pue / J_PER_KWH


@njit(cache=True)
def _uplink_draws(rng, distance_m, shadowing_db, request_mbit, dist, shadow_db, size_bit):
    """Fill ``dist`` ~ U(distance_m), ``shadow_db`` ~ N(0, shadowing_db^2) and ``size_bit`` ~
    U(request_mbit) * 1e6 from ``rng``, element by element (C-contiguous arrays)."""
    d = dist.reshape(-1)
    g = shadow_db.reshape(-1)
    z = size_bit.reshape(-1)
    d_lo, d_span = distance_m[0], distance_m[1] - distance_m[0]
    z_lo, z_span = request_mbit[0] * 1e6, (request_mbit[1] - request_mbit[0]) * 1e6
    for i in range(d.size):
        d[i] = d_lo + d_span * rng.random()
        g[i] = shadowing_db * rng.standard_normal()
        z[i] = z_lo + z_span * rng.random()


@njit(cache=True)
def _forecasts(ci, pv_kw, out):
    """Sums behind the perfect forecasts the observation shows, for every slot ``t`` and every
    copy and site ``i``, from (H, N) time-major signals: ``out[t, 0, i]`` the intensity over the
    next ``FORECAST_NEAR`` slots, ``out[t, 1, i]`` over the ``FORECAST_FAR - FORECAST_NEAR``
    after them, ``out[t, 2, i]`` the PV output over the next ``FORECAST_NEAR`` slots (slots past
    the day repeat its last one). Each sum adds its slots in order, from 0."""
    H, N = ci.shape
    for t in range(H):
        near = out[t, 0]
        far = out[t, 1]
        pv_near = out[t, 2]
        for i in range(N):
            near[i] = 0.0
            far[i] = 0.0
            pv_near[i] = 0.0
        for j in range(1, FORECAST_NEAR + 1):
            c = ci[min(t + j, H - 1)]
            pv = pv_kw[min(t + j, H - 1)]
            for i in range(N):
                near[i] += c[i]
                pv_near[i] += pv[i]
        for j in range(FORECAST_NEAR + 1, FORECAST_FAR + 1):
            c = ci[min(t + j, H - 1)]
            for i in range(N):
                far[i] += c[i]


@njit(cache=True, error_model="numpy")
def _observe(t, n_req, rate, upload_s, deadline, ci, forecast, pv_kw, soc, soc0, bat_kwh,
             backlog, batch_scale, co2_kg, allowance, glob, out):  # fmt: skip
    """Observations of every copy at slot ``t`` (``forecast`` from :func:`_forecasts`, ``glob``
    the time features), feature by feature over all copies. Each is clipped to [-OBS_BOUND,
    OBS_BOUND] and rounded to float32 (in either order alike: the bounds are float32
    numbers)."""
    B, _, U = n_req.shape
    S = ci.shape[2]
    D = backlog.shape[1]
    n_now, upload_now, ci_now, pv_now = n_req[:, t], upload_s[:, t], ci[:, t], pv_kw[:, t]
    forecast_now, time_now = forecast[:, t], glob[t]
    lo, hi = -OBS_BOUND, OBS_BOUND
    for u in range(U):
        k = 3 * u
        r = rate[u]
        for b in range(B):
            out[b, k] = min(max(n_now[b, u] / r, lo), hi)
            out[b, k + 1] = min(max(upload_now[b, u] / UPLOAD_SCALE_S, lo), hi)
            out[b, k + 2] = min(max(deadline[b, u] / DEADLINE_SCALE_S, lo), hi)
    for s in range(S):
        k = 3 * U + 7 * s
        full = bat_kwh[s]
        for b in range(B):
            near = forecast_now[b, 0, s] / FORECAST_NEAR / CI_SCALE_KG_PER_KWH
            far = forecast_now[b, 1, s] / (FORECAST_FAR - FORECAST_NEAR) / CI_SCALE_KG_PER_KWH
            pv_near = forecast_now[b, 2, s] / FORECAST_NEAR / PV_SCALE_KW
            charge = soc[b, s] / full if full > 0 else 0.0
            change = (soc[b, s] - soc0[b, s]) / full if full > 0 else 0.0  # the end effect's base
            out[b, k] = min(max(ci_now[b, s] / CI_SCALE_KG_PER_KWH, lo), hi)
            out[b, k + 1] = min(max(near, lo), hi)
            out[b, k + 2] = min(max(far, lo), hi)
            out[b, k + 3] = min(max(pv_now[b, s] / PV_SCALE_KW, lo), hi)
            out[b, k + 4] = min(max(pv_near, lo), hi)
            out[b, k + 5] = min(max(charge, lo), hi)
            out[b, k + 6] = min(max(change, lo), hi)
    total = np.zeros(B)
    soon = np.zeros(B)
    pace = np.zeros(B)
    backlog_totals(backlog, total, pace)
    for j in range(min(D, FORECAST_NEAR)):
        for b in range(B):
            soon[b] += backlog[b, j]
    k = 3 * U + 7 * S
    for b in range(B):
        out[b, k] = min(max(total[b] / batch_scale, lo), hi)
        out[b, k + 1] = min(max(soon[b] / batch_scale, lo), hi)
        out[b, k + 2] = min(max(pace[b] / batch_scale * FORECAST_FAR / FORECAST_NEAR, lo), hi)
        out[b, k + 3] = min(max((allowance - co2_kg[b]) / allowance, lo), hi)
        for j in range(3):
            out[b, k + 4 + j] = min(max(time_now[j], lo), hi)


@njit(cache=True, error_model="numpy", inline="always")
def _route(levels, quality, tau, level, slack0, backhaul, score, cap_share, wsum, n, load,
           served_n, served_q, B):  # fmt: skip
    """One user's requests at one site, for every copy: the share routed there (``score`` its
    routing score, ``wsum`` the sum of the user's weights) runs at the highest level up to the
    chosen one that meets the deadline (none: not started, missed). Adds the steps, requests
    and quality-weighted requests admitted to ``load``, ``served_n`` and ``served_q``."""
    for b in range(B):
        w = wsum[b]
        f = cap_share * (score[b] + 1.0) * 0.5 / w if w > 0.0 else cap_share
        r = n[b] * f
        k = level[b]
        slack = slack0[b] - backhaul
        while k >= 0 and levels[k] * tau > slack:
            k -= 1
        if k >= 0:
            load[b] += r * levels[k]
            served_n[b] += r
            served_q[b] += r * quality[k]


@njit(cache=True, error_model="numpy", inline="always")
def _route_unrolled(levels, quality, tau, level, slack0, backhaul, score, cap_share, wsum, n,
                    load, served_n, served_q, B):  # fmt: skip
    """:func:`_route` with ``levels`` and ``quality`` as tuples: numba compiles it for their
    length, the loop over levels unrolls and the loop over copies vectorises (branch-free).
    The levels that meet the deadline are a prefix (the compute times ``levels[k] * tau``
    increase with ``k``), as are those up to the chosen one, so the level run is the last one
    in both; the sums add the same terms as :func:`_route` (``+0.0`` where it adds nothing)."""
    first = levels[0] * tau
    for b in range(B):
        w = wsum[b]
        f = cap_share * (score[b] + 1.0) * 0.5 / w if w > 0.0 else cap_share
        r = n[b] * f
        slack = slack0[b] - backhaul
        chosen = level[b]
        steps = 0.0
        q = 0.0
        for k in range(len(levels)):
            run = (levels[k] * tau <= slack) & (k <= chosen)
            steps = levels[k] if run else steps
            q = quality[k] if run else q
        load[b] += r * steps
        served_n[b] += r * (1.0 if first <= slack else 0.0)
        served_q[b] += r * q


#: step levels up to which the step's routing loop is unrolled (more take a slower loop)
_LEVELS_UNROLLED = 16


def _work_shape(batch: int, act_dim: int, n_sites: int) -> tuple[tuple[int, int], ...]:
    """Shapes of the float and int scratch arrays of :func:`_step`: the action transposed and
    per-site and per-copy rows, each padded to ``batch + 8`` entries (rows a multiple of
    4 KiB apart would share cache sets when a loop walks down a column)."""
    return (act_dim + 6 * n_sites + _N_VECTORS, batch + 8), (2, batch + 8)


_N_VECTORS = 26  # (B,) rows of _step's scratch


@njit(cache=True, error_model="numpy")
def _step(
    action, t, H, n_req, upload_s, deadline, ci, price, pv_kw, ci_end, leftover_kg, soc0,
    levels, quality, sites, eta, dt_h, soc, co2_kg, backlog, next_arrivals, next_due, nxt,
    weights, out_reward, out_info, work, iwork, levels_t, quality_t,
):  # fmt: skip
    """Slot ``t`` for every copy: decode the action, then score it (model in the env docstring).

    The per-slot arrays are slot ``t``'s (B, ...) slices, ``next_arrivals`` and ``next_due``
    those of the batch jobs of slot ``nxt``. ``sites`` holds the per-site parameters, a row
    each: capacity, capacity share, seconds per step, step energy, idle energy, PUE, backhaul
    delay, battery capacity and power. Mutates
    ``soc`` and ``backlog``; writes ``out_reward`` (B,) and ``out_info`` (B, n_info); ``work``
    and ``iwork`` are scratch (:func:`_work_shape`); ``levels_t`` and ``quality_t`` are
    ``levels`` and ``quality`` as tuples (for :func:`_route_unrolled`).

    The action is first transposed (a column per copy); then every stage runs as loops over
    all copies, innermost and branch-free, which vectorise where the copies' entries are
    adjacent in memory (the ``fast_draws`` layouts). Each copy's arithmetic is that of the
    copy-by-copy loop this replaced, operation for operation, so the results are the same to
    the bit in every layout.
    """
    B, U = n_req.shape
    S = sites.shape[1]
    K = levels.shape[0]
    cap, cap_share, tau, step_j, idle_kwh = sites[0], sites[1], sites[2], sites[3], sites[4]
    pue, backhaul_s, bat_kwh, bat_kw = sites[5], sites[6], sites[7], sites[8]
    w_q, w_miss, w_co2, w_bd, ref = weights[0], weights[1], weights[2], weights[3], weights[4]
    w_exc, allowance = weights[5], weights[6]
    eta_c, eta_d = eta[0], eta[1]
    last = t == H - 1
    # scratch: the action transposed (a column per copy), then rows per site and per copy
    A = action.shape[1]
    act = work[:A]
    site = work[A : A + 6 * S].reshape(6, S, work.shape[1])
    load, served_n, served_q, it_steps, room, batch_run = (
        site[0], site[1], site[2], site[3], site[4], site[5]
    )  # fmt: skip
    v = work[A + 6 * S :]
    n_total, n_served, q_sum, steps_int, want, placed = v[0], v[1], v[2], v[3], v[4], v[5]
    dropped, backlog_left, energy, grid, co2, cost = v[6], v[7], v[8], v[9], v[10], v[11]
    pv_used, soc_sum, term, n_missed, r_quality, r_miss = v[12], v[13], v[14], v[15], v[16], v[17]
    r_bd, r_co2, r_term, r_exc, over, wsum = v[18], v[19], v[20], v[21], v[22], v[23]
    n_u, slack0, level, next_slack = v[24], v[25], iwork[0], iwork[1]
    for b in range(B):
        next_slack[b] = next_due[b] - nxt
    for b in range(B):
        for i in range(A):
            act[i, b] = action[b, i]
    # -- interactive requests: level, routing, deadline check at each site, capacity --
    for s in range(S):
        for b in range(B):
            load[s, b] = 0.0
            served_n[s, b] = 0.0
            served_q[s, b] = 0.0
    for b in range(B):
        n_total[b] = 0.0
    for u in range(U):
        c = u * (S + 1)
        for b in range(B):
            k = math.floor((act[c, b] + 1.0) * 0.5 * (K - 1) + 0.5)
            level[b] = min(max(k, 0), K - 1)
            wsum[b] = 0.0
        for s in range(S):
            for b in range(B):
                wsum[b] += cap_share[s] * (act[c + 1 + s, b] + 1.0) * 0.5
        for b in range(B):
            n = n_req[b, u]
            n_u[b] = n
            n_total[b] += n
            slack0[b] = deadline[b, u] - upload_s[b, u]
        for s in range(S):
            if K <= _LEVELS_UNROLLED:
                _route_unrolled(levels_t, quality_t, tau[s], level, slack0, backhaul_s[s],
                                act[c + 1 + s], cap_share[s], wsum, n_u, load[s], served_n[s],
                                served_q[s], B)  # fmt: skip
            else:
                _route(levels, quality, tau[s], level, slack0, backhaul_s[s], act[c + 1 + s],
                       cap_share[s], wsum, n_u, load[s], served_n[s], served_q[s], B)  # fmt: skip
    for b in range(B):
        n_served[b] = 0.0
        q_sum[b] = 0.0
        steps_int[b] = 0.0
    for s in range(S):
        full = cap[s]
        for b in range(B):
            x = load[s, b]
            admit = 1.0 if x <= full else full / x  # over-full: same share each
            x *= admit
            it_steps[s, b] = x
            n_served[b] += served_n[s, b] * admit
            q_sum[b] += served_q[s, b] * admit
            steps_int[b] += x
    # -- batch work: amount, split over sites by spare capacity, earliest deadline first --
    for s in range(S):
        for b in range(B):
            room[s, b] = cap[s] - it_steps[s, b]
    base = U * (S + 1)
    batch_amounts(act[base, :B], backlog, want[:B])
    place_all(want[:B], room[:, :B], act[base + 1 : base + 1 + S, :B], batch_run[:, :B],
              placed[:B])  # fmt: skip
    serve_edf_all(backlog, placed[:B], next_arrivals, next_slack[:B], t + 1 < H, dropped[:B],
                  backlog_left[:B])  # fmt: skip
    # -- energy: IT (idle + steps) times PUE, on-site PV, battery, grid --
    for b in range(B):
        energy[b] = 0.0
        grid[b] = 0.0
        co2[b] = 0.0
        cost[b] = 0.0
        pv_used[b] = 0.0
        soc_sum[b] = 0.0
        term[b] = 0.0
    for s in range(S):
        idle, sj, pu, full, kw = idle_kwh[s], step_j[s], pue[s], bat_kwh[s], bat_kw[s]
        for b in range(B):
            site = (idle + sj * (it_steps[s, b] + batch_run[s, b]) / J_PER_KWH) * pu
            pv = pv_kw[b, s] * dt_h
            x = soc[b, s]
            p = act[base + 1 + S + s, b] * kw  # kW, + charges
            p = min(p, (full - x) / (eta_c * dt_h))
            # a behind-the-meter battery discharges at most the site's draw beyond its PV
            p = max(p, -x * eta_d / dt_h, -max(site - pv, 0.0) / dt_h)
            x += eta_c * p * dt_h if p > 0.0 else p / eta_d * dt_h
            x = min(max(x, 0.0), full)
            soc[b, s] = x
            net = site + p * dt_h - pv
            imp = max(net, 0.0)
            pv_used[b] += min(pv, max(site + p * dt_h, 0.0))  # PV that met the site's own draw
            energy[b] += site
            grid[b] += imp
            co2[b] += imp * ci[b, s]
            cost[b] += imp * price[b, s] / 1000.0
            soc_sum[b] += x / full if full > 0.0 else 0.0
        if last:  # end below the starting charge: buy the shortfall back
            for b in range(B):
                term[b] += max(soc0[b, s] - soc[b, s], 0.0) * ci_end[b, s]
    # -- rewards --
    for b in range(B):
        n_missed[b] = max(n_total[b] - n_served[b], 0.0)
        r_quality[b] = w_q * q_sum[b] / ref
        r_miss[b] = -w_miss * n_missed[b] / ref
        r_bd[b] = -w_bd * dropped[b] / 1000.0 / ref
        r_co2[b] = -w_co2 * co2[b] * G_PER_KG / ref
        r_term[b] = -(w_co2 + w_exc) * term[b] * G_PER_KG / ref
    if last:  # work due after the day runs tomorrow, under a fresh allowance
        for b in range(B):
            r_term[b] -= w_co2 * backlog_left[b] * leftover_kg[b] * G_PER_KG / ref
    for b in range(B):
        over_before = max(co2_kg[b] - allowance, 0.0)
        co2_kg[b] += co2[b]
        over[b] = max(co2_kg[b] - allowance, 0.0)
        r_exc[b] = -w_exc * (over[b] - over_before) * G_PER_KG / ref
        out_reward[b] = r_quality[b] + r_miss[b] + r_bd[b] + r_co2[b] + r_exc[b] + r_term[b]
    for b in range(B):
        info = out_info[b]
        info[I_ENERGY] = energy[b]
        info[I_GRID] = grid[b]
        info[I_CO2] = co2[b]
        info[I_COST] = cost[b]
        info[I_PV] = pv_used[b]
        info[I_NREQ] = n_total[b]
        info[I_NSERVED] = n_served[b]
        info[I_NMISSED] = n_missed[b]
        info[I_SERVED_RATIO] = n_served[b] / n_total[b] if n_total[b] > 0.0 else 1.0
        info[I_QUALITY] = q_sum[b] / n_served[b] if n_served[b] > 0.0 else 0.0
        info[I_STEPS] = steps_int[b] / n_served[b] if n_served[b] > 0.0 else 0.0
        info[I_BRUN] = placed[b] / 1000.0
        info[I_BDROP] = dropped[b] / 1000.0
        info[I_BACKLOG] = backlog_left[b] / 1000.0
        info[I_SOC] = soc_sum[b] / S
        info[I_RQ] = r_quality[b]
        info[I_RMISS] = r_miss[b]
        info[I_RBD] = r_bd[b]
        info[I_RCO2] = r_co2[b]
        info[I_REXC] = r_exc[b]
        info[I_OVER] = over[b]
        info[I_RTERM] = r_term[b]


class MetaverseOffloadEnv(CoreEnv):
    """Mobile AIGC offloading to carbon-aware edge sites: the paper's case study.

    VR users in one cell send AIGC image-generation requests all day. ``n_servers`` edge sites run
    diffusion models on GPU workers; each site draws power from its own grid region (its own
    carbon intensity), has rooftop PV and a battery, and also runs deferrable batch AIGC jobs
    (video, 3D assets, fine-tuning) that only need to finish within hours. Every 15 minutes the
    operator decides, for each user, how many denoising steps to run and which sites serve their
    requests; how much batch work to run now and where; and each site's battery power.

    **Time scale.** One slot is ``slot_minutes`` (15) minutes; an episode is ``horizon`` (96)
    slots, one day from midnight. Deadlines of interactive requests (seconds) only decide whether
    a request can be served; everything that carries over (batch backlog, battery charge) moves
    in slots.

    ## Action space
    ``Box(-1, 1, (U (S + 1) + 1 + 2 S,))``, ``U = n_users``, ``S = n_servers``; ``a = 0`` everywhere
    is a sensible neutral decision (middle quality, load in proportion to capacity, batch work at
    its even pace, batteries idle), and every saturated action is a valid decision:

    * per user ``u`` (``S + 1`` entries): first its **step level**,
      ``k = round((a + 1) / 2 (K - 1))`` of the ``K`` levels ``step_levels`` (10, 20, ..., 50);
      then ``S`` **routing scores**: the user's requests go to site ``s`` in proportion to
      ``c_s (a_s + 1) / 2``, with ``c_s`` the
      site's share of the total capacity (capacity shares when every score is -1);
    * **batch amount** ``a_b``: work due this slot always runs; ``a_b = 0`` runs the even pace
      ``sum_j backlog_j / (j + 1)`` (every job spread evenly up to its deadline), ``a_b = -1`` only
      the work due now, ``a_b = +1`` the whole backlog (linear in between);
    * ``S`` **batch placement** scores: the amount is split over sites in proportion to
      ``spare_s (a_s + 1) / 2`` (spare capacity after interactive work; in proportion to spare
      capacity when all are -1); what does not fit goes to the sites with room left;
    * ``S`` **battery** powers ``a battery_kw`` kW (+ charges), clipped to what the state of
      charge allows.

    ## Observation space
    ``Box(-10, 10, (3 U + 7 S + 7,))``, float32. Per user: requests this slot / its peak mean
    rate, upload time / 1 s, deadline / 10 s. Per site: carbon intensity now, mean over the next
    hour and over the three hours after, each / 0.5 kg/kWh (perfect forecasts); PV output now and
    mean over the next hour / 5 kW; battery state of charge, and its change since the start of
    the day (what the end effect is charged on), each / capacity. Batch backlog: total, due
    within the hour, even pace (all / 16 slots of mean arrivals, the pace x 4). The carbon
    allowance left today, as a fraction of the allowance. Sin and cos of the hour of day,
    fraction of the day elapsed.

    ## Model (slot ``t`` of ``dt`` = 0.25 h; user ``u``; site ``s``; ``k_u`` steps)
    * **Requests**: user ``u`` sends ``n_u ~ Poisson(lambda_u d(t))`` requests, capped at 3
      ``lambda_u`` (``lambda_u = requests_per_slot``; ``d(t)`` peaks at 20:00, a third of the peak
      at night). Each user has a deadline ``~ U(deadline_s)`` (its application) per episode.
    * **Uplink**: the user's equal share ``W = bandwidth_hz / U`` of the cell; path loss
      ``128.1 + 37.6 log10(d / km)`` dB (3GPP TR 36.814) at ``d ~ U(distance_m)``, log-normal
      shadowing (``shadowing_db``), 23 dBm transmit power and -100 dBm noise over 20 MHz (Wen et
      al., IEEE TMC 2026); upload time ``D / (W log2(1 + SNR))`` for ``D ~ U(request_mbit)``.
    * **Latency** ``upload + backhaul_s + k_u tau_s`` (``tau_s = sec_per_step``). A request that
      would miss its deadline is not started (deadline-aware admission): it is *missed*.
    * **Capacity**: site ``s`` runs ``workers_s * 900 / tau_s`` denoising steps per slot.
      Interactive work comes first; an over-full site serves the same fraction of every user's
      requests and the rest are *missed* (nothing crashes). Batch work uses what is left.
    * **Batch jobs**: ``~ Gamma(2, .)`` steps per slot, mean ``batch_steps_per_slot``, capped at 4x;
      deadline slack ``U{batch_slack_slots}`` slots (1-8 h); served earliest deadline first; work
      not run by its deadline is *dropped*; work due after the day is still waiting at its end
      (terminal cost, below).
    * **Energy** (IT side): idle ``workers * idle_power_w`` all the time, plus
      ``(busy_power_w - idle_power_w) tau_s`` J per step; the site draws IT energy times ``pue``
      (1.4-1.6, edge sites; Uptime Institute's 2023 fleet average is 1.58). With the defaults an
      image at 50 steps costs about 0.4-1 Wh above idle and 1.5-3 Wh with its share of idle power
      and PUE, in line with the 2.9 Wh per image that Luccioni et al. ("Power Hungry Processing",
      FAccT 2024) measured on average over image-generation models (GPU, CPU and RAM).
    * **PV and battery**: PV ``pv_kwp`` times a clear-sky profile with daily clearness and cloud
      noise (one weather for the cell); battery ``soc' = soc + (eta_c p+ - p- / eta_d) dt``,
      behind the meter: it discharges at most the site's draw beyond its PV (no export). Grid
      import ``max(0, site + battery - PV)`` kWh; surplus PV is curtailed.
    * **Carbon**: ``co2_kg = grid_kwh * intensity`` per site (:mod:`lowcarbon.envs.carbon`),
      intensities capped at 2 kg/kWh; default regions ``solar`` (clean at midday), ``wind``
      (large slow swings), ``mixed`` (morning and evening peaks): their ranking crosses during
      the day. ``cost``: grid energy at the region's wholesale price.
    * **Quality**: ``q(k)`` from ``quality_levels`` (concave in the steps, 0.5 at 10 steps to 1
      at 50).
    * **Carbon allowance**: the operator may emit ``carbon_allowance_kg`` (10 kg) a day; every
      gram beyond it costs ``w_excess_per_g`` on top of ``w_carbon_per_g``, as under a daily
      cap-and-trade or an internal carbon budget. Whether the allowance will bind depends on the
      whole day, so the price of carbon at each slot does too.

    ## Reward (per slot, in request-equivalents / ``requests_ref`` = sum of peak rates)
    ``w_quality * sum q(k) over requests served on time - w_miss * missed
    - w_batch_drop_per_kstep * dropped batch ksteps - w_carbon_per_g * g CO2
    - w_excess_per_g * g CO2 beyond the allowance``, and on the last slot the **end effects**:
    each battery below its starting charge buys the shortfall back at ``w_carbon_per_g +
    w_excess_per_g`` per g and its site's mean intensity of the day (charge above the start is
    worth nothing, so hoarding does not pay), and batch work still waiting (due after the day)
    costs ``w_carbon_per_g``
    per g it will emit tomorrow, under a fresh allowance, at the day's mean intensity of an
    average site. The drop penalty exceeds the carbon cost of running the work at the capped
    intensity at ``w_carbon_per_g`` (under a binding allowance, the default wind site's rare
    hours above 0.62 kg/kWh are an exception), so dropping is not cheaper than running.

    Every term has a bound (:meth:`MetaverseOffloadParams.reward_bounds`, checked under fuzzing).
    With the defaults ``r_quality`` is in [0, 3] and ``r_miss`` in [-3, 0]; ``r_carbon`` in
    [-14.6, 0] and ``r_excess`` in [-43.7, 0] (every site at full power and 2 kg/kWh);
    ``r_batch_drop`` in [-174, 0] (every job that can fall due in one slot, at 4x the mean,
    dropped: a policy that runs due work while there is room never drops); ``r_terminal`` in
    [-634, 0] (empty batteries and the most work left, at 2 kg/kWh). Measured under random play,
    the zero action, the rules and the oracle, 98 % of steps are in [-2.7, 0.9] and the last
    step in [-23, 0.3] (its low end: random play's batteries short of their start). Terms are
    in ``info`` as ``r_quality``, ``r_miss``,
    ``r_batch_drop``, ``r_carbon``, ``r_excess``, ``r_terminal``.

    ## Info
    ``energy_kwh`` (site energy), ``grid_kwh``, ``co2_kg``, ``cost`` ($), ``pv_used_kwh``; QoS:
    ``served_ratio`` (on time / requests), ``n_requests``, ``n_served``, ``n_missed``,
    ``mean_quality``, ``mean_steps``; batch: ``batch_run_ksteps``, ``batch_dropped_ksteps``,
    ``batch_backlog_ksteps``; ``soc_mean``, ``co2_over_allowance_kg`` (so far today); the reward
    terms.

    ## Start state and episode end
    Reset draws the day: intensities, prices, PV, requests, radio conditions, deadlines, batch
    arrivals; batteries start at 20-80 % charge; the backlog holds the first slot's batch jobs.
    The episode terminates after ``horizon`` slots.

    In a native vector env with ``seeding="batch"`` (the throughput mode of
    :func:`lowcarbon.envs.make_vector_env`) reset draws the same distributions by different,
    faster samplers: an SFC64 stream seeded from the env's generator, requests by inverse CDF
    on per-slot-and-user tables (:class:`~lowcarbon.envs.signals.CappedPoisson`), the radio
    draws in one pass; the episode arrays are then stored with the copies innermost. The
    episodes differ from the single env's for the same seed (as that mode's always did); the
    dynamics are the same.

    ## Oracle
    Slots couple through the backlog, the batteries and the allowance, so the oracle plans the
    whole day with perfect foresight: :func:`lowcarbon.envs.metaverse_offload.oracle.solve`, one
    MILP (HiGHS) with a binary per user, slot and step level and continuous routing, batch,
    battery and allowance terms; under a second for a default day. HiGHS stops at a relative gap
    of 1e-6 of its objective (its bound is kept as ``plan.bound``). The value bounds every
    policy's return; replaying the plan attains it (tests) whenever the plan neither drops due
    batch work nor leaves requests unserved while a site could meet their deadline, which the env
    cannot express (it runs due work when there is room, and routes every request). Both hold
    when running and serving are worth more than dropping and missing: with the default weights
    always for serving, and for running except in the rare hour noted under the reward.

    ## Version history
    * v1: sequential and bounded. Three mechanisms couple the slots: deferrable batch AIGC jobs
      with deadlines of hours, on-site PV with batteries, and a daily carbon allowance; the
      regional intensities' ranking crosses during the day. 15-minute slots over a day replace
      one-hour slots with per-second deadlines. Requests are streams routed in fractions (no
      reject option, so ``a = 0`` and saturated actions serve everybody); a site runs the
      highest level up to the chosen one that meets the deadline; misses and overloads cost a
      fixed penalty per request instead of an uncapped lateness. Energy re-derived with idle
      power and PUE. Forecasts, state of charge, backlog and allowance observed. End effects
      valued. Default 4 users and 3 sites (12 users and 6 sites as
      ``MetaverseOffload-Large-v1``).
    * v0 (unreleased): one-hour slots that did not interact, per-request server choice with a
      reject option that won ties, uncapped lateness penalty.
    """

    params_cls = MetaverseOffloadParams
    core_cls = MetaverseOffloadCore


@dataclass
class Decision:
    """One slot's decisions in physical terms, for every copy (what :func:`encode` encodes).

    ``level`` (B, U): index into ``step_levels`` (a site may run fewer steps to meet the deadline);
    ``route`` (B, U, S): the fraction of each user's requests sent to each site (a row may sum to
    less than 1: the rest is meant to be missed and is sent to a site where not even the lowest
    level meets its deadline, if there is one); ``batch_steps``
    (B, S): batch steps to run at each site; ``battery_kw`` (B, S): battery power, + charges.
    """

    level: np.ndarray
    route: np.ndarray
    batch_steps: np.ndarray
    battery_kw: np.ndarray


def encode(core: MetaverseOffloadCore, d: Decision) -> np.ndarray:
    """Actions (B, act_dim) that the step decodes back to ``d`` at the core's current slot.

    Exact whenever ``d`` is feasible: routed load within capacity, batch steps within the spare
    capacity and the backlog and at least the work due now, battery power within what the state
    of charge allows and (discharging) the site's draw beyond its PV, and route rows that sum to
    1 unless some site cannot meet the user's deadline (where the rest is sent).
    """
    B, U, S, K, t = core.batch_size, core.U, core.S, core.K, core.t
    level = np.asarray(d.level, np.int64).reshape(B, U)
    route = np.array(d.route, float).reshape(B, U, S)
    out = np.zeros((B, core.act_dim))
    for b in range(B):
        eff = core.effective_level(b, t)[np.arange(U), :, level[b]]  # (U, S)
        feas = eff >= 0
        for u in range(U):
            missing = 1.0 - route[b, u].sum()
            if missing > 1e-9 and (~feas[u]).any():
                route[b, u, np.flatnonzero(~feas[u])[0]] += missing
        steps = np.where(feas, core.levels[np.maximum(eff, 0)], 0.0)
        load = (core.n_req[b, t][:, None] * route[b] * steps).sum(0)
        spare = core.cap - np.minimum(load, core.cap)
        cols = np.arange(U)[:, None] * (S + 1)
        out[b, cols[:, 0]] = 2.0 * level[b] / max(K - 1, 1) - 1.0
        out[b, cols + 1 + np.arange(S)] = proportional_scores(route[b], core.cap_share)
        base = U * (S + 1)
        x = np.minimum(np.maximum(d.batch_steps[b], 0.0), spare)
        out[b, base] = amount_score(float(x.sum()), core.backlog[b])
        out[b, base + 1 : base + 1 + S] = proportional_scores(x, spare)
        out[b, base + 1 + S :] = np.divide(
            d.battery_kw[b], core.bat_kw, out=np.zeros(S), where=core.bat_kw > 0
        )
    return np.clip(out, -1.0, 1.0)


#: ``gym.make_vec(id, n, vectorization_mode="vector_entry_point")``'s entry point (a name, so
#: that specs pickle and serialise): the native :class:`~lowcarbon.envs.core.CoreVectorEnv`.
make_vector = MetaverseOffloadEnv.vector
