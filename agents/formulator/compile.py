"""Draft -> :class:`ProblemSpec`: grounding, units, regions, objective and constraints.

Every backend (rules or LLM) writes a :class:`Draft`; this module turns it into a spec and is
where the layered validation of the issue lives, except the oracle solve
(:mod:`.validation`):

1. **schema**: the draft parsed (pydantic, by the caller);
2. **grounding**: every parameter is in the family's vocabulary, every number appears somewhere
   in the request (or in an answer the user gave; which phrase it belongs to is not checked),
   every place is one the gazetteer knows and the request names;
3. **units**: each value converts to the parameter's canonical unit, has the right shape, lies in
   the plausible range of the vocabulary and passes the env's own checks.

Errors raise :class:`FormulationError` with the layer and a message per problem, which an LLM
backend gets back to repair. Nothing is filled in silently: values the request does not state
are the registered env's documented defaults and are listed as such, with the passages that
document them; every rule the compiler applies is listed as an assumption; every change to what
a backend wrote is listed as a repair.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from lowcarbon.envs.suite import entry

from . import places as gazetteer
from .knowledge import FamilyInfo, KnowledgeBase, ParamInfo
from .retrieval import Hit
from .spec import Constraint, Draft, LayerResult, Parameter, ProblemSpec, Question, Region, Term
from .units import UnitError, convert

__all__ = [
    "ENV_GROUPS",
    "FOCUS_FACTORS",
    "FormulationError",
    "UnsupportedRequest",
    "compile_draft",
    "numbers_in",
]

#: Hydra config group (``conf/env/<name>.yaml``) of each family.
ENV_GROUPS = {
    "metaverse_offload": "metaverse",
    "data_center": "datacenter",
    "energy_internet": "energy",
}
#: Multiplier of the carbon weight by the request's focus (passage ``obj-focus-weights``).
FOCUS_FACTORS = {"carbon": 2.0, "quality": 0.5, "cost": 0.5, "balanced": 1.0}
FOCUS_PASSAGE = "obj-focus-weights"
_CARBON_WEIGHT = {
    "metaverse_offload": "w_carbon_per_g",
    "data_center": "carbon_price_per_t",
    "energy_internet": "carbon_price_per_t",
}


class FormulationError(ValueError):
    """A draft failed a validation layer; ``errors`` lists one message per problem."""

    def __init__(self, layer: str, errors: Sequence[str]) -> None:
        self.layer = layer
        self.errors = list(errors)
        super().__init__(f"{layer} check failed: " + "; ".join(self.errors))


class UnsupportedRequest(ValueError):
    """The request asks for something the suite cannot model."""

    def __init__(self, message: str, nearest: str | None) -> None:
        self.nearest = nearest
        super().__init__(message)


_WORD_NUMBERS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "hundred": 100,
    "dozen": 12,
    "a couple of": 2,
    "a pair of": 2,
    "single": 1,
    "half a dozen": 6,
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}  # fmt: skip
_UNITS_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_WORD_NUMBERS.update({"seventy": 70, "eighty": 80, "ninety": 90, "a hundred": 100})
_WORD_NUMBERS.update({
    f"{t}{sep}{u}": tv + _WORD_NUMBERS[u]
    for t, tv in _TENS.items() for u in _UNITS_WORDS for sep in ("-", " ")
})  # fmt: skip
#: "1.5 thousand", "2 million"
SCALE_WORDS = {"thousand": 1e3, "million": 1e6}
_NUMBER_RE = re.compile(r"(?<![\w.])[-+]?\d+(?:[.,]\d+)*(?:\.\d+)?(?:[eE][-+]?\d+)?")


def numbers_in(text: str) -> list[float]:
    """Every number written in ``text``: digits (``1,000``, ``2.5``, ``1e6``) and number words."""
    out = []
    for m in _NUMBER_RE.finditer(text):
        raw = m.group(0)
        raw = raw.replace(",", "") if re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?", raw) else raw
        try:
            out.append(float(raw.replace(",", ".")))
        except ValueError:
            continue
    low = text.lower()
    for word, value in _WORD_NUMBERS.items():
        if re.search(rf"\b{re.escape(word)}\b", low):
            out.append(float(value))
    for m in re.finditer(r"(\d+(?:\.\d+)?)\s*(thousand|million)\b", low):
        out.append(float(m.group(1)) * SCALE_WORDS[m.group(2)])
    return out


def _grounded(value: float, numbers: Sequence[float]) -> bool:
    return any(math.isclose(value, n, rel_tol=1e-6, abs_tol=1e-9) for n in numbers)


def _defaults(family: str, env_id: str, explicit: Mapping[str, Any]) -> dict[str, Any]:
    """The env's parameter values with ``explicit`` applied (per-item defaults re-cycled to the
    new counts); raises ``ValueError`` from the env's own checks."""
    e = entry(env_id)
    params = e.family.env_cls.params_cls(**{**e.kwargs, **explicit})
    return {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}


