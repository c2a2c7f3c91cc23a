"""Scripted answers for :class:`~ollamakit.testing.FakeOllama`'s ``chat``/``generate``/
``embed``/``pull`` helpers.

One scripted answer serves every route of its kind and takes the shape the request asks
for: Ollama's NDJSON stream or JSON object on ``/api/*``, OpenAI's server-sent events or JSON
object on ``/v1/*``, streamed or not as the request's ``stream`` says (Ollama streams by
default, OpenAI does not). The model name in the answer is the one the request asked for.

Faults are part of an answer: an error status, an error after the streamed part (Ollama's
``{"error": ...}`` line, OpenAI's ``data: {"error": ...}`` event; a 500 when the request
does not stream), a connection cut, a pause before the answer or between chunks.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import RecordedRequest, Reply, chat_stream, generate_stream, timestamp

__all__ = [
    "KIND_ROUTES",
    "ChatAnswer",
    "EmbedAnswer",
    "Fault",
    "GenerateAnswer",
    "PullAnswer",
    "fake_embedding",
    "split_text",
]

KIND_ROUTES: dict[str, tuple[tuple[str, str], ...]] = {
    "chat": (("POST", "/api/chat"), ("POST", "/v1/chat/completions")),
    "generate": (("POST", "/api/generate"), ("POST", "/v1/completions")),
    "embed": (("POST", "/api/embed"), ("POST", "/api/embeddings"), ("POST", "/v1/embeddings")),
    "pull": (("POST", "/api/pull"),),
}

_FINGERPRINT = "fp_ollama"
_PROMPT_TOKENS = 26


def split_text(text: str | Sequence[str]) -> list[str]:
    """The chunks of a streamed text: a sequence is used as is; a string is cut before each
    word, as tokens usually are (``"A short one"`` -> ``["A", " short", " one"]``)."""
    if not isinstance(text, str):
        return list(text)
    return re.findall(r"\s*\S+|\s+$", text) if text else []


def fake_embedding(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector for ``text``: the same text always gets the same vector,
    different texts different ones (sha256-derived), normalised as Ollama's are."""
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        values.extend((byte - 127.5) / 127.5 for byte in digest)
        counter += 1
    vector = values[:dimensions]
    norm = math.sqrt(sum(value * value for value in vector)) or 1.0
    return [value / norm for value in vector]


@dataclass(frozen=True)
class Fault:
    """How an answer misbehaves; the default is not at all."""

    error: str | None = None
    status: int = 200
    cut: bool = False
    delay: float = 0.0
    after: float = 0.0


def _request_body(request: RecordedRequest) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _openai_error(message: str, status: int) -> dict[str, Any]:
    kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _metrics(tokens: int) -> dict[str, Any]:
    return {
        "total_duration": 4_883_583_458,
        "load_duration": 1_334_875,
        "prompt_eval_count": _PROMPT_TOKENS,
        "prompt_eval_duration": 342_546_000,
        "eval_count": tokens,
        "eval_duration": 4_535_599_000,
    }


def _usage(tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": _PROMPT_TOKENS,
        "completion_tokens": tokens,
        "total_tokens": _PROMPT_TOKENS + tokens,
    }


