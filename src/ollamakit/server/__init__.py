"""The embedded Ollama-compatible server (extra ``[server]``): llama.cpp behind Ollama's API.

``python -m ollamakit.server [--host H] [--port P] [--models DIR]`` or, from Python,
:func:`serve`. Settings and their environment variables:

=============================  ===========================================================
``OLLAMA_HOST``                bind address (``127.0.0.1:11434``); ``--host``/``--port`` win
``OLLAMAKIT_MODELS``           models directory; else ``OLLAMA_MODELS``; else
                               ``~/.ollamakit/models``; ``--models`` wins
``OLLAMA_KEEP_ALIVE``          default keep-alive (``5m``); negative keeps models forever
``OLLAMA_MAX_LOADED_MODELS``   models kept loaded at once (default 3, or 1 below 8 GiB RAM)
``OLLAMA_MAX_QUEUE``           requests allowed to wait before 503 (512)
``OLLAMA_CONTEXT_LENGTH``      default ``num_ctx`` (4096, capped at the model's own)
``OLLAMAKIT_NUM_THREADS``      llama.cpp threads (physical cores, at most 4)
``OLLAMA_ORIGINS``             extra CORS origins, comma-separated
``OLLAMA_NOPRUNE``             keep blobs no manifest uses
``OLLAMAKIT_OFFLINE``          refuse registries that are not on this machine (tests, air gaps)
``OLLAMAKIT_MAX_BODY``         largest JSON request body (``64MiB``; ``K``/``M``/``G`` suffixes,
                               ``0`` = no limit); larger ones get 413. Blob uploads are exempt
``OLLAMA_CLOUD_BASE_URL``      where ``/api/me``, ``/api/signout`` and the web proxies go
                               instead of ollama.com (a loopback URL only, as in Ollama)
``OLLAMA_NO_CLOUD``            refuse the ``/api/experimental/web_*`` proxies (403)
``HOME``                       the Ollama key is ``$HOME/.ollama/id_ed25519`` (created on first
                               need: a registry token request, ``/api/me``)
=============================  ===========================================================

Generation of different models is serialised on a CPU-only machine (one compute slot per
``num_thread`` CPUs): two llama.cpp thread pools on the same cores slow each other down far
more than they gain.

The store uses Ollama's layout, so ``--models ~/.ollama/models`` serves an existing Ollama
store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import ServerConfig

__all__ = ["build_config", "main", "parse_bind", "serve"]


def parse_bind(value: str | None) -> tuple[str, int]:
    """``OLLAMA_HOST`` as the server reads it: ``host[:port]`` with optional scheme.

    No scheme means port 11434; ``http://`` without a port means 80 and ``https://`` 443;
    ``:1234`` binds every interface; IPv6 works with or without brackets; a port outside
    0..65535 falls back to the default.
    """
    default_port = 11434
    text = (value or "").strip().strip("\"'").strip()
    if not text:
        return "127.0.0.1", default_port
    scheme, sep, rest = text.partition("://")
    if sep:
        default_port = {"http": 80, "https": 443}.get(scheme.lower(), default_port)
    else:
        rest = text
    hostport = rest.split("/", 1)[0]
    host, port_text = hostport, ""
    if hostport.startswith("["):
        end = hostport.find("]")
        host = hostport[1:end] if end > 0 else hostport[1:]
        after = hostport[end + 1 :] if end > 0 else ""
        port_text = after[1:] if after.startswith(":") else ""
    elif hostport.count(":") == 1:
        host, port_text = hostport.split(":")
    port = default_port
    if port_text:
        try:
            port = int(port_text)
        except ValueError:
            port = default_port
        if not 0 <= port <= 65535:
            port = default_port
    if not host:
        host = "0.0.0.0"
    return host, port


def build_config(
    host: str | None = None,
    port: int | None = None,
    models_dir: str | None = None,
    **overrides: Any,
) -> ServerConfig:
    """A :class:`~ollamakit.server.app.ServerConfig` from arguments and the environment."""
    import os
    from pathlib import Path

    from .account import cloud_base_url
    from .app import ServerConfig
    from .engine import default_threads
    from .middleware import parse_size
    from .store import default_models_dir
    from .validate import env_keep_alive_ns
    from .wire import go_bool

    env_host, env_port = parse_bind(os.environ.get("OLLAMA_HOST"))

    def env_int(name: str, default: int) -> int:
        text = os.environ.get(name, "").strip().strip("\"'")
        try:
            return int(text) if text else default
        except ValueError:
            return default

    origins = tuple(
        item.strip() for item in os.environ.get("OLLAMA_ORIGINS", "").split(",") if item.strip()
    )
    settings: dict[str, Any] = {
        "models_dir": Path(models_dir).expanduser() if models_dir else default_models_dir(),
        "host": host or env_host,
        "port": env_port if port is None else port,
        "max_loaded": env_int("OLLAMA_MAX_LOADED_MODELS", 0) or None,
        "max_queue": env_int("OLLAMA_MAX_QUEUE", 512),
        "keep_alive_ns": env_keep_alive_ns(os.environ.get("OLLAMA_KEEP_ALIVE", "")),
        "num_ctx": env_int("OLLAMA_CONTEXT_LENGTH", 0) or 4096,
        "num_thread": env_int("OLLAMAKIT_NUM_THREADS", 0) or default_threads(),
        "origins": origins,
        "max_body": parse_size(os.environ.get("OLLAMAKIT_MAX_BODY", "")),
        "cloud_url": cloud_base_url(os.environ.get("OLLAMA_CLOUD_BASE_URL", "")),
        "no_cloud": go_bool(os.environ.get("OLLAMA_NO_CLOUD", "")),
    }
    settings.update(overrides)
    return ServerConfig(**settings)


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

    from .app import create_app

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
    app = create_app(config)
    server_log.info(
        "ollamakit server listening on %s:%d (models: %s)",
        config.host,
        config.port,
        config.models_dir,
    )
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )


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
