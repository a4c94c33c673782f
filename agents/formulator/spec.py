"""The typed problem a request formulates to, and the draft an LLM backend writes.

* :class:`Draft` is what a backend produces: a family, parameter values with units, the places
  named and the objective's focus, all from a closed vocabulary (enums in its JSON schema).
* :class:`ProblemSpec` is the validated result: every parameter with its unit and where it came
  from (the request, a passage, the user, or the env's documented default), the objective terms
  with their weights, the constraints, the grid regions, the passages retrieved, and what each
  validation layer found. It renders as the mathematical problem (:meth:`to_markdown`) and
  compiles to a Hydra env config (:meth:`to_hydra`) or straight to an env (:meth:`make_env`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Constraint",
    "Draft",
    "DraftParameter",
    "LayerResult",
    "OracleCheck",
    "Parameter",
    "ProblemSpec",
    "Question",
    "Region",
    "Term",
    "draft_json_schema",
]

Focus = Literal["carbon", "quality", "cost", "balanced"]
Value = float | int | str | list[float] | list[int] | list[str]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class DraftParameter(_Model):
    """One parameter a backend read from the request: ``values`` holds one number, a
    ``[low, high]`` range, or one number per user/site."""

    name: str = Field(description="a parameter name of the chosen family")
    values: list[float] = Field(min_length=1, max_length=64)
    unit: str = Field(max_length=16, description="the unit the request used, e.g. 's', 'kWh'")


class Draft(_Model):
    """A backend's reading of a request, before grounding, unit and oracle checks."""

    family: Literal["metaverse_offload", "data_center", "energy_internet", "unsupported"]
    parameters: list[DraftParameter] = Field(default_factory=list, max_length=24)
    places: list[str] = Field(default_factory=list, max_length=32)
    objective_focus: Focus = "balanced"
    #: filled by the rules backend only: what it read and from where (not in the LLM schema)
    evidence: dict[str, str] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    #: filled by the rules backend: numbers of the request it could not attach to a parameter
    ignored: list[str] = Field(default_factory=list)


def draft_json_schema(param_names: list[str]) -> dict[str, Any]:
    """The JSON schema an LLM's reply must satisfy: :class:`Draft` without the rules-only fields,
    with parameter names restricted to ``param_names`` (the closed vocabulary)."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["family", "parameters", "places", "objective_focus"],
        "properties": {
            "family": {
                "type": "string",
                "enum": ["metaverse_offload", "data_center", "energy_internet", "unsupported"],
            },
            "parameters": {
                "type": "array",
                "maxItems": 12,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name", "values", "unit"],
                    "properties": {
                        "name": {"type": "string", "enum": sorted(set(param_names))},
                        "values": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": 16,
                            "items": {"type": "number"},
                        },
                        "unit": {"type": "string", "maxLength": 16},
                    },
                },
            },
            "places": {
                "type": "array",
                "maxItems": 16,
                "items": {"type": "string", "maxLength": 48},
            },
            "objective_focus": {
                "type": "string",
                "enum": ["carbon", "quality", "cost", "balanced"],
            },
        },
    }


Source = str  # "request", "user", "kb:<passage id>", "default", "derived"


class Parameter(_Model):
    """One constructor argument of the env, in its canonical unit."""

    name: str
    value: Value
    unit: str
    source: Source
    evidence: str | None = None  # the words of the request (or answer) it was read from
    passages: list[str] = Field(default_factory=list)  # passages that document it


class Term(_Model):
    """One objective term: a sense, a weight (``None`` for a term the env fixes) and its maths."""

    name: str
    sense: Literal["min", "max"]
    latex: str
    param: str | None = None
    weight: float | None = None
    source: Source = "default"


class Constraint(_Model):
    """One constraint of the problem, with the parameter (and value) that sets its bound."""

    name: str
    latex: str
    param: str | None = None
    value: Value | None = None
    unit: str | None = None
    source: Source = "model"


class Region(_Model):
    """The grid region of one site (or of the whole system)."""

    index: int
    place: str
    signal: str
    kind: Literal["trace", "country", "us_state", "archetype", "default"]
    mean_g_per_kwh: float
    source: str


class Question(_Model):
    """A follow-up question: a field that is missing, ambiguous or contradictory."""

    field: str
    text: str


class LayerResult(_Model):
    """What one validation layer found."""

    layer: Literal["schema", "grounding", "units", "oracle"]
    ok: bool
    errors: list[str] = Field(default_factory=list)


class OracleCheck(_Model):
    """A solve of one sample instance (seeded day) by the family's oracle."""

    seed: int
    value: float  # the plan's return by the oracle's program
    replayed: float  # the return of the plan played in the env
    gap: float  # relative gap to the solver's bound (0: proven optimal)
    exact: bool  # replayed == value and proven optimal (gap <= 1e-6, HiGHS's own tolerance)
    co2_kg: float | None = None
    seconds: float


