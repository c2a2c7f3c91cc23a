"""Tool calls parsed out of model output, as Ollama does for Go-template models.

The template tells where calls start: the first text inside ``{{ if .ToolCalls }}`` (e.g.
``<tool_call>``), or ``{`` when there is none. Text before the tag is content and streams as
usual; from the tag on, output is held back and searched for JSON objects naming a known tool,
either ``{"name": ..., "arguments"|"parameters": {...}}`` or ``{"<tool>": {...}}``. When no
call can be parsed the held text is returned as content, so nothing is lost.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Iterator
from typing import Any

__all__ = ["ToolCallParser", "tool_names"]

_ID_ALPHABET = string.ascii_lowercase + string.digits


def tool_names(tools: list[Any] | None) -> list[str]:
    names = []
    for tool in tools or []:
        if isinstance(tool, dict):
            function = tool.get("function")
            if isinstance(function, dict) and isinstance(function.get("name"), str):
                names.append(function["name"])
    return names


def _call_id() -> str:
    return "call_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def _objects(text: str) -> Iterator[str]:
    """Balanced top-level ``{...}`` spans, ignoring braces inside strings."""
    depth = 0
    start = -1
    in_string = escaped = False
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = depth > 0
        elif char == "{":
            if depth == 0:
                start = index
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0:
                yield text[start : index + 1]


def _find_call(value: Any, names: list[str]) -> tuple[str, dict[str, Any]] | None:
    if isinstance(value, dict):
        name = value.get("name")
        if isinstance(name, str) and name in names:
            for key in ("arguments", "parameters"):
                arguments = value.get(key)
                if isinstance(arguments, str):
                    try:
                        arguments = json.loads(arguments)
                    except ValueError:
                        continue
                if isinstance(arguments, dict):
                    return name, arguments
            if "arguments" not in value and "parameters" not in value:
                return name, {}
        for key, item in value.items():
            if key in names and isinstance(item, dict):
                return key, item
        for item in value.values():
            found = _find_call(item, names)
            if found is not None:
                return found
    elif isinstance(value, list):
        for item in value:
            found = _find_call(item, names)
            if found is not None:
                return found
    return None


class ToolCallParser:
    """Streaming split of output into content and tool calls."""

    def __init__(self, tag: str, names: list[str]) -> None:
        self.tag = tag or "{"
        self.names = names
        self.buffer = ""
        self.capturing = False
        self.decided = False
        self.index = 0

    def feed(self, text: str) -> str:
        """Returns the content that can be emitted now."""
        if self.capturing:
            self.buffer += text
            return ""
        self.buffer += text
        if self.tag in ("{", "["):
            # A bare JSON tag counts only as the first non-blank output.
            if self.decided:
                out, self.buffer = self.buffer, ""
                return out
            stripped = self.buffer.lstrip()
            if not stripped:
                return ""
            self.decided = True
            if stripped.startswith(self.tag):
                self.capturing = True
                return ""
            out, self.buffer = self.buffer, ""
            return out
        index = self.buffer.find(self.tag)
        if index >= 0:
            out = self.buffer[:index]
            self.buffer = self.buffer[index:]
            self.capturing = True
            return out
        keep = 0
        for length in range(min(len(self.tag) - 1, len(self.buffer)), 0, -1):
            if self.buffer.endswith(self.tag[:length]):
                keep = length
                break
        out = self.buffer[: len(self.buffer) - keep]
        self.buffer = self.buffer[len(self.buffer) - keep :]
        return out

    def finish(self) -> tuple[str, list[dict[str, Any]]]:
        """The content still held back and the parsed tool calls."""
        held, self.buffer = self.buffer, ""
        if not self.capturing:
            return held, []
        calls = self.parse(held)
        if not calls:
            return held, []
        return "", calls

    def parse(self, text: str) -> list[dict[str, Any]]:
        calls = []
        for span in _objects(text):
            try:
                value = json.loads(span)
            except ValueError:
                continue
            found = _find_call(value, self.names)
            if found is None:
                continue
            name, arguments = found
            calls.append(
                {
                    "id": _call_id(),
                    "function": {"index": self.index, "name": name, "arguments": arguments},
                }
            )
            self.index += 1
        return calls
