"""The formulator's knowledge base: passages the project wrote, and the closed vocabulary.

* **Passages** (``knowledge/passages/*.md``): Markdown with a YAML header (``id``, ``title``,
  ``families``, ``informs`` = the env parameters the passage gives values, units or ranges for,
  ``tags``, ``sources``, and for a passage about what the suite cannot model, ``nearest``).
  Retrieval searches them; the user sees the retrieved ones beside the formulation; an LLM
  backend gets them as quoted reference data.
* **Vocabulary** (``knowledge/parameters.yaml``): per env family, the parameters a request may
  set (canonical unit, shape, plausible range, the words people use), the objective terms and
  the constraints. The LLM chooses from it (enums in its JSON schema); validation checks against
  it.

Users may add passages from their own folders (``extra_dirs``). Any passage whose text reads
like instructions to a language model is *flagged* (:func:`injection_reason`): still shown to the
user, with a warning, but never put into an LLM prompt.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "FAMILIES",
    "FamilyInfo",
    "KnowledgeBase",
    "KnowledgeError",
    "ParamInfo",
    "Passage",
    "injection_reason",
    "load_knowledge",
]

#: The env families a spec may target (packages under ``lowcarbon.envs``).
FAMILIES: tuple[str, ...] = ("metaverse_offload", "data_center", "energy_internet")
SHAPES = ("scalar", "int", "pair", "per_item", "per_item_int", "regions", "region")


class KnowledgeError(ValueError):
    """A passage or vocabulary file is malformed (the message names the file)."""


@dataclass(frozen=True)
class Passage:
    """One passage of the knowledge base."""

    id: str
    title: str
    text: str
    families: tuple[str, ...] = ()
    informs: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    nearest: str | None = None  # for an "unsupported" passage: the nearest supported family
    origin: str = "builtin"  # "builtin" or the folder it was read from
    flagged: str | None = None  # why the passage is kept out of LLM prompts

    @property
    def search_text(self) -> str:
        """What retrieval indexes: title, tags, parameter names and body."""
        names = " ".join(n.replace("_", " ") for n in self.informs)
        return " ".join([self.title, " ".join(self.tags), names, self.text])

    def applies_to(self, family: str | None) -> bool:
        """Whether the passage is about ``family`` (family-neutral passages apply to all)."""
        return family is None or not self.families or family in self.families


@dataclass(frozen=True)
class ParamInfo:
    """One settable parameter of a family: canonical unit, shape, plausible range, words."""

    family: str
    name: str
    shape: str
    unit: str
    range: tuple[float, float] | None = None
    per: str | None = None  # "users", "sites", "prosumers" for per-item shapes
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class FamilyInfo:
    """One env family's vocabulary (see ``parameters.yaml``)."""

    name: str
    env_id: str
    title: str
    words: tuple[str, ...]
    item_count: Mapping[str, str]  # "users" -> "n_users"
    params: Mapping[str, ParamInfo]
    objective: Mapping[str, Mapping[str, Any]]
    constraints: Mapping[str, Mapping[str, Any]]

    @property
    def region_param(self) -> str:
        """The parameter holding the grid region(s)."""
        return next(n for n, p in self.params.items() if p.shape in ("regions", "region"))

    def count_param(self, per: str | None) -> str | None:
        """The parameter counting the items a per-item field has one value for."""
        return self.item_count.get(per) if per else None


#: Phrases that address a language model rather than describe the world (prompt injection).
_INJECTION = [
    r"\bignore\b.{0,40}\b(instruction|prompt|rule|above|previous|prior)",
    r"\bdisregard\b.{0,40}\b(instruction|prompt|rule|above|previous|prior)",
    r"\b(forget|override)\b.{0,30}\b(instruction|prompt|rule|system)",
    r"(^|\n)\s*(system|assistant|user)\s*:",
    r"<\|?(im_start|im_end|system|assistant)\|?>|\[/?INST\]",
    r"\byou (are|must|should|will) (now )?(an?|the|output|respond|reply|answer|set|return|write)\b",
    r"\b(respond|reply|answer|output)\b.{0,20}\b(only|with|as)\b.{0,20}\b(json|following)\b",
    r"\bnew instructions?\b",
    r"\bnote to the (model|assistant|ai|llm)\b",
    r"\bignore (the|this|that|your|my|any) (request|user|question|query|task|data)\b",
    r"\boutput (unsupported|only|json|the following)\b",
    r"\b(always|must|should) (choose|pick|select|answer|output|return|reply|say)\b",
    r"\b(answer|reply|respond|output) (with|only)\b",
    r"\b(the|this) (model|assistant|ai|llm) (must|should|will)\b",
]
_INJECTION_RE = [re.compile(p, re.IGNORECASE) for p in _INJECTION]


def injection_reason(text: str) -> str | None:
    """Why ``text`` reads like an instruction to a language model, or ``None``."""
    for pattern in _INJECTION_RE:
        m = pattern.search(text)
        if m:
            return f"text reads like an instruction to a model: {m.group(0).strip()!r}"
    return None


def _split_front_matter(text: str, path: str) -> tuple[dict[str, Any], str]:
    m = re.match(r"\A---\s*\n(.*?)\n---\s*\n(.*)\Z", text, re.DOTALL)
    if not m:
        raise KnowledgeError(f"{path}: a passage starts with a '---' YAML header")
    try:
        header = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as err:
        raise KnowledgeError(f"{path}: bad YAML header: {err}") from None
    if not isinstance(header, dict):
        raise KnowledgeError(f"{path}: the YAML header must be a mapping")
    return header, m.group(2).strip()