class ProblemSpec(_Model):
    """A validated optimisation problem over one env of the suite (module docstring)."""

    request: str
    family: str
    env_id: str
    title: str
    backend: str
    objective_focus: Focus = "balanced"
    parameters: list[Parameter]
    objective: list[Term]
    constraints: list[Constraint]
    regions: list[Region]
    retrieved: list[str]
    retrieved_titles: dict[str, str] = Field(default_factory=dict)
    assumptions: list[str] = Field(default_factory=list)
    repairs: list[str] = Field(default_factory=list)
    questions: list[Question] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    validation: list[LayerResult] = Field(default_factory=list)
    oracle: OracleCheck | None = None
    fallback_from: str | None = None
    fallback_reason: str | None = None

    # -- what the env receives ---------------------------------------------------------------
    @property
    def env_kwargs(self) -> dict[str, Any]:
        """Constructor arguments that differ from the registered id's documented defaults."""
        return {p.name: p.value for p in self.parameters if p.source != "default"}

    def parameter(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(name)

    def to_hydra(self) -> dict[str, Any]:
        """The ``env`` node of a Hydra config (``conf/env/<group>.yaml`` shape): ``id`` and the
        ``kwargs`` that are set (tuples as lists)."""
        return {"id": self.env_id, "kwargs": json.loads(json.dumps(self.env_kwargs))}

    def hydra_overrides(self) -> list[str]:
        """Command-line overrides that select this env in ``lowcarbon-train``."""
        from lowcarbon.agents.formulator.compile import ENV_GROUPS

        # a name of its own, so that its runs never resume or mix with the default env's
        digest = hashlib.sha1(json.dumps(self.env_kwargs, sort_keys=True).encode()).hexdigest()
        group = ENV_GROUPS[self.family]
        out = [f"env={group}", f"env.id={self.env_id}", f"env.name={group}-{digest[:8]}"]
        for k, v in self.env_kwargs.items():
            out.append(f"env.kwargs.{k}={json.dumps(v, separators=(',', ':'))}")
        return out

    def make_env(self, **kwargs: Any):
        """The Gymnasium env of this problem (extra ``kwargs`` go to ``gym.make``)."""
        import gymnasium as gym

        import lowcarbon.envs  # noqa: F401  (registers the ids)

        return gym.make(self.env_id, **{**self.env_kwargs, **kwargs})

    # -- rendering -----------------------------------------------------------------------------
    def to_markdown(self, passages: dict[str, str] | None = None) -> str:
        """The problem as Markdown with LaTeX: objective, constraints, parameters, sources."""
        lines = [f"## {self.title}", "", f"*Request:* {self.request}", ""]
        lines.append(
            f"*Backend:* `{self.backend}`"
            + (
                f" (fell back from `{self.fallback_from}`: {self.fallback_reason})"
                if self.fallback_from
                else ""
            )
        )
        lines += [f"*Environment:* `{self.env_id}`", "", "### Objective", ""]
        maximise = [t.latex for t in self.objective if t.sense == "max"]
        minimise = [t.latex for t in self.objective if t.sense == "min"]
        expr = " + ".join(maximise) + "".join(
            f" - \\Big({m}\\Big)" if (" + " in m or " - " in m) else f" - {m}" for m in minimise
        )
        expr = expr.removeprefix(" ")
        lines += ["$$", f"\\max_{{\\pi}}\\; \\mathbb{{E}}\\Big[{expr}\\Big]", "$$", ""]
        lines.append("| term | sense | weight | parameter | source |")
        lines.append("|---|---|---:|---|---|")
        for t in self.objective:
            w = "fixed by the model" if t.weight is None else f"{t.weight:g}"
            lines.append(f"| {t.name} | {t.sense} | {w} | {t.param or ''} | {t.source} |")
        lines += ["", "### Constraints", ""]
        for c in self.constraints:
            bound = f" with `{c.param}` = {_fmt(c.value)} {c.unit or ''}" if c.param else ""
            lines.append(f"- **{c.name}**: ${c.latex}${bound} ({c.source})")
        lines += ["", "### Grid regions", ""]
        for r in self.regions:
            lines.append(
                f"- site {r.index}: {r.place} -> `{r.signal}` "
                f"({r.mean_g_per_kwh:g} g/kWh; {r.source})"
            )
        lines += [
            "",
            "### Parameters",
            "",
            "| parameter | value | unit | source |",
            "|---|---|---|---|",
        ]
        for p in self.parameters:
            src = p.source + (
                f" ({', '.join(p.passages[:2])})" if p.source == "default" and p.passages else ""
            )
            lines.append(f"| `{p.name}` | {_fmt(p.value)} | {p.unit} | {src} |")
        for title, items in (
            ("Assumptions", self.assumptions),
            ("Repairs", self.repairs),
            ("Warnings", self.warnings),
        ):
            if items:
                lines += ["", f"### {title}", ""] + [f"- {x}" for x in items]
        if self.questions:
            lines += ["", "### Questions", ""] + [
                f"- `{q.field}`: {q.text}" for q in self.questions
            ]
        lines += ["", "### Validation", ""]
        for v in self.validation:
            lines.append(f"- {v.layer}: {'ok' if v.ok else 'failed: ' + '; '.join(v.errors)}")
        if self.oracle:
            o = self.oracle
            if o.exact:
                what = f"optimal return {o.value:.3f}"
            else:
                what = (
                    f"plan value {o.value:.3f} (gap to the solver's bound {o.gap:.2g}), "
                    f"replayed in the env: {o.replayed:.3f}"
                )
            lines.append(
                f"- oracle on sample day (seed {o.seed}): {what}, {o.co2_kg:.2f} kg "
                f"CO2, solved in {o.seconds:.2f} s"
            )
        lines += ["", "### Retrieved passages", ""]
        for pid in self.retrieved:
            title = (passages or self.retrieved_titles).get(pid, "")
            lines.append(f"- `{pid}`: {title}")
        return "\n".join(lines) + "\n"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(_fmt(x) for x in v) + ")"
    return str(v)
