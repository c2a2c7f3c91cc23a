"""Anthropic's Messages API in and out of the pipeline, without I/O.

A ``/v1/messages`` body becomes the native ``/api/chat`` body, as Ollama's
``anthropic.FromMessagesRequest`` builds it: the system prompt first, each message's text,
images, ``tool_use`` and ``thinking`` blocks as one native message and its ``tool_result``
blocks as ``tool`` messages, ``max_tokens``/``temperature``/``top_p``/``top_k``/
``stop_sequences`` as options, tools as functions, ``thinking`` (or ``output_config.effort``)
as ``think``. The events come back as a ``message`` or as the server-sent events of a
streamed one, and failures as ``{"type": "error", "error": {"type", "message"}, "request_id"}``.

Beyond Ollama: a stop sequence that ended the answer is reported (``stop_reason:
"stop_sequence"`` with the ``stop_sequence``) where Ollama says ``end_turn``; a ``ping``
follows the first ``content_block_start``; ``message_start`` carries the real prompt length; a
``tool_result`` names its tool for templates that use ``.ToolName``; wrongly typed fields are
refused where Ollama drops them. Like Ollama, ``tool_choice`` is checked and ignored, and so
are ``metadata``, thinking's ``budget_tokens`` and unknown block types.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import Any

from ..service.errors import message_for, status_for
from ..service.events import Delta, Done, Event, Failed
from ..validate import BadRequest, number_field, optional_string, type_mismatch
from ..wire import json_bytes

__all__ = [
    "COUNT_TOKENS_REQUEST",
    "MESSAGES_REQUEST",
    "MessageStream",
    "anthropic_error",
    "message_id",
    "message_response",
    "native_chat_body",
    "stop_reason",
]

# Field tables for ``decode_request`` (the Go types of Ollama's ``anthropic.MessagesRequest``);
# "json" fields are checked below.
_COMMON_FIELDS = {
    "model": "string",
    "messages": "json",
    "system": "json",
    "tools": "json",
    "tool_choice": "json",
    "thinking": "json",
    "output_config": "json",
}
MESSAGES_REQUEST = (
    "MessagesRequest",
    {
        **_COMMON_FIELDS,
        "max_tokens": "int",
        "stream": "bool",
        "temperature": "json",
        "top_p": "json",
        "top_k": "int",
        "stop_sequences": "[]string",
        "metadata": "json",
    },
)
COUNT_TOKENS_REQUEST = ("CountTokensRequest", _COMMON_FIELDS)

_EFFORTS = ("high", "medium", "low", "max")
# Tools Anthropic runs on its side. Other typed tools (bash_*, text_editor_*, computer_*) are
# run by the client, so, as in Ollama, they are functions like custom tools.
_SERVER_TOOLS = ("web_search_", "web_fetch_", "code_execution_", "tool_search_tool_")
_TOOL_CHOICES = ("auto", "any", "tool", "none")

# Anthropic's error type for each status (Ollama's ``anthropic.NewError``).
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}


def anthropic_error(message: str, status: int) -> dict[str, Any]:
    """Anthropic's error body; like Ollama's ``anthropic.NewError``, with a fresh request id
    (Anthropic's SDKs show it in their exceptions)."""
    kind = _ERROR_TYPES.get(status, "api_error")
    return {
        "type": "error",
        "error": {"type": kind, "message": message},
        "request_id": "req_" + secrets.token_hex(12),
    }


def message_id() -> str:
    return "msg_" + secrets.token_hex(12)


# -- request ------------------------------------------------------------------------------


def _object(value: Any, where: str, go_type: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise type_mismatch(value, where, go_type)
    return value


def _system(value: Any) -> str:
    """``system``: a string, or text blocks joined as Ollama joins them (no separator)."""
    if value is None or isinstance(value, str):
        return value or ""
    if not isinstance(value, list):
        raise BadRequest("system: expected a string or an array of text blocks")
    parts = []
    for block in value:
        block = _object(block, "MessagesRequest.system", "anthropic.ContentBlock")
        if block.get("type") == "text":
            parts.append(optional_string(block, "text", "MessagesRequest.system"))
    return "".join(parts)


def _image(source: Any, where: str) -> str:
    """A base64 image source, checked to decode; the native message carries it as base64."""
    if not isinstance(source, dict):
        raise BadRequest("invalid image source")
    kind = optional_string(source, "type", f"{where}.source")
    if kind != "base64":
        raise BadRequest(f"invalid image source type: {kind}. Only base64 images are supported.")
    data = optional_string(source, "data", f"{where}.source")
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(f"invalid base64 image data: {exc}") from None
    return data


def _tool_result(block: dict[str, Any], where: str) -> dict[str, Any]:
    """A ``tool_result`` block -> a native ``tool`` message. Its content is a string or text
    and image blocks; Ollama reads anything else as empty."""
    content = block.get("content")
    text, images = "", []
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        parts = []
        for item in content:
            if not isinstance(item, dict):
                continue
            if item.get("type") == "text":
                parts.append(optional_string(item, "text", f"{where}.content"))
            elif item.get("type") == "image":
                images.append(_image(item.get("source"), f"{where}.content"))
        text = "".join(parts)
    message: dict[str, Any] = {"role": "tool", "content": text}
    if images:
        message["images"] = images
    call_id = optional_string(block, "tool_use_id", where)
    if call_id:
        message["tool_call_id"] = call_id
    return message


def _native_message(message: Any, tool_names: dict[str, str]) -> list[dict[str, Any]]:
    """One Anthropic message -> native messages (``convertMessage`` in Ollama)."""
    where = "MessagesRequest.messages"
    message = _object(message, where, "anthropic.MessageParam")
    role = optional_string(message, "role", where).lower()
    content = message.get("content")
    if isinstance(content, str):
        blocks: list[Any] = [{"type": "text", "text": content}]
    elif content is None:
        blocks = []
    elif isinstance(content, list):
        blocks = content
    else:
        raise type_mismatch(content, f"{where}.content", "[]anthropic.ContentBlock")
    where = f"{where}.content"
    text: list[str] = []
    images: list[str] = []
    calls: list[dict[str, Any]] = []
    thinking = ""
    results: list[dict[str, Any]] = []
    for block in blocks:
        block = _object(block, where, "anthropic.ContentBlock")
        kind = optional_string(block, "type", where)
        if kind == "text":
            text.append(optional_string(block, "text", where))
        elif kind == "image":
            images.append(_image(block.get("source"), where))
        elif kind == "tool_use":
            call_id, name = (
                optional_string(block, "id", where),
                optional_string(block, "name", where),
            )
            if not call_id:
                raise BadRequest("tool_use block missing required 'id' field")
            if not name:
                raise BadRequest("tool_use block missing required 'name' field")
            arguments = block.get("input")
            if arguments is not None and not isinstance(arguments, dict):
                raise type_mismatch(arguments, f"{where}.input", "api.ToolCallFunctionArguments")
            calls.append({"id": call_id, "function": {"name": name, "arguments": arguments or {}}})
            tool_names[call_id] = name
        elif kind == "tool_result":
            result = _tool_result(block, where)
            called = tool_names.get(result.get("tool_call_id", ""))
            if called:
                result["tool_name"] = called
            results.append(result)
        elif kind == "thinking":
            thinking = optional_string(block, "thinking", where)
    out: list[dict[str, Any]] = []
    if role == "user":
        out += results  # a user turn answers the calls before it says more
    joined = "".join(text)
    if joined or images or calls or thinking:
        native: dict[str, Any] = {"role": role, "content": joined}
        if images:
            native["images"] = images
        if calls:
            native["tool_calls"] = calls
        if thinking:
            native["thinking"] = thinking
        out.append(native)
    if role != "user":
        out += results
    return out


def _native_tools(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    where = "MessagesRequest.tools"
    if not isinstance(value, list):
        raise type_mismatch(value, where, "[]anthropic.Tool")
    tools = []
    for tool in value:
        tool = _object(tool, where, "anthropic.Tool")
        kind = optional_string(tool, "type", where)
        name = optional_string(tool, "name", where)
        if kind.startswith(_SERVER_TOOLS):
            # Ollama runs web_search_* through ollama.com; this server runs no server tools.
            raise BadRequest(f"tool {name or kind!r}: server tools ({kind}) are not supported")
        if not name:
            raise BadRequest("tools: every tool needs a name")
        schema = tool.get("input_schema")
        if schema is not None and not isinstance(schema, dict):
            raise BadRequest(
                f'invalid input_schema for tool "{name}": '
                + type_mismatch(schema, where, "api.ToolFunctionParameters").message
            )
        function: dict[str, Any] = {
            "name": name,
            "description": optional_string(tool, "description", where),
        }
        function["parameters"] = schema or {"type": "object", "properties": {}}
        tools.append({"type": "function", "function": function})
    return tools


def _check_tool_choice(value: Any) -> None:
    """Checked for its shape, then ignored, as in Ollama (the model decides)."""
    if value is None:
        return
    where = "MessagesRequest.tool_choice"
    choice = _object(value, where, "anthropic.ToolChoice")
    kind = optional_string(choice, "type", where)
    optional_string(choice, "name", where)
    if kind not in _TOOL_CHOICES:
        allowed = ", ".join(f'"{name}"' for name in _TOOL_CHOICES)
        raise BadRequest(f"tool_choice.type: expected one of {allowed}, got {kind!r}")
    if kind == "tool" and not choice.get("name"):
        raise BadRequest('tool_choice.name: required when tool_choice.type is "tool"')


def _think(body: dict[str, Any]) -> bool | str | None:
    """``thinking`` enabled/disabled, else ``output_config.effort`` as a level."""
    thinking = body.get("thinking")
    if thinking is not None:
        config = _object(thinking, "MessagesRequest.thinking", "anthropic.ThinkingConfig")
        kind = optional_string(config, "type", "MessagesRequest.thinking")
        budget = config.get("budget_tokens")
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int)):
            raise type_mismatch(budget, "MessagesRequest.thinking.budget_tokens", "int")
        if kind == "enabled":
            return True
        if kind == "disabled":
            return False
    output = body.get("output_config")
    if output is None:
        return None
    config = _object(output, "MessagesRequest.output_config", "anthropic.OutputConfig")
    effort = optional_string(config, "effort", "MessagesRequest.output_config").strip().lower()
    effort = "high" if effort == "xhigh" else effort
    return effort if effort in _EFFORTS else None


def native_chat_body(body: dict[str, Any], *, counting: bool = False) -> dict[str, Any]:
    """A decoded ``/v1/messages`` body (or ``count_tokens`` one, ``counting``) -> the
    ``/api/chat`` body; raises :class:`BadRequest` as Ollama's middleware does."""
    if not body.get("model"):
        raise BadRequest("model is required")
    if not counting and body.get("max_tokens", 0) <= 0:
        raise BadRequest("max_tokens is required and must be positive")
    raw_messages = body.get("messages")
    if not raw_messages:
        raise BadRequest("messages is required")
    if not isinstance(raw_messages, list):
        raise type_mismatch(raw_messages, "MessagesRequest.messages", "[]anthropic.MessageParam")
    messages: list[dict[str, Any]] = []
    system = _system(body.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    tool_names: dict[str, str] = {}
    for message in raw_messages:
        messages += _native_message(message, tool_names)
    if not messages:
        raise BadRequest("messages: every message is empty")
    _check_tool_choice(body.get("tool_choice"))
    native: dict[str, Any] = {
        "model": body["model"],
        "messages": messages,
        "stream": bool(body.get("stream")),
    }
    options: dict[str, Any] = {}
    if not counting:
        options["num_predict"] = body["max_tokens"]
        for key in ("temperature", "top_p"):
            value = number_field(body, key, "MessagesRequest", "float64")
            if value is not None:
                options[key] = value
        if body.get("top_k") is not None:
            options["top_k"] = body["top_k"]
        if body.get("stop_sequences"):
            options["stop"] = body["stop_sequences"]
        if body.get("metadata") is not None:
            _object(body["metadata"], "MessagesRequest.metadata", "anthropic.Metadata")
    native["options"] = options
    tools = _native_tools(body.get("tools"))
    if tools:
        native["tools"] = tools
    think = _think(body)
    if think is not None:
        native["think"] = think
    return native


# -- response -----------------------------------------------------------------------------


def stop_reason(done: Done, tool_use: bool) -> str | None:
    """Ollama's ``done_reason`` as Anthropic's ``stop_reason`` (None: the client left)."""
    if tool_use:
        return "tool_use"
    if done.reason == "length":
        return "max_tokens"
    if done.stop_sequence is not None:
        return "stop_sequence"
    return "end_turn" if done.reason else None


def _usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {"input_tokens": input_tokens, "output_tokens": output_tokens}


def _tool_use(call: dict[str, Any], *, empty: bool = False) -> dict[str, Any]:
    function = call.get("function") or {}
    return {
        "type": "tool_use",
        "id": call.get("id", ""),
        "name": function.get("name", ""),
        "input": {} if empty else function.get("arguments") or {},
    }


def _envelope(
    identifier: str, model: str, content: list[dict[str, Any]], usage: dict[str, int]
) -> dict[str, Any]:
    return {
        "id": identifier,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }


def message_response(delta: Delta, done: Done, identifier: str, model: str) -> dict[str, Any]:
    """A whole generation -> a ``message``: thinking, text, then tool calls."""
    content: list[dict[str, Any]] = []
    if delta.thinking:
        content.append({"type": "thinking", "thinking": delta.thinking, "signature": ""})
    if delta.content:
        content.append({"type": "text", "text": delta.content})
    content += [_tool_use(call) for call in delta.tool_calls]
    usage = _usage(done.prompt_eval_count, done.eval_count)
    message = _envelope(identifier, model, content, usage)
    message["stop_reason"] = stop_reason(done, bool(delta.tool_calls))
    message["stop_sequence"] = done.stop_sequence
    return message


def _sse(kind: str, value: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + json_bytes(value) + b"\n\n"


class MessageStream:
    """Events -> Anthropic's server-sent events: ``message_start``, then each run of thinking
    or text as one content block (``content_block_start``, its deltas, ``content_block_stop``)
    and each tool call as a block of its own with its whole input in one
    ``input_json_delta``, a ``ping`` after the first start (where Anthropic sends it); at the
    end ``message_delta`` (stop reason, stop sequence, usage) and ``message_stop``. A failure
    after the start is an ``error`` event."""

    def __init__(self, identifier: str, model: str, input_tokens: int) -> None:
        self.id = identifier
        self.model = model
        self.input_tokens = input_tokens
        self.started = False
        self.pinged = False
        self.index = 0
        self.open: str | None = None  # "thinking" or "text": the block taking deltas
        self.tool_use = False

    def _start(self) -> list[bytes]:
        if self.started:
            return []
        self.started = True
        message = _envelope(self.id, self.model, [], _usage(self.input_tokens, 0))
        return [_sse("message_start", {"type": "message_start", "message": message})]

    def _ping(self) -> list[bytes]:
        """One ``ping``, where Anthropic sends it: after the first block starts."""
        if self.pinged:
            return []
        self.pinged = True
        return [_sse("ping", {"type": "ping"})]

    def _close(self) -> list[bytes]:
        if self.open is None:
            return []
        self.open = None
        event = {"type": "content_block_stop", "index": self.index}
        self.index += 1
        return [_sse("content_block_stop", event)]

    def _block_start(self, block: dict[str, Any]) -> list[bytes]:
        event = {"type": "content_block_start", "index": self.index, "content_block": block}
        return [_sse("content_block_start", event), *self._ping()]

    def _delta(self, delta: dict[str, Any]) -> bytes:
        event = {"type": "content_block_delta", "index": self.index, "delta": delta}
        return _sse("content_block_delta", event)

    def _text(self, kind: str, text: str) -> list[bytes]:
        out = []
        if self.open != kind:
            out += self._close()
            self.open = kind
            block: dict[str, Any] = (
                {"type": "thinking", "thinking": "", "signature": ""}
                if kind == "thinking"
                else {"type": "text", "text": ""}
            )
            out += self._block_start(block)
        field = "thinking" if kind == "thinking" else "text"
        out.append(self._delta({"type": f"{field}_delta", field: text}))
        return out

    def convert(self, event: Event) -> list[bytes]:
        if isinstance(event, Failed):
            return self.error(message_for(event.error), status_for(event.error))
        out = self._start()
        if isinstance(event, Done):
            out += self._close() + self._ping()
            delta = {
                "stop_reason": stop_reason(event, self.tool_use),
                "stop_sequence": event.stop_sequence,
            }
            usage = _usage(event.prompt_eval_count, event.eval_count)
            out.append(
                _sse("message_delta", {"type": "message_delta", "delta": delta, "usage": usage})
            )
            out.append(_sse("message_stop", {"type": "message_stop"}))
            return out
        if event.thinking:
            out += self._text("thinking", event.thinking)
        if event.content:
            out += self._text("text", event.content)
        for call in event.tool_calls:
            out += self._close()
            self.tool_use = True
            out += self._block_start(_tool_use(call, empty=True))
            arguments = json_bytes(call.get("function", {}).get("arguments") or {}).decode()
            out.append(self._delta({"type": "input_json_delta", "partial_json": arguments}))
            out.append(
                _sse("content_block_stop", {"type": "content_block_stop", "index": self.index})
            )
            self.index += 1
        return out

    def error(self, message: str, status: int) -> list[bytes]:
        """The ``error`` event for a failure after the stream started."""
        return [*self._start(), _sse("error", anthropic_error(message, status))]
