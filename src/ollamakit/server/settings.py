"""The server's settings, and the one module that reads them from the environment.

=============================  ===========================================================
``OLLAMA_HOST``                bind address (``127.0.0.1:11434``); ``--host``/``--port`` win
``OLLAMAKIT_MODELS``           models directory; else ``OLLAMA_MODELS``; else
                               ``~/.ollamakit/models``; ``--models`` wins
``OLLAMA_KEEP_ALIVE``          default keep-alive (``5m``); negative keeps models forever
``OLLAMA_MAX_LOADED_MODELS``   models kept loaded at once (default 3, or 1 below 8 GiB RAM)
``OLLAMA_MAX_QUEUE``           requests allowed to wait before 503 (512)
``OLLAMA_CONTEXT_LENGTH``      default ``num_ctx`` (4096, capped at the model's own)
``OLLAMAKIT_NUM_THREADS``      llama.cpp threads (physical cores, at most 4)
``OLLAMA_NUM_PARALLEL``        requests each model serves at once, batched together (default:
                               4 when the model and 4x its context fit in the available
                               memory, else 1); the context grows by that factor
``OLLAMA_FLASH_ATTENTION``     ``1``/``0`` forces flash attention on/off (default: llama.cpp
                               decides)
``OLLAMA_KV_CACHE_TYPE``       KV cache type: ``f16`` (default), ``q8_0``, ``q4_0``; the
                               quantized ones need flash attention not turned off
``OLLAMA_ORIGINS``             extra CORS origins, comma-separated
``OLLAMA_NOPRUNE``             keep blobs no manifest uses
``OLLAMAKIT_OFFLINE``          refuse registries that are not on this machine (tests, air gaps)
``OLLAMAKIT_MAX_BODY``         largest JSON request body (``64MiB``; ``K``/``M``/``G`` suffixes,
                               ``0`` = no limit); larger ones get 413. Blob uploads are exempt
``OLLAMA_CLOUD_BASE_URL``      where ``/api/me``, ``/api/signout`` and the web proxies go
                               instead of ollama.com (a loopback URL only, as in Ollama)
``OLLAMA_NO_CLOUD``            refuse the ``/api/experimental/web_*`` proxies (403)
``OLLAMAKIT_HEADER_TIMEOUT``   seconds a client has to send a request's headers (30); the
                               connection is then closed. ``0`` = no limit
``OLLAMAKIT_BODY_TIMEOUT``     seconds a client may stay silent while sending a request body
                               (60); then 408. ``0`` = no limit
``HOME``                       the Ollama key is ``$HOME/.ollama/id_ed25519`` (created on first
                               need: a registry token request, ``/api/me``)
=============================  ===========================================================

Values are read when asked for (not at import), so a process can change its environment
before starting a server. Quotes around a value are ignored, as Ollama's ``envconfig`` does.
"""

from __future__ import annotations

import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .engine import default_threads
from .validate import env_keep_alive_ns
from .wire import go_bool

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_CLOUD_URL",
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_MAX_BODY",
    "ServerConfig",
    "build_config",
    "cloud_base_url",
    "default_models_dir",
    "offline",
    "parse_bind",
    "parse_size",
    "prune_unused_blobs",
]

DEFAULT_PORT = 11434
DEFAULT_MAX_BODY = 64 << 20
DEFAULT_KEEP_ALIVE_NS = 5 * 60 * 1_000_000_000
DEFAULT_CLOUD_URL = "https://ollama.com"
DEFAULT_HEADER_TIMEOUT = 30.0
DEFAULT_BODY_TIMEOUT = 60.0

log = logging.getLogger("ollamakit.server")


def _env(name: str) -> str:
    return os.environ.get(name, "").strip().strip("\"'").strip()


def _env_int(name: str, default: int) -> int:
    text = _env(name)
    try:
        return int(text) if text else default
    except ValueError:
        return default


def _env_seconds(name: str, default: float) -> float:
    text = _env(name)
    try:
        value = float(text) if text else default
    except ValueError:
        return default
    return value if math.isfinite(value) and value >= 0 else default


@dataclass
class ServerConfig:
    """Settings of one server instance (the module docstring lists their variables)."""

    models_dir: Path
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    max_loaded: int | None = None
    max_queue: int = 512
    keep_alive_ns: int = DEFAULT_KEEP_ALIVE_NS
    num_ctx: int = 4096
    num_thread: int = field(default_factory=default_threads)
    num_parallel: int = 0  # requests per model at once; 0: 4 when memory allows, else 1
    flash_attention: bool | None = None  # None: llama.cpp decides
    kv_cache_type: str = "f16"
    origins: tuple[str, ...] = ()
    prune: bool | None = None
    max_body: int = DEFAULT_MAX_BODY
    cloud_url: str = DEFAULT_CLOUD_URL
    no_cloud: bool = False
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT


