"""The environment, read in one place: every variable the client and the command line look at.

Each function reads its variable when called (never at import), so a change made after
``import ollamakit`` is seen by the next client. The embedded server reads its own settings
(``server/``). Values are trimmed and may be quoted, as Ollama accepts them.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "api_key",
    "graphical_session",
    "history_disabled",
    "home",
    "host",
    "sign_requests",
    "styling_allowed",
]


def _value(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1].strip()
    return value


def _go_bool(name: str) -> bool:
    """Go's ``envconfig.Bool``: unset or empty is false, an unparsable value is true."""
    value = _value(name)
    if not value:
        return False
    return value not in ("0", "f", "F", "false", "FALSE", "False")


def host() -> str | None:
    """``OLLAMA_HOST``: where the server is (parsed by ``_host.parse_host``)."""
    return os.environ.get("OLLAMA_HOST")


def api_key() -> str | None:
    """``OLLAMA_API_KEY``, the bearer key for ollama.com (empty means unset)."""
    return _value("OLLAMA_API_KEY") or None


def sign_requests() -> bool:
    """``OLLAMA_AUTH``: sign every request with the Ollama key, as Ollama's Go client does."""
    return _go_bool("OLLAMA_AUTH")


def history_disabled() -> bool:
    """``OLLAMA_NOHISTORY``: the interactive chat keeps no history file."""
    return _go_bool("OLLAMA_NOHISTORY")


def home() -> Path:
    """``OLLAMAKIT_HOME``: the command line's own files (server log), ``~/.ollamakit`` by
    default."""
    return Path(os.environ.get("OLLAMAKIT_HOME") or Path.home() / ".ollamakit")


def styling_allowed() -> bool:
    """Whether ANSI styling is allowed: no ``NO_COLOR``, and a ``TERM`` other than dumb."""
    return not os.environ.get("NO_COLOR") and os.environ.get("TERM", "") != "dumb"


def graphical_session() -> bool:
    """Whether a desktop session can show a browser (X11 or Wayland)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
