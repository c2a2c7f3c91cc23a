"""OpenAI-compatible routes (``/v1/...``) over the native handlers.

As in Ollama's ``middleware/openai.go``, each OpenAI request is translated into a native
``/api/chat``, ``/api/generate`` or ``/api/embed`` body and handed to the native handler, so
validation, scheduling, sampling, grammars, tool-call parsing and cancellation are the native
ones. Only the answer is rewritten: JSON bodies into OpenAI objects, and NDJSON streams into
server-sent events. A streamed native response is run unchanged with its ``send`` wrapped, so
it still notices a client that goes away and cancels the generation as the native routes do.

Errors have OpenAI's shape, ``{"error": {"message", "type", "param": null, "code": null}}``,
with the native status: 400 ``invalid_request_error``, 404 ``not_found_error``, anything else
``api_error``. An error after the stream has started is a final ``data: {"error": ...}`` event,
which the ``openai`` client raises as an ``APIError``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import random
import struct
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from ..names import ModelName
from .engine import OptionError, PromptTooLongError
from .scheduler import QueueFullError
from .validate import BadRequest, decode_body, type_mismatch
from .wire import json_bytes

if TYPE_CHECKING:
    from .app import OllamaServer

__all__ = ["openai_routes"]

log = logging.getLogger("ollamakit.server")

JSON_TYPE = "application/json; charset=utf-8"
SSE_TYPE = "text/event-stream"
FINGERPRINT = "fp_ollama"

# Field tables for ``decode_body`` (Go's type names, for its error messages). Fields checked
# here beyond what it knows are "json" and validated below.
CHAT_REQUEST = (
    "ChatCompletionRequest",
    {
        "model": "string",
        "messages": "json",
        "stream": "bool",
        "stream_options": "json",
        "max_tokens": "int",
        "max_completion_tokens": "int",
        "seed": "int",
        "stop": "json",
        "temperature": "json",
        "frequency_penalty": "json",
        "presence_penalty": "json",
        "top_p": "json",
        "response_format": "json",
        "tools": "[]api.Tool",
        "reasoning": "json",
        "reasoning_effort": "string",
        "logprobs": "bool",
        "top_logprobs": "int",
        "_debug_render_only": "bool",
    },
)
COMPLETION_REQUEST = (
    "CompletionRequest",
    {
        "model": "string",
        "prompt": "string",
        "frequency_penalty": "json",
        "max_tokens": "int",
        "presence_penalty": "json",
        "seed": "int",
        "stop": "json",
        "stream": "bool",
        "stream_options": "json",
        "temperature": "json",
        "top_p": "json",
        "suffix": "string",
        "logprobs": "int",
        "_debug_render_only": "bool",
    },
)
EMBED_REQUEST = (
    "EmbedRequest",
    {"model": "string", "input": "json", "dimensions": "int", "encoding_format": "string"},
)

# reasoning_effort -> native ``think``.
_EFFORTS: dict[str, bool | str] = {
    "none": False,
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "max": "max",
    "xhigh": "max",
    "ultra": "max",
}
_IMAGE_PREFIXES = tuple(f"data:image/{kind};base64," for kind in ("jpeg", "jpg", "png", "webp"))


# -- errors -------------------------------------------------------------------------------


def _error_type(status: int) -> str:
    if status == 400:
        return "invalid_request_error"
    if status == 404:
        return "not_found_error"
    return "api_error"


def error_body(message: str, status: int) -> dict[str, Any]:
    return {"error": {"message": message, "type": _error_type(status), "param": None, "code": None}}


def _json(value: Any, status: int = 200) -> Response:
    return Response(json_bytes(value), status_code=status, media_type=JSON_TYPE)


def _error(message: str, status: int) -> Response:
    return _json(error_body(message, status), status)


def _event(value: Any) -> bytes:
    return b"data: " + json_bytes(value) + b"\n\n"


DONE_EVENT = b"data: [DONE]\n\n"


def _go_type_name(value: Any) -> str:
    """Go's ``%T`` of a decoded JSON value."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    return "map[string]interface {}"