def _plain(value: Any) -> Any:
    """Tuples (the env's per-item fields) as lists, for JSON and Hydra."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _whole(x: float) -> bool:
    return abs(x - round(x)) < 1e-9


def _shape_value(info: ParamInfo, values: list[float], count: int | None) -> Any:
    """Canonical values -> the env argument's shape; raises ``ValueError`` on a bad shape."""
    if info.shape == "int":
        if len(values) != 1 or not float(values[0]).is_integer():
            raise ValueError(f"{info.name} needs one whole number, got {values}")
        return int(values[0])
    if info.shape == "scalar":
        if len(values) != 1:
            raise ValueError(f"{info.name} needs one number, got {len(values)}")
        return float(values[0])
    if info.shape == "pair":
        if len(values) not in (1, 2):
            raise ValueError(f"{info.name} needs a (low, high) range, got {len(values)} numbers")
        lo, hi = (values[0], values[0]) if len(values) == 1 else values
        if lo > hi:
            raise ValueError(f"{info.name}: low {lo:g} is above high {hi:g}")
        cast = int if info.unit == "slot" else float  # durations in slots are whole slots
        return [cast(lo), cast(hi)]
    if info.shape in ("per_item", "per_item_int"):
        if info.shape == "per_item_int" and not all(float(v).is_integer() for v in values):
            raise ValueError(f"{info.name} needs whole numbers, got {values}")
        cast = int if info.shape == "per_item_int" else float
        if len(values) == 1:
            return cast(values[0])
        if count is not None and len(values) != count:
            raise ValueError(
                f"{info.name} has {len(values)} values but there are {count} {info.per}"
            )
        return [cast(v) for v in values]
    raise ValueError(f"{info.name}: shape {info.shape} takes places, not numbers")


def _assign_regions(
    fam: FamilyInfo, found: list[gazetteer.Place], count: int | None, explicit_count: bool
) -> tuple[list[Region] | None, list[Question], list[str]]:
    """Places -> one region per site (or the one region); questions and assumptions."""
    param = fam.params[fam.region_param]
    questions: list[Question] = []
    notes: list[str] = []
    if not found:
        return (
            None,
            [
                Question(
                    field=param.name,
                    text=(
                        "Which grid region(s) should the sites draw power from? (a country, "
                        "US state, California, or an archetype such as 'coal-heavy grid'); "
                        "the env's default regions are used until then"
                    ),
                )
            ],
            [],
        )
    if param.shape == "region":
        if len(found) > 1:
            questions.append(
                Question(
                    field=param.name,
                    text=(
                        f"This env has one grid region; the request names {len(found)} "
                        f"({', '.join(p.name for p in found)}). The first is used."
                    ),
                )
            )
        p = found[0]
        return (
            [
                Region(
                    index=0,
                    place=p.name,
                    signal=p.signal,
                    kind=p.kind,
                    mean_g_per_kwh=p.mean_g_per_kwh,
                    source=p.source,
                )
            ],
            questions,
            notes,
        )
    n = count if count is not None else len(found)
    if len(found) < n:
        cycled = [found[i % len(found)] for i in range(n)]
        notes.append(
            f"{n} sites but {len(found)} places named: regions cycled over the sites "
            f"({', '.join(p.name for p in cycled)})"
        )
        questions.append(
            Question(
                field=param.name,
                text=(
                    f"The request names {len(found)} places for {n} sites; which region is each "
                    f"site in? (now: {', '.join(p.name for p in cycled)})"
                ),
            )
        )
        found = cycled
    elif len(found) > n:
        if explicit_count:
            questions.append(
                Question(
                    field=param.name,
                    text=(
                        f"The request names {len(found)} places but {n} sites; "
                        f"the first {n} are used."
                    ),
                )
            )
        found = found[:n]
    return (
        [
            Region(
                index=i,
                place=p.name,
                signal=p.signal,
                kind=p.kind,
                mean_g_per_kwh=p.mean_g_per_kwh,
                source=p.source,
            )
            for i, p in enumerate(found)
        ],
        questions,
        notes,
    )


