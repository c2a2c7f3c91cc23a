"""The embedded Ollama-compatible server (extra ``[server]``): llama.cpp behind Ollama's API.

``python -m ollamakit.server [--host H] [--port P] [--models DIR]`` or, from Python,
:func:`serve`. Its settings and their environment variables are listed in ``settings.py``.

The code is layered, each layer importing only the ones below it (``lint-imports`` checks):

* ``routes``: the HTTP surfaces (Ollama's native API, OpenAI's chat/completions/embeddings/
  models and Responses APIs, Anthropic's Messages API) on Starlette. Each translates a request
  into the pipeline's request and the pipeline's events into its own wire format.
* ``service``: the pipeline, free of HTTP: a validated request -> a plan (model, load options,
  prompt, sampling, grammar, output parsers) -> a stream of events (text, thinking, tool
  calls, done with metrics, error); plus embeddings and model management.
* the machinery: ``scheduler`` and ``turns`` (runners, queues, whose turn it is), ``engine``
  (llama.cpp; ``batching`` runs the requests of one model together, ``sampling`` chooses
  their tokens, ``embedding`` packs embedding inputs), ``sizing`` (memory), ``store``,
  ``prompt``/``templates`` (prompt formats), ``output``/``toolcalls`` (parsing the output),
  ``registry``, ``create``; and at the bottom ``settings``, ``validate`` and ``wire``.

Generation of different models is serialised on a CPU-only machine (one model computes per
``num_thread`` CPUs): two llama.cpp thread pools on the same cores slow each other down far
more than they gain. Requests for the same model share its decodes instead (up to
``OLLAMA_NUM_PARALLEL`` at once).

The store uses Ollama's layout, so ``--models ~/.ollama/models`` serves an existing Ollama
store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .settings import ServerConfig, build_config, parse_bind

__all__ = ["ServerConfig", "build_config", "main", "parse_bind", "serve"]


def serve(
    host: str | None = None,
    port: int | None = None,
    models_dir: str | None = None,
    **overrides: Any,
) -> None:
    """Run the server until interrupted (SIGINT/SIGTERM)."""
    import logging
    import sys

    import uvicorn

    from .routes import create_app
    from .timeouts import BodyTimeoutMiddleware, protocol

    config = build_config(host, port, models_dir, **overrides)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access = logging.getLogger("ollamakit.server.access")
    access.handlers[:] = [handler]
    access.setLevel(logging.INFO)
    access.propagate = False
    general = logging.StreamHandler(sys.stderr)
    general.setFormatter(logging.Formatter("time=%(asctime)s level=%(levelname)s msg=%(message)s"))
    server_log = logging.getLogger("ollamakit.server")
    server_log.handlers[:] = [general]
    server_log.setLevel(logging.INFO)
    server_log.propagate = False
    app = BodyTimeoutMiddleware(create_app(config), timeout=config.body_timeout)
    settings = uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        http=protocol(config.header_timeout),
    )
    # Bound before the announcement, so "listening" is true when it is printed (and a busy
    # port fails before it); port 0 is announced as the port the system chose.
    sock = settings.bind_socket()
    server_log.info(
        "ollamakit server listening on %s:%d (models: %s)",
        config.host,
        sock.getsockname()[1],
        config.models_dir,
    )
    uvicorn.Server(settings).run(sockets=[sock])


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="ollamakit serve", description="Run the embedded Ollama-compatible server."
    )
    parser.add_argument("--host", help="bind address (default from OLLAMA_HOST, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default from OLLAMA_HOST, 11434)")
    parser.add_argument("--models", help="models directory (default ~/.ollamakit/models)")
    args = parser.parse_args(argv)
    try:
        serve(args.host, args.port, args.models)
    except KeyboardInterrupt:
        return 0
    return 0