# -- request decoding ---------------------------------------------------------------------


async def _decode(request: Request, spec: tuple[str, dict[str, str]]) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        raise BadRequest("EOF")  # gin's ShouldBindJSON on an empty body
    try:
        return decode_body(raw, spec)
    except BadRequest as exc:
        # The OpenAI request structs live in Go's ``openai`` package, not ``api``.
        raise BadRequest(exc.message.replace("type api.", "type openai."), exc.status) from None


def _number(body: dict[str, Any], key: str, struct_name: str, go_type: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise type_mismatch(value, f"{struct_name}.{key}", go_type)
    return float(value)


def _stops(value: Any, *, strict: bool) -> list[str] | None:
    """``stop``: a string or a list of strings. Ollama's chat route drops non-string items
    silently while its completions route rejects them; both are kept."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        return None
    stops = []
    for item in value:
        if isinstance(item, str):
            stops.append(item)
        elif strict:
            raise BadRequest(f"invalid type for 'stop' field: {_go_type_name(item)}")
    return stops


def _include_usage(body: dict[str, Any], struct_name: str) -> bool:
    options = body.get("stream_options")
    if options is None:
        return False
    if not isinstance(options, dict):
        raise type_mismatch(options, f"{struct_name}.stream_options", "openai.StreamOptions")
    include = options.get("include_usage")
    if include is not None and not isinstance(include, bool):
        raise type_mismatch(include, f"{struct_name}.stream_options.include_usage", "bool")
    return bool(include)


def _sampling_options(
    body: dict[str, Any], struct_name: str, float_type: str, *, strict_stop: bool
) -> dict[str, Any]:
    """The shared sampling fields as native ``options``, with OpenAI's defaults of 1.0 for
    temperature and top_p (Ollama's own defaults are lower)."""
    options: dict[str, Any] = {}
    stops = _stops(body.get("stop"), strict=strict_stop)
    if stops is not None:
        options["stop"] = stops
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
    if max_tokens is not None:
        options["num_predict"] = max_tokens
    temperature = _number(body, "temperature", struct_name, float_type)
    options["temperature"] = 1.0 if temperature is None else temperature
    if body.get("seed") is not None:
        options["seed"] = body["seed"]
    for key in ("frequency_penalty", "presence_penalty"):
        value = _number(body, key, struct_name, float_type)
        if value is not None:
            options[key] = value
    top_p = _number(body, "top_p", struct_name, float_type)
    options["top_p"] = 1.0 if top_p is None else top_p
    return options


def _image_data(url: str) -> str:
    """The base64 payload of a ``data:`` URL, checked to decode."""
    if url.startswith(("http://", "https://")):
        raise BadRequest(
            "image URLs are not currently supported, please use base64 encoded data instead"
        )
    if url.startswith("data:;base64,"):
        data = url[len("data:;base64,") :]
    else:
        prefix = next((p for p in _IMAGE_PREFIXES if url.startswith(p)), None)
        if prefix is None:
            raise BadRequest("invalid image input")
        data = url[len(prefix) :]
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("invalid image input") from None
    return data


def _native_tool_calls(calls: Any) -> list[dict[str, Any]]:
    if not isinstance(calls, list):
        raise type_mismatch(calls, "ChatCompletionRequest.messages.tool_calls", "[]openai.ToolCall")
    out = []
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            raise BadRequest("invalid tool call arguments")
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError:
                raise BadRequest("invalid tool call arguments") from None
        if arguments is not None and not isinstance(arguments, dict):
            raise BadRequest("invalid tool call arguments")
        native: dict[str, Any] = {
            "function": {"name": function.get("name") or "", "arguments": arguments or {}}
        }
        if isinstance(call, dict) and call.get("id"):
            native["id"] = call["id"]
        out.append(native)
    return out


def _tool_name_for(messages: list[Any], call_id: str) -> str:
    # Backwards, so that a repeated call id resolves to its latest use.
    for message in reversed(messages):
        calls = message.get("tool_calls") if isinstance(message, dict) else None
        for call in calls if isinstance(calls, list) else []:
            if isinstance(call, dict) and call.get("id") == call_id:
                function = call.get("function")
                if isinstance(function, dict) and isinstance(function.get("name"), str):
                    return str(function["name"])
    return ""


def native_messages(messages: Any) -> list[dict[str, Any]]:
    """OpenAI messages -> native ones. Content parts become one native message each (text or
    image), as in Ollama; the template merges consecutive turns of one role."""
    where = "ChatCompletionRequest.messages"
    if not isinstance(messages, list):
        raise type_mismatch(messages, where, "[]openai.Message")
    out: list[dict[str, Any]] = []
    for message in messages:
        if not isinstance(message, dict):
            raise type_mismatch(message, where, "openai.Message")
        for key in ("role", "reasoning", "name", "tool_call_id"):
            value = message.get(key)
            if value is not None and not isinstance(value, str):
                raise type_mismatch(value, f"{where}.{key}", "string")
        role = str(message.get("role") or "")
        extra: dict[str, Any] = {}
        if role.lower() == "tool":
            tool_name = message.get("name") or ""
            if not tool_name and message.get("tool_call_id"):
                tool_name = _tool_name_for(messages, message["tool_call_id"])
            if tool_name:
                extra["tool_name"] = tool_name
        if message.get("tool_call_id"):
            extra["tool_call_id"] = message["tool_call_id"]
        if message.get("reasoning"):
            extra["thinking"] = message["reasoning"]
        calls = message.get("tool_calls")
        if calls is not None:
            extra["tool_calls"] = _native_tool_calls(calls)
        content = message.get("content")
        if isinstance(content, str):
            out.append({"role": role, "content": content, **extra})
        elif isinstance(content, list):
            parts = [_native_part(role, part) for part in content]
            if parts:
                parts[-1].update(extra)  # calls and the like go with the last part
            out.extend(parts)
        elif calls is not None:
            out.append({"role": role, "content": "", **extra})
        else:
            raise BadRequest(f"invalid message content type: {_go_type_name(content)}")
    return out


def _native_part(role: str, part: Any) -> dict[str, Any]:
    if not isinstance(part, dict):
        raise BadRequest("invalid message format")
    kind = part.get("type")
    if kind == "text":
        text = part.get("text")
        if not isinstance(text, str):
            raise BadRequest("invalid message format")
        return {"role": role, "content": text}
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        if not isinstance(url, str):
            raise BadRequest("invalid message format")
        return {"role": role, "content": "", "images": [_image_data(url)]}
    raise BadRequest("invalid message format")


def _response_format(value: Any) -> Any:
    """``response_format`` -> native ``format`` (None when unset or ``text``)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise type_mismatch(value, "ChatCompletionRequest.response_format", "openai.ResponseFormat")
    kind = value.get("type")
    if not isinstance(kind, str):
        return None
    kind = kind.strip().lower()
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        schema = value.get("json_schema")
        if isinstance(schema, dict):
            return schema.get("schema")
    return None


def _think(body: dict[str, Any]) -> bool | str | None:
    reasoning = body.get("reasoning")
    if reasoning is not None and not isinstance(reasoning, dict):
        raise type_mismatch(reasoning, "ChatCompletionRequest.reasoning", "openai.Reasoning")
    if reasoning is not None:
        effort = reasoning.get("effort") or ""
    else:
        effort = body.get("reasoning_effort") or ""
    if not effort:
        return None
    if not isinstance(effort, str) or effort not in _EFFORTS:
        allowed = ", ".join(f'"{name}"' for name in list(_EFFORTS)[:-1])
        raise BadRequest(
            f"invalid reasoning value: '{effort}' (must be {allowed}, or \"{list(_EFFORTS)[-1]}\")"
        )
    return _EFFORTS[effort]


def native_chat_body(body: dict[str, Any]) -> dict[str, Any]:
    """A decoded ``/v1/chat/completions`` body -> the ``/api/chat`` body."""
    messages = body.get("messages")
    if not messages:
        raise BadRequest("[] is too short - 'messages'")
    struct_name = "ChatCompletionRequest"
    native: dict[str, Any] = {
        "model": body.get("model", ""),
        "messages": native_messages(messages),
        "stream": bool(body.get("stream")),
        "options": _sampling_options(body, struct_name, "float64", strict_stop=False),
    }
    fmt = _response_format(body.get("response_format"))
    if fmt is not None:
        native["format"] = fmt
    if body.get("tools"):
        native["tools"] = body["tools"]
    think = _think(body)
    if think is not None:
        native["think"] = think
    if body.get("logprobs"):
        native["logprobs"] = True
    if body.get("top_logprobs"):
        native["top_logprobs"] = body["top_logprobs"]
    if body.get("_debug_render_only"):
        native["_debug_render_only"] = True
    return native


def native_generate_body(body: dict[str, Any]) -> dict[str, Any]:
    """A decoded ``/v1/completions`` body -> the ``/api/generate`` body."""
    native: dict[str, Any] = {
        "model": body.get("model", ""),
        "prompt": body.get("prompt", ""),
        "stream": bool(body.get("stream")),
        "options": _sampling_options(body, "CompletionRequest", "float32", strict_stop=True),
    }
    if body.get("suffix"):
        native["suffix"] = body["suffix"]
    # Legacy ``logprobs: N`` asks for the sampled token's logprob plus N alternatives.
    logprobs = body.get("logprobs")
    if logprobs is not None and logprobs >= 0:
        native["logprobs"] = True
        native["top_logprobs"] = logprobs
    if body.get("_debug_render_only"):
        native["_debug_render_only"] = True
    return native


# -- response conversion ------------------------------------------------------------------


def openai_tool_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Native tool calls -> OpenAI's, whose arguments are a JSON string."""
    out = []
    for position, call in enumerate(calls):
        function = call.get("function") or {}
        out.append(
            {
                "index": function.get("index", position),
                "id": call.get("id", ""),
                "type": "function",
                "function": {
                    "name": function.get("name", ""),
                    "arguments": json_bytes(function.get("arguments") or {}).decode(),
                },
            }
        )
    return out


def _usage(native: dict[str, Any]) -> dict[str, int]:
    prompt = int(native.get("prompt_eval_count") or 0)
    completion = int(native.get("eval_count") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _finish_reason(native: dict[str, Any], tool_calls: bool) -> str | None:
    if tool_calls:
        return "tool_calls"
    reason = native.get("done_reason")
    return str(reason) if reason else None


def chat_completion(native: dict[str, Any], completion_id: str, created: int) -> dict[str, Any]:
    """The final native ``/api/chat`` object -> a ``chat.completion``."""
    source = native.get("message") or {}
    message: dict[str, Any] = {"role": "assistant", "content": source.get("content", "")}
    if source.get("thinking"):
        message["reasoning"] = source["thinking"]
    calls = openai_tool_calls(source.get("tool_calls") or [])
    if calls:
        message["tool_calls"] = calls
    choice: dict[str, Any] = {
        "index": 0,
        "message": message,
        "finish_reason": _finish_reason(native, bool(calls)),
    }
    if native.get("logprobs"):
        choice["logprobs"] = {"content": native["logprobs"]}
    out: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": native.get("model", ""),
        "system_fingerprint": FINGERPRINT,
        "choices": [choice],
        "usage": _usage(native),
    }
    if "_debug_info" in native:
        out["_debug_info"] = native["_debug_info"]
    return out


def completion_logprobs(items: list[dict[str, Any]], offset: int = 0) -> dict[str, Any]:
    """Native logprob records -> the legacy completions ``logprobs`` object; ``offset`` is
    where the first token starts in the whole completion text."""
    tokens: list[str] = []
    token_logprobs: list[float] = []
    top: list[dict[str, float]] = []
    offsets: list[int] = []
    for item in items:
        token = str(item.get("token", ""))
        tokens.append(token)
        token_logprobs.append(float(item.get("logprob", 0.0)))
        top.append(
            {
                str(alt.get("token", "")): float(alt["logprob"])
                for alt in item.get("top_logprobs", [])
            }
        )
        offsets.append(offset)
        offset += len(token)
    return {
        "tokens": tokens,
        "token_logprobs": token_logprobs,
        "top_logprobs": top,
        "text_offset": offsets,
    }


def text_completion(native: dict[str, Any], completion_id: str, created: int) -> dict[str, Any]:
    """The final native ``/api/generate`` object -> a ``text_completion``."""
    choice: dict[str, Any] = {
        "text": native.get("response", ""),
        "index": 0,
        "finish_reason": _finish_reason(native, False),
    }
    if native.get("logprobs"):
        choice["logprobs"] = completion_logprobs(native["logprobs"])
    out: dict[str, Any] = {
        "id": completion_id,
        "object": "text_completion",
        "created": created,
        "model": native.get("model", ""),
        "system_fingerprint": FINGERPRINT,
        "choices": [choice],
        "usage": _usage(native),
    }
    if "_debug_info" in native:
        out["_debug_info"] = native["_debug_info"]
    return out


class ChatStream:
    """Native ``/api/chat`` stream objects -> ``chat.completion.chunk`` events.

    The role goes in the first delta only; thinking and content of one native object become
    separate chunks; the finish reason comes in a chunk of its own with an empty delta,
    followed by the usage chunk (``choices: []``) when asked for, and ``[DONE]``."""

    def __init__(self, completion_id: str, created: int, model: str, include_usage: bool) -> None:
        self.id = completion_id
        self.created = created
        self.model = model
        self.include_usage = include_usage
        self.started = False
        self.tool_calls_sent = False

    def _chunk(
        self,
        delta: dict[str, Any],
        finish: str | None = None,
        logprobs: list[dict[str, Any]] | None = None,
    ) -> bytes:
        choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
        if logprobs:
            choice["logprobs"] = {"content": logprobs}
        return _event(self._envelope([choice]))

    def _envelope(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": FINGERPRINT,
            "choices": choices,
        }

    def _delta(self, delta: dict[str, Any], logprobs: list[dict[str, Any]] | None) -> bytes:
        if not self.started:
            self.started = True
            delta = {"role": "assistant", **delta}
        return self._chunk(delta, None, logprobs)

    def convert(self, native: dict[str, Any]) -> list[bytes]:
        if "error" in native:
            return [_event(error_body(str(native["error"]), 500))]
        message = native.get("message") or {}
        thinking = message.get("thinking") or ""
        content = message.get("content") or ""
        calls = openai_tool_calls(message.get("tool_calls") or [])
        logprobs = native.get("logprobs") or None
        rest = bool(content or calls)
        out = []
        if thinking:
            out.append(self._delta({"reasoning": thinking}, None if rest else logprobs))
        if rest or (logprobs and not thinking):
            delta: dict[str, Any] = {"content": content}
            if calls:
                delta["tool_calls"] = calls
                self.tool_calls_sent = True
            out.append(self._delta(delta, logprobs))
        if not native.get("done"):
            return out
        if not self.started:
            out.append(self._delta({"content": ""}, None))
        out.append(self._chunk({}, _finish_reason(native, self.tool_calls_sent)))
        if self.include_usage:
            usage = self._envelope([])
            usage["usage"] = _usage(native)
            out.append(_event(usage))
        out.append(DONE_EVENT)
        return out


class CompletionStream:
    """Native ``/api/generate`` stream objects -> ``text_completion`` events, ending with a
    finish chunk, the optional usage chunk and ``[DONE]``."""

    def __init__(self, completion_id: str, created: int, model: str, include_usage: bool) -> None:
        self.id = completion_id
        self.created = created
        self.model = model
        self.include_usage = include_usage
        self.offset = 0

    def _envelope(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "text_completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": FINGERPRINT,
            "choices": choices,
        }

    def convert(self, native: dict[str, Any]) -> list[bytes]:
        if "error" in native:
            return [_event(error_body(str(native["error"]), 500))]
        text = native.get("response") or ""
        items = native.get("logprobs") or None
        out = []
        if text or items:
            choice: dict[str, Any] = {"text": text, "index": 0, "finish_reason": None}
            if items:
                choice["logprobs"] = completion_logprobs(items, self.offset)
            self.offset += len(text)
            out.append(_event(self._envelope([choice])))
        if not native.get("done"):
            return out
        finish = {"text": "", "index": 0, "finish_reason": _finish_reason(native, False)}
        out.append(_event(self._envelope([finish])))
        if self.include_usage:
            usage = self._envelope([])
            usage["usage"] = _usage(native)
            out.append(_event(usage))
        out.append(DONE_EVENT)
        return out


class SSEFromNDJSON(Response):
    """Runs a native NDJSON response as server-sent events by rewriting what it sends."""

    def __init__(
        self, native: StreamingResponse, convert: Callable[[dict[str, Any]], list[bytes]]
    ) -> None:
        # Only for code that inspects responses: the native response sends the real head.
        super().__init__(status_code=native.status_code, media_type=SSE_TYPE)
        self.native = native
        self.convert = convert
        native.headers["content-type"] = SSE_TYPE
        native.headers["cache-control"] = "no-cache"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pending = b""

        async def rewrite(message: Message) -> None:
            nonlocal pending
            if message["type"] != "http.response.body":
                await send(message)
                return
            pending += message.get("body", b"")
            *lines, pending = pending.split(b"\n")
            events = [
                event
                for line in lines
                if line.strip()
                for event in self.convert(msgspec.json.decode(line))
            ]
            more = bool(message.get("more_body", False))
            if events or not more:
                await send(
                    {"type": "http.response.body", "body": b"".join(events), "more_body": more}
                )

        await self.native(scope, receive, rewrite)


# -- routes -------------------------------------------------------------------------------


def _with_body(request: Request, body: bytes) -> Request:
    """``request`` with ``body`` in place of its own, which has been read already. Later
    receives go to the client's connection, so the native handler still sees a disconnect."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await request.receive()

    return Request(request.scope, receive)


def _native_json(response: Response) -> dict[str, Any]:
    value = msgspec.json.decode(response.body)
    return value if isinstance(value, dict) else {}


def _native_error(response: Response) -> Response:
    """A native ``{"error": ...}`` answer in OpenAI's shape, keeping its status."""
    try:
        message = str(_native_json(response).get("error", ""))
    except msgspec.DecodeError:
        message = bytes(response.body).decode(errors="replace")
    return _error(message, response.status_code)


def _completion_id(prefix: str) -> str:
    return f"{prefix}-{random.randrange(999)}"  # Ollama's ids: not unique, and not meant to be


class OpenAICompat:
    """The ``/v1`` handlers, each a translation around a native handler of ``server``."""

    def __init__(self, server: OllamaServer) -> None:
        self.server = server

    async def _generate(
        self,
        request: Request,
        native_body: dict[str, Any],
        handler: Callable[[Request], Awaitable[Response]],
        finish: Callable[[dict[str, Any], str, int], dict[str, Any]],
        stream_type: type[ChatStream] | type[CompletionStream],
        prefix: str,
        include_usage: bool,
    ) -> Response:
        completion_id = _completion_id(prefix)
        created = int(time.time())
        response = await handler(_with_body(request, json_bytes(native_body)))
        if isinstance(response, StreamingResponse):
            stream = stream_type(completion_id, created, native_body["model"], include_usage)
            return SSEFromNDJSON(response, stream.convert)
        if response.status_code != 200:
            return _native_error(response)
        # Also the answer to ``_debug_render_only``, which never streams.
        return _json(finish(_native_json(response), completion_id, created))

    async def chat_completions(self, request: Request) -> Response:
        body = await _decode(request, CHAT_REQUEST)
        native = native_chat_body(body)
        return await self._generate(
            request,
            native,
            self.server.chat,
            chat_completion,
            ChatStream,
            "chatcmpl",
            _include_usage(body, "ChatCompletionRequest"),
        )

    async def completions(self, request: Request) -> Response:
        body = await _decode(request, COMPLETION_REQUEST)
        native = native_generate_body(body)
        return await self._generate(
            request,
            native,
            self.server.generate,
            text_completion,
            CompletionStream,
            "cmpl",
            _include_usage(body, "CompletionRequest"),
        )

    async def embeddings(self, request: Request) -> Response:
        body = await _decode(request, EMBED_REQUEST)
        encoding = body.get("encoding_format") or ""
        if encoding and encoding.lower() not in ("float", "base64"):
            raise BadRequest(
                f"Invalid value for 'encoding_format' = {encoding}. "
                "Supported values: ['float', 'base64']."
            )
        value = body.get("input")
        if value == "":
            value = [""]
        if value is None or value == []:
            raise BadRequest("invalid input")
        model = body.get("model", "")
        native: dict[str, Any] = {"model": model, "input": value}
        if body.get("dimensions"):
            native["dimensions"] = body["dimensions"]
        response = await self.server.embed(_with_body(request, json_bytes(native)))
        if response.status_code != 200:
            return _native_error(response)
        result = _native_json(response)
        data = []
        for index, vector in enumerate(result.get("embeddings") or []):
            embedding: list[float] | str = vector
            if encoding.lower() == "base64":
                packed = struct.pack(f"<{len(vector)}f", *vector)
                embedding = base64.b64encode(packed).decode()
            data.append({"object": "embedding", "embedding": embedding, "index": index})
        tokens = int(result.get("prompt_eval_count") or 0)
        return _json(
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def list_models(self, request: Request) -> Response:
        entries = await asyncio.to_thread(self.server.store.entries)
        data = [
            {
                "id": entry.name.display_shortest(),
                "object": "model",
                "created": entry.modified_ns // 1_000_000_000,
                "owned_by": entry.name.namespace,
            }
            for entry in entries
        ]
        return _json({"object": "list", "data": data})

    async def retrieve_model(self, request: Request) -> Response:
        text = request.path_params["model"]
        model = await self.server._find(text, empty_status=400, empty_message="model is required")
        return _json(
            {
                "id": text,
                "object": "model",
                "created": model.modified_ns // 1_000_000_000,
                "owned_by": ModelName.parse(text).namespace,
            }
        )


def _endpoint(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except BadRequest as exc:
            return _error(exc.message, exc.status)
        except PromptTooLongError as exc:
            return _error(str(exc), 400)
        except QueueFullError as exc:
            return _error(str(exc), 503)
        except OptionError as exc:
            return _error(str(exc), 500)
        except ClientDisconnect:
            return _error("request canceled", 499)
        except Exception as exc:
            log.error("%s %s failed:\n%s", request.method, request.url.path, traceback.format_exc())
            return _error(str(exc) or type(exc).__name__, 500)

    return endpoint


def openai_routes(server: OllamaServer) -> list[Route]:
    """The ``/v1`` routes for ``server``."""
    compat = OpenAICompat(server)
    return [
        Route("/v1/chat/completions", _endpoint(compat.chat_completions), methods=["POST"]),
        Route("/v1/completions", _endpoint(compat.completions), methods=["POST"]),
        Route("/v1/embeddings", _endpoint(compat.embeddings), methods=["POST"]),
        Route("/v1/models", _endpoint(compat.list_models), methods=["GET"]),
        Route("/v1/models/{model:path}", _endpoint(compat.retrieve_model), methods=["GET"]),
    ]
