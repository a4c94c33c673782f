"""Mobile AIGC task offloading in a metaverse cell: the paper's case study."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from . import signals
from .carbon import J_PER_KWH
from .core import (
    OBS_BOUND,
    BatchedCore,
    CoreEnv,
    EnvParams,
    check_and_clip,
    require,
    time_features,
)

_DBM_TO_W = lambda dbm: 10.0 ** ((dbm - 30.0) / 10.0)  # noqa: E731


@dataclass(frozen=True)
class MetaverseOffloadParams(EnvParams):
    """Parameters of :class:`MetaverseOffloadEnv` (units in the names or the env docstring)."""

    n_users: int = 8
    n_servers: int = 4
    server_regions: tuple[str, ...] | None = None
    cell_region: str = "mixed"
    capacity_steps: tuple[float, ...] | None = None
    sec_per_step: tuple[float, ...] | None = None
    gpu_power_w: tuple[float, ...] | None = None
    backhaul_ms: tuple[float, ...] | None = None
    n_resource_blocks: int = 12
    bandwidth_hz: float = 20e6
    tx_power_dbm: float = 23.0
    noise_dbm: float = -100.0
    min_steps: int = 10
    max_steps: int = 50
    step_increment: int = 5
    quality_scale_steps: float = 15.0
    p_active: float = 0.85
    distance_m: tuple[float, float] = (50.0, 500.0)
    data_mbit: tuple[float, float] = (2.0, 16.0)
    deadline_s: tuple[float, float] = (1.5, 4.0)
    w_quality: float = 1.0
    w_latency: float = 1.0
    w_carbon_per_g: float = 2.0
    w_reject: float = 0.3
    w_crash: float = 1.0

    def __post_init__(self) -> None:
        self.check_time()
        require(self.n_users >= 1, "n_users", f"must be >= 1, got {self.n_users}")
        require(self.n_servers >= 1, "n_servers", f"must be >= 1, got {self.n_servers}")
        n = self.n_servers
        self.expand("server_regions", n, ("solar", "mixed", "hydro", "coal"))
        self.expand("capacity_steps", n, (120.0, 200.0, 100.0, 200.0))
        self.expand("sec_per_step", n, (0.04, 0.03, 0.05, 0.03))
        self.expand("gpu_power_w", n, (300.0, 350.0, 300.0, 400.0))
        self.expand("backhaul_ms", n, (15.0, 10.0, 40.0, 5.0))
        for name in ("capacity_steps", "sec_per_step", "gpu_power_w"):
            require(all(v > 0 for v in getattr(self, name)), name, "every entry must be > 0")
        require(all(v >= 0 for v in self.backhaul_ms), "backhaul_ms", "entries must be >= 0")
        for name in (*self.server_regions, self.cell_region):
            signals.make_intensity_source(name)  # raises ValueError naming an unknown region
        require(self.n_resource_blocks >= 1, "n_resource_blocks", "must be >= 1")
        require(self.bandwidth_hz > 0, "bandwidth_hz", "must be > 0")
        require(
            1 <= self.min_steps <= self.max_steps, "min_steps", "need 1 <= min_steps <= max_steps"
        )
        require(self.step_increment >= 1, "step_increment", "must be >= 1")
        require(
            (self.max_steps - self.min_steps) % self.step_increment == 0,
            "step_increment",
            "must divide max_steps - min_steps",
        )
        require(self.quality_scale_steps > 0, "quality_scale_steps", "must be > 0")
        require(0.0 <= self.p_active <= 1.0, "p_active", f"must be in [0, 1], got {self.p_active}")
        for name in ("distance_m", "data_mbit", "deadline_s"):
            lo, hi = getattr(self, name)
            require(0 < lo <= hi, name, f"needs 0 < low <= high, got ({lo}, {hi})")
        for name in ("w_quality", "w_latency", "w_carbon_per_g", "w_reject", "w_crash"):
            require(getattr(self, name) >= 0, name, "reward weights must be >= 0")

    @property
    def step_levels(self) -> np.ndarray:
        """Denoising-step choices, e.g. 10, 15, ..., 50."""
        return np.arange(self.min_steps, self.max_steps + 1, self.step_increment, dtype=np.float64)

    def quality(self, steps: np.ndarray) -> np.ndarray:
        """AIGC quality in [0, 1], concave in the number of denoising steps."""
        k = self.quality_scale_steps
        return (1.0 - np.exp(-steps / k)) / (1.0 - np.exp(-self.max_steps / k))


class MetaverseOffloadCore(BatchedCore):
    """Batched dynamics of :class:`MetaverseOffloadEnv` (see its docstring for the model)."""

    info_keys = (
        "energy_kwh", "co2_kg", "cost", "n_active", "n_served", "n_rejected", "n_failed",
        "served_ratio", "mean_quality", "mean_latency_s", "deadline_miss_ratio",
        "r_quality", "r_latency", "r_carbon", "r_reject", "r_crash",
    )  # fmt: skip

    def __init__(self, params: MetaverseOffloadParams, batch_size: int) -> None:
        super().__init__(params, batch_size)
        p = params
        self.p = p
        U, S = p.n_users, p.n_servers
        self.U, self.S, self.M = U, S, p.n_resource_blocks
        self.levels = p.step_levels
        self.K = len(self.levels)
        self.quality_levels = p.quality(self.levels)
        self.act_dim = U * (S + 1) + 2 * U
        self.obs_dim = 4 * U + 2 * S + 4
        # Per-server constants with a leading dummy entry for "reject" (choice 0).
        self.cap_ext = np.r_[np.inf, np.asarray(p.capacity_steps, float)]
        self.tau_ext = np.r_[0.0, np.asarray(p.sec_per_step, float)]
        self.power_ext = np.r_[0.0, np.asarray(p.gpu_power_w, float)]
        self.backhaul_ext = np.r_[0.0, np.asarray(p.backhaul_ms, float) / 1000.0]
        self.sources = [signals.make_intensity_source(r) for r in p.server_regions]
        self.cell_source = signals.make_intensity_source(p.cell_region)
        self.markets = [r if r in signals.PRICE_SHAPES else "mixed" for r in p.server_regions]
        self.server_ids = np.arange(S + 1)
        self._cap_norm = np.asarray(p.capacity_steps) / max(p.capacity_steps)
        self._weights = np.array(
            [p.w_quality, p.w_latency, p.w_carbon_per_g, p.w_reject, p.w_crash], dtype=np.float64
        )
        self._reward = np.zeros(batch_size)
        self._info = np.zeros((batch_size, len(self.info_keys)))
        hod = (np.arange(self.horizon) * p.slot_minutes // 60) % 24
        self._p_active_slot = (p.p_active * signals.diurnal_arrival_rate(hod))[None, :, None]
        self._glob = time_features(self.horizon, p.slot_minutes)

    # -- episode generation ---------------------------------------------------------------
    def reset(self, rng: np.random.Generator) -> None:
        p, B, H, U, S, M = self.p, self.batch_size, self.horizon, self.U, self.S, self.M
        hours = signals.hours_needed(p.slot_minutes, H)
        start_hour = 0
        ci = signals.sample_intensity(self.sources, rng, B, hours, start_hour)
        self.ci_srv = signals.hourly_to_slots(ci, p.slot_minutes, H)  # (B,H,S) kg/kWh
        cell = self.cell_source.sample(rng, B, hours, start_hour)
        self.ci_cell = signals.hourly_to_slots(cell, p.slot_minutes, H)  # (B,H)
        price = np.stack(
            [signals.electricity_price(m, rng, B, hours, start_hour) for m in self.markets], -1
        )
        self.price_srv = signals.hourly_to_slots(price, p.slot_minutes, H)  # (B,H,S) $/MWh
        # Users: activity (diurnal, evening peak), position, fading, request size and deadline.
        self.active = rng.random((B, H, U)) < self._p_active_slot
        dist = rng.uniform(*p.distance_m, size=(B, H, U))
        gain = 10.0 ** (-signals.path_loss_db(dist) / 10.0) * signals.rayleigh_power_gain(
            rng, (B, H, U)
        )
        data_bits = rng.uniform(*p.data_mbit, size=(B, H, U)) * 1e6
        self.deadline = rng.uniform(*p.deadline_s, size=(B, H, U))
        # Uplink on n of M resource blocks: R = n W log2(1 + P g / (N0 n W)), N0 = noise / band.
        ptx = _DBM_TO_W(p.tx_power_dbm)
        w_rb = p.bandwidth_hz / M
        n0 = _DBM_TO_W(p.noise_dbm) / p.bandwidth_hz
        n = np.arange(1, M + 1, dtype=float)
        rate_bps = n * w_rb * np.log2(1.0 + ptx * gain[..., None] / (n0 * n * w_rb))
        t_up = data_bits[..., None] / rate_bps
        self.t_up = np.concatenate([np.full((B, H, U, 1), np.inf), t_up], -1)  # (B,H,U,M+1) s
        self.e_up = np.concatenate([np.zeros((B, H, U, 1)), ptx * t_up], -1)  # J
        # Observation table for the whole episode (exogenous only, so precomputable).
        snr_db = 10 * np.log10(ptx * gain / (n0 * p.bandwidth_hz))
        a = self.active
        user = np.stack(
            [
                a.astype(float),
                a * snr_db / 30.0,
                a * data_bits / (p.data_mbit[1] * 1e6),
                a * self.deadline / p.deadline_s[1],
            ],
            -1,
        ).reshape(B, H, 4 * U)
        obs = np.concatenate(
            [
                user,
                self.ci_srv / 0.4,
                np.broadcast_to(self._cap_norm, (B, H, S)),
                self.ci_cell[..., None] / 0.4,
                np.broadcast_to(self._glob, (B, H, 3)),
            ],
            -1,
        )
        self.obs = np.clip(obs, -OBS_BOUND, OBS_BOUND).astype(np.float32)
        self._final_obs = np.zeros((B, self.obs_dim), np.float32)
        self.t = 0

    def observe(self) -> np.ndarray:
        return self.obs[:, self.t] if self.t < self.horizon else self._final_obs

    # -- dynamics -------------------------------------------------------------------------
    def step(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.t >= self.horizon:
            raise RuntimeError("episode is over: call reset()")
        check_and_clip(action)
        t = self.t
        _metaverse_step(
            action, self.active[:, t], self.levels, self.quality_levels, self.t_up[:, t],
            self.e_up[:, t], self.deadline[:, t], self.ci_srv[:, t], self.ci_cell[:, t],
            self.price_srv[:, t], self.cap_ext, self.tau_ext, self.power_ext, self.backhaul_ext,
            self._weights, self._reward, self._info,
        )  # fmt: skip
        self.t += 1
        return self._reward.copy(), self._info.copy()

    def encode(self, choice: np.ndarray, level: np.ndarray, blocks: np.ndarray) -> np.ndarray:
        """An action in [-1, 1] that the step decodes back to (choice, level, blocks), each (B, U),
        whenever the blocks of admitted users sum to M (as the oracle's do)."""
        B, U, S, K, M = self.batch_size, self.U, self.S, self.K, self.M
        logits = np.where(choice[..., None] == self.server_ids, 1.0, -1.0).reshape(B, U * (S + 1))
        steps = 2.0 * level / max(K - 1, 1) - 1.0
        bw = 2.0 * blocks / M - 1.0
        return np.concatenate([logits, steps, bw], 1)


@njit(cache=True)
def _metaverse_step(
    action, active, levels, quality_levels, t_up, e_up, deadline, ci_srv, ci_cell, price_srv,
    cap_ext, tau_ext, power_ext, backhaul_ext, weights, out_reward, out_info,
):  # fmt: skip
    """One slot for every copy: decode the action, then score it (see the env docstring).

    Decoding: choice = argmax of [reject, server 1..S] scores (inactive users are rejected);
    step level = round((a + 1) / 2 * (K - 1)); resource blocks = bandwidth weights (a + 1) / 2 of
    admitted users normalised to M blocks by largest remainder (equal weights if all are 0).
    Writes ``out_reward`` (B,) and ``out_info`` (B, 16) in the order of ``info_keys``.
    """
    B, U = active.shape
    S1 = cap_ext.shape[0]
    K = levels.shape[0]
    M = t_up.shape[2] - 1
    w_q, w_lat, w_co2, w_rej, w_crash = weights[0], weights[1], weights[2], weights[3], weights[4]
    choice = np.zeros(U, np.int64)
    level = np.zeros(U, np.int64)
    blocks = np.zeros(U, np.int64)
    share = np.zeros(U)
    frac = np.zeros(U)
    load = np.zeros(S1)
    for b in range(B):
        # -- decode --
        n_adm = 0
        wsum = 0.0
        for u in range(U):
            best = 0
            if active[b, u]:
                base = u * S1
                for j in range(1, S1):
                    if action[b, base + j] > action[b, base + best]:
                        best = j
            choice[u] = best
            level[u] = round((action[b, U * S1 + u] + 1.0) * 0.5 * (K - 1))
            if best > 0:
                n_adm += 1
                share[u] = (action[b, U * (S1 + 1) + u] + 1.0) * 0.5
                wsum += share[u]
            else:
                share[u] = 0.0
        if wsum <= 0.0:
            for u in range(U):
                share[u] = 1.0 if choice[u] > 0 else 0.0
            wsum = float(n_adm)
        used = 0
        for u in range(U):
            if choice[u] > 0:
                q = share[u] * M / wsum
                blocks[u] = int(np.floor(q))
                frac[u] = q - blocks[u]
                used += blocks[u]
            else:
                blocks[u] = 0
                frac[u] = -1.0
        for _ in range(M - used if n_adm > 0 else 0):
            top = 0
            for u in range(1, U):
                if frac[u] > frac[top]:
                    top = u
            blocks[top] += 1
            frac[top] = -1.0
        # -- server load couples users: an overloaded server crashes all its tasks --
        for s in range(S1):
            load[s] = 0.0
        for u in range(U):
            if choice[u] > 0 and blocks[u] > 0:
                load[choice[u]] += levels[level[u]]
        # -- score --
        n_active = 0
        n_served = 0
        n_rej = 0
        n_fail = 0
        q_sum = 0.0
        late_sum = 0.0
        lat_sum = 0.0
        n_late = 0
        e_j = 0.0
        co2 = 0.0
        cost = 0.0
        for u in range(U):
            if active[b, u]:
                n_active += 1
            c = choice[u]
            if c == 0:
                if active[b, u]:
                    n_rej += 1
                continue
            n = blocks[u]
            if n == 0:
                n_fail += 1
                continue
            steps = levels[level[u]]
            compute_s = steps * tau_ext[c]
            e_gpu = compute_s * power_ext[c]
            e_j += e_gpu + e_up[b, u, n]
            kwh_gpu = e_gpu / J_PER_KWH
            co2 += kwh_gpu * ci_srv[b, c - 1] + e_up[b, u, n] / J_PER_KWH * ci_cell[b]
            cost += kwh_gpu * price_srv[b, c - 1] / 1000.0
            if load[c] > cap_ext[c]:
                n_fail += 1
                continue
            n_served += 1
            latency = t_up[b, u, n] + backhaul_ext[c] + compute_s
            q_sum += quality_levels[level[u]]
            lat_sum += latency
            late = max(latency - deadline[b, u], 0.0) / deadline[b, u]
            late_sum += late
            if late > 0.0:
                n_late += 1
        r_quality = w_q * q_sum
        r_latency = -w_lat * late_sum
        r_carbon = -w_co2 * co2 * 1000.0
        r_reject = -w_rej * n_rej
        r_crash = -w_crash * n_fail
        out_reward[b] = r_quality + r_latency + r_carbon + r_reject + r_crash
        served_n = max(n_served, 1)
        info = out_info[b]
        info[0] = e_j / J_PER_KWH
        info[1] = co2
        info[2] = cost
        info[3] = n_active
        info[4] = n_served
        info[5] = n_rej
        info[6] = n_fail
        info[7] = n_served / max(n_active, 1)
        info[8] = q_sum / served_n
        info[9] = lat_sum / served_n
        info[10] = n_late / served_n
        info[11] = r_quality
        info[12] = r_latency
        info[13] = r_carbon
        info[14] = r_reject
        info[15] = r_crash


class MetaverseOffloadEnv(CoreEnv):
    """Mobile AIGC offloading in a metaverse cell, with carbon-aware edge servers.

    VR users in one cell send AIGC (image generation) requests; ``n_servers`` GPU edge servers, each
    fed by its own grid region with its own carbon intensity, run diffusion models. Per slot the
    agent decides for every request which server serves it (or reject), how many denoising steps to
    run (quality against energy and delay), and each user's share of the uplink.

    ## Action space
    ``Box(-1, 1, (U * (S + 1) + 2 U,))`` with ``U = n_users``, ``S = n_servers``, laid out as:

    * ``U * (S + 1)`` server scores, per user: choice = argmax over [reject, server 1..S];
    * ``U`` step actions: level ``round((a + 1) / 2 * (K - 1))`` of the K step choices
      ``min_steps, min_steps + step_increment, ..., max_steps`` (default 10, 15, ..., 50);
    * ``U`` bandwidth weights ``(a + 1) / 2``: the ``M = n_resource_blocks`` uplink resource blocks
      are split among admitted users in proportion to their weights, rounded by largest remainder
      (equal shares if every weight is 0). Inactive users' actions are ignored.

    ## Observation space
    ``Box(-10, 10, (4 U + 2 S + 4,))``, float32. Per user (zeros when inactive): active flag,
    full-band uplink SNR in dB / 30, request size / its maximum, deadline / its maximum. Per server:
    carbon intensity / 0.4 kg/kWh, capacity / largest capacity. Then the cell's intensity / 0.4,
    sin and cos of the hour of day, and the fraction of the episode elapsed.

    ## Model (slot ``t``, user ``u`` served by server ``s`` with ``k`` steps on ``n`` blocks)
    * channel: path loss ``128.1 + 37.6 log10(d / km)`` dB (3GPP TR 36.814), Rayleigh fading
      ``|h|^2 ~ Exp(1)``, distance ``d ~ U(distance_m)`` redrawn per slot (users move);
    * uplink rate ``R = n W log2(1 + P g / (N0 n W))`` bit/s, ``W = bandwidth_hz / M``, transmit
      power ``P`` = 23 dBm, noise ``-100`` dBm over the band (values of Wen et al., TMC 2026);
    * upload time ``D / R`` s for request size ``D ~ U(data_mbit)`` Mbit (prompt plus reference
      image); upload energy ``P D / R`` J, drawn at the cell's carbon intensity;
    * compute time ``k tau_s`` s and GPU energy ``k tau_s P_s`` J at server ``s``'s intensity
      (``tau_s = sec_per_step``, ``P_s = gpu_power_w``; e.g. 0.03-0.05 s and 300-400 W per
      Stable-Diffusion step on a data-centre GPU);
    * capacity: the steps served by ``s`` in a slot must not exceed ``capacity_steps[s]``; an
      overloaded server crashes all its tasks (they burn energy and fail), as in D2SAC (Du et al.,
      IEEE TMC 2024);
    * latency ``L = D / R + backhaul_s + k tau_s`` s against a deadline ``~ U(deadline_s)``;
    * quality ``q(k) = (1 - exp(-k / kappa)) / (1 - exp(-max_steps / kappa))`` in [0, 1],
      ``kappa = quality_scale_steps``: concave in the number of steps;
    * carbon: ``co2_kg = energy_kwh * intensity`` per region (:mod:`lowcarbon.envs.carbon`).

    ## Reward (per slot)
    ``w_quality * sum q(k_u) - w_latency * sum max(0, L_u - deadline_u) / deadline_u
    - w_carbon_per_g * g CO2 - w_reject * rejected - w_crash * failed`` over served users (failed:
    crashed, or admitted with no resource block). Every term is in ``info`` (``r_*``).

    ## Info
    ``energy_kwh``, ``co2_kg``, ``cost`` ($, GPU energy at the region's wholesale price), QoS terms
    (``served_ratio``, ``mean_quality``, ``mean_latency_s``, ``deadline_miss_ratio``, counts), and
    the reward terms ``r_quality``, ``r_latency``, ``r_carbon``, ``r_reject``, ``r_crash``.

    ## Start state and episode end
    Each reset draws a whole day of signals (carbon intensity per region, prices, activity with an
    evening peak, positions, fading, sizes, deadlines) from ``np_random``. The episode terminates
    after ``horizon`` slots of ``slot_minutes``.

    ## Oracle
    Slots do not interact, so the per-slot optimum is the episode optimum:
    :func:`lowcarbon.envs.oracles.metaverse_slot_milp` solves each slot exactly as a multiple-choice
    knapsack MILP (HiGHS).

    ## Parameters
    All fields of :class:`MetaverseOffloadParams` are keyword arguments; per-server tuples accept a
    scalar, a sequence of length ``n_servers``, or ``None`` for defaults cycled over the servers
    (regions ``solar, mixed, hydro, coal``; see :mod:`lowcarbon.envs.signals`, which also accepts
    the shipped real traces ``caiso_pge``/``caiso_sce`` and CSV paths).

    ## Version history
    * v0: initial version.
    """

    params_cls = MetaverseOffloadParams
    core_cls = MetaverseOffloadCore
