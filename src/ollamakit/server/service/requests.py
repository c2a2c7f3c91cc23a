"""Validated requests: what the pipeline is asked to do, whichever API asked.

Every surface translates its body into Ollama's native request (as Ollama's own middleware
does), type-checks it with the native field table (``validate``) and builds one of these, so
the checks that need no model (keep-alive, ``think``, ``format``, log-probabilities) happen
once, with Ollama's messages, for every API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..gofmt import quote
from ..validate import BadRequest, keep_alive_ns, think_value
from ..wire import json_bytes

__all__ = ["ChatRequest", "EmbedRequest", "GenerateRequest", "GenerationRequest", "grammar_spec"]


def grammar_spec(value: Any) -> tuple[str, str] | None:
    """``format`` -> ("json", "") / ("schema", JSON text) / None; raises on other values."""
    if value is None or value == "":
        return None
    if value == "json":
        return ("json", "")
    if isinstance(value, dict):
        return ("schema", json_bytes(value).decode())
    quoted = quote(json_bytes(value))  # Go's %q of the raw JSON
    raise BadRequest(
        f'invalid format: {quoted}; expected "json" or a valid JSON Schema object', 500
    )


def _generation_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The :class:`GenerationRequest` fields of a chat or generate body, checked."""
    keep_alive = keep_alive_ns(body.get("keep_alive"))
    think = think_value(body.get("think"))
    return {
        "model": body.get("model", ""),
        "stream": body.get("stream", True),
        "keep_alive_ns": keep_alive,
        "options": body.get("options"),
        "think": think,
        "truncate": body.get("truncate", True),
        "shift": body.get("shift", True),
        "render_only": bool(body.get("_debug_render_only")),
    }


def _top_logprobs(body: dict[str, Any]) -> int | None:
    """The alternatives per token when log-probabilities are asked for, else None."""
    top = body.get("top_logprobs", 0)
    if not 0 <= top <= 20:
        raise BadRequest("top_logprobs must be between 0 and 20")
    return top if body.get("logprobs") else None


@dataclass
class GenerationRequest:
    """What chat and generate share. ``keep_alive_ns`` None means the server's default;
    ``options`` are the request's raw options (the model's parameters go under them)."""

    model: str
    stream: bool = True
    keep_alive_ns: int | None = None
    options: dict[str, Any] | None = None
    format: tuple[str, str] | None = None
    think: bool | str | None = None
    truncate: bool = True
    shift: bool = True  # context shift when a generation fills the context
    logprobs: int | None = None
    render_only: bool = False
    # Thinking asked of a model that cannot think is dropped instead of refused (Ollama does
    # this for the Anthropic API, whose clients ask for thinking whatever the model).
    relax_thinking: bool = False


@dataclass
class ChatRequest(GenerationRequest):
    messages: list[dict[str, Any]] = field(default_factory=list)
    tools: list[dict[str, Any]] | None = None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> ChatRequest:
        """From a type-checked ``/api/chat`` body (``validate.CHAT``)."""
        common = _generation_fields(body)
        logprobs = _top_logprobs(body)
        return cls(
            **common,
            format=grammar_spec(body.get("format")),
            logprobs=logprobs,
            messages=body.get("messages") or [],
            tools=body.get("tools") or None,
        )


@dataclass
class GenerateRequest(GenerationRequest):
    prompt: str = ""
    suffix: str = ""
    system: str = ""
    template: str = ""
    context: list[int] = field(default_factory=list)
    raw: bool = False
    images: list[str] = field(default_factory=list)

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> GenerateRequest:
        """From a type-checked ``/api/generate`` body (``validate.GENERATE``)."""
        common = _generation_fields(body)
        raw = bool(body.get("raw"))
        if raw and (body.get("template") or body.get("system") or body.get("context")):
            raise BadRequest("raw mode does not support template, system, or context")
        logprobs = _top_logprobs(body)
        return cls(
            **common,
            format=grammar_spec(body.get("format")),
            logprobs=logprobs,
            prompt=body.get("prompt", ""),
            suffix=body.get("suffix", ""),
            system=body.get("system", ""),
            template=body.get("template", ""),
            context=body.get("context") or [],
            raw=raw,
            images=body.get("images") or [],
        )


@dataclass
class EmbedRequest:
    """``/api/embed`` (several inputs, normalised) and ``/api/embeddings`` (one prompt, raw)."""

    model: str
    inputs: list[str]
    keep_alive_ns: int | None = None
    options: dict[str, Any] | None = None
    truncate: bool = True
    dimensions: int = 0

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> EmbedRequest:
        """From a type-checked ``/api/embed`` body (``validate.EMBED``)."""
        value = body.get("input")
        if value is None or value == "":
            inputs: list[str] = []
        elif isinstance(value, str):
            inputs = [value]
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            inputs = list(value)
        else:
            raise BadRequest("invalid input type")
        return cls(
            model=body.get("model", ""),
            inputs=inputs,
            keep_alive_ns=keep_alive_ns(body.get("keep_alive")),
            options=body.get("options"),
            truncate=body.get("truncate", True),
            dimensions=body.get("dimensions", 0),
        )
