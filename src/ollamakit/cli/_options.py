"""The options of ``ollamakit run`` and their parsing, shared by the one-shot answer
(:mod:`._run`) and the interactive chat (:mod:`._repl`)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from typing import Any, Literal, TextIO

from ._render import is_tty

__all__ = [
    "THINK_LEVELS",
    "RunOptions",
    "parse_format",
    "parse_keep_alive",
    "parse_think",
    "think_level",
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
