"""Units of the formulator: parse what a request or an LLM writes, convert to an env's unit.

Every parameter of the vocabulary (``knowledge/parameters.yaml``) has one canonical unit, the
env's own. :func:`convert` turns a value in any unit of the same dimension into it and raises
:class:`UnitError` across dimensions (a deadline in kWh), so a wrong unit is an error, never a
silent rescale. Rates per slot and durations in slots depend on the env's slot length.
"""

from __future__ import annotations

import math
import re

__all__ = ["UnitError", "canonical_unit", "convert", "convertible", "dimension"]


class UnitError(ValueError):
    """A unit that is unknown, or of another dimension than the parameter needs."""


# unit -> (dimension, factor to the dimension's base unit)
_UNITS: dict[str, tuple[str, float]] = {
    "1": ("count", 1.0),
    "fraction": ("fraction", 1.0),
    "%": ("fraction", 0.01),
    "s": ("time", 1.0),
    "ms": ("time", 1e-3),
    "min": ("time", 60.0),
    "h": ("time", 3600.0),
    "day": ("time", 86400.0),
    "Hz": ("frequency", 1.0),
    "kHz": ("frequency", 1e3),
    "MHz": ("frequency", 1e6),
    "GHz": ("frequency", 1e9),
    "W": ("power", 1.0),
    "mW": ("power", 1e-3),
    "kW": ("power", 1e3),
    "MW": ("power", 1e6),
    "GW": ("power", 1e9),
    "Wh": ("energy", 1.0),
    "kWh": ("energy", 1e3),
    "MWh": ("energy", 1e6),
    "GWh": ("energy", 1e9),
    "J": ("energy", 1.0 / 3600.0),
    "kJ": ("energy", 1e3 / 3600.0),
    "MJ": ("energy", 1e6 / 3600.0),
    "g": ("mass", 1.0),
    "kg": ("mass", 1e3),
    "t": ("mass", 1e6),
    "bit": ("data", 1.0),
    "kbit": ("data", 1e3),
    "Mbit": ("data", 1e6),
    "Gbit": ("data", 1e9),
    "B": ("data", 8.0),
    "kB": ("data", 8e3),
    "MB": ("data", 8e6),
    "GB": ("data", 8e9),
    "m": ("length", 1.0),
    "km": ("length", 1e3),
    "dBm": ("power_db", 0.0),
    "dBW": ("power_db", 30.0),  # offsets, not factors
    "degC": ("temperature", 1.0),
    "$/t": ("carbon_price", 1.0),
    "$/kg": ("carbon_price", 1e3),
    "$/MWh": ("energy_price", 1.0),
    "$/kWh": ("energy_price", 1e3),
    "¢/kWh": ("energy_price", 10.0),  # US cents
    "¢/MWh": ("energy_price", 0.01),
    "¢/t": ("carbon_price", 0.01),
    "¢/kg": ("carbon_price", 10.0),
    "1/g": ("per_mass", 1.0),
    "1/kg": ("per_mass", 1e-3),
    "1/t": ("per_mass", 1e-6),
    "1/slot": ("rate", 0.0),
    "1/h": ("rate", 1.0),
    "1/min": ("rate", 60.0),
    "1/s": ("rate", 3600.0),
    "slot": ("time", 0.0),  # resolved with the slot length
    "region": ("region", 1.0),
}

# spellings people write -> canonical unit (matched case-insensitively after the exact table)
_ALIASES: dict[str, str] = {
    "": "1",
    "x": "1",
    "count": "1",
    "units": "1",
    "dimensionless": "1",
    "none": "1",
    "percent": "%",
    "pct": "%",
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "msec": "ms",
    "millisecond": "ms",
    "milliseconds": "ms",
    "mins": "min",
    "minute": "min",
    "minutes": "min",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "days": "day",
    "d": "day",
    "hertz": "Hz",
    "khz": "kHz",
    "mhz": "MHz",
    "ghz": "GHz",
    "watt": "W",
    "watts": "W",
    "mw": "MW",  # lower case: a megawatt, as the domain writes it; only "mW" is a milliwatt
    "milliwatt": "mW",
    "milliwatts": "mW",
    "kilowatt": "kW",
    "kilowatts": "kW",
    "kwp": "kW",
    "megawatt": "MW",
    "megawatts": "MW",
    "gigawatt": "GW",
    "gigawatts": "GW",
    "wh": "Wh",
    "kwh": "kWh",
    "mwh": "MWh",
    "gwh": "GWh",
    "joule": "J",
    "joules": "J",
    "gram": "g",
    "grams": "g",
    "gco2": "g",
    "kgco2": "kg",
    "kilogram": "kg",
    "kilograms": "kg",
    "tonne": "t",
    "tonnes": "t",
    "ton": "t",
    "tons": "t",
    "tco2": "t",
    "bits": "bit",
    "kb": "kbit",
    "kbits": "kbit",
    "mb": "Mbit",
    "mbits": "Mbit",
    "megabit": "Mbit",
    "megabits": "Mbit",
    "gbits": "Gbit",
    "byte": "B",
    "bytes": "B",
    "kbyte": "kB",
    "kilobyte": "kB",
    "kilobytes": "kB",
    "mbyte": "MB",
    "megabyte": "MB",
    "megabytes": "MB",
    "gigabyte": "GB",
    "gigabytes": "GB",
    "meter": "m",
    "meters": "m",
    "metre": "m",
    "metres": "m",
    "kilometer": "km",
    "kilometers": "km",
    "kilometre": "km",
    "kilometres": "km",
    "dbm": "dBm",
    "dbw": "dBW",
    "c": "degC",
    "°c": "degC",
    "celsius": "degC",
    "degc": "degC",
    "deg c": "degC",
    "usd/t": "$/t",
    "$/tonne": "$/t",
    "$/ton": "$/t",
    "$/tco2": "$/t",
    "usd/tonne": "$/t",
    "usd/kg": "$/kg",
    "$/kilogram": "$/kg",
    "per kg": "1/kg",
    "/kg": "1/kg",
    "per kilogram": "1/kg",
    "per g": "1/g",
    "/g": "1/g",
    "per gram": "1/g",
    "per t": "1/t",
    "/t": "1/t",
    "per tonne": "1/t",
    "$/kwh": "$/kWh",
    "usd/kwh": "$/kWh",
    "$/mwh": "$/MWh",
    "usd/mwh": "$/MWh",
    "per slot": "1/slot",
    "/slot": "1/slot",
    "per hour": "1/h",
    "/h": "1/h",
    "/hour": "1/h",
    "per minute": "1/min",
    "/min": "1/min",
    "per second": "1/s",
    "/s": "1/s",
    "slots": "slot",
}

