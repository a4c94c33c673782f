"""Field-level scoring of formulations against hand-written expected specs (the evaluation set
in ``eval/requests.yaml``), and hit@k of retrieval (``eval/queries.yaml``).

A request's fields are: ``supported`` (and ``nearest`` family) for requests outside the suite;
otherwise ``family``, each expected constructor argument, every argument the formulator read
from the request that the expectation does not list (a spurious field counts as a miss), the
places in order, the objective's focus, and the set of follow-up questions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from .spec import ProblemSpec

__all__ = ["FieldScore", "load_eval", "score_request"]


@dataclass
class FieldScore:
    """Per-field outcome of one request: field name -> (expected, got, correct)."""

    id: str
    fields: dict[str, tuple[Any, Any, bool]] = field(default_factory=dict)

    @property
    def correct(self) -> int:
        return sum(ok for *_, ok in self.fields.values())

    @property
    def total(self) -> int:
        return len(self.fields)

    def misses(self) -> dict[str, tuple[Any, Any]]:
        return {k: (e, g) for k, (e, g, ok) in self.fields.items() if not ok}


def load_eval(name: str) -> list[dict[str, Any]]:
    """A shipped evaluation file: ``"requests"`` or ``"queries"``."""
    path = resources.files("lowcarbon.agents.formulator") / "eval" / f"{name}.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-9)
    return a == b


def score_request(
    case: Mapping[str, Any], spec: ProblemSpec | None, unsupported_nearest: str | None = None
) -> FieldScore:
    """Score one formulation (``spec``, or ``None`` with ``unsupported_nearest`` when the
    formulator answered "not supported") against ``case["expect"]``."""
    exp = case["expect"]
    out = FieldScore(case["id"])
    if exp.get("supported", True) is False:
        out.fields["supported"] = (False, spec is None, spec is None)
        if "nearest" in exp:
            got = unsupported_nearest if spec is None else None
            out.fields["nearest"] = (exp["nearest"], got, got == exp["nearest"])
        return out
    if spec is None:
        out.fields["supported"] = (True, False, False)
        return out
    out.fields["family"] = (exp["family"], spec.family, exp["family"] == spec.family)
    got_kwargs = {
        p.name: p.value
        for p in spec.parameters
        if p.source in ("request", "derived") and p.name != _region_param(spec)
    }
    for k, v in (exp.get("kwargs") or {}).items():
        g = got_kwargs.get(k)
        out.fields[f"kwargs.{k}"] = (v, g, g is not None and _same(v, g))
    for k, g in got_kwargs.items():
        if k not in (exp.get("kwargs") or {}):
            out.fields[f"spurious.{k}"] = (None, g, False)
    places = [r.place for r in spec.regions if r.kind != "default"]
    places = list(dict.fromkeys(places))
    expected_places = list(exp.get("places") or [])
    out.fields["places"] = (expected_places, places, places == expected_places)
    if "objective" in exp:
        out.fields["objective"] = (
            exp["objective"],
            spec.objective_focus,
            exp["objective"] == spec.objective_focus,
        )
    if "questions" in exp:
        got_q = sorted({q.field for q in spec.questions})
        want_q = sorted(set(exp["questions"] or []))
        out.fields["questions"] = (want_q, got_q, got_q == want_q)
    return out


def _region_param(spec: ProblemSpec) -> str:
    return {
        "metaverse_offload": "server_regions",
        "data_center": "site_regions",
        "energy_internet": "region",
    }[spec.family]


def summarise(scores: Sequence[FieldScore]) -> dict[str, float]:
    """Field accuracy, exact-match rate and counts over a set of requests."""
    correct = sum(s.correct for s in scores)
    total = sum(s.total for s in scores)
    return {
        "requests": len(scores),
        "fields": total,
        "field_accuracy": correct / total if total else float("nan"),
        "exact_match": sum(s.correct == s.total for s in scores) / len(scores) if scores else 0.0,
    }