def build_config(
    host: str | None = None,
    port: int | None = None,
    models_dir: str | None = None,
    **overrides: Any,
) -> ServerConfig:
    """A :class:`ServerConfig` from arguments (which win) and the environment."""
    env_host, env_port = parse_bind(os.environ.get("OLLAMA_HOST"))
    origins = tuple(item.strip() for item in _env("OLLAMA_ORIGINS").split(",") if item.strip())
    settings: dict[str, Any] = {
        "models_dir": Path(models_dir).expanduser() if models_dir else default_models_dir(),
        "host": host or env_host,
        "port": env_port if port is None else port,
        "max_loaded": _env_int("OLLAMA_MAX_LOADED_MODELS", 0) or None,
        "max_queue": _env_int("OLLAMA_MAX_QUEUE", 512),
        "keep_alive_ns": env_keep_alive_ns(_env("OLLAMA_KEEP_ALIVE")),
        "num_ctx": _env_int("OLLAMA_CONTEXT_LENGTH", 0) or 4096,
        "num_thread": _env_int("OLLAMAKIT_NUM_THREADS", 0) or default_threads(),
        "num_parallel": max(0, _env_int("OLLAMA_NUM_PARALLEL", 0)),
        "flash_attention": go_bool(_env("OLLAMA_FLASH_ATTENTION"))
        if _env("OLLAMA_FLASH_ATTENTION")
        else None,
        "kv_cache_type": _env("OLLAMA_KV_CACHE_TYPE"),
        "origins": origins,
        "max_body": parse_size(_env("OLLAMAKIT_MAX_BODY")),
        "cloud_url": cloud_base_url(os.environ.get("OLLAMA_CLOUD_BASE_URL", "")),
        "no_cloud": go_bool(os.environ.get("OLLAMA_NO_CLOUD", "")),
        "header_timeout": _env_seconds("OLLAMAKIT_HEADER_TIMEOUT", DEFAULT_HEADER_TIMEOUT),
        "body_timeout": _env_seconds("OLLAMAKIT_BODY_TIMEOUT", DEFAULT_BODY_TIMEOUT),
    }
    settings.update(overrides)
    return ServerConfig(**settings)


def default_models_dir() -> Path:
    """``OLLAMAKIT_MODELS``, else ``OLLAMA_MODELS``, else ``~/.ollamakit/models``."""
    for variable in ("OLLAMAKIT_MODELS", "OLLAMA_MODELS"):
        value = _env(variable)
        if value:
            return Path(value).expanduser()
    return Path.home() / ".ollamakit" / "models"


def prune_unused_blobs() -> bool:
    """False when ``OLLAMA_NOPRUNE`` is set to anything."""
    return not os.environ.get("OLLAMA_NOPRUNE", "").strip()


def offline() -> bool:
    """``OLLAMAKIT_OFFLINE``: refuse every host that is not this machine."""
    return go_bool(os.environ.get("OLLAMAKIT_OFFLINE", ""))


def cloud_base_url(override: str) -> str:
    """``OLLAMA_CLOUD_BASE_URL`` checked as Ollama's release builds check it: an http(s) URL of
    a loopback host, without user, path, query or fragment; anything else means ollama.com."""
    text = override.strip()
    if not text:
        return DEFAULT_CLOUD_URL
    parts = urlsplit(text)
    host = (parts.hostname or "").lower()
    loopback = host == "localhost" or host.startswith("127.") or host == "::1"
    if (
        parts.scheme not in ("http", "https")
        or not loopback
        or parts.username is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        log.warning("ignoring cloud base URL override OLLAMA_CLOUD_BASE_URL=%s", text)
        return DEFAULT_CLOUD_URL
    return f"{parts.scheme}://{parts.netloc}"


def parse_bind(value: str | None) -> tuple[str, int]:
    """``OLLAMA_HOST`` as the server reads it: ``host[:port]`` with optional scheme.

    No scheme means port 11434; ``http://`` without a port means 80 and ``https://`` 443;
    ``:1234`` binds every interface; IPv6 works with or without brackets; a port outside
    0..65535 falls back to the default.
    """
    default_port = DEFAULT_PORT
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


_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str, default: int = DEFAULT_MAX_BODY) -> int:
    """``OLLAMAKIT_MAX_BODY``: bytes, or with a binary suffix (``64M``, ``64MiB``, ``1g``).
    Empty or unparsable means ``default``; 0 or less means no limit (returned as 0)."""
    text = text.strip().strip("\"'")
    if text.startswith("-"):
        return 0
    match = _SIZE.match(text)
    if match is None:
        return default
    exponent = " kmgt".index(match.group(2).lower() or " ")
    return int(match.group(1)) << (10 * exponent)
