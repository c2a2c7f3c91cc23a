"""What a generation produces, for every API surface to translate: :class:`Delta` (text,
thinking, tool calls, with the log-probabilities of the tokens behind them), then exactly one
:class:`Done` (why it stopped, with the metrics) or :class:`Failed`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Delta", "Done", "Event", "Failed", "collect"]


@dataclass(slots=True)
class Delta:
    """Output ready to send. Tool calls are Ollama's native objects
    (``{"id", "function": {"index", "name", "arguments"}}``), each sent once, complete."""

    content: str = ""
    thinking: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    logprobs: list[dict[str, Any]] | None = None

    def __bool__(self) -> bool:
        return bool(self.content or self.thinking or self.tool_calls or self.logprobs)

    @property
    def plain(self) -> bool:
        """Only content: the hot path every surface can format without looking further."""
        return not (self.thinking or self.tool_calls or self.logprobs)

    def merge(self, other: Delta) -> None:
        self.content += other.content
        self.thinking += other.thinking
        self.tool_calls += other.tool_calls
        if other.logprobs:
            self.logprobs = [*(self.logprobs or []), *other.logprobs]


@dataclass(slots=True)
class Done:
    """The end of a generation. ``reason`` is Ollama's ``done_reason``: ``stop``, ``length``,
    ``load``/``unload`` for a request that only loaded or unloaded the model, or empty when
    the client went away. ``stop_sequence`` is the request's stop string that ended a
    ``stop`` (None when the model ended its turn); native answers do not carry it, as in
    Ollama. Durations are nanoseconds; zero means "not measured" and is left out of native
    answers, as Ollama does."""

    reason: str
    prompt_eval_count: int = 0
    prompt_eval_ns: int = 0
    eval_count: int = 0
    eval_ns: int = 0
    load_ns: int = 0
    total_ns: int = 0
    context: list[int] | None = None
    logprobs: list[dict[str, Any]] | None = None
    stop_sequence: str | None = None


@dataclass(slots=True)
class Failed:
    """The generation failed after it started; ``error`` goes through ``status_for``."""

    error: BaseException


Event = Delta | Done | Failed


async def collect(events: AsyncIterator[Event]) -> tuple[Delta, Done]:
    """A whole generation merged into one delta, for answers that are not streamed.
    Raises the error of a :class:`Failed` generation."""
    merged = Delta()
    async for event in events:
        if isinstance(event, Failed):
            raise event.error
        if isinstance(event, Done):
            if event.logprobs:
                merged.logprobs = [*(merged.logprobs or []), *event.logprobs]
            return merged, event
        merged.merge(event)
    raise RuntimeError("generation ended without a result")
