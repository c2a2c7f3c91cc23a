"""``ollamakit run``: a one-shot answer, or the interactive chat (:mod:`._repl`)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, TextIO

from ._format import metrics_summary
from ._options import RunOptions, wrap_width
from ._render import AnswerRenderer, Spinner, extract_images, is_tty, styled
from ._repl import Repl

if TYPE_CHECKING:
    from .._sync_client import Client
    from .._types import ShowResponse

__all__ = ["ensure_model", "one_shot", "pull_with_progress", "run"]


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
    return Repl(client, options, info).run()