# units written in case-sensitive forms that collide when lower-cased (MB byte vs Mb bit)
# (KB is a kilobyte, as operating systems write it; mW a milliwatt, not a megawatt)
_CASE_SENSITIVE = {"Mb": "Mbit", "Gb": "Gbit", "kb": "kbit", "Kb": "kbit", "MB": "MB",
                   "GB": "GB", "kB": "kB", "KB": "kB", "mW": "mW"}  # fmt: skip


def canonical_unit(text: str | None) -> str:
    """The canonical spelling of a unit (``"seconds"`` -> ``"s"``); raises :class:`UnitError`."""
    raw = (text or "").strip()
    if raw in _UNITS:
        return raw
    if raw in _CASE_SENSITIVE:
        return _CASE_SENSITIVE[raw]
    key = re.sub(r"\s+", " ", raw.lower())
    if key in _ALIASES:
        return _ALIASES[key]
    for unit in _UNITS:  # case-insensitive exact names (kwh -> kWh)
        if unit.lower() == key:
            return unit
    if key.startswith(("€", "eur", "£", "gbp")):
        raise UnitError(f"unit {text!r}: prices must be in US dollars ($)")
    raise UnitError(f"unknown unit {text!r}")


def dimension(unit: str) -> str:
    """The physical dimension of a canonical unit (``"kWh"`` -> ``"energy"``)."""
    return _UNITS[canonical_unit(unit)][0]


def convertible(unit: str, to: str) -> bool:
    """Whether :func:`convert` takes ``unit`` to ``to``: the same dimension, or a power and a
    power level (W and dBm)."""
    pair = {dimension(unit), dimension(to)}
    return len(pair) == 1 or pair == {"power", "power_db"}


def convert(value: float, unit: str | None, to: str, *, slot_minutes: float = 60.0) -> float:
    """``value`` in ``unit`` expressed in the canonical unit ``to``.

    ``slot_minutes`` resolves ``slot`` (a duration) and ``1/slot`` (a rate). Raises
    :class:`UnitError` for an unknown unit or a dimension mismatch.
    """
    src, dst = canonical_unit(unit), canonical_unit(to)
    (d_src, f_src), (d_dst, f_dst) = _UNITS[src], _UNITS[dst]
    if (d_src, d_dst) == ("power", "power_db"):  # 200 mW -> 23 dBm
        if value <= 0:
            raise UnitError(f"{value:g} {src} has no level in {dst}: a power must be > 0")
        return 10.0 * math.log10(float(value) * f_src / 1e-3) - f_dst
    if (d_src, d_dst) == ("power_db", "power"):
        return 1e-3 * 10.0 ** ((float(value) + f_src) / 10.0) / f_dst
    if d_src != d_dst:
        raise UnitError(f"{value:g} {src} is a {d_src}, but this parameter needs a {d_dst} ({dst})")
    if d_src == "power_db":
        return float(value) + f_src - f_dst
    if "slot" in (src, dst, src[2:], dst[2:]) and slot_minutes <= 0:
        raise UnitError(f"the slot length must be positive, got {slot_minutes:g} min")
    slot_s = 60.0 * slot_minutes
    if src == "slot":
        f_src = slot_s
    if dst == "slot":
        f_dst = slot_s
    if src == "1/slot":
        f_src = 3600.0 / slot_s
    if dst == "1/slot":
        f_dst = 3600.0 / slot_s
    return float(value) * f_src / f_dst
