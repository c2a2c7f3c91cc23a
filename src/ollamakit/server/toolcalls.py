"""Tool calls parsed out of model output, as Ollama does for Go-template models
(``tools/tools.go``).

The template tells where calls start: the first text inside ``{{ if .ToolCalls }}`` (e.g.
``<tool_call>``), or ``{`` when there is none. Text before the tag is content and streams as
usual. From the tag on, output is held back; each time it holds a known tool name (the
earliest, the longest on a tie) and a complete JSON object, that is a call, returned at once
so it streams in the chunk that completed it. The arguments are the object's ``arguments`` or
``parameters`` (an object or a JSON-encoded string) when it has a ``name``, else the value of
a key named after the tool, searched recursively, else the whole object.

With a bare ``{`` or ``[`` tag, calls are only looked for when the bracket is the first
non-blank output, and the text is released as content once the brackets balance without a
call. Unlike Ollama, which drops it, text held after a named tag that never became a call is
returned as content at the end, so nothing the model wrote is lost.
"""

from __future__ import annotations

import json
import secrets
import string
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


def _find_tool(names: list[str], buffer: str, *, final: bool) -> tuple[str, int] | None:
    """The earliest (then longest) known name in ``buffer`` and where it ends.

    While more output may come, a buffer ending in the start of a name waits, so that
    ``get`` is not taken for ``get_weather``.
    """
    if not final:
        longest = max((len(name) for name in names), default=0)
        for size in range(1, min(len(buffer), longest) + 1):
            tail = buffer[-size:]
            if any(len(tail) < len(name) and name.startswith(tail) for name in names):
                return None
    found: tuple[str, int] | None = None
    start = -1
    for name in names:
        if not name:
            continue
        position = buffer.find(name)
        if position < 0:
            continue
        if found is not None and (
            position > start or (position == start and len(name) <= len(found[0]))
        ):
            continue
        found, start = (name, position + len(name)), position
    return found


def _as_object(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return None
        if isinstance(decoded, dict):
            return decoded
    return None


def _search(value: dict[str, Any], name: str) -> tuple[dict[str, Any] | None, bool]:
    """Ollama's ``findObject``: (arguments, whether the object settled the question)."""
    if "name" in value:
        for key in ("arguments", "parameters"):
            arguments = _as_object(value.get(key))
            if arguments is not None:
                return arguments, True
        # A name without usable arguments is not a call (and stops the search).
        return None, True
    arguments = _as_object(value.get(name))
    if arguments is not None:
        return arguments, True
    for child in value.values():
        items = child if isinstance(child, list) else [child]
        for item in items:
            if isinstance(item, dict):
                found, settled = _search(item, name)
                if settled:
                    return found, True
    return None, False


def _find_arguments(name: str, buffer: str) -> tuple[dict[str, Any] | None, int]:
    """The arguments in the first complete JSON object of ``buffer`` and where it ends."""
    depth = 0
    start = -1
    in_string = escaped = False
    for index, char in enumerate(buffer):
        if escaped:
            escaped = False
            continue
        if char == "\\":
            escaped = True
            continue
        if char == '"':
            in_string = not in_string
            continue
        if in_string:
            continue
        if char == "{":
            if depth == 0:
                start = index
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0 and start >= 0:
                try:
                    value = json.loads(buffer[start : index + 1])
                except ValueError:
                    start = -1
                    continue
                if not isinstance(value, dict):
                    start = -1
                    continue
                found, settled = _search(value, name)
                return (found if settled else value), index + 1
            depth = max(depth, 0)
    return None, 0


class ToolCallParser:
    """Streaming split of output into content and tool calls."""

    def __init__(self, tag: str, names: list[str]) -> None:
        self.tag = tag or "{"
        self.names = names
        self.buffer = ""
        self.state = "looking"  # then "calling"; "done" once nothing more can be a call
        self.index = 0
        self._pending: list[dict[str, Any]] = []

    def add(self, text: str) -> tuple[str, list[dict[str, Any]]]:
        """The content that can be emitted now and the calls completed by ``text``."""
        if self.state == "done":
            return text, []
        self.buffer += text
        content = ""
        if self.state == "looking":
            index, found = self._find_tag()
            if index < 0:
                content, self.buffer = self.buffer, ""
            else:
                content, self.buffer = self.buffer[:index], self.buffer[index:]
            if self.tag in ("{", "[") and content.strip():
                # A bare JSON tag counts only as the first non-blank output.
                self.state = "done"
                out, self.buffer = content + self.buffer, ""
                return out, []
            if not found:
                return content, []
            self.state = "calling"
        calls = self._parse(final=False)
        if self._balanced():
            self.state = "done"
            content, self.buffer = content + self.buffer, ""
        return content, calls

    def feed(self, text: str) -> str:
        """Like :meth:`add`, keeping the calls for :meth:`finish`."""
        content, calls = self.add(text)
        self._pending += calls
        return content

    def finish(self) -> tuple[str, list[dict[str, Any]]]:
        """The content still held back and the calls not returned yet."""
        calls, self._pending = self._pending, []
        if self.state == "calling":
            calls += self._parse(final=True)
        held, self.buffer = self.buffer, ""
        return ("" if self.index else held), calls

    def _find_tag(self) -> tuple[int, bool]:
        index = self.buffer.find(self.tag)
        if index >= 0:
            return index, True
        for size in range(min(len(self.buffer), len(self.tag)), 0, -1):
            if self.buffer.endswith(self.tag[:size]):
                return len(self.buffer) - size, False
        return -1, False

    def _parse(self, *, final: bool) -> list[dict[str, Any]]:
        calls = []
        while True:
            tool = _find_tool(self.names, self.buffer, final=final)
            if tool is None:
                break
            name, end = tool
            arguments, stop = _find_arguments(name, self.buffer)
            if arguments is None:
                break
            calls.append(
                {
                    "id": _call_id(),
                    "function": {"index": self.index, "name": name, "arguments": arguments},
                }
            )
            self.index += 1
            self.buffer = self.buffer[max(end, stop) :]
        return calls

    def _balanced(self) -> bool:
        """For a bare ``{``/``[`` tag: the held brackets closed (Ollama's ``done``)."""
        if self.tag not in ("{", "["):
            return False
        opening, closing = self.tag, "}" if self.tag == "{" else "]"
        depth = 0
        for char in self.buffer:
            if char == opening:
                depth += 1
            elif char == closing:
                depth -= 1
                if depth == 0:
                    return True
        return False
