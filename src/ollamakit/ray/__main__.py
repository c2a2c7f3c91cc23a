"""``python -m ollamakit.ray``: one batch job from Parquet to Parquet on a Ray cluster.

::

    python -m ollamakit.ray embed in/ out/ --model nomic-embed-text --column text \\
        --hosts gpu-1:11434,gpu-2:11434 --concurrency 4
    python -m ollamakit.ray chat in/ out/ --model qwen3:4b --prompt 'Label this: {text}' \\
        --format mypackage.labels:Label --retries 2
    ray job submit --working-dir . -- python -m ollamakit.ray generate s3://b/in s3://b/out ...

``--hosts local`` (the default) sends every actor's requests to the Ollama on its own node.
Rows that fail get their reason in the ``error`` column; the command says how many did.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from typing import Any

from . import Chat, Embed, Generate, chat, embed, generate

__all__ = ["main"]

_JOBS: dict[str, tuple[Any, type[Embed | Generate | Chat]]] = {
    "embed": (embed, Embed),
    "generate": (generate, Generate),
    "chat": (chat, Chat),
}

_COMMON_HELP = {
    "embed": "add an embedding column (fixed-size list of float32)",
    "generate": "add a completion column (/api/generate) from a prompt template",
    "chat": "add a chat reply column (/api/chat) from a prompt template",
}


def _load_class(path: str) -> type[Any]:
    module_name, _, name = path.partition(":")
    if not module_name or not name:
        raise argparse.ArgumentTypeError(f"expected module:Class, not {path!r}")
    try:
        found = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise argparse.ArgumentTypeError(f"cannot import {path}: {exc}") from None
    if not isinstance(found, type):
        raise argparse.ArgumentTypeError(f"{path} is not a class")
    return found


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object, e.g. '{\"temperature\": 0}'")
    return value


def _hosts(text: str) -> list[str] | None:
    return None if text == "local" else [part for part in text.split(",") if part]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ollamakit.ray",
        description="Run an Ollama batch job over Parquet with Ray Data.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for command, summary in _COMMON_HELP.items():
        sub = commands.add_parser(command, help=summary, description=summary)
        sub.add_argument("input", help="Parquet file or directory (any path Ray reads)")
        sub.add_argument("output", help="directory to write Parquet files to")
        sub.add_argument("--model", required=True)
        sub.add_argument(
            "--hosts",
            type=_hosts,
            default=None,
            help="comma-separated hosts, or 'local' (default): the Ollama on each actor's node",
        )
        sub.add_argument("--concurrency", type=int, default=1, help="actors (default 1)")
        sub.add_argument("--batch-size", type=int, default=None, help="rows per batch")
        sub.add_argument("--max-in-flight", type=int, default=4, help="per actor (default 4)")
        sub.add_argument("--retries", type=int, default=0, help="per row (default 0)")
        sub.add_argument("--timeout", type=float, default=None, help="seconds per request")
        sub.add_argument("--on-error", choices=("column", "raise"), default="column")
        sub.add_argument("--error-column", default="error")
        sub.add_argument("--host-column", default=None, help="record which host answered")
        sub.add_argument("--attempts-column", default=None, help="record how many attempts")
        sub.add_argument("--options", type=_json_object, default=None, help="model options")
        sub.add_argument("--keep-alive", default=None)
        sub.add_argument("--address", default=None, help="Ray cluster address (ray.init)")
        if command == "embed":
            sub.add_argument("--column", default="text", help="text column (default text)")
            sub.add_argument("--output-column", default="embedding")
            sub.add_argument("--dimensions", type=int, default=None)
        else:
            sub.add_argument("--prompt", default="{prompt}", help="template over columns")
            sub.add_argument("--system", default=None, help="template over columns")
            sub.add_argument("--format", type=_load_class, default=None, metavar="MODULE:CLASS")
            sub.add_argument("--output-column", default="response")
            sub.add_argument("--metrics", action="store_true", help="token counts, durations")
    return parser


def _udf_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {
        "hosts": args.hosts,
        "max_in_flight": args.max_in_flight,
        "retries": args.retries,
        "timeout": args.timeout,
        "on_error": args.on_error,
        "error_column": args.error_column,
        "host_column": args.host_column,
        "attempts_column": args.attempts_column,
        "options": args.options,
        "keep_alive": args.keep_alive,
        "output_column": args.output_column,
    }
    if args.command == "embed":
        options.update(column=args.column, dimensions=args.dimensions)
    else:
        options.update(
            prompt=args.prompt, system=args.system, format=args.format, metrics=args.metrics
        )
    if args.batch_size is not None:
        options["batch_size"] = args.batch_size
    return options


def _summary(output: str, error_column: str | None) -> str:
    """How many rows were written and how many failed, from the Parquet files themselves
    (reading the error column only)."""
    import pyarrow.dataset

    written = pyarrow.dataset.dataset(output, format="parquet")
    summary = f"{written.count_rows()} rows written to {output}"
    if error_column is None:
        return summary
    failed = written.count_rows(filter=pyarrow.dataset.field(error_column).is_valid())
    return f"{summary}; {failed} with an error (column {error_column!r})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    job, udf = _JOBS[args.command]
    options = _udf_options(args)
    checked = {name: value for name, value in options.items() if name != "batch_size"}
    try:  # a mistake in a template or an option stops here, before Ray starts
        udf(args.model, **checked).close()
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
    import ray

    if not ray.is_initialized():
        ray.init(address=args.address)
    dataset = job(
        ray.data.read_parquet(args.input), args.model, concurrency=args.concurrency, **options
    )
    dataset.write_parquet(args.output)
    print(_summary(args.output, args.error_column if args.on_error == "column" else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
