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
    batch_amount,
    draw_jobs,
    place,
    proportional_scores,
    serve_edf,
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
        self.check_time()
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
        for name in self.server_regions:
            signals.make_intensity_source(name)  # raises ValueError naming an unknown region
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
        self._reward = np.zeros(batch_size)
        self._info = np.zeros((batch_size, len(self.info_keys)))
        self._obs = np.zeros((batch_size, self.obs_dim), np.float32)

    # -- episode generation ---------------------------------------------------------------
    def reset(self, rng: np.random.Generator) -> None:
        p, B, H, U, S = self.p, self.batch_size, self.horizon, self.U, self.S
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
        self.deadline = rng.uniform(*p.deadline_s, size=(B, U))
        # Deferrable batch AIGC jobs (work due after the day has a terminal cost).
        self.batch_arrivals, self.batch_due = draw_jobs(
            rng, B, H, p.batch_steps_per_slot, p.batch_slack_slots
        )
        self.soc = self.bat_kwh * rng.uniform(0.2, 0.8, size=(B, S))
        self.soc0 = self.soc.copy()
        self.co2_kg = np.zeros(B)  # emitted so far today
        self.backlog = np.zeros((B, self.D))
        self.backlog[np.arange(B), self.batch_due[:, 0]] += self.batch_arrivals[:, 0]
        self.t = 0

    def observe(self) -> np.ndarray:
        _observe(
            min(self.t, self.horizon - 1), self.n_req, self.rate, self.upload_s, self.deadline,
            self.ci, self.pv_kw, self.soc, self.soc0, self.bat_kwh, self.backlog,
            self.batch_scale, self.co2_kg, self.p.carbon_allowance_kg, self._glob, self._obs,
        )  # fmt: skip
        return self._obs.copy()

    # -- dynamics -------------------------------------------------------------------------
    def step(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.t >= self.horizon:
            raise RuntimeError("episode is over: call reset()")
        check_and_clip(action)
        t, H = self.t, self.horizon
        nxt = min(t + 1, H - 1)
        _step(
            action, t, H, self.n_req[:, t], self.upload_s[:, t], self.deadline, self.ci[:, t],
            self.price[:, t], self.pv_kw[:, t], self.ci_end, self.leftover_kg_per_step,
            self.soc0, self.levels, self.quality,
            self.cap, self.cap_share, self.tau, self.step_j, self.idle_kwh, self.pue,
            self.backhaul_s, self.bat_kwh, self.bat_kw, self.eta, self.dt_h, self.soc,
            self.co2_kg, self.backlog, self.batch_arrivals[:, nxt], self.batch_due[:, nxt] - nxt,
            self._weights, self._reward, self._info,
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
def _observe(t, n_req, rate, upload_s, deadline, ci, pv_kw, soc, soc0, bat_kwh, backlog,
             batch_scale, co2_kg, allowance, glob, out):  # fmt: skip
    B, H, U = n_req.shape
    S = ci.shape[2]
    D = backlog.shape[1]
    for b in range(B):
        k = 0
        for u in range(U):
            out[b, k] = n_req[b, t, u] / rate[u]
            out[b, k + 1] = upload_s[b, t, u] / UPLOAD_SCALE_S
            out[b, k + 2] = deadline[b, u] / DEADLINE_SCALE_S
            k += 3
        for s in range(S):
            near = 0.0
            for j in range(1, FORECAST_NEAR + 1):
                near += ci[b, min(t + j, H - 1), s]
            far = 0.0
            for j in range(FORECAST_NEAR + 1, FORECAST_FAR + 1):
                far += ci[b, min(t + j, H - 1), s]
            pv_near = 0.0
            for j in range(1, FORECAST_NEAR + 1):
                pv_near += pv_kw[b, min(t + j, H - 1), s]
            out[b, k] = ci[b, t, s] / CI_SCALE_KG_PER_KWH
            out[b, k + 1] = near / FORECAST_NEAR / CI_SCALE_KG_PER_KWH
            out[b, k + 2] = far / (FORECAST_FAR - FORECAST_NEAR) / CI_SCALE_KG_PER_KWH
            out[b, k + 3] = pv_kw[b, t, s] / PV_SCALE_KW
            out[b, k + 4] = pv_near / FORECAST_NEAR / PV_SCALE_KW
            if bat_kwh[s] > 0:
                out[b, k + 5] = soc[b, s] / bat_kwh[s]
                out[b, k + 6] = (soc[b, s] - soc0[b, s]) / bat_kwh[s]  # the end effect's base
            else:
                out[b, k + 5] = 0.0
                out[b, k + 6] = 0.0
            k += 7
        total = 0.0
        soon = 0.0
        pace = 0.0
        for j in range(D):
            total += backlog[b, j]
            pace += backlog[b, j] / (j + 1)
            if j < FORECAST_NEAR:
                soon += backlog[b, j]
        out[b, k] = total / batch_scale
        out[b, k + 1] = soon / batch_scale
        out[b, k + 2] = pace / batch_scale * FORECAST_FAR / FORECAST_NEAR
        out[b, k + 3] = (allowance - co2_kg[b]) / allowance
        for j in range(3):
            out[b, k + 4 + j] = glob[t, j]
        for j in range(out.shape[1]):
            out[b, j] = min(max(out[b, j], -OBS_BOUND), OBS_BOUND)


@njit(cache=True)
def _step(
    action, t, H, n_req, upload_s, deadline, ci, price, pv_kw, ci_end, leftover_kg, soc0,
    levels, quality, cap, cap_share, tau, step_j, idle_kwh, pue, backhaul_s, bat_kwh, bat_kw,
    eta, dt_h, soc, co2_kg, backlog, next_arrivals, next_slack, weights, out_reward, out_info,
):  # fmt: skip
    """One slot for every copy: decode the action, then score it (model in the env docstring).

    Mutates ``soc`` and ``backlog``; writes ``out_reward`` (B,) and ``out_info`` (B, n_info).
    """
    B, U = n_req.shape
    S = cap.shape[0]
    K = levels.shape[0]
    w_q, w_miss, w_co2, w_bd, ref = weights[0], weights[1], weights[2], weights[3], weights[4]
    w_exc, allowance = weights[5], weights[6]
    eta_c, eta_d = eta[0], eta[1]
    share = np.zeros(S)
    load = np.zeros(S)
    served_q = np.zeros(S)  # quality-weighted requests admitted on time, per site
    served_n = np.zeros(S)
    served_steps = np.zeros(S)
    level = np.zeros(U, np.int64)
    batch_run = np.zeros(S)
    room = np.zeros(S)
    for b in range(B):
        # -- interactive requests: level, routing, deadline check, capacity --
        for s in range(S):
            load[s] = 0.0
            served_q[s] = 0.0
            served_n[s] = 0.0
            served_steps[s] = 0.0
        n_total = 0.0
        for u in range(U):
            k = math.floor((action[b, u * (S + 1)] + 1.0) * 0.5 * (K - 1) + 0.5)
            level[u] = min(max(k, 0), K - 1)
            wsum = 0.0
            for s in range(S):
                share[s] = cap_share[s] * (action[b, u * (S + 1) + 1 + s] + 1.0) * 0.5
                wsum += share[s]
            n = n_req[b, u]
            n_total += n
            for s in range(S):
                f = share[s] / wsum if wsum > 0.0 else cap_share[s]
                r = n * f
                # a site runs the highest level up to the chosen one that meets the deadline;
                # if none does, it does not start the request (missed)
                k = level[u]
                slack = deadline[b, u] - upload_s[b, u] - backhaul_s[s]
                while k >= 0 and levels[k] * tau[s] > slack:
                    k -= 1
                if k >= 0:
                    load[s] += r * levels[k]
                    served_n[s] += r
                    served_q[s] += r * quality[k]
        n_served = 0.0
        q_sum = 0.0
        steps_int = 0.0
        for s in range(S):
            admit = 1.0 if load[s] <= cap[s] else cap[s] / load[s]  # over-full: same share each
            served_steps[s] = load[s] * admit
            n_served += served_n[s] * admit
            q_sum += served_q[s] * admit
            steps_int += served_steps[s]
        # -- batch work: amount, split over sites by spare capacity, earliest deadline first --
        base = U * (S + 1)
        for s in range(S):
            room[s] = cap[s] - served_steps[s]
        want = batch_amount(action[b, base], backlog[b])
        placed = place(want, room, action[b, base + 1 : base + 1 + S], batch_run)
        dropped, backlog_left = serve_edf(backlog[b], placed, next_arrivals[b], next_slack[b],
                                          t + 1 < H)  # fmt: skip
        # -- energy: IT (idle + steps) times PUE, on-site PV, battery, grid --
        energy = 0.0
        grid = 0.0
        co2 = 0.0
        cost = 0.0
        pv_used = 0.0
        soc_sum = 0.0
        term = 0.0
        for s in range(S):
            site = (idle_kwh[s] + step_j[s] * (served_steps[s] + batch_run[s]) / J_PER_KWH) * pue[s]
            pv = pv_kw[b, s] * dt_h
            p = action[b, base + 1 + S + s] * bat_kw[s]  # kW, + charges
            p = min(p, (bat_kwh[s] - soc[b, s]) / (eta_c * dt_h))
            # a behind-the-meter battery discharges at most the site's draw beyond its PV
            p = max(p, -soc[b, s] * eta_d / dt_h, -max(site - pv, 0.0) / dt_h)
            if p > 0.0:
                soc[b, s] += eta_c * p * dt_h
            else:
                soc[b, s] += p / eta_d * dt_h
            soc[b, s] = min(max(soc[b, s], 0.0), bat_kwh[s])
            net = site + p * dt_h - pv
            imp = max(net, 0.0)
            pv_used += min(pv, max(site + p * dt_h, 0.0))  # PV that met the site's own draw
            energy += site
            grid += imp
            co2 += imp * ci[b, s]
            cost += imp * price[b, s] / 1000.0
            soc_sum += soc[b, s] / bat_kwh[s] if bat_kwh[s] > 0.0 else 0.0
            if t == H - 1:  # end below the starting charge: buy the shortfall back
                term += max(soc0[b, s] - soc[b, s], 0.0) * ci_end[b, s]
        n_missed = max(n_total - n_served, 0.0)
        r_quality = w_q * q_sum / ref
        r_miss = -w_miss * n_missed / ref
        r_bd = -w_bd * dropped / 1000.0 / ref
        r_co2 = -w_co2 * co2 * G_PER_KG / ref
        r_term = -(w_co2 + w_exc) * term * G_PER_KG / ref
        if t == H - 1:  # work due after the day runs tomorrow, under a fresh allowance
            r_term -= w_co2 * backlog_left * leftover_kg[b] * G_PER_KG / ref
        over_before = max(co2_kg[b] - allowance, 0.0)
        co2_kg[b] += co2
        over = max(co2_kg[b] - allowance, 0.0)
        r_exc = -w_exc * (over - over_before) * G_PER_KG / ref
        out_reward[b] = r_quality + r_miss + r_bd + r_co2 + r_exc + r_term
        info = out_info[b]
        info[I_ENERGY] = energy
        info[I_GRID] = grid
        info[I_CO2] = co2
        info[I_COST] = cost
        info[I_PV] = pv_used
        info[I_NREQ] = n_total
        info[I_NSERVED] = n_served
        info[I_NMISSED] = n_missed
        info[I_SERVED_RATIO] = n_served / n_total if n_total > 0.0 else 1.0
        info[I_QUALITY] = q_sum / n_served if n_served > 0.0 else 0.0
        info[I_STEPS] = steps_int / n_served if n_served > 0.0 else 0.0
        info[I_BRUN] = placed / 1000.0
        info[I_BDROP] = dropped / 1000.0
        info[I_BACKLOG] = backlog_left / 1000.0
        info[I_SOC] = soc_sum / S
        info[I_RQ] = r_quality
        info[I_RMISS] = r_miss
        info[I_RBD] = r_bd
        info[I_RCO2] = r_co2
        info[I_REXC] = r_exc
        info[I_OVER] = over
        info[I_RTERM] = r_term


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
