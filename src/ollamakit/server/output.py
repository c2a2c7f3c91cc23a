"""Shaping generated text into Ollama's response fields.

Plain models stream text straight into ``response`` / ``message.content``. Thinking models
(templates with ``<think>``-style tags) split it into ``thinking`` and content; tool-capable
chats hold back text from the tool tag on and turn it into ``tool_calls`` as each call
completes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .toolcalls import ToolCallParser

__all__ = ["OutputShaper", "Piece", "ThinkingParser"]


class ThinkingParser:
    """Splits ``<think>…</think>``-style output into thinking and content while streaming."""

    def __init__(self, opening: str, closing: str, *, prefilled: bool = False) -> None:
        self.opening, self.closing = opening, closing
        self.state = "opened" if prefilled else "start"
        self.buffer = ""

    def open(self) -> None:
        """The prompt already ends with the opening tag: the output starts as thinking."""
        if self.state == "start":
            self.state = "opened"

    def feed(self, text: str) -> tuple[str, str]:
        self.buffer += text
        thinking = content = ""
        while True:
            if self.state == "start":
                stripped = self.buffer.lstrip()
                if stripped.startswith(self.opening):
                    self.buffer = stripped[len(self.opening) :]
                    self.state = "opened"
                    continue
                if self.opening.startswith(stripped):
                    return thinking, content
                self.state = "content"
                continue
            if self.state == "opened":
                # Ollama eats the whitespace between the opening tag and the thinking.
                self.buffer = self.buffer.lstrip()
                if not self.buffer:
                    return thinking, content
                self.state = "thinking"
                continue
            if self.state == "thinking":
                index = self.buffer.find(self.closing)
                if index >= 0:
                    thinking += self.buffer[:index]
                    self.buffer = self.buffer[index + len(self.closing) :]
                    self.state = "after"
                    continue
                keep = _partial_suffix(self.buffer, self.closing)
                thinking += self.buffer[: len(self.buffer) - keep]
                self.buffer = self.buffer[len(self.buffer) - keep :]
                return thinking, content
            if self.state == "after":
                self.buffer = self.buffer.lstrip()
                if not self.buffer:
                    return thinking, content
                self.state = "content"
                continue
            content += self.buffer
            self.buffer = ""
            return thinking, content

    def flush(self) -> tuple[str, str]:
        text, self.buffer = self.buffer, ""
        if self.state in ("opened", "thinking"):
            return text, ""
        return "", text


def _partial_suffix(text: str, tag: str) -> int:
    for length in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:length]):
            return length
    return 0


@dataclass
class Piece:
    """Text ready to send, split by field."""

    content: str = ""
    thinking: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.content or self.thinking or self.tool_calls)


class OutputShaper:
    """Thinking separation, then tool-call extraction, over streamed text."""

    def __init__(
        self,
        thinking_tags: tuple[str, str] | None = None,
        tools: ToolCallParser | None = None,
    ) -> None:
        self.thinker = ThinkingParser(*thinking_tags) if thinking_tags else None
        self.tools = tools

    @property
    def passthrough(self) -> bool:
        return self.thinker is None and self.tools is None

    def prompt_rendered(self, prompt: str) -> None:
        """A prompt that ends with the opening tag has already started the thinking."""
        if self.thinker is not None and prompt.strip().endswith(self.thinker.opening):
            self.thinker.open()

    def feed(self, text: str) -> Piece:
        thinking, content = self.thinker.feed(text) if self.thinker else ("", text)
        calls: list[dict[str, Any]] = []
        if self.tools is not None and content:
            content, calls = self.tools.add(content)
        return Piece(content=content, thinking=thinking, tool_calls=calls)

    def finish(self) -> Piece:
        thinking = content = ""
        if self.thinker is not None:
            thinking, content = self.thinker.flush()
        if self.tools is None:
            return Piece(content=content, thinking=thinking)
        calls: list[dict[str, Any]] = []
        if content:
            content, calls = self.tools.add(content)
        held, rest = self.tools.finish()
        return Piece(content=content + held, thinking=thinking, tool_calls=calls + rest)
