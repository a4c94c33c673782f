"""``lowcarbon-formulate``: a request in plain words -> a validated optimisation problem.

Examples::

    lowcarbon-formulate "minimise the carbon of AIGC offloading for 20 VR users on 3 edge \\
        servers in California and Poland, latency under 2 s"
    lowcarbon-formulate "..." --json                      # one JSON object on stdout
    lowcarbon-formulate "..." --set n_users=12 --set "deadline_s=1.5 s"
    lowcarbon-formulate "..." --interactive               # answer the follow-up questions
    lowcarbon-formulate "..." --backend openai --base-url http://127.0.0.1:11434/v1 \\
        --model qwen2.5:1.5b-instruct                    # key from $OPENAI_API_KEY, if any
    lowcarbon-formulate "..." --backend local --model-path ~/models/qwen2.5-1.5b.gguf
    lowcarbon-formulate "..." --config llm.yaml          # backend, base_url, model, ... in YAML
    lowcarbon-formulate "..." --run agent=gdm experiment=quick   # train on it (lowcarbon-train)

Exit status: 0 on success, 2 when the request fails validation or the settings are bad, 3 when
the request is outside what the suite can model (the message names the nearest family).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import subprocess
import sys
import textwrap

import yaml

from lowcarbon.agents.formulator import (
    BACKENDS,
    DenseUnavailable,
    FormulationError,
    FormulationSession,
    FormulatorConfig,
    KnowledgeError,
    LLMError,
    UnsupportedRequest,
    load_knowledge,
)
from lowcarbon.agents.formulator.pipeline import parse_assignment

EXIT_INVALID, EXIT_UNSUPPORTED = 2, 3


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lowcarbon-formulate",
        description="Formulate a carbon optimisation problem from a request in plain words.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=textwrap.dedent(__doc__.split("Examples::", 1)[1]),
    )
    p.add_argument("request", help="what you want, in plain words")
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default="rules",
        help="rules (offline, no model; default), openai (any OpenAI-compatible "
        "endpoint) or local (a GGUF file served by xllamacpp)",
    )
    p.add_argument("--json", action="store_true", help="print the spec as one JSON object")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="correct a field, e.g. n_users=12, 'deadline_s=1.5 s', "
        "'server_regions=Norway, France' (repeatable)",
    )
    p.add_argument(
        "--interactive", action="store_true", help="answer the follow-up questions on stdin"
    )
    p.add_argument(
        "--config",
        metavar="FILE",
        help="a YAML file of formulator settings (FormulatorConfig fields, e.g. backend, "
        "base_url, model, api_key_env, model_path, timeout_s); flags given here win",
    )
    llm = p.add_argument_group("LLM backends")
    llm.add_argument("--base-url", help="openai: the endpoint, e.g. http://127.0.0.1:8080/v1")
    llm.add_argument("--model", help="openai: the model name")
    llm.add_argument(
        "--api-key-env",
        default="OPENAI_API_KEY",
        help="openai: environment variable holding the key (default %(default)s)",
    )
    llm.add_argument("--model-path", help="local: the GGUF file")
    llm.add_argument("--timeout", type=float, default=60.0, help="seconds per LLM request")
    llm.add_argument(
        "--retries",
        type=int,
        default=2,
        help="validation failures sent back to the LLM before the rules backend "
        "answers (default %(default)s)",
    )
    rag = p.add_argument_group("retrieval and validation")
    rag.add_argument("--top-k", type=int, default=6, help="passages retrieved and shown")
    rag.add_argument(
        "--dense",
        action="store_true",
        help="add dense embeddings to BM25 (needs the 'dense' extra)",
    )
    rag.add_argument(
        "--kb",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder of extra passages (*.md; repeatable)",
    )
    rag.add_argument(
        "--no-oracle",
        action="store_true",
        help="skip validation layer 4 (the oracle's solve of a sample day)",
    )
    rag.add_argument(
        "--oracle-time-limit",
        type=float,
        default=15.0,
        help="seconds for a mixed-integer oracle (default %(default)s)",
    )
    p.add_argument(
        "--run",
        nargs=argparse.REMAINDER,
        metavar="OVERRIDES",
        help="train on the problem through lowcarbon-train with these Hydra "
        "overrides (everything after --run), e.g. --run agent=gdm",
    )
    return p


def _summary(spec, passages) -> str:
    out = [spec.to_markdown(), "### Retrieved passages (text)", ""]
    for pid in spec.retrieved:
        p = passages[pid]
        flag = f"  [kept out of LLM prompts: {p.flagged}]" if p.flagged else ""
        snippet = textwrap.shorten(p.text, 240, placeholder=" ...")
        out.append(f"- **{pid}** ({p.origin}){flag}: {snippet}")
    return "\n".join(out) + "\n"


#: FormulatorConfig field -> (CLI destination, how the flag's value maps to the field)
_FLAGS = {
    "backend": ("backend", None), "base_url": ("base_url", None), "model": ("model", None),
    "api_key_env": ("api_key_env", None), "model_path": ("model_path", None),
    "timeout_s": ("timeout", None), "max_retries": ("retries", None), "top_k": ("top_k", None),
    "dense": ("dense", None), "knowledge_dirs": ("kb", tuple),
    "oracle": ("no_oracle", lambda v: not v), "oracle_time_limit_s": ("oracle_time_limit", None),
}  # fmt: skip


def _config(args: argparse.Namespace, parser: argparse.ArgumentParser) -> FormulatorConfig:
    """Settings from ``--config`` (if any), then every flag given on the command line."""
    values: dict = {}
    if args.config:
        with open(args.config, encoding="utf-8") as f:
            values = yaml.safe_load(f) or {}
        if not isinstance(values, dict):
            raise ValueError(f"{args.config}: expected a mapping of formulator settings")
        unknown = set(values) - {f.name for f in dataclasses.fields(FormulatorConfig)}
        if unknown:
            raise ValueError(f"{args.config}: unknown settings {sorted(unknown)}")
    for name, (dest, convert) in _FLAGS.items():
        value = getattr(args, dest)
        if name not in values or value != parser.get_default(dest):
            values[name] = convert(value) if convert else value
    return FormulatorConfig(**values)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        cfg = _config(args, parser)
        session = FormulationSession(args.request, config=cfg)
        for item in args.set:
            name, value = parse_assignment(item)
            session.set(name, value)
        while args.interactive and session.spec.questions:
            answered = False
            for q in list(session.spec.questions):
                print(f"{q.field}: {q.text}", file=sys.stderr)
                print("> ", end="", file=sys.stderr, flush=True)
                line = sys.stdin.readline()
                if line.strip():
                    try:
                        session.answer(q.field, line.strip())
                    except (FormulationError, ValueError) as err:
                        print(f"  not taken: {err}", file=sys.stderr)
                    answered = True
                    break  # questions change after each answer
            if not answered:
                break
    except UnsupportedRequest as err:
        if args.json:
            print(
                json.dumps({"supported": False, "nearest_family": err.nearest, "message": str(err)})
            )
        else:
            print(f"lowcarbon-formulate: {err}", file=sys.stderr)
        return EXIT_UNSUPPORTED
    except (
        DenseUnavailable,
        FormulationError,
        KnowledgeError,
        LLMError,
        ValueError,
        FileNotFoundError,
        ImportError,
    ) as err:
        if args.json:
            print(
                json.dumps(
                    {"supported": True, "error": str(err), "layer": getattr(err, "layer", None)}
                )
            )
        print(f"lowcarbon-formulate: {err}", file=sys.stderr)
        return EXIT_INVALID
    spec = session.spec
    if args.json:
        data = spec.model_dump(mode="json")
        data["env_kwargs"] = spec.env_kwargs
        data["supported"] = True
        print(json.dumps(data))
    else:
        print(_summary(spec, load_knowledge(cfg.knowledge_dirs).passages))
    if args.run is not None:
        cmd = [sys.executable, "-m", "lowcarbon.scripts.train", *spec.hydra_overrides(), *args.run]
        print("running: " + " ".join(cmd[1:]), file=sys.stderr)
        # with --json, stdout stays one JSON object: the training run's output goes to stderr
        return subprocess.call(cmd, stdout=sys.stderr) if args.json else subprocess.call(cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
