"""Carbon market: prosumers trading energy and emission allowances under a cap (spec below)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numba import njit

from ..core import OBS_BOUND, EnvParams, check_and_clip, info_index, require, time_features
from ..energy_internet.env import (
    CI_SCALE_KG_PER_KWH,
    FORECAST_FAR,
    LOAD_SCALE_KW,
    PRICE_SCALE_KWH_PER_USD,
    EnergyInternetCore,
    EnergyInternetParams,
)
from ..multiagent import MultiAgentCore, ParallelCoreEnv

KG_PER_T = 1000.0
OBS_DIM = 19
ACT_DIM = 4


@dataclass(frozen=True)
class CarbonMarketParams(EnvParams):
    """Parameters of :class:`CarbonMarketEnv`; units in the names or the env docstring.

    The prosumers' assets and the day's signals are those of
    :class:`~lowcarbon.envs.EnergyInternetParams` (same names, same defaults, cycled over the
    prosumers); ``None`` takes the defaults, a scalar is repeated, a sequence gives one value
    per prosumer.
    """

    n_prosumers: int = 4
    region: str = "mixed"
    pv_kwp: tuple[float, ...] | None = None
    wind_kw: tuple[float, ...] | None = None
    base_load_kw: tuple[float, ...] | None = None
    battery_kwh: tuple[float, ...] | None = None
    battery_kw: tuple[float, ...] | None = None
    charge_efficiency: float = 0.95
    discharge_efficiency: float = 0.95
    degradation_usd_per_kwh: float = 0.02
    network_charge_usd_per_kwh: float = 0.10
    export_fee_usd_per_kwh: float = 0.02
    # cap and trade
    cap_kg: float = 6.0
    allocation: tuple[float, ...] | None = None
    penalty_usd_per_t: float = 100.0
    max_trade_kg: float = 5.0
    reward_scale_usd: float = 1.0

    def __post_init__(self) -> None:
        self.check_base()
        require(self.n_prosumers >= 2, "n_prosumers", f"a market needs >= 2, got "
                f"{self.n_prosumers}")  # fmt: skip
        ei = self.energy_internet()  # validates the shared fields, expands the per-prosumer ones
        for name in ("pv_kwp", "wind_kw", "base_load_kw", "battery_kwh", "battery_kw"):
            object.__setattr__(self, name, getattr(ei, name))
        require(self.cap_kg >= 0, "cap_kg", f"must be >= 0, got {self.cap_kg}")
        if self.allocation is None:  # grandfathered: in proportion to each base load
            load = np.asarray(self.base_load_kw, float)
            object.__setattr__(self, "allocation", tuple((load / load.sum()).tolist()))
        self.expand("allocation", self.n_prosumers, (1.0,))
        share = np.asarray(self.allocation, float)
        require(bool(np.all(share >= 0)) and share.sum() > 0, "allocation",
                "entries must be >= 0 with a positive sum")  # fmt: skip
        object.__setattr__(self, "allocation", tuple((share / share.sum()).tolist()))
        require(self.penalty_usd_per_t >= 0, "penalty_usd_per_t", "must be >= 0")
        require(self.max_trade_kg >= 0, "max_trade_kg", "must be >= 0")
        require(self.reward_scale_usd > 0, "reward_scale_usd", "must be > 0")

    def energy_internet(self) -> EnergyInternetParams:
        """The Energy-Internet parameters whose day this market plays (no EVs, no carbon price:
        carbon is priced by the market)."""
        return EnergyInternetParams(
            horizon=self.horizon, slot_minutes=self.slot_minutes, n_prosumers=self.n_prosumers,
            region=self.region, pv_kwp=self.pv_kwp, wind_kw=self.wind_kw,
            base_load_kw=self.base_load_kw, battery_kwh=self.battery_kwh,
            battery_kw=self.battery_kw, ev_charger_kw=0.0,
            charge_efficiency=self.charge_efficiency,
            discharge_efficiency=self.discharge_efficiency,
            degradation_usd_per_kwh=self.degradation_usd_per_kwh,
            network_charge_usd_per_kwh=self.network_charge_usd_per_kwh,
            export_fee_usd_per_kwh=self.export_fee_usd_per_kwh, carbon_price_per_t=0.0,
        )  # fmt: skip

    @property
    def dt(self) -> float:
        return self.slot_minutes / 60.0


_INFO_KEYS = ("energy_price", "p2p_kwh", "allowance_price", "allowance_traded_kg",
              "community_bank_kg")  # fmt: skip
_AGENT_KEYS = (
    "energy_kwh", "co2_kg", "cost", "import_kwh", "export_kwh", "bought_kwh", "sold_kwh",
    "allowance_bought_kg", "allowance_sold_kg", "bank_kg", "shortfall_kg", "soc",
)  # fmt: skip
_I = info_index(_INFO_KEYS)
I_PRICE, I_P2P, I_APRICE, I_ATRADED, I_BANK = (_I[k] for k in _INFO_KEYS)
_A = info_index(_AGENT_KEYS)
A_ENERGY, A_CO2, A_COST, A_IMP, A_EXP, A_BOUGHT, A_SOLD = (_A[k] for k in _AGENT_KEYS[:7])
A_ABOUGHT, A_ASOLD, A_BANK, A_SHORT, A_SOC = (_A[k] for k in _AGENT_KEYS[7:])


class CarbonMarketCore(MultiAgentCore):
    """Batched dynamics of :class:`CarbonMarketEnv` (see its docstring for the model)."""

    info_keys = _INFO_KEYS
    agent_info_keys = _AGENT_KEYS

    def __init__(self, params: CarbonMarketParams, batch_size: int) -> None:
        super().__init__(params, batch_size)
        p = self.p = params
        self.n_agents = self.N = p.n_prosumers
        self.obs_dim, self.act_dim = OBS_DIM, ACT_DIM
        self.dt = p.dt
        self.day = EnergyInternetCore(p.energy_internet(), batch_size)
        self.cap_kwh = np.asarray(p.battery_kwh, float)
        self.p_bat = np.asarray(p.battery_kw, float)
        self.ren_cap = np.maximum(np.asarray(p.pv_kwp) + np.asarray(p.wind_kw), 1e-9)
        self.alloc_kg = p.cap_kg * np.asarray(p.allocation, float)  # each agent's day, kg
        self._static = np.stack([self.cap_kwh / 20.0, self.ren_cap / 10.0], -1)  # (N, 2)
        self._coeffs = np.array([
            p.charge_efficiency, p.discharge_efficiency, p.degradation_usd_per_kwh,
            p.penalty_usd_per_t / KG_PER_T, p.max_trade_kg, p.reward_scale_usd, p.cap_kg,
        ])  # fmt: skip
        self._glob = time_features(self.horizon, p.slot_minutes)
        B, N = batch_size, self.N
        self._reward = np.zeros((B, N))
        self._info = np.zeros((B, len(_INFO_KEYS)))
        self._agent_info = np.zeros((B, N, len(_AGENT_KEYS)))
        self._obs = np.zeros((B, N, OBS_DIM), np.float32)

    def reset(self, rng: np.random.Generator) -> None:
        day = self.day
        day.reset(rng)  # the Energy-Internet day: signals, weather, loads, initial charge
        # copied into this core (its own arrays, with the batch axis first, are what the
        # vector env's per-copy seeding copies)
        self.ci, self.load_kw, self.renewable_kw = day.ci, day.load_kw, day.renewable_kw
        self.import_price, self.export_price = day.import_price, day.export_price
        self.storage_value = day.storage_value  # $/kWh stored beyond the start (carbon-free)
        self.soc, self.soc0 = day.soc.copy(), day.soc0.copy()
        B = self.batch_size
        self.bank = np.zeros((B, self.N))  # allowances held (kg); negative: owed
        self.last_price = np.full(B, np.nan)  # last clearing prices, NaN before any trade
        self.last_allowance_price = np.full(B, np.nan)
        self.t = 0

    def observe(self) -> np.ndarray:
        _observe(
            min(self.t, self.horizon - 1), self.soc, self.cap_kwh, self.load_kw,
            self.renewable_kw, self.ren_cap, self.import_price, self.export_price, self.ci,
            self.bank, self.alloc_kg, self.p.cap_kg, self.last_price,
            self.last_allowance_price, self._coeffs, self._static, self._glob, self._obs,
        )  # fmt: skip
        return self._obs.copy()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.t >= self.horizon:
            raise RuntimeError("episode is over: call reset()")
        check_and_clip(action)
        t = self.t
        _step(
            action, t, self.horizon, self.soc, self.soc0, self.bank, self.cap_kwh, self.p_bat,
            self.load_kw[:, t], self.renewable_kw[:, t], self.import_price[:, t],
            self.export_price[:, t], self.ci[:, t], self.storage_value, self.alloc_kg, self.dt,
            self._coeffs, self.last_price, self.last_allowance_price, self._reward, self._info,
            self._agent_info,
        )  # fmt: skip
        self.t += 1
        return self._reward.copy(), self._info.copy(), self._agent_info.copy()

    def net_kwh(self, battery_kw: np.ndarray) -> np.ndarray:
        """(B, N) energy each prosumer buys (+) or sells (-) this slot with battery powers
        ``battery_kw`` (kW, + charges, already within the state of charge's limits)."""
        t = self.t
        return (self.load_kw[:, t] + battery_kw - self.renewable_kw[:, t]) * self.dt


@njit(cache=True)
def clear_double_auction(buy_qty, bid, sell_qty, ask, fill_buy, fill_sell):
    """Uniform-price double auction of one divisible good; returns the clearing price, or NaN
    when nothing trades.

    Buyers sorted by bid (highest first) are matched with sellers sorted by ask (lowest first)
    while the bid is at least the ask, ties broken by agent index; the price is the midpoint of
    the last matched bid and ask (the k = 1/2 double auction of Chatterjee and Samuelson, 1983),
    so no matched buyer pays more than it bid and no matched seller receives less than it asked.
    Writes the quantities filled into ``fill_buy`` and ``fill_sell``.
    """
    n = buy_qty.shape[0]
    fill_buy[:] = 0.0
    fill_sell[:] = 0.0
    order_b = np.argsort(-bid, kind="mergesort")
    order_s = np.argsort(ask, kind="mergesort")
    i = 0
    j = 0
    left_b = 0.0
    left_s = 0.0
    last_bid = np.nan
    last_ask = np.nan
    while True:
        while i < n and left_b <= 1e-12:
            if buy_qty[order_b[i]] > 1e-12:
                left_b = buy_qty[order_b[i]]
                break
            i += 1
        while j < n and left_s <= 1e-12:
            if sell_qty[order_s[j]] > 1e-12:
                left_s = sell_qty[order_s[j]]
                break
            j += 1
        if i >= n or j >= n:
            break
        bi = order_b[i]
        sj = order_s[j]
        if bid[bi] < ask[sj]:
            break
        q = min(left_b, left_s)
        fill_buy[bi] += q
        fill_sell[sj] += q
        left_b -= q
        left_s -= q
        last_bid = bid[bi]
        last_ask = ask[sj]
        if left_b <= 1e-12:
            i += 1
            left_b = 0.0
        if left_s <= 1e-12:
            j += 1
            left_s = 0.0
    if np.isnan(last_bid):
        return np.nan
    return 0.5 * (last_bid + last_ask)


@njit(cache=True)
def _observe(t, soc, cap_kwh, load, renewable, ren_cap, imp_price, exp_price, ci, bank, alloc,
             cap_kg, last_price, last_aprice, coeffs, static, glob, out):  # fmt: skip
    B, N = soc.shape
    H = ci.shape[1]
    nxt = min(t + 1, H - 1)
    penalty_kg = coeffs[3]
    for b in range(B):
        far_c = 0.0
        for j in range(1, FORECAST_FAR + 1):
            far_c += ci[b, min(t + j, H - 1)]
        mid = 0.5 * (imp_price[b, t] + exp_price[b, t])
        price = mid if np.isnan(last_price[b]) else last_price[b]
        aprice = 0.0 if np.isnan(last_aprice[b]) else last_aprice[b]
        total_bank = 0.0
        for i in range(N):
            total_bank += bank[b, i]
        for i in range(N):
            o = out[b, i]
            o[0] = soc[b, i] / cap_kwh[i] if cap_kwh[i] > 0 else 0.0
            o[1] = load[b, t, i] / LOAD_SCALE_KW
            o[2] = renewable[b, t, i] / ren_cap[i]
            o[3] = (load[b, t, i] - renewable[b, t, i]) / LOAD_SCALE_KW
            o[4] = bank[b, i] / alloc[i] if alloc[i] > 0 else 0.0
            o[5] = static[i, 0]
            o[6] = static[i, 1]
            o[7] = imp_price[b, t] * PRICE_SCALE_KWH_PER_USD
            o[8] = exp_price[b, t] * PRICE_SCALE_KWH_PER_USD
            o[9] = ci[b, t] / CI_SCALE_KG_PER_KWH
            o[10] = imp_price[b, nxt] * PRICE_SCALE_KWH_PER_USD
            o[11] = ci[b, nxt] / CI_SCALE_KG_PER_KWH
            o[12] = far_c / FORECAST_FAR / CI_SCALE_KG_PER_KWH
            o[13] = price * PRICE_SCALE_KWH_PER_USD
            o[14] = aprice / penalty_kg if penalty_kg > 0 else 0.0
            o[15] = total_bank / cap_kg if cap_kg > 0 else 0.0
            for j in range(3):
                o[16 + j] = glob[t, j]
            for j in range(OBS_DIM):
                o[j] = min(max(o[j], -OBS_BOUND), OBS_BOUND)


@njit(cache=True)
def _step(action, t, H, soc, soc0, bank, cap_kwh, p_bat, load, renewable, imp_price, exp_price,
          ci, storage_value, alloc, dt, coeffs, last_price, last_aprice, out_reward, out_info,
          out_agent):  # fmt: skip
    """One slot for every copy (model in the env docstring); mutates ``soc``, ``bank`` and the
    last clearing prices."""
    B, N = soc.shape
    eta_c, eta_d, deg_cost, penalty_kg, max_trade, scale = (
        coeffs[0], coeffs[1], coeffs[2], coeffs[3], coeffs[4], coeffs[5],
    )  # fmt: skip
    buy = np.zeros(N)
    sell = np.zeros(N)
    price = np.zeros(N)
    fill_b = np.zeros(N)
    fill_s = np.zeros(N)
    abuy = np.zeros(N)
    asell = np.zeros(N)
    aprice = np.zeros(N)
    afill_b = np.zeros(N)
    afill_s = np.zeros(N)
    net = np.zeros(N)
    throughput = np.zeros(N)
    for b in range(B):
        p_imp = imp_price[b]
        p_exp = exp_price[b]
        # -- batteries, then each prosumer's position and its bid or ask --
        for i in range(N):
            bat = action[b, i, 0] * p_bat[i]
            bat = min(max(bat, -soc[b, i] * eta_d / dt), (cap_kwh[i] - soc[b, i]) / (eta_c * dt))
            if bat > 0.0:
                soc[b, i] += eta_c * bat * dt
            else:
                soc[b, i] += bat / eta_d * dt
            soc[b, i] = min(max(soc[b, i], 0.0), cap_kwh[i])
            throughput[i] = abs(bat) * dt
            net[i] = (load[b, i] + bat - renewable[b, i]) * dt
            buy[i] = max(net[i], 0.0)
            sell[i] = max(-net[i], 0.0)
            price[i] = p_exp + 0.5 * (action[b, i, 1] + 1.0) * (p_imp - p_exp)
        p_e = clear_double_auction(buy, price, sell, price, fill_b, fill_s)
        traded = 0.0
        for i in range(N):
            traded += fill_b[i]
        # -- emissions of grid imports, the day's allocation, then the allowance auction --
        co2_total = 0.0
        for i in range(N):
            imp = buy[i] - fill_b[i]
            co2 = imp * ci[b]
            co2_total += co2
            bank[b, i] += alloc[i] / H - co2
            q = action[b, i, 2] * max_trade
            abuy[i] = max(q, 0.0)
            asell[i] = min(max(-q, 0.0), max(bank[b, i], 0.0))
            aprice[i] = 0.5 * (action[b, i, 3] + 1.0) * penalty_kg
        p_a = clear_double_auction(abuy, aprice, asell, aprice, afill_b, afill_s)
        a_traded = 0.0
        bank_total = 0.0
        for i in range(N):
            a_traded += afill_b[i]
            bank[b, i] += afill_b[i] - afill_s[i]
            bank_total += bank[b, i]
        if not np.isnan(p_e):
            last_price[b] = p_e
        if not np.isnan(p_a):
            last_aprice[b] = p_a
        # -- payments --
        for i in range(N):
            imp = buy[i] - fill_b[i]
            exp = sell[i] - fill_s[i]
            cost = imp * p_imp - exp * p_exp + deg_cost * throughput[i]
            if fill_b[i] > 0.0 or fill_s[i] > 0.0:
                cost += p_e * (fill_b[i] - fill_s[i])
            if afill_b[i] > 0.0 or afill_s[i] > 0.0:
                cost += p_a * (afill_b[i] - afill_s[i])
            short = 0.0
            reward = -cost
            if t == H - 1:
                short = max(-bank[b, i], 0.0)
                reward += (soc[b, i] - soc0[b, i]) * storage_value[b] - penalty_kg * short
            out_reward[b, i] = reward / scale
            a = out_agent[b, i]
            a[A_ENERGY] = imp
            a[A_CO2] = imp * ci[b]
            a[A_COST] = cost
            a[A_IMP] = imp
            a[A_EXP] = exp
            a[A_BOUGHT] = fill_b[i]
            a[A_SOLD] = fill_s[i]
            a[A_ABOUGHT] = afill_b[i]
            a[A_ASOLD] = afill_s[i]
            a[A_BANK] = bank[b, i]
            a[A_SHORT] = short
            a[A_SOC] = soc[b, i] / cap_kwh[i] if cap_kwh[i] > 0.0 else 0.0
        info = out_info[b]
        info[I_PRICE] = p_e if not np.isnan(p_e) else 0.5 * (p_imp + p_exp)
        info[I_P2P] = traded
        info[I_APRICE] = (p_a if not np.isnan(p_a) else 0.0) * KG_PER_T
        info[I_ATRADED] = a_traded
        info[I_BANK] = bank_total


class CarbonMarketEnv(ParallelCoreEnv):
    """Carbon market: prosumers under a cap-and-trade scheme, trading energy and allowances.

    ``n_prosumers`` agents, each a prosumer of the Energy Internet (PV and/or wind, a base load,
    a battery; the day of :class:`~lowcarbon.envs.EnergyInternetEnv`: hourly prices, carbon
    intensity, weather and loads, without EVs), share a local market behind one grid
    connection. Each hour every agent sets its battery and bids in two markets: energy among
    the prosumers (what is not traded is bought from or sold to the grid) and emission
    allowances. Grid imports emit at the grid's intensity; each agent holds allowances, received
    through the day from a community cap and traded; what it still owes at the end of the day
    pays a penalty. Agents ``prosumer_0 ... prosumer_{N-1}``.

    **Time scale.** One slot is ``slot_minutes`` (60) minutes; an episode is ``horizon`` (24)
    slots, one day from midnight.

    ## Action space (per agent)
    ``Box(-1, 1, (4,))``; ``a = 0`` for every agent is a sensible neutral play (batteries idle,
    all energy offered and asked at the mid price, so every possible trade clears; no allowance
    trade):

    * ``a_0`` **battery power** ``a * battery_kw`` kW (+ charges), clipped to what the state of
      charge allows;
    * ``a_1`` **energy price** ``p_exp + (a + 1) / 2 (p_imp - p_exp)`` $/kWh, between the grid's
      export and import prices: the bid for the agent's deficit or the ask for its surplus,
      whichever it has after its battery;
    * ``a_2`` **allowance quantity** ``a * max_trade_kg`` kg: buy (+) or sell (-); a sale is
      capped at the allowances held after this slot's emissions;
    * ``a_3`` **allowance price** ``(a + 1) / 2 * penalty_usd_per_t`` $/t (a bid or an ask).

    ## Observation space (per agent)
    ``Box(-10, 10, (19,))``, float32: own state of charge / capacity, load / 5 kW, renewable
    output / installed kW, load minus renewables / 5 kW, allowances held / own allocation of
    the day; own battery kWh / 20 and renewable kW / 10 (who the agent is); import and export
    price (x 5 kWh/$) and intensity (/ 0.4 kg/kWh) now; import price and intensity next slot,
    mean intensity over the next four (perfect forecasts); the last clearing prices of energy
    (x 5; the mid price before any trade) and allowances (/ penalty; 0 before any); the
    community's allowances held / cap; sin and cos of the hour; fraction of the day elapsed.

    ## Model (slot ``t`` of ``dt`` h, prosumer ``i``)
    * **Day** (:meth:`CarbonMarketParams.energy_internet`): the Energy Internet's PV, wind, load,
      wholesale price, intensity and initial charge (20-80 %), drawn with its generator, in the
      ``region`` (default ``mixed``: thermal, with morning and evening peaks);
      ``p_imp = wholesale + network_charge``, ``p_exp = wholesale - export_fee``.
    * **Battery** as in the Energy Internet: ``soc' = soc + (eta_c b+ - b- / eta_d) dt``,
      degradation per kWh of throughput.
    * **Energy market**: position ``x_i = (load + b - renewable) dt`` kWh, a bid if positive, an
      ask if negative, at the agent's price. A uniform-price double auction
      (:func:`clear_double_auction`, k = 1/2) clears it; the rest is imported at ``p_imp`` or
      exported at ``p_exp``.
    * **Emissions**: grid imports times the intensity (energy bought from a peer comes from its
      renewables or battery and emits nothing here).
    * **Allowances**: the community cap ``cap_kg`` per day is allocated in shares
      ``allocation`` (default: in proportion to base load, grandfathering), ``1 / horizon`` of it
      each slot. Each slot's emissions are surrendered from the agent's holdings (which may go
      negative: owed), then the allowance auction clears the agents' bids and asks by the same
      rule. Holdings bank across the slots of the day; what is owed at the end costs
      ``penalty_usd_per_t`` (the EU ETS excess-emissions penalty is EUR 100/t, Directive
      2003/87/EC Art. 16(3), indexed since 2013); allowances left over expire worthless.
    * **Cap**: the default 6 kg a day binds on most days: on 12 of the benchmark's 20 held-out
      days the social optimum without the cap emits more (median 8 kg, up to 19 kg, in the
      default ``mixed`` region; tested on six days), so the optimum moves imports to cleaner
      hours, stores more renewables and, on the dirtiest days, pays some penalty.

    ## Reward (per agent and slot, $ / ``reward_scale_usd``)
    ``-(p_imp * import - p_exp * export + energy price * (bought - sold) + allowance price *
    (allowances bought - sold) + degradation)``, and on the last slot the terminal value of the
    energy stored beyond the start, ``(soc - soc0) * v`` (``v``: the Energy Internet's, ``eta_d``
    times the day's mean import price), minus the penalty on allowances owed. Payments between
    agents cancel, so the **welfare** (the sum of the agents' rewards) is the community's grid
    bill, degradation, terminal value and penalties.

    ## Info (per agent)
    ``energy_kwh`` and ``import_kwh`` (grid import), ``co2_kg``, ``cost`` ($ paid this slot),
    ``export_kwh``, ``bought_kwh``, ``sold_kwh`` (peer trades), ``allowance_bought_kg``,
    ``allowance_sold_kg``, ``bank_kg`` (held), ``shortfall_kg`` (owed at the end), ``soc``; and
    the market's: ``energy_price`` ($/kWh; the mid price when nothing traded), ``p2p_kwh``,
    ``allowance_price`` ($/t, 0 when nothing traded), ``allowance_traded_kg``,
    ``community_bank_kg``.

    ## Start state and episode end
    Reset draws the day; holdings start at zero. All agents terminate after ``horizon`` slots
    (``max_cycles`` truncates earlier).

    ## Reference: the social optimum
    :func:`lowcarbon.envs.carbon_market.oracle.solve`, a central LP over the day with perfect
    foresight (HiGHS): batteries, the community's net grid exchange, and one pooled cap
    (allowances move freely between agents, payments cancel). It bounds the welfare of every
    joint play; replaying it (batteries from the plan, every price at the middle, allowances
    passed from holders to those who owe) comes within a small tolerance of the bound (tests).

    ## Version history
    * v0: initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "carbon_market_v0",
        "render_modes": [],
        "is_parallelizable": True,
    }
    params_cls = CarbonMarketParams
    core_cls = CarbonMarketCore
    agent_prefix = "prosumer"
