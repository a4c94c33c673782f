"""The ``rules`` backend: a deterministic extractor, no language model at all.

It reads a request in four passes:

1. **family**: words of each family's vocabulary (``parameters.yaml`` ``words`` and parameter
   aliases) scored against the request, retrieval breaking ties; a request whose best passage
   is tagged ``unsupported`` and that names no family's words is not supported;
2. **quantities**: every number (digits or words, single, ``A-B`` / ``between A and B`` ranges,
   ``A, B and C`` lists) with the unit written after it;
3. **attachment**: a quantity belongs to the parameter whose alias follows it ("20 VR users"),
   or precedes it through linking words only ("latency under 2 s", "PUE of 1.3"), and whose unit
   has the same dimension; a unit only one parameter of the family can take decides alone
   ("a 1.5 MW site");
4. **places and objective**: the gazetteer finds places; objective words set the focus.

What it does not read stays at the env's documented defaults, listed in the spec as such
(:mod:`.compile`), never filled in silently.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from . import places as gazetteer
from .compile import _WORD_NUMBERS, SCALE_WORDS, FormulationError
from .knowledge import FamilyInfo, KnowledgeBase
from .retrieval import Hit
from .spec import Draft, DraftParameter
from .units import UnitError, canonical_unit, convertible, dimension

__all__ = ["Quantity", "find_quantities", "rules_draft"]

_NUM = r"\d+(?:,\d{3})+(?:\.\d+)?|\d*\.\d+|\d+(?:\.\d+)?(?:e[-+]?\d+)?"
_WORDNUM = "|".join(sorted((re.escape(w) for w in _WORD_NUMBERS), key=len, reverse=True))
_NUMBER_RE = re.compile(
    rf"(?<![\w.$])(?:\$\s*)?(?:(?<!\w)-)?(?:{_NUM}|\b(?:{_WORDNUM})\b)", re.IGNORECASE
)
# units as people write them after a number, longest first (matched case-insensitively, then
# resolved by units.canonical_unit, which keeps MB/Mb apart)
_UNIT_WORDS = sorted(
    {
        "s",
        "sec",
        "secs",
        "second",
        "seconds",
        "ms",
        "msec",
        "millisecond",
        "milliseconds",
        "min",
        "mins",
        "minute",
        "minutes",
        "h",
        "hr",
        "hrs",
        "hour",
        "hours",
        "day",
        "days",
        "hz",
        "khz",
        "mhz",
        "ghz",
        "w",
        "kw",
        "kwp",
        "mw",
        "gw",
        "watt",
        "watts",
        "kilowatt",
        "kilowatts",
        "megawatt",
        "megawatts",
        "wh",
        "kwh",
        "mwh",
        "gwh",
        "j",
        "kj",
        "mj",
        "g",
        "gco2",
        "kg",
        "kgco2",
        "kilogram",
        "kilograms",
        "kg co2",
        "g co2",
        "t",
        "tonne",
        "tonnes",
        "ton",
        "tons",
        "tco2",
        "t co2",
        "bit",
        "bits",
        "kbit",
        "mbit",
        "gbit",
        "kb",
        "mb",
        "gb",
        "megabit",
        "megabits",
        "megabyte",
        "megabytes",
        "kilobyte",
        "kilobytes",
        "byte",
        "bytes",
        "m",
        "km",
        "meter",
        "meters",
        "metre",
        "metres",
        "kilometre",
        "kilometres",
        "kilometer",
        "kilometers",
        "dbm",
        "dbw",
        "°c",
        "degc",
        "celsius",
        "degrees",
        "degree",
        "%",
        "percent",
        "$/t",
        "$/tonne",
        "$/ton",
        "$/tco2",
        "usd/t",
        "usd/tonne",
        "$/kwh",
        "$/mwh",
        "usd/kwh",
        "usd/mwh",
        "$/kg",
        "usd/kg",
        "slot",
        "slots",
    },
    key=len,
    reverse=True,
)
_UNIT_RE = re.compile(
    r"\s*-?\s*(" + "|".join(re.escape(u) for u in _UNIT_WORDS) + r")(?![a-z0-9])", re.IGNORECASE
)
_ONE_LETTER_UNITS = frozenset("shmgtWJ%")  # case-sensitive: "5 g" is grams, "5G" is a network
_PRICE_PER = re.compile(
    r"\s*(?:usd|dollars?)?\s*(?:/|per|a|an)\s*(t|tonne|ton|tco2|t\s*co2|tonne of co2|"
    r"kwh|mwh|kg|kgco2|kg\s*co2|kilogram)\b",
    re.IGNORECASE,
)
#: what a dollar amount is per (``$0.05 per kg``), as written -> canonical unit
_DOLLAR_PER = {"kwh": "$/kWh", "mwh": "$/MWh", "kg": "$/kg", "kgco2": "$/kg",
               "kilogram": "$/kg"}  # fmt: skip
_CENTS = re.compile(r"\s*(?:us\s*)?(?:cents?|¢)(?![a-z])", re.IGNORECASE)
#: an amount in another currency than the dollar (the envs' prices are in US dollars)
_FOREIGN_MONEY = re.compile(
    r"[€£]\s*\d[\d.,]*|\d[\d.,]*\s*(?:[€£]|(?:eur(?:os?)?|gbp)(?![-\w])(?!\s*\d)"
    r"|pounds?\s+sterling\b)",
    re.IGNORECASE,
)
#: a bare number per unit of mass: a weight in 1/kg, 1/g or 1/t
_PER_MASS = re.compile(r"\s*(?:/|per)\s*(kg|kilogram|g|gram|t|tonne)(?:\s*co2)?\b", re.IGNORECASE)
_RATE_PER = re.compile(
    r"^[\w\s-]{0,30}?\b(?:per|an|a|every|/)\s*(hour|h|minute|min|slot|second)\b", re.IGNORECASE
)
_LINK = frozenset(
    "of is are at = : under below within to around about approximately roughly max maximum "
    "minimum least most less than no more not exceed exceeding over up a an the per each with "
    "set be should must capped cap by stay stays keep between from only just of: equal equals "
    "limited limit budget never beyond above kept lower higher target targets also take can "
    "handle rated that need needs come back wants want has have rating sized".split()
)
_FOCUS = {
    "carbon": re.compile(
        r"\b(minimi[sz]\w*|reduc\w*|cut\w*|lower\w*|lowest|least|min)\b[^.;]{0,40}?\b(carbon|"
        r"emission\w*|co2|footprint)|\b(carbon|emissions?|co2|footprint)\b[^.;]{0,25}?\b(as low as "
        r"possible|low|lowest|minimal|down)\b|\b(greenest|carbon[- ]first|lowest[- ]carbon|"
        r"as green as possible|decarboni[sz]\w*|cleanest)\b",
        re.IGNORECASE,
    ),
    "quality": re.compile(
        r"\b(maximi[sz]\w*|best|highest|top|max|prioriti[sz]\w*)\b[^.;]{0,25}?\b(quality|"
        r"user experience|qoe|fidelity)|\bquality first\b",
        re.IGNORECASE,
    ),
    "cost": re.compile(
        r"\b(cheapest|cheaper|lowest (?:cost|bill|price)|save money|saving money|"
        r"(?:minimi[sz]\w*|reduc\w*|cut\w*|lower\w*)\b[^.;]{0,25}?\b(?:cost|costs|bill|bills|"
        r"spend\w*|expenses?)|(?:bill|cost)s?\b[^.;]{0,20}?\b(?:lowest|low|down|minimal))\b",
        re.IGNORECASE,
    ),
}
#: cues that only decide when no stronger one is present ("carbon-aware offloading")
_WEAK_CARBON = re.compile(
    r"\b(green|low[- ]carbon|carbon[- ]aware|carbon[- ]saving|save carbon|carbon can we save|"
    r"carbon[- ]efficient|sustainab\w*)\b",
    re.IGNORECASE,
)
_BALANCED = re.compile(r"\b(balanc\w*|trade[- ]?off|equally|both|together)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Quantity:
    """A number (or range, or list) read from the request, with the unit written after it."""

    values: tuple[float, ...]
    unit: str | None  # canonical unit, or None when no unit was written
    start: int
    end: int
    is_range: bool = False


def _number(text: str) -> float:
    t = text.strip().lstrip("$").strip().lower()
    if t in _WORD_NUMBERS:
        return float(_WORD_NUMBERS[t])
    return float(t.replace(",", ""))


def _unit_at(text: str, pos: int) -> tuple[str | None, int]:
    """The unit written at ``pos`` (canonical) and where it ends."""
    m = _UNIT_RE.match(text, pos)
    if not m:
        return None, pos
    raw = m.group(1)
    if len(raw) == 1 and raw not in _ONE_LETTER_UNITS:
        return None, pos  # "5G", "3D", "2T": not grams, ...
    word = raw.replace(" co2", "").replace(" ", "")
    if word.lower() in ("degrees", "degree"):
        word = "degC"
    try:
        return canonical_unit(word), m.end()
    except UnitError:
        return None, pos


def find_quantities(text: str) -> list[Quantity]:
    """Numbers with their units, ranges (``1-4 s``, ``between 1 and 4 s``, ``1 to 4 s``) and
    lists (``2, 2 and 4``), in order."""
    out: list[Quantity] = []
    matches = list(_NUMBER_RE.finditer(text))
    i = 0
    while i < len(matches):
        m = matches[i]
        dollar = m.group(0).lstrip().startswith("$")
        values = [_number(m.group(0))]
        end = m.end()
        # scale words: "2 thousand", "1.5 million"
        sm = re.match(r"\s*(thousand|million)\b", text[end:], re.IGNORECASE)
        if sm:
            values[0] *= SCALE_WORDS[sm.group(1).lower()]
            end += sm.end()
        cents = None if dollar else _CENTS.match(text, end)
        if cents:  # "12 cents per kWh": US cents (the unit says so; the number stays as written)
            dollar, end = True, cents.end()
        is_range = False
        j = i + 1
        # ranges and lists continue with the next number
        while j < len(matches):
            gap = text[end : matches[j].start()]
            nxt = matches[j].end()
            if (
                re.match(r"[a-z]", text[nxt : nxt + 1], re.IGNORECASE)
                and not _unit_at(text, nxt)[0]
            ):
                break  # "..., 5G": the next number is glued to a word
            before = text[max(0, m.start() - 12) : m.start()].lower()
            if re.fullmatch(r"\s*(?:-|–|to)\s*", gap) or (
                re.fullmatch(r"\s*and\s*", gap) and re.search(r"\bbetween\s*$", before)
            ):
                is_range = True
            elif re.fullmatch(r"\s*,\s*|\s*,?\s*and\s*", gap) and (
                "," in gap or len(values) >= 2 or _unit_at(text, matches[j].end())[0]
            ):
                pass
            else:
                # a unit between the first number and "to": "1 s to 4 s"
                unit, uend = _unit_at(text, end)
                if unit and re.fullmatch(r"\s*(?:-|–|to)\s*", text[uend : matches[j].start()]):
                    is_range = True
                else:
                    break
            values.append(_number(matches[j].group(0)))
            end = matches[j].end()
            j += 1
            if is_range:
                break
        if len(values) == 2 and not is_range and "," not in text[m.start() : end]:
            if _unit_at(text, end)[0] is None:  # "A and B" is a list only with a shared unit
                values, end, j = values[:1], m.end(), i + 1
        unit, uend = _unit_at(text, end)
        if dollar:
            pm = _PRICE_PER.match(text, end)
            per = pm.group(1).lower().replace(" ", "") if pm else "t"
            unit = _DOLLAR_PER.get(per, "$/t")
            if cents:
                unit = unit.replace("$", "¢")
            uend = pm.end() if pm else end
        elif unit is None and re.match(r"[a-z]", text[end : end + 1], re.IGNORECASE):
            i = j  # "5G", "3D": a number glued to a word is no quantity
            continue
        elif unit is None:
            pm = re.match(
                r"\s*(?:usd|dollars?|\$)\s*(?:/|per|a|an)\s*(t|tonne|ton|tco2|kwh|mwh|kg|"
                r"kilogram)\b",
                text[end:],
                re.IGNORECASE,
            )
            per_mass = _PER_MASS.match(text, end)
            if pm:
                unit = _DOLLAR_PER.get(pm.group(1).lower(), "$/t")
                uend = end + pm.end()
            elif per_mass:  # "a weight of 1 per kg": a weight per unit of mass
                unit = "1/" + {"kilogram": "kg", "gram": "g", "tonne": "t"}.get(
                    per_mass.group(1).lower(), per_mass.group(1).lower()
                )
                uend = per_mass.end()
        out.append(Quantity(tuple(values), unit, m.start(), uend if unit else end, is_range))
        i = j
    return out


def _alias_pattern(fam: FamilyInfo) -> list[tuple[re.Pattern, str, str]]:
    pairs = [(a.lower(), name) for name, p in fam.params.items() for a in p.aliases]
    pairs.sort(key=lambda x: len(x[0]), reverse=True)
    out = []
    for alias, name in pairs:
        stem = alias[:-1] if alias.endswith("s") and not alias.endswith("ss") else alias
        out.append((re.compile(rf"\b{re.escape(stem)}(?:s|es)?\b", re.IGNORECASE), name, alias))
    return out


def _compatible(fam: FamilyInfo, name: str, q: Quantity) -> bool:
    info = fam.params[name]
    if info.shape in ("regions", "region"):
        return False
    if info.shape in ("int", "per_item_int") and not all(float(v).is_integer() for v in q.values):
        return False
    if q.unit is None:
        return dimension(info.unit) in ("count", "fraction", "rate", "per_mass") or info.unit == "1"
    try:
        return convertible(q.unit, info.unit)
    except UnitError:
        return False


def _attach(
    text: str, masked: str, q: Quantity, fam: FamilyInfo, aliases
) -> tuple[str, str] | None:
    """(parameter, evidence) for quantity ``q``, or ``None`` (module docstring, step 3).

    ``masked`` is ``text`` with every quantity blanked out, so that "a 10 kWh, 5 kW battery"
    reaches "battery" from both numbers."""
    after = masked[q.end : q.end + 48]
    share = q.unit in ("%", "fraction")  # "40 % of the work deferrable"
    best: tuple[int, str, int] | None = None
    for pattern, name, _ in aliases:
        m = pattern.search(after)
        if m and _compatible(fam, name, q):
            head = after[: m.start()]
            # other quantities of the same list ("a 10 kWh, 5 kW battery") are skipped, but only
            # when the list follows this number directly
            listed = re.match(r"^(?:\s*(?:,|and)\s*#+)+", head)
            rest = head[listed.end() if listed else 0 :]
            tokens = rest.split()
            fillers = [t for t in tokens if "#" not in t]
            if len(fillers) != len(tokens):
                continue  # another number lies between, outside a list
            # a clause boundary ("5 kW inverter, EVs need") or a linking word ends the phrase
            blocked = re.search(r"[,;.:!?]", rest) is not None or any(
                f in ("and", "in", "on", "for", "with", "to") for f in fillers
            )
            if len(fillers) <= (3 if share else 2) and not blocked:
                if best is None or m.start() < best[0]:
                    best = (m.start(), name, m.end())
    if best is not None:
        return best[1], text[q.start : q.end + best[2]].strip()
    before = masked[max(0, q.start - 64) : q.start]
    best_b: tuple[int, str, int] | None = None
    bad_b: tuple[int, str, int] | None = None
    for pattern, name, _ in aliases:
        for m in pattern.finditer(before):
            between = before[m.end() :]
            if re.search(r"[,;.!?#]", between):
                continue  # a clause or another number lies between: no link
            link = re.findall(r"[\w=:'$~]+", between.lower())
            if len(link) > 6 or not all(w in _LINK for w in link):
                continue
            if _compatible(fam, name, q):
                if best_b is None or m.end() > best_b[0]:
                    best_b = (m.end(), name, m.start())
            elif (
                q.unit is not None
                and fam.params[name].shape not in ("int", "per_item_int", "regions", "region")
                and dimension(fam.params[name].unit) != "count"
            ):  # ("4 GPUs of 300 W": a power is no wrong unit of a count, just another quantity)
                if bad_b is None or m.end() > bad_b[0]:
                    bad_b = (m.end(), name, m.start())
    if best_b is not None:
        return best_b[1], text[q.start - (len(before) - best_b[2]) : q.end].strip()
    if bad_b is not None:
        # "latency under 2 kWh": the phrase names the parameter and the unit is wrong; keep the
        # pairing so that validation reports the unit, rather than move the number elsewhere
        return bad_b[1], text[q.start - (len(before) - bad_b[2]) : q.end].strip()
    if q.unit is not None and dimension(q.unit) not in ("count", "fraction"):
        same = [
            n for n in fam.params if _compatible(fam, n, q) and fam.params[n].shape not in ("int",)
        ]
        if len(same) == 1:
            return same[0], text[q.start : q.end].strip()
    return None


def _family_scores(text: str, kb: KnowledgeBase) -> dict[str, float]:
    low = text.lower()
    scores = {}
    for name, fam in kb.families.items():
        s = sum(2.0 for w in fam.words if re.search(rf"\b{re.escape(w)}s?\b", low))
        s += 0.5 * sum(1 for pattern, _, _ in _alias_pattern(fam) if pattern.search(low))
        scores[name] = s
    return scores


def detect_family(text: str, kb: KnowledgeBase, hits: Sequence[Hit]) -> tuple[str, str | None]:
    """(family or ``"unsupported"``, nearest supported family)."""
    scores = _family_scores(text, kb)
    for rank, h in enumerate(hits[:3]):  # retrieval breaks ties
        for f in h.passage.families:
            scores[f] += 0.4 / (rank + 1)
    best = max(scores, key=lambda f: scores[f])
    word_score = max(
        sum(1 for w in kb.families[f].words if re.search(rf"\b{re.escape(w)}s?\b", text.lower()))
        for f in kb.families
    )
    alias_hits = max(
        sum(1 for pattern, _, _ in _alias_pattern(kb.families[f]) if pattern.search(text))
        for f in kb.families
    )
    top_unsupported = bool(hits) and "unsupported" in hits[0].passage.tags
    nearest = next((h.passage.nearest for h in hits if h.passage.nearest), None)
    # one stray word ("users", "prompts") is no request about the suite
    about_suite = word_score >= 1 or alias_hits >= 2
    if (top_unsupported and word_score < 2) or not about_suite or scores[best] < 1.0:
        return "unsupported", nearest or (best if scores[best] > 0 else None)
    return best, best


def _focus(text: str) -> str:
    """``carbon``, ``quality``, ``cost`` or ``balanced`` (two strong cues, or none)."""
    found = [name for name, pattern in _FOCUS.items() if pattern.search(text)]
    if len(found) == 1:
        return found[0]
    if not found and _WEAK_CARBON.search(text):
        return "carbon"
    return "balanced"


def rules_draft(request: str, kb: KnowledgeBase, hits: Sequence[Hit]) -> Draft:
    """The rules backend's reading of ``request`` (module docstring)."""
    family, _ = detect_family(request, kb, hits)
    if family == "unsupported":
        return Draft(family="unsupported")
    foreign = [m.group(0).strip() for m in _FOREIGN_MONEY.finditer(request)]
    if foreign:
        raise FormulationError(
            "units",
            [f"{amount!r}: prices must be in US dollars ($); convert the amount first"
             for amount in foreign],
        )  # fmt: skip
    fam = kb.family(family)
    aliases = _alias_pattern(fam)
    found = gazetteer.find_places(request)
    place_spans = [span for _, span in found]
    params: list[DraftParameter] = []
    evidence: dict[str, str] = {}
    notes: list[str] = []
    ignored: list[str] = []
    quantities = find_quantities(request)
    masked = request
    for q in quantities:
        masked = masked[: q.start] + "#" * (q.end - q.start) + masked[q.end :]
    for q in quantities:
        if any(s <= q.start < e for s, e in place_spans):
            continue
        hit = _attach(request, masked, q, fam, aliases)
        if hit is None:
            written = request[q.start : q.end].strip()
            if re.search(r"\d", written):  # word numbers ("one of them") are rarely quantities
                ignored.append(repr(written))
            continue
        name, ev = hit
        info = fam.params[name]
        unit = q.unit
        if unit is None:
            if info.unit == "1/slot":
                rate = _RATE_PER.match(request[q.end : q.end + 48])
                unit = (
                    {
                        "hour": "1/h",
                        "h": "1/h",
                        "minute": "1/min",
                        "min": "1/min",
                        "second": "1/s",
                        "slot": "1/slot",
                    }[rate.group(1).lower()]
                    if rate
                    else None
                )
                if unit is None:
                    unit = "1/slot"
                    notes.append(f"{name}: no time unit written; read as per slot")
            elif info.unit in ("1", "fraction", "1/g"):
                unit = info.unit
            else:
                unit = info.unit
                notes.append(f"{name}: no unit written after {q.values[0]:g}; read as {info.unit}")
        values = list(q.values)
        if info.shape == "pair" and len(values) == 1:
            values = values * 2  # "latency under 2 s": every request's deadline is 2 s
        params.append(DraftParameter(name=name, values=values, unit=unit))
        evidence.setdefault(name, ev)
    return Draft(
        family=family,
        parameters=params,
        places=[request[s:e] for _, (s, e) in found],
        objective_focus=_focus(request),
        evidence=evidence,
        notes=notes,
        ignored=ignored,
    )