def compile_draft(
    draft: Draft,
    *,
    request: str,
    kb: KnowledgeBase,
    hits: Sequence[Hit],
    backend: str,
    user_text: str = "",
    user_params: Mapping[str, tuple[list[float], str]] | None = None,
    user_places: Sequence[str] | None = None,
) -> ProblemSpec:
    """Turn a backend's draft into a spec, checking grounding and units (module docstring).

    ``user_params`` (name -> (values, unit)) and ``user_places`` are corrections from a
    follow-up round: they win over the draft and count as grounded (source ``"user"``);
    ``user_text`` holds the user's answers, whose numbers also ground the draft.
    """
    if draft.family == "unsupported":
        nearest = next((h.passage.nearest for h in hits if h.passage.nearest), None) or next(
            (f for h in hits for f in h.passage.families), None
        )
        raise UnsupportedRequest(
            "not supported: the suite cannot model this request"
            + (
                f"; the nearest supported family is {nearest} ({kb.family(nearest).env_id})"
                if nearest
                else ""
            ),
            nearest,
        )
    fam = kb.family(draft.family)
    numbers = numbers_in(request) + numbers_in(user_text)
    grounding: list[str] = []
    unit_errors: list[str] = []
    repairs: list[str] = []
    assumptions: list[str] = list(draft.notes)
    questions: list[Question] = []

    # -- parameters: vocabulary, grounding, units, shapes ----------------------------------
    raw: dict[str, tuple[list[float], str, str]] = {}  # name -> (values, unit, source)
    multi: dict[str, int] = {}  # per-item fields the request gives in several mentions
    unknown = sorted({dp.name for dp in draft.parameters if dp.name not in fam.params})
    if unknown:  # one message, the vocabulary listed once
        grounding.append(
            f"{', '.join(map(repr, unknown))} {'is' if len(unknown) == 1 else 'are'} not "
            f"{'a parameter' if len(unknown) == 1 else 'parameters'} of {fam.name}; "
            f"use one of {sorted(fam.params)}"
        )
    for dp in draft.parameters:
        if dp.name not in fam.params:
            continue
        if fam.params[dp.name].shape in ("regions", "region"):
            grounding.append(f"{dp.name} takes places, not numbers: list them under 'places'")
            continue
        ungrounded = [v for v in dp.values if not _grounded(v, numbers)]
        if ungrounded:
            grounding.append(
                f"{dp.name}: {', '.join(f'{v:g}' for v in ungrounded)} does not appear in the "
                "request; give numbers as the request writes them, with their unit"
            )
            continue
        per_item = fam.params[dp.name].shape in ("per_item", "per_item_int")
        if dp.name in raw and per_item:
            # "one with a PUE of 1.2, one with 1.6", "750 kW in Texas, 2 MW in Iowa"
            first_unit = raw[dp.name][1]
            try:
                more = [convert(v, dp.unit, first_unit) for v in dp.values]
            except UnitError:
                more = None
            if more is not None:
                multi[dp.name] = multi.get(dp.name, 1) + 1
                raw[dp.name] = (raw[dp.name][0] + more, first_unit, "request")
                continue
        if dp.name in raw and raw[dp.name][:2] != (dp.values, dp.unit):
            questions.append(
                Question(
                    field=dp.name,
                    text=(
                        f"{dp.name} is given twice ({raw[dp.name][0]} {raw[dp.name][1]} and "
                        f"{dp.values} {dp.unit}); the first is used."
                    ),
                )
            )
            continue
        raw[dp.name] = (list(dp.values), dp.unit, "request")
    for name, (values, unit) in (user_params or {}).items():
        if name not in fam.params:
            raise FormulationError(
                "grounding",
                [f"{name!r} is not a parameter of {fam.name}; use one of {sorted(fam.params)}"],
            )
        raw[name] = (list(values), unit, "user")
        questions = [q for q in questions if q.field != name]
    if grounding:
        raise FormulationError("grounding", grounding)

    found: list[gazetteer.Place] = []
    for name in user_places if user_places is not None else draft.places:
        place = gazetteer.lookup(name)
        if place is None:
            grounding.append(
                f"unknown place {name!r}: name a country, a US state, California, "
                "or an archetype such as 'coal-heavy grid'"
            )
        elif user_places is None and not re.search(
            rf"(?<![\w-]){re.escape(name)}(?![\w-])", request, re.IGNORECASE
        ):
            grounding.append(f"place {name!r} does not appear in the request")
        else:
            found.append(place)  # in order, repeats kept: one entry per site
    if grounding:
        raise FormulationError("grounding", grounding)

    slot = raw.get("slot_minutes")
    try:
        slot_minutes = (
            float(convert(slot[0][0], slot[1], "min"))
            if slot
            else float(_defaults(fam.name, fam.env_id, {})["slot_minutes"])
        )
    except UnitError as err:
        raise FormulationError("units", [f"slot_minutes: {err}"]) from None
    explicit: dict[str, Any] = {}
    sources: dict[str, str] = {}
    # counts first: per-item shapes check against them
    order = sorted(raw, key=lambda n: fam.params[n].shape != "int")
    for name in order:
        values, unit, source = raw[name]
        info = fam.params[name]
        try:
            canon = [convert(v, unit, info.unit, slot_minutes=slot_minutes) for v in values]
        except UnitError as err:
            unit_errors.append(f"{name}: {err}")
            continue
        if info.unit == "slot" and not all(_whole(c) for c in canon):
            # a duration counted in slots: whole slots, rounded down so that what the request
            # allows (a wait, a deadline) is never exceeded
            whole = [float(math.floor(c + 1e-9)) for c in canon]
            repairs.append(
                f"{name}: {', '.join(f'{c:g}' for c in canon)} slots is not a whole number of "
                f"{slot_minutes:g}-minute slots; rounded down to "
                f"{', '.join(f'{w:g}' for w in whole)}"
            )
            canon = whole
        if info.range is not None:
            lo, hi = info.range
            bad = [c for c in canon if not lo <= c <= hi]
            if bad:
                unit_errors.append(
                    f"{name} = {', '.join(f'{c:g}' for c in bad)} {info.unit} is outside the "
                    f"plausible range [{lo:g}, {hi:g}] {info.unit}"
                    + (
                        f" (read as {', '.join(f'{v:g}' for v in values)} {unit})"
                        if unit != info.unit
                        else ""
                    )
                )
                continue
        count_name = fam.count_param(info.per)
        count = explicit.get(count_name) if count_name else None
        if count is None and info.per == fam.params[fam.region_param].per and found:
            count = len(found)  # one site per place named
        if name in multi and (count is None or len(canon) != count):
            questions.append(
                Question(
                    field=name,
                    text=(
                        f"{name} is given {multi[name]} times "
                        f"({', '.join(f'{c:g}' for c in canon)} {info.unit}) for "
                        f"{count if count is not None else 'an unknown number of'} {info.per}; "
                        "the first is used."
                    ),
                )
            )
            canon = canon[:1]
        elif name in multi:
            assumptions.append(
                f"{name}: one value per {info.per[:-1]}, in the order the request names them"
            )
        try:
            explicit[name] = _shape_value(info, canon, count)
        except ValueError as err:
            unit_errors.append(str(err))
            continue
        if info.shape == "pair" and len(values) == 1:
            repairs.append(
                f"{name}: one value {canon[0]:g} {info.unit} for a range; "
                f"used ({canon[0]:g}, {canon[0]:g})"
            )
        sources[name] = source
    if unit_errors:
        raise FormulationError("units", unit_errors)

    # -- regions ---------------------------------------------------------------------------
    region_param = fam.region_param
    count_name = fam.count_param(fam.params[region_param].per)
    count = explicit.get(count_name) if count_name else None
    regions, region_q, region_notes = _assign_regions(fam, found, count, count is not None)
    questions += region_q
    assumptions += region_notes
    if regions is not None:
        if count_name and count is None:
            explicit[count_name] = len(regions)
            sources[count_name] = "derived"
            assumptions.append(f"{count_name} = {len(regions)}: one site per place named")
        explicit[region_param] = (
            regions[0].signal
            if fam.params[region_param].shape == "region"
            else [r.signal for r in regions]
        )
        sources[region_param] = "user" if user_places is not None else "request"
    for pname in fam.item_count.values():
        if pname not in explicit and not any(q.field == pname for q in questions):
            questions.append(
                Question(
                    field=pname,
                    text=(
                        f"How many {next(k for k, v in fam.item_count.items() if v == pname)}? "
                        "The env's default is used until then."
                    ),
                )
            )

    counts = set(fam.item_count.values())
    questions.sort(key=lambda q: (q.field not in counts, q.field == region_param))  # sizes first

    # -- objective focus -> carbon weight --------------------------------------------------
    weight = _CARBON_WEIGHT[fam.name]
    factor = FOCUS_FACTORS[draft.objective_focus]
    if factor != 1.0 and weight not in explicit:
        base = _defaults(fam.name, fam.env_id, {})[weight]
        explicit[weight] = base * factor
        sources[weight] = f"kb:{FOCUS_PASSAGE}"
        assumptions.append(
            f"the request puts {draft.objective_focus} first: {weight} = "
            f"{base:g} x {factor:g} = {base * factor:g} (passage {FOCUS_PASSAGE})"
        )

    # -- the env's own checks, and every value (explicit or default) -----------------------
    try:
        values = _defaults(fam.name, fam.env_id, explicit)
    except (ValueError, TypeError) as err:
        raise FormulationError("units", [f"the env rejects these values: {err}"]) from None
    parameters = []
    for name, info in fam.params.items():
        src = sources.get(name, "default")
        parameters.append(
            Parameter(
                name=name,
                value=_plain(explicit[name] if name in explicit else values[name]),
                unit=info.unit,
                source=src,
                evidence=draft.evidence.get(name),
                passages=kb.informing(fam.name, name),
            )
        )
    if regions is None:
        default_regions = values[region_param]
        default_regions = [default_regions] if isinstance(default_regions, str) else default_regions
        regions = [
            Region(
                index=i,
                place=f"default '{s}' region",
                signal=s,
                kind="default",
                mean_g_per_kwh=gazetteer.lookup(s).mean_g_per_kwh
                if gazetteer.lookup(s)
                else float("nan"),
                source="the env's default region (no place named)",
            )
            for i, s in enumerate(default_regions)
        ]
    by_name = {p.name: p for p in parameters}

    objective = []
    for tname, t in fam.objective.items():
        p = by_name.get(t.get("param")) if t.get("param") else None
        objective.append(
            Term(
                name=tname,
                sense=t["sense"],
                latex=t["symbol"],
                param=t.get("param"),
                weight=float(p.value) if p else None,
                source=p.source if p else "model",
            )
        )
    constraints = []
    for cname, c in fam.constraints.items():
        p = by_name.get(c.get("param")) if c.get("param") else None
        constraints.append(
            Constraint(
                name=cname,
                latex=c["latex"],
                param=c.get("param"),
                value=p.value if p else None,
                unit=p.unit if p else None,
                source=p.source if p else "model",
            )
        )
    titles = {h.passage.id: h.passage.title for h in hits}
    warnings = [
        f"passage {h.passage.id!r} ({h.passage.origin}) was kept out of the LLM prompt: "
        f"{h.passage.flagged}"
        for h in hits
        if h.passage.flagged
    ]
    if draft.ignored:
        warnings.append(
            "numbers in the request not read as any parameter: " + "; ".join(draft.ignored)
        )
    return ProblemSpec(
        request=request,
        family=fam.name,
        env_id=fam.env_id,
        title=fam.title,
        backend=backend,
        objective_focus=draft.objective_focus,
        parameters=parameters,
        objective=objective,
        constraints=constraints,
        regions=regions,
        retrieved=[h.passage.id for h in hits],
        retrieved_titles=titles,
        assumptions=assumptions,
        repairs=repairs,
        questions=questions,
        warnings=warnings,
        validation=[
            LayerResult(layer="schema", ok=True),
            LayerResult(layer="grounding", ok=True),
            LayerResult(layer="units", ok=True),
        ],
    )
