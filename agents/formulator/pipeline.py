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
from .rules import detect_family, find_quantities, rules_draft
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
#: chat backends built from settings, reused across calls (a local model loads once a session)
_CHATS: dict[tuple, ChatBackend] = {}


def _resources(cfg: FormulatorConfig, chat: ChatBackend | None) -> _Resources:
    kb = load_knowledge(cfg.knowledge_dirs)
    key = (cfg.knowledge_dirs, cfg.dense)
    if key not in _RETRIEVERS:
        _RETRIEVERS[key] = Retriever(kb, dense=cfg.dense)
    if chat is None and cfg.backend != "rules":
        chat_key = (cfg.backend, cfg.base_url, cfg.model, cfg.api_key_env, cfg.model_path,
                    cfg.timeout_s)  # fmt: skip
        if chat_key not in _CHATS:
            if cfg.backend == "openai":
                _CHATS[chat_key] = OpenAIChat(
                    base_url=cfg.base_url or "",
                    model=cfg.model or "",
                    api_key_env=cfg.api_key_env,
                    timeout_s=cfg.timeout_s,
                )
            else:
                if not cfg.model_path:
                    raise ValueError("the local backend needs a GGUF file (--model-path)")
                _CHATS[chat_key] = LocalChat(cfg.model_path, timeout_s=cfg.timeout_s)
        chat = _CHATS[chat_key]
    return _Resources(kb, _RETRIEVERS[key], chat)


_REPLY_KEYS = ("family", "parameters", "places", "objective_focus")


def check_reply(data: dict[str, Any], schema: dict[str, Any]) -> Draft:
    """A reply's JSON object as a :class:`Draft`, held to the schema on our side (servers may
    accept a schema and ignore it): every required field present, no type coercion ("20" is no
    number), every array and string within the schema's bounds. Raises
    :class:`FormulationError` (layer ``"schema"``)."""
    errors = [f"{k}: field required" for k in _REPLY_KEYS if k not in data]
    props = schema["properties"]
    item = props["parameters"]["items"]["properties"]
    bounds = [
        ("parameters", data.get("parameters"), props["parameters"]["maxItems"]),
        ("places", data.get("places"), props["places"]["maxItems"]),
    ] + [
        (f"parameters.{i}.values", p.get("values"), item["values"]["maxItems"])
        for i, p in enumerate(data.get("parameters") or [])
        if isinstance(p, dict)
    ]
    for name, value, most in bounds:
        if isinstance(value, list) and len(value) > most:
            errors.append(f"{name}: at most {most} entries, got {len(value)}")
    for i, place in enumerate(data.get("places") or []):
        if isinstance(place, str) and len(place) > props["places"]["items"]["maxLength"]:
            errors.append(f"places.{i}: longer than {props['places']['items']['maxLength']}")
    if not errors:
        try:
            return Draft.model_validate({k: data[k] for k in _REPLY_KEYS}, strict=True)
        except ValidationError as err:
            errors = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()]
    raise FormulationError("schema", errors)


def _llm_spec(request: str, res: _Resources, cfg: FormulatorConfig, hits, **user) -> ProblemSpec:
    """Up to 1 + max_retries LLM attempts; raises :class:`LLMError` with the attempts' history
    (``err.attempts``) when none gives a valid spec."""
    assert res.chat is not None
    fam_names = sorted({n for f in res.kb.families.values() for n in f.params})
    schema = draft_json_schema(fam_names)
    errors: list[str] = []  # validation errors of the last reply, sent back with the retry
    attempts: list[str] = []
    last: Exception | None = None
    for attempt in range(cfg.max_retries + 1):
        messages = build_messages(request, res.kb, [h.passage for h in hits], errors)
        try:
            data = parse_reply(res.chat.complete(messages, schema))
            draft = check_reply(data, schema)
            if draft.family == "unsupported":
                # a model (or a passage steering it) may wrongly give up: a request the rules
                # read as one family's is sent back, and only an agreed verdict stands
                family, _ = detect_family(request, res.kb, hits)
                if family != "unsupported":
                    title = res.kb.family(family).title
                    raise FormulationError(
                        "grounding",
                        [f"the request names things {family} models ({title}); use that family"],
                    )
            extra = sorted(set(data) - set(_REPLY_KEYS))
            spec = compile_draft(
                draft, request=request, kb=res.kb, hits=hits, backend=res.chat.name, **user
            )
            if extra:
                spec.repairs.append(f"ignored fields outside the schema: {extra}")
            if cfg.oracle:
                oracle_check(spec, cfg.oracle_seed, cfg.oracle_time_limit_s)
            spec.repairs = attempts + spec.repairs
            if attempt:
                spec.assumptions.append(f"{res.chat.name} needed {attempt + 1} attempts")
            return spec
        except UnsupportedRequest:
            raise
        except ValueError as err:  # not JSON, schema, grounding, units, oracle
            errors = err.errors if isinstance(err, FormulationError) else [str(err)]
            attempts.append(
                f"attempt {attempt + 1} rejected ({getattr(err, 'layer', 'schema')}): "
                + "; ".join(errors)
            )
            last = err
        except LLMError as err:  # transport: the same messages again, no validation feedback
            attempts.append(f"attempt {attempt + 1} failed: {err}")
            last = err
        logger.info("%s attempt %d failed: %s", res.chat.name, attempt + 1, last)
    failure = LLMError(
        f"{res.chat.name}: no valid draft after {cfg.max_retries + 1} attempts; last: {last}"
    )
    failure.attempts = attempts
    raise failure


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
            fallback_attempts = getattr(err, "attempts", [])
            logger.warning("falling back to the rules backend: %s", err)
    else:
        fallback_reason, fallback_attempts = None, []
    draft = rules_draft(query, res.kb, hits)
    spec = compile_draft(draft, request=request, kb=res.kb, hits=hits, backend="rules", **user)
    if cfg.oracle:
        oracle_check(spec, cfg.oracle_seed, cfg.oracle_time_limit_s)
    if fallback_reason:
        spec.fallback_from, spec.fallback_reason = cfg.backend, fallback_reason
        spec.repairs = [f"{cfg.backend} {a}" for a in fallback_attempts] + spec.repairs
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
        return self._apply(lambda: None)

    def _apply(self, change) -> ProblemSpec:
        """Apply ``change`` to the corrections and re-formulate; a correction that fails
        validation is rolled back, so the session stays at its last good spec."""
        saved = (dict(self.user_params), self.user_places, list(self.answers))
        try:
            change()
            spec = formulate(
                self.request,
                config=self.config,
                chat=self.chat,
                user_params=self.user_params or None,
                user_places=self.user_places,
                user_text=" ".join(self.answers),
            )
        except Exception:
            self.user_params, self.user_places, self.answers = saved
            raise
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
            places = [p for n in names for p in _split_places(str(n))]

            def change() -> None:
                self.user_places = places
        else:
            parsed = _values_and_unit(value, fam.params[name].unit)

            def change() -> None:
                self.user_params[name] = parsed

        return self._apply(change)

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
        q = qs[0]
        values = list(q.values)
        if fam.params[field_name].shape == "pair" and len(values) == 1:
            values *= 2

        def change() -> None:
            self.answers.append(text)
            self.user_params[field_name] = (values, q.unit or fam.params[field_name].unit)

        return self._apply(change)


def _split_places(text: str) -> list[str]:
    """Split "Norway, France and Poland" into names; a known name with "and" stays whole."""
    from . import places as gazetteer

    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if gazetteer.lookup(part) is not None:
            out.append(part)
        else:
            out += [p.strip() for p in re.split(r"\band\b", part) if p.strip()]
    return out


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