def _tuple(value: Any, path: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise KnowledgeError(f"{path}: {key!r} must be a list")
    return tuple(str(v) for v in value)


def _read_passage(path: Path, origin: str) -> Passage:
    header, body = _split_front_matter(path.read_text(encoding="utf-8"), str(path))
    for key in ("id", "title"):
        if not header.get(key):
            raise KnowledgeError(f"{path}: the header needs {key!r}")
    if not body:
        raise KnowledgeError(f"{path}: the passage has no text")
    families = _tuple(header.get("families"), str(path), "families")
    unknown = set(families) - set(FAMILIES)
    if unknown:
        raise KnowledgeError(f"{path}: unknown families {sorted(unknown)}; known: {FAMILIES}")
    nearest = header.get("nearest")
    if nearest is not None and nearest not in FAMILIES:
        raise KnowledgeError(f"{path}: 'nearest' must be one of {FAMILIES}, got {nearest!r}")
    return Passage(
        id=str(header["id"]),
        title=str(header["title"]),
        text=body,
        families=families,
        informs=_tuple(header.get("informs"), str(path), "informs"),
        tags=_tuple(header.get("tags"), str(path), "tags"),
        sources=_tuple(header.get("sources"), str(path), "sources"),
        nearest=nearest,
        origin=origin,
        flagged=injection_reason(f"{header['title']}\n{body}"),
    )


def _read_vocabulary(data: Mapping[str, Any]) -> dict[str, FamilyInfo]:
    families = {}
    for name, fam in data.items():
        if name not in FAMILIES:
            raise KnowledgeError(f"parameters.yaml: unknown family {name!r}")
        params = {}
        for pname, p in fam["params"].items():
            if p["shape"] not in SHAPES:
                raise KnowledgeError(f"parameters.yaml: {name}.{pname}: unknown shape {p['shape']}")
            rng = p.get("range")
            params[pname] = ParamInfo(
                family=name,
                name=pname,
                shape=p["shape"],
                unit=str(p["unit"]),
                range=(float(rng[0]), float(rng[1])) if rng else None,
                per=p.get("per"),
                aliases=tuple(p.get("aliases", ())),
            )
        families[name] = FamilyInfo(
            name=name,
            env_id=fam["env_id"],
            title=fam["title"],
            words=tuple(fam.get("words", ())),
            item_count=dict(fam.get("item_count", {})),
            params=params,
            objective=fam.get("objective", {}),
            constraints=fam.get("constraints", {}),
        )
    return families


@dataclass(frozen=True)
class KnowledgeBase:
    """Passages by id and the vocabulary by family."""

    passages: Mapping[str, Passage]
    families: Mapping[str, FamilyInfo]
    extra_dirs: tuple[str, ...] = field(default=())

    def family(self, name: str) -> FamilyInfo:
        if name not in self.families:
            raise KeyError(f"unknown env family {name!r}; known: {tuple(self.families)}")
        return self.families[name]

    def informing(self, family: str, param: str) -> list[str]:
        """Ids of the passages about ``family`` that inform ``param``."""
        return [
            p.id
            for p in self.passages.values()
            if param in p.informs and p.applies_to(family) and p.families
        ]

    def check(self) -> None:
        """Every ``informs`` name is a constructor argument of one of the passage's families'
        envs, and every vocabulary parameter is one of its env's."""
        fields = _env_fields()
        for fam in self.families.values():
            unknown = set(fam.params) - fields[fam.name]
            if unknown:
                raise KnowledgeError(
                    f"parameters.yaml: {fam.name} has no arguments {sorted(unknown)}"
                )
        for p in self.passages.values():
            names = {n for f in (p.families or FAMILIES) for n in fields[f]}
            unknown = set(p.informs) - names
            if unknown:
                raise KnowledgeError(
                    f"passage {p.id!r} ({p.origin}) informs unknown parameters {sorted(unknown)}"
                )


def _env_fields() -> dict[str, set[str]]:
    import dataclasses

    from lowcarbon.envs.suite import suite

    out: dict[str, set[str]] = {}
    for e in suite().values():
        package = e.family.env_cls.__module__.split(".")[-2]  # lowcarbon.envs.<package>.env
        out[package] = {f.name for f in dataclasses.fields(e.family.env_cls.params_cls)}
    return out


def _builtin_root():
    return resources.files("lowcarbon.agents.formulator") / "knowledge"


@lru_cache(maxsize=8)
def load_knowledge(extra_dirs: Sequence[str] = ()) -> KnowledgeBase:
    """The shipped knowledge base plus the passages (``*.md``) in ``extra_dirs``.

    Cached per tuple of folders. Raises :class:`KnowledgeError` on a malformed file or a
    duplicate id.
    """
    root = _builtin_root()
    with resources.as_file(root) as path:
        vocab = yaml.safe_load((Path(path) / "parameters.yaml").read_text(encoding="utf-8"))
        files = [(f, "builtin") for f in sorted((Path(path) / "passages").glob("*.md"))]
    for folder in extra_dirs:
        d = Path(folder)
        if not d.is_dir():
            raise KnowledgeError(f"knowledge folder {folder!r} does not exist")
        files += [(f, str(d)) for f in sorted(d.glob("*.md"))]
    passages: dict[str, Passage] = {}
    for f, origin in files:
        p = _read_passage(f, origin)
        if p.id in passages:
            raise KnowledgeError(f"{f}: duplicate passage id {p.id!r}")
        passages[p.id] = p
    kb = KnowledgeBase(passages, _read_vocabulary(vocab), tuple(extra_dirs))
    kb.check()
    return kb
