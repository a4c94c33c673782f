"""The formulator's pipeline: retrieve -> draft -> compile -> validate, with retries and fallback.

:func:`formulate` is the one entry point (the CLI and :class:`FormulationSession` call it):

1. retrieve the passages for the request (:mod:`.retrieval`);
2. ask the backend for a :class:`~.spec.Draft` (``rules``: the deterministic extractor;
   ``openai`` / ``local``: a language model with the draft's JSON schema);
3. validate in layers: schema (pydantic), grounding and units (:mod:`.compile`), a solve of a
   sample day by the env's oracle (:mod:`.validation`);
4. an LLM gets each failure back, at most ``max_retries`` (2) times; after that the ``rules``
   backend answers and the spec says so (``fallback_from``, ``fallback_reason``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from .compile import FormulationError, UnsupportedRequest, compile_draft
from .knowledge import KnowledgeBase, load_knowledge
from .llm import ChatBackend, LLMError, LocalChat, OpenAIChat, build_messages, parse_reply
from .retrieval import Retriever
from .rules import find_quantities, rules_draft
from .spec import Draft, ProblemSpec, draft_json_schema
from .validation import oracle_check

__all__ = ["BACKENDS", "FormulationSession", "FormulatorConfig", "formulate", "parse_assignment"]

logger = logging.getLogger(__name__)

BACKENDS = ("rules", "openai", "local")


@dataclass
class FormulatorConfig:
    """Settings of :func:`formulate` (the CLI's flags).

    Attributes:
        backend: ``rules`` (offline default, no model), ``openai`` or ``local``.
        base_url, model, api_key_env: the ``openai`` endpoint; the key is read from the named
            environment variable only.
        model_path: the GGUF file of the ``local`` backend.
        timeout_s: per LLM request, seconds.
        max_retries: validation failures an LLM gets back before ``rules`` answers.
        top_k: passages retrieved (and shown, and given to an LLM).
        dense: add dense embeddings to BM25 (the ``dense`` extra).
        knowledge_dirs: extra folders of passages.
        oracle: run validation layer 4 (a solve of day ``oracle_seed``, a mixed-integer oracle
            stopped after ``oracle_time_limit_s`` with its best plan).
    """

    backend: str = "rules"
    base_url: str | None = None
    model: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    model_path: str | None = None
    timeout_s: float = 60.0
    max_retries: int = 2
    top_k: int = 6
    dense: bool = False
    knowledge_dirs: tuple[str, ...] = ()
    oracle: bool = True
    oracle_seed: int = 0
    oracle_time_limit_s: float = 15.0

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; use one of {BACKENDS}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {self.top_k}")
        self.knowledge_dirs = tuple(self.knowledge_dirs)


@dataclass
class _Resources:
    kb: KnowledgeBase
    retriever: Retriever
    chat: ChatBackend | None = None


_RETRIEVERS: dict[tuple[tuple[str, ...], bool], Retriever] = {}


def _resources(cfg: FormulatorConfig, chat: ChatBackend | None) -> _Resources:
    kb = load_knowledge(cfg.knowledge_dirs)
    key = (cfg.knowledge_dirs, cfg.dense)
    if key not in _RETRIEVERS:
        _RETRIEVERS[key] = Retriever(kb, dense=cfg.dense)
    if chat is None and cfg.backend == "openai":
        chat = OpenAIChat(
            base_url=cfg.base_url or "",
            model=cfg.model or "",
            api_key_env=cfg.api_key_env,
            timeout_s=cfg.timeout_s,
        )
    elif chat is None and cfg.backend == "local":
        if not cfg.model_path:
            raise ValueError("the local backend needs a GGUF file (--model-path)")
        chat = LocalChat(cfg.model_path, timeout_s=max(cfg.timeout_s, 120.0))
    return _Resources(kb, _RETRIEVERS[key], chat)


def _llm_spec(request: str, res: _Resources, cfg: FormulatorConfig, hits, **user) -> ProblemSpec:
    """Up to 1 + max_retries LLM attempts; the last error is raised."""
    assert res.chat is not None
    fam_names = sorted({n for f in res.kb.families.values() for n in f.params})
    schema = draft_json_schema(fam_names)
    errors: list[str] = []
    repairs: list[str] = []
    last: Exception | None = None
    for attempt in range(cfg.max_retries + 1):
        messages = build_messages(request, res.kb, [h.passage for h in hits], errors)
        try:
            text = res.chat.complete(messages, schema)
            data = parse_reply(text)
            try:
                draft = Draft.model_validate(
                    {k: v for k, v in data.items() if k in draft_json_schema([])["properties"]}
                )
            except ValidationError as err:
                raise FormulationError(
                    "schema", [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()]
                ) from None
            extra = sorted(set(data) - set(draft_json_schema([])["properties"]))
            spec = compile_draft(
                draft, request=request, kb=res.kb, hits=hits, backend=res.chat.name, **user
            )
            if extra:
                spec.repairs.append(f"ignored fields outside the schema: {extra}")
            if cfg.oracle:
                oracle_check(spec, cfg.oracle_seed, cfg.oracle_time_limit_s)
            spec.repairs = repairs + spec.repairs
            if attempt:
                spec.assumptions.append(f"{res.chat.name} needed {attempt + 1} attempts")
            return spec
        except UnsupportedRequest:
            raise
        except ValueError as err:  # not JSON, schema, grounding, units, oracle
            errors = err.errors if isinstance(err, FormulationError) else [str(err)]
            repairs.append(
                f"attempt {attempt + 1} rejected ({getattr(err, 'layer', 'schema')}): "
                + "; ".join(errors)
            )
            last = err
        except LLMError as err:
            errors = [str(err)]
            repairs.append(f"attempt {attempt + 1} failed: {err}")
            last = err
        logger.info("%s attempt %d failed: %s", res.chat.name, attempt + 1, errors)
    raise LLMError(
        f"{res.chat.name}: no valid draft after {cfg.max_retries + 1} attempts; last: {last}"
    )


def formulate(
    request: str,
    backend: str | None = None,
    *,
    config: FormulatorConfig | None = None,
    chat: ChatBackend | None = None,
    user_params: Mapping[str, tuple[list[float], str]] | None = None,
    user_places: Sequence[str] | None = None,
    user_text: str = "",
) -> ProblemSpec:
    """Formulate ``request`` (plain words) as a validated :class:`ProblemSpec`.

    Args:
        request: what the user wants, e.g. "minimise the carbon of AIGC offloading for 20 VR
            users on 3 edge servers in California and Poland, latency under 2 s".
        backend: ``"rules"`` (default), ``"openai"`` or ``"local"``; overrides ``config.backend``.
        config: the remaining settings (:class:`FormulatorConfig`).
        chat: a ready chat backend (tests, a shared local server), instead of building one.
        user_params, user_places, user_text: corrections and answers from follow-up rounds
            (see :class:`FormulationSession`).

    Raises:
        ValueError: an empty request or bad settings.
        UnsupportedRequest: the suite cannot model the request (the message names the nearest
            family).
        FormulationError: the ``rules`` backend's reading fails validation (the message says
            which layer and why).
    """
    if not isinstance(request, str) or not request.strip():
        raise ValueError("the request is empty")
    cfg = FormulatorConfig(
        **{**(config.__dict__ if config else {}), **({"backend": backend} if backend else {})}
    )
    res = _resources(cfg, chat)
    query = request if not user_text else f"{request} {user_text}"
    hits = res.retriever.search(query, k=cfg.top_k)
    user = {"user_params": user_params, "user_places": user_places, "user_text": user_text}
    if cfg.backend != "rules":
        try:
            return _llm_spec(request, res, cfg, hits, **user)
        except LLMError as err:
            fallback_reason = str(err)
            logger.warning("falling back to the rules backend: %s", err)
    else:
        fallback_reason = None
    draft = rules_draft(query, res.kb, hits)
    spec = compile_draft(draft, request=request, kb=res.kb, hits=hits, backend="rules", **user)
    if cfg.oracle:
        oracle_check(spec, cfg.oracle_seed, cfg.oracle_time_limit_s)
    if fallback_reason:
        spec.fallback_from, spec.fallback_reason = cfg.backend, fallback_reason
    return spec


_ASSIGN_RE = re.compile(r"^\s*([a-z_]+)\s*=\s*(.+?)\s*$", re.IGNORECASE)


def parse_assignment(text: str) -> tuple[str, str]:
    """``"name=value"`` -> (name, value text); raises ``ValueError`` naming the problem."""
    m = _ASSIGN_RE.match(text)
    if not m:
        raise ValueError(f"expected NAME=VALUE, got {text!r}")
    return m.group(1), m.group(2)


@dataclass
class FormulationSession:
    """Multi-round refinement: formulate, then answer questions or correct fields.

    ``answer`` and ``set`` re-run the pipeline with the corrections applied (source ``"user"``,
    so they win over what the backend read) and re-validate.

    Example::

        s = FormulationSession("cut the carbon of AIGC offloading on 3 edge servers")
        s.spec.questions          # n_users is missing, and the regions
        s.answer("n_users", "twelve users")
        s.set("server_regions", "Norway, France, Poland")
        s.set("deadline_s", "1.5 s")
    """

    request: str
    config: FormulatorConfig = field(default_factory=FormulatorConfig)
    chat: ChatBackend | None = None

    def __post_init__(self) -> None:
        self.user_params: dict[str, tuple[list[float], str]] = {}
        self.user_places: list[str] | None = None
        self.answers: list[str] = []
        self.history: list[ProblemSpec] = []
        self._run()

    @property
    def spec(self) -> ProblemSpec:
        return self.history[-1]

    def _run(self) -> ProblemSpec:
        spec = formulate(
            self.request,
            config=self.config,
            chat=self.chat,
            user_params=self.user_params or None,
            user_places=self.user_places,
            user_text=" ".join(self.answers),
        )
        self.history.append(spec)
        return spec

    def set(self, name: str, value: str | float | Sequence[float] | Sequence[str]) -> ProblemSpec:
        """Correct one field: a number with its unit (``"1.5 s"``), numbers (``[1, 4]``), or
        places for the region field (``"Norway, France"``). Returns the new spec."""
        kb = load_knowledge(self.config.knowledge_dirs)
        fam = kb.family(self.spec.family)
        if name not in fam.params:
            raise ValueError(
                f"{name!r} is not a parameter of {fam.name}; known: {sorted(fam.params)}"
            )
        if fam.params[name].shape in ("regions", "region"):
            names = [value] if isinstance(value, str) else list(value)
            self.user_places = [
                p.strip() for n in names for p in re.split(r",|\band\b", str(n)) if p.strip()
            ]
        else:
            self.user_params[name] = _values_and_unit(value, fam.params[name].unit)
        return self._run()

    def answer(self, field_name: str, text: str) -> ProblemSpec:
        """Answer a question about ``field_name`` in words ("twelve users", "2 seconds",
        "Poland and France"); the answer's numbers or places set that field."""
        kb = load_knowledge(self.config.knowledge_dirs)
        fam = kb.family(self.spec.family)
        if field_name not in fam.params:
            raise ValueError(f"{field_name!r} is not a parameter of {fam.name}")
        if fam.params[field_name].shape in ("regions", "region"):
            return self.set(field_name, text)
        qs = find_quantities(text)
        if not qs:
            raise ValueError(f"no number found in the answer {text!r}")
        self.answers.append(text)
        q = qs[0]
        values = list(q.values)
        if fam.params[field_name].shape == "pair" and len(values) == 1:
            values *= 2
        self.user_params[field_name] = (values, q.unit or fam.params[field_name].unit)
        return self._run()


def _values_and_unit(value: Any, default_unit: str) -> tuple[list[float], str]:
    if isinstance(value, (int, float)):
        return [float(value)], default_unit
    if isinstance(value, (list, tuple)):
        return [float(v) for v in value], default_unit
    qs = find_quantities(str(value))
    if not qs:
        raise ValueError(f"no number in {value!r}")
    values = [v for q in qs for v in q.values]
    return values, qs[0].unit or default_unit
