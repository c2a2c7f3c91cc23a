"""OpenAI's API (``/v1/chat/completions``, ``/v1/completions``, ``/v1/embeddings``,
``/v1/models``): translation to and from the service.

As in Ollama's ``middleware/openai.go``, a request is translated into the native ``/api/chat``,
``/api/generate`` or ``/api/embed`` body, checked as the native one and planned by the same
service, so validation, scheduling, sampling, grammars, tool-call parsing and cancellation are
the native ones. The events come back as OpenAI objects, or as server-sent events ending in
``data: [DONE]``.

Errors have OpenAI's shape, ``{"error": {"message", "type", "param": null, "code": null}}``,
with the native status: 400 ``invalid_request_error``, 404 ``not_found_error``, anything else
``api_error``. An error after the stream has started is a final ``data: {"error": ...}`` event,
which the ``openai`` client raises as an ``APIError``.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import struct
import threading
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...names import ModelName
from ..gofmt import type_name
from ..service.errors import message_for
from ..service.events import Delta, Done, Event, Failed
from ..service.generation import GenerationPlan
from ..service.requests import ChatRequest, EmbedRequest, GenerateRequest
from ..service.server import Service
from ..validate import CHAT, EMBED, GENERATE, BadRequest, check_body, number_field, type_mismatch
from ..wire import go_value, json_bytes
from .http import (
    SSE_TYPE,
    StreamBody,
    collected,
    decode_foreign,
    endpoint,
    guarded,
    json_response,
    large_json_response,
    sse_events,
    started,
)

__all__ = ["openai_error", "openai_routes"]

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

# reasoning_effort (and the Responses API's reasoning.effort) -> native ``think``.
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


def openai_error(message: str, status: int) -> dict[str, Any]:
    return {"error": {"message": message, "type": _error_type(status), "param": None, "code": None}}


def sse(value: Any) -> bytes:
    return b"data: " + json_bytes(value) + b"\n\n"


DONE_EVENT = b"data: [DONE]\n\n"


# -- request decoding ---------------------------------------------------------------------


async def decode(request: Request, spec: tuple[str, dict[str, str]]) -> dict[str, Any]:
    """Decode a ``/v1`` body: Ollama's messages, with the ``openai`` package's type names."""
    return await decode_foreign(request, spec, "openai")


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
            raise BadRequest(f"invalid type for 'stop' field: {type_name(item, decoded_json=True)}")
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
    temperature = number_field(body, "temperature", struct_name, float_type)
    options["temperature"] = 1.0 if temperature is None else temperature
    if body.get("seed") is not None:
        options["seed"] = body["seed"]
    for key in ("frequency_penalty", "presence_penalty"):
        value = number_field(body, key, struct_name, float_type)
        if value is not None:
            options[key] = value
    top_p = number_field(body, "top_p", struct_name, float_type)
    options["top_p"] = 1.0 if top_p is None else top_p
    return options


def image_data(url: str) -> str:
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
            raise BadRequest(
                f"invalid message content type: {type_name(content, decoded_json=True)}"
            )
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
        return {"role": role, "content": "", "images": [image_data(url)]}
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
    if not isinstance(effort, str):
        raise type_mismatch(effort, "ChatCompletionRequest.reasoning.effort", "string")
    return think_for_effort(effort)


def think_for_effort(effort: str) -> bool | str:
    """A reasoning effort as the native ``think`` (Ollama's thinkFromReasoningEffort)."""
    if effort not in _EFFORTS:
        raise BadRequest(
            f"invalid reasoning value: {go_value(effort, sharp=True)} (must be "
            '"minimal", "low", "medium", "high", "xhigh", "ultra", "max", or "none")'
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


def _usage(done: Done) -> dict[str, int]:
    prompt, completion = done.prompt_eval_count, done.eval_count
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _finish_reason(done: Done, tool_calls: bool) -> str | None:
    if tool_calls:
        return "tool_calls"
    return done.reason or None


def chat_completion(
    delta: Delta, done: Done, completion_id: str, created: int, model: str
) -> dict[str, Any]:
    """A whole chat generation -> a ``chat.completion``."""
    message: dict[str, Any] = {"role": "assistant", "content": delta.content}
    if delta.thinking:
        message["reasoning"] = delta.thinking
    calls = openai_tool_calls(delta.tool_calls)
    if calls:
        message["tool_calls"] = calls
    choice: dict[str, Any] = {
        "index": 0,
        "message": message,
        "finish_reason": _finish_reason(done, bool(calls)),
    }
    if delta.logprobs:
        choice["logprobs"] = {"content": delta.logprobs}
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": FINGERPRINT,
        "choices": [choice],
        "usage": _usage(done),
    }


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


def text_completion(
    delta: Delta, done: Done, completion_id: str, created: int, model: str
) -> dict[str, Any]:
    """A whole generation -> a ``text_completion``."""
    choice: dict[str, Any] = {
        "text": delta.content,
        "index": 0,
        "finish_reason": _finish_reason(done, False),
    }
    if delta.logprobs:
        choice["logprobs"] = completion_logprobs(delta.logprobs)
    return {
        "id": completion_id,
        "object": "text_completion",
        "created": created,
        "model": model,
        "system_fingerprint": FINGERPRINT,
        "choices": [choice],
        "usage": _usage(done),
    }


def _stream_error(failed: Failed) -> bytes:
    return sse(openai_error(message_for(failed.error), 500))


class ChatStream:
    """Events -> ``chat.completion.chunk`` events.

    The role goes in the first delta only; thinking and content of one delta become separate
    chunks; the finish reason comes in a chunk of its own with an empty delta, followed by
    the usage chunk (``choices: []``) when asked for, and ``[DONE]``."""

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
        return sse(self._envelope([choice]))

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

    def convert(self, event: Event) -> list[bytes]:
        if isinstance(event, Failed):
            return [_stream_error(event)]
        if isinstance(event, Done):
            return self._finish(event)
        calls = openai_tool_calls(event.tool_calls)
        logprobs = event.logprobs or None
        rest = bool(event.content or calls)
        out = []
        if event.thinking:
            out.append(self._delta({"reasoning": event.thinking}, None if rest else logprobs))
        if rest or (logprobs and not event.thinking):
            delta: dict[str, Any] = {"content": event.content}
            if calls:
                delta["tool_calls"] = calls
                self.tool_calls_sent = True
            out.append(self._delta(delta, logprobs))
        return out

    def _finish(self, done: Done) -> list[bytes]:
        out = []
        if done.logprobs:
            out.append(self._delta({"content": ""}, done.logprobs))
        if not self.started:
            out.append(self._delta({"content": ""}, None))
        out.append(self._chunk({}, _finish_reason(done, self.tool_calls_sent)))
        if self.include_usage:
            usage = self._envelope([])
            usage["usage"] = _usage(done)
            out.append(sse(usage))
        out.append(DONE_EVENT)
        return out


class CompletionStream:
    """Events -> ``text_completion`` events, ending with a finish chunk, the optional usage
    chunk and ``[DONE]``."""

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

    def _text(self, text: str, items: list[dict[str, Any]] | None) -> list[bytes]:
        if not text and not items:
            return []
        choice: dict[str, Any] = {"text": text, "index": 0, "finish_reason": None}
        if items:
            choice["logprobs"] = completion_logprobs(items, self.offset)
        self.offset += len(text)
        return [sse(self._envelope([choice]))]

    def convert(self, event: Event) -> list[bytes]:
        if isinstance(event, Failed):
            return [_stream_error(event)]
        if isinstance(event, Delta):
            return self._text(event.content, event.logprobs)
        out = self._text("", event.logprobs)
        finish = {"text": "", "index": 0, "finish_reason": _finish_reason(event, False)}
        out.append(sse(self._envelope([finish])))
        if self.include_usage:
            usage = self._envelope([])
            usage["usage"] = _usage(event)
            out.append(sse(usage))
        out.append(DONE_EVENT)
        return out


# -- routes -------------------------------------------------------------------------------


def _completion_id(prefix: str) -> str:
    return f"{prefix}-{random.randrange(999)}"  # Ollama's ids: not unique, and not meant to be


class OpenAIAPI:
    """The ``/v1`` handlers: translation around the service."""

    def __init__(self, service: Service) -> None:
        self.service = service

    async def _answer(
        self,
        request: Request,
        plan: GenerationPlan,
        parsed: ChatRequest | GenerateRequest,
        include_usage: bool,
    ) -> Response:
        chat = isinstance(parsed, ChatRequest)
        completion_id = _completion_id("chatcmpl" if chat else "cmpl")
        created = int(time.time())
        whole = chat_completion if chat else text_completion
        if plan.prompt is None:
            # A request that only loads the model answers at once, even when streaming.
            done = await self.service.load_only(plan)
            return json_response(whole(Delta(), done, completion_id, created, parsed.model))
        if parsed.render_only:
            out = whole(Delta(), Done(""), completion_id, created, parsed.model)
            rendered = await guarded(request, self.service.render_only(plan), plan.cancel.set)
            out["_debug_info"] = {"rendered_template": rendered, "image_count": 0}
            return await large_json_response(out)
        generation = await self.service.generate(plan)
        if not parsed.stream:
            merged, done = await collected(request, generation)
            return json_response(whole(merged, done, completion_id, created, parsed.model))
        first, events = await started(request, generation)
        kind = ChatStream if chat else CompletionStream
        stream = kind(completion_id, created, parsed.model, include_usage)
        return StreamBody(sse_events(first, events, stream.convert), generation.cancel, SSE_TYPE)

    async def chat_completions(self, request: Request) -> Response:
        body = await decode(request, CHAT_REQUEST)
        parsed = ChatRequest.from_body(check_body(native_chat_body(body), CHAT))
        plan = await self.service.plan_chat(parsed)
        usage = _include_usage(body, "ChatCompletionRequest")
        return await self._answer(request, plan, parsed, usage)

    async def completions(self, request: Request) -> Response:
        body = await decode(request, COMPLETION_REQUEST)
        parsed = GenerateRequest.from_body(check_body(native_generate_body(body), GENERATE))
        plan = await self.service.plan_generate(parsed)
        usage = _include_usage(body, "CompletionRequest")
        return await self._answer(request, plan, parsed, usage)

    async def embeddings(self, request: Request) -> Response:
        body = await decode(request, EMBED_REQUEST)
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
        parsed = EmbedRequest.from_body(check_body(native, EMBED))
        cancel = threading.Event()
        result = await guarded(request, self.service.embed(parsed, cancel), cancel.set)
        data = []
        for index, vector in enumerate(result.vectors):
            embedding: list[float] | str = vector
            if encoding.lower() == "base64":
                packed = struct.pack(f"<{len(vector)}f", *vector)
                embedding = base64.b64encode(packed).decode()
            data.append({"object": "embedding", "embedding": embedding, "index": index})
        tokens = result.prompt_eval_count
        return json_response(
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def list_models(self, request: Request) -> Response:
        data = [
            {
                "id": entry.name.display_shortest(),
                "object": "model",
                "created": entry.modified_ns // 1_000_000_000,
                "owned_by": entry.name.namespace,
            }
            for entry in await self.service.catalog.entries()
        ]
        return json_response({"object": "list", "data": data})

    async def retrieve_model(self, request: Request) -> Response:
        text = request.path_params["model"]
        model = await self.service.catalog.find(
            text, empty_status=400, empty_message="model is required"
        )
        return json_response(
            {
                "id": text,
                "object": "model",
                "created": model.modified_ns // 1_000_000_000,
                "owned_by": ModelName.parse(text).namespace,
            }
        )


def openai_routes(service: Service) -> list[Route]:
    """The ``/v1`` routes of OpenAI's chat, completions, embeddings and models APIs."""
    api = OpenAIAPI(service)

    def route(path: str, handler: Any, methods: list[str]) -> Route:
        return Route(path, endpoint(handler, openai_error), methods=methods)

    return [
        route("/v1/chat/completions", api.chat_completions, ["POST"]),
        route("/v1/completions", api.completions, ["POST"]),
        route("/v1/embeddings", api.embeddings, ["POST"]),
        route("/v1/models", api.list_models, ["GET"]),
        route("/v1/models/{model:path}", api.retrieve_model, ["GET"]),
    ]
