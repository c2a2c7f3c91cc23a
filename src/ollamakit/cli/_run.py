"""``ollamakit run``: one-shot generation, or the interactive chat (see :mod:`._repl`)."""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TextIO

from ._format import metrics_summary
from ._render import AnswerRenderer, Spinner, extract_images, is_tty, styled

if TYPE_CHECKING:
    from .._sync_client import Client
    from .._types import ShowResponse

__all__ = [
    "RunOptions",
    "ensure_model",
    "one_shot",
    "parse_format",
    "parse_keep_alive",
    "parse_think",
    "pull_with_progress",
    "run",
    "wrap_width",
]

ThinkLevel = Literal["low", "medium", "high", "max"]
ThinkValue = bool | ThinkLevel | None
_LEVELS: dict[str, ThinkLevel] = {"low": "low", "medium": "medium", "high": "high", "max": "max"}
THINK_LEVELS = tuple(_LEVELS)


@dataclass
class RunOptions:
    model: str
    format: Any = None
    think: ThinkValue = None
    hide_thinking: bool = False
    verbose: bool = False
    keep_alive: float | str | None = None
    word_wrap: bool = True


def think_level(text: str) -> ThinkLevel | None:
    return _LEVELS.get(text.strip().lower())


def parse_think(value: str | None) -> ThinkValue:
    """``--think`` / ``--think=false`` / ``--think=high``; raises ValueError otherwise."""
    if value is None:
        return None
    text = value.strip().lower()
    if text in ("", "true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    level = think_level(text)
    if level is not None:
        return level
    raise ValueError(f"invalid value {value!r}: use true, false, {', '.join(THINK_LEVELS)}")


def parse_format(value: str | None) -> Any:
    """``json``, or a JSON schema given inline; raises ValueError otherwise."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text == "json":
        return "json"
    if text.startswith("{"):
        try:
            schema = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"invalid JSON schema: {exc}") from None
        if isinstance(schema, dict):
            return schema
    raise ValueError(f"invalid format {value!r}: use json or a JSON schema")


def parse_keep_alive(value: str | None) -> float | str | None:
    """A duration such as ``5m`` passes as is; a bare number is seconds."""
    if value is None:
        return None
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number


def wrap_width(stream: TextIO) -> int | None:
    if not is_tty(stream):
        return None
    return max(shutil.get_terminal_size().columns - 5, 10)


def pull_with_progress(client: Client, model: str, insecure: bool = False) -> None:
    from ._progress import ProgressView, follow

    with ProgressView() as view, client.pull(model, insecure=insecure, stream=True) as stream:
        follow(stream, view)


def ensure_model(client: Client, model: str) -> ShowResponse:
    """The model's details, pulling it first when the server does not have it (as Ollama)."""
    from .._errors import NotFoundError

    try:
        return client.show(model)
    except NotFoundError:
        pull_with_progress(client, model)
    return client.show(model)


def _embed(client: Client, options: RunOptions, text: str, out: TextIO) -> int:
    response = client.embed(options.model, text, keep_alive=options.keep_alive)
    for vector in response.embeddings:
        out.write(json.dumps(vector) + "\n")
    return 0


def one_shot(client: Client, options: RunOptions, prompt: str, info: ShowResponse) -> int:
    out = sys.stdout
    images: list[bytes] = []
    if "vision" in (info.capabilities or []):
        extracted = extract_images(prompt)
        prompt, images = extracted.prompt, extracted.images
        for path in extracted.paths:
            sys.stderr.write(f"Added image '{path}'\n")
    width = wrap_width(out) if options.word_wrap else None
    renderer = AnswerRenderer(
        out, style=styled(out), wrap_width=width, hide_thinking=options.hide_thinking
    )
    last = None
    spinner = Spinner(sys.stderr).start()
    try:
        stream = client.generate(
            options.model,
            prompt,
            images=images or None,
            think=options.think,
            format=options.format,
            keep_alive=options.keep_alive,
            stream=True,
        )
        with stream:
            for chunk in stream:
                if chunk.thinking or chunk.response:
                    spinner.stop()
                renderer.add_thinking(chunk.thinking or "")
                renderer.add_content(chunk.response)
                last = chunk
    except KeyboardInterrupt:
        spinner.stop()
        renderer.finish()
        return 130
    except BaseException:
        spinner.stop()
        renderer.finish()
        raise
    spinner.stop()
    renderer.finish()
    if options.verbose and last is not None:
        sys.stderr.write(metrics_summary(last))
    return 0


def run(client: Client, options: RunOptions, prompt_words: tuple[str, ...]) -> int:
    info = ensure_model(client, options.model)
    prompts = list(prompt_words)
    interactive = not prompts
    if not is_tty(sys.stdin):
        # Piped input comes first, then the prompt words, as with Ollama.
        piped = sys.stdin.read()
        if piped.strip():
            prompts.insert(0, piped)
        options.word_wrap = False
        interactive = False
    capabilities = info.capabilities or []
    embedding_only = "embedding" in capabilities and "completion" not in capabilities
    if embedding_only:
        if interactive:
            from .._errors import RequestError

            raise RequestError(
                f'embedding models need input text: ollamakit run {options.model} "text"'
            )
        return _embed(client, options, " ".join(prompts), sys.stdout)
    if not interactive:
        return one_shot(client, options, " ".join(prompts), info)
    from ._repl import Repl

    return Repl(client, options, info).run()