@dataclass
class _Answer:
    """What every kind shares: choosing the shape and applying the fault."""

    fault: Fault = field(default_factory=Fault)
    streams: bool = True

    def __call__(self, request: RecordedRequest) -> Reply:
        body = _request_body(request)
        openai = request.path.startswith("/v1/")
        model = str(body.get("model", ""))
        stream = self.streams and bool(body.get("stream", not openai))
        fault = self.fault
        if fault.status >= 400:
            reply = self._error(fault.error or "error", fault.status, openai)
        elif stream:
            reply = self._stream(model, body, openai)
        elif fault.cut:
            reply = Reply.hang_up()
        elif fault.error is not None:
            reply = self._error(fault.error, 500, openai)
        else:
            whole = self.openai_whole(model, body) if openai else self.native_whole(model, body)
            reply = Reply.json(whole)
        return reply.after(fault.after) if fault.after else reply

    @staticmethod
    def _error(message: str, status: int, openai: bool) -> Reply:
        if openai:
            return Reply.json(_openai_error(message, status), status)
        return Reply.error(message, status)

    def _stream(self, model: str, body: dict[str, Any], openai: bool) -> Reply:
        fault = self.fault
        if openai:
            events = self.openai_events(model, body)
            if fault.error is not None:
                return Reply.sse([*events[:-1], _openai_error(fault.error, 500)], delay=fault.delay)
            if fault.cut:
                return Reply.sse(events[:-1], delay=fault.delay, complete=False)
            return Reply.sse(events, delay=fault.delay, done=True)
        records = self.native_records(model, body)
        if fault.error is not None:
            return Reply.ndjson([*records[:-1], {"error": fault.error}], delay=fault.delay)
        if fault.cut:
            return Reply.ndjson(records[:-1], delay=fault.delay, complete=False)
        return Reply.ndjson(records, delay=fault.delay)

    # Each kind fills in the shapes it has; the last record or event is the final one.
    def native_records(self, model: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def native_whole(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def openai_events(self, model: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def openai_whole(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError


def _openai_tool_calls(calls: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    converted = []
    for index, call in enumerate(calls):
        function = call.get("function", {})
        converted.append(
            {
                "id": call.get("id") or f"call_{index}",
                "index": index,
                "type": "function",
                "function": {
                    "name": function.get("name", ""),
                    "arguments": json.dumps(function.get("arguments", {})),
                },
            }
        )
    return converted


def _envelope(kind: str, model: str, choices: list[dict[str, Any]]) -> dict[str, Any]:
    prefix = "chatcmpl" if kind.startswith("chat") else "cmpl"
    return {
        "id": f"{prefix}-{int(time.time() * 1000) % 1000}",
        "object": kind,
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": _FINGERPRINT,
        "choices": choices,
    }


def _openai_stream(
    kind: str, model: str, choices: list[dict[str, Any]], body: dict[str, Any], tokens: int
) -> list[dict[str, Any]]:
    """One event per choice, then the usage event when the request asked for it."""
    events = [_envelope(kind, model, [choice]) for choice in choices]
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append({**_envelope(kind, model, []), "usage": _usage(tokens)})
    return events


def _openai_whole(kind: str, model: str, choice: dict[str, Any], tokens: int) -> dict[str, Any]:
    return {**_envelope(kind, model, [choice]), "usage": _usage(tokens)}


@dataclass
class ChatAnswer(_Answer):
    content: list[str] = field(default_factory=list)
    thinking: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    done_reason: str = "stop"

    def _finish_reason(self) -> str:
        return "tool_calls" if self.tool_calls else self.done_reason

    def native_records(self, model: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        return chat_stream(
            self.content,
            model=model,
            thinking=self.thinking,
            tool_calls=self.tool_calls,
            done_reason=self.done_reason,
        )

    def native_whole(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self.content)}
        if self.thinking:
            message["thinking"] = "".join(self.thinking)
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        return {
            "model": model,
            "created_at": timestamp(),
            "message": message,
            "done": True,
            "done_reason": self.done_reason,
            **_metrics(len(self.content)),
        }

    def openai_events(self, model: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        deltas: list[dict[str, Any]] = [{"reasoning": piece} for piece in self.thinking]
        deltas += [{"content": piece} for piece in self.content]
        if self.tool_calls:
            deltas.append({"content": "", "tool_calls": _openai_tool_calls(self.tool_calls)})
        deltas = deltas or [{"content": ""}]
        deltas[0] = {"role": "assistant", **deltas[0]}
        choices: list[dict[str, Any]] = [
            {"index": 0, "delta": delta, "finish_reason": None} for delta in deltas
        ]
        choices.append({"index": 0, "delta": {}, "finish_reason": self._finish_reason()})
        return _openai_stream("chat.completion.chunk", model, choices, body, len(self.content))

    def openai_whole(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self.content)}
        if self.thinking:
            message["reasoning"] = "".join(self.thinking)
        if self.tool_calls:
            message["tool_calls"] = _openai_tool_calls(self.tool_calls)
        choice = {"index": 0, "message": message, "finish_reason": self._finish_reason()}
        return _openai_whole("chat.completion", model, choice, len(self.content))


@dataclass
class GenerateAnswer(_Answer):
    response: list[str] = field(default_factory=list)
    thinking: list[str] = field(default_factory=list)
    done_reason: str = "stop"

    def native_records(self, model: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        records = generate_stream(self.response, model=model, done_reason=self.done_reason)
        thoughts = [
            {"model": model, "created_at": timestamp(), "response": "", "thinking": piece,
             "done": False}
            for piece in self.thinking
        ]  # fmt: skip
        return thoughts + records

    def native_whole(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        final = dict(self.native_records(model, body)[-1])
        final["response"] = "".join(self.response)
        if self.thinking:
            final["thinking"] = "".join(self.thinking)
        return final

    def openai_events(self, model: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        choices: list[dict[str, Any]] = [
            {"text": piece, "index": 0, "finish_reason": None} for piece in self.response
        ]
        choices.append({"text": "", "index": 0, "finish_reason": self.done_reason})
        return _openai_stream("text_completion", model, choices, body, len(self.response))

    def openai_whole(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        choice = {"text": "".join(self.response), "index": 0, "finish_reason": self.done_reason}
        return _openai_whole("text_completion", model, choice, len(self.response))


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item if isinstance(item, str) else json.dumps(item) for item in value]
    return []


@dataclass
class EmbedAnswer(_Answer):
    """Given ``vectors`` are returned as they are; otherwise each input text gets
    :func:`fake_embedding` of ``dimensions`` (or the request's ``dimensions``)."""

    vectors: list[list[float]] | None = None
    dimensions: int = 8
    streams: bool = False

    def _vectors(self, texts: list[str], body: dict[str, Any]) -> list[list[float]]:
        if self.vectors is not None:
            return self.vectors
        size = body.get("dimensions")
        size = size if isinstance(size, int) and size > 0 else self.dimensions
        return [fake_embedding(text, size) for text in texts]

    def native_whole(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        if "input" not in body:  # the legacy /api/embeddings: one "prompt", one "embedding"
            vectors = self._vectors(_texts(body.get("prompt", "")), body)
            return {"embedding": vectors[0] if vectors else []}
        texts = _texts(body.get("input", ""))
        return {
            "model": model,
            "embeddings": self._vectors(texts, body),
            "total_duration": 14_143_917,
            "load_duration": 1_019_500,
            "prompt_eval_count": 8 * len(texts),
        }

    def openai_whole(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        texts = _texts(body.get("input", ""))
        data = []
        for index, vector in enumerate(self._vectors(texts, body)):
            embedding: list[float] | str = vector
            if str(body.get("encoding_format", "")).lower() == "base64":
                packed = struct.pack(f"<{len(vector)}f", *vector)
                embedding = base64.b64encode(packed).decode()
            data.append({"object": "embedding", "embedding": embedding, "index": index})
        tokens = 8 * len(texts)
        return {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }


@dataclass
class PullAnswer(_Answer):
    """Ollama's progress records for one model layer of ``total`` bytes. An ``error`` comes
    right after ``pulling manifest``, where Ollama reports a model it cannot find."""

    total: int = 1000

    def native_records(self, model: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        if self.fault.error is not None:
            return [{"status": "pulling manifest"}, {"status": "success"}]
        digest = "sha256:" + hashlib.sha256(model.encode()).hexdigest()
        label = f"pulling {digest[7:19]}"
        layer = [
            {"status": label, "digest": digest, "total": self.total, "completed": done}
            for done in (0, self.total // 2, self.total)
        ]
        return [
            {"status": "pulling manifest"},
            *layer,
            {"status": "verifying sha256 digest"},
            {"status": "writing manifest"},
            {"status": "success"},
        ]

    def native_whole(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"status": "success"}
