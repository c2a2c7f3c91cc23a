"""OpenAI Responses requests (``POST /v1/responses``) -> the native ``/api/chat`` body.

Stateless, as in Ollama's ``openai/responses.go``: the whole conversation comes in ``input``
(a string, or message, ``function_call``, ``function_call_output`` and ``reasoning`` items);
``previous_response_id``, ``conversation``, ``store``, ``include`` and the other fields
Ollama does not read are ignored. ``instructions`` becomes a leading system message,
``max_output_tokens`` ``num_predict``, ``reasoning.effort`` ``think`` and ``text.format``
the native ``format``. A body may come zstd-compressed, as Ollama accepts on this route.

Beyond Ollama, which ignores them: ``tool_choice`` ``"none"`` offers no tools and a named
function offers only that one; ``text.format`` ``json_object`` asks for JSON as
``response_format`` does on chat completions; a tool result is sent with the name of the
call it answers (``tool_name``), as chat completions does; the built-in ``web_search`` tool,
which Ollama runs through ollama.com, is not offered to the model.

Pure translation: no I/O, so every case is testable without a server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import zstandard

from ..validate import (
    BadRequest,
    decode_json,
    json_kind,
    number_field,
    optional_string,
    type_mismatch,
)
from ..wire import go_value
from .openai import image_data, think_for_effort

__all__ = ["RESPONSES_REQUEST", "ResponsesEcho", "ResponsesRequest", "zstd_decompressed"]

# Field table for ``decode_body``; "json" fields are checked here, with Go's messages.
RESPONSES_REQUEST = (
    "ResponsesRequest",
    {
        "model": "string",
        "background": "bool",
        "conversation": "json",
        "include": "[]string",
        "input": "json",
        "instructions": "string",
        "max_output_tokens": "int",
        "reasoning": "json",
        "temperature": "json",
        "text": "json",
        "top_p": "json",
        "truncation": "string",
        "tools": "json",
        "tool_choice": "json",
        "stream": "bool",
    },
)

_BUILT_IN_SEARCH = "web_search"

# Ollama's bounds for a zstd-compressed body: the decoder's memory, and the decoded size.
ZSTD_WINDOW = 8 << 20
ZSTD_MAX_BODY = 20 << 20


def zstd_decompressed(raw: bytes) -> bytes:
    """A ``Content-Encoding: zstd`` body, which Ollama accepts on this route only, decoded
    within Ollama's bounds; raises :class:`BadRequest`."""
    try:
        frame = zstandard.get_frame_parameters(raw)
        if frame.window_size > ZSTD_WINDOW or frame.content_size > ZSTD_MAX_BODY:
            raise BadRequest("http: request body too large")
        reader = zstandard.ZstdDecompressor(max_window_size=ZSTD_WINDOW).stream_reader(raw)
        pieces, size = [], 0
        while piece := reader.read(1 << 20):
            size += len(piece)
            if size > ZSTD_MAX_BODY:
                raise BadRequest("http: request body too large")
            pieces.append(piece)
    except zstandard.ZstdError:
        raise BadRequest("failed to decompress zstd body") from None
    return b"".join(pieces)


def _value_mismatch(value: Any, go_type: str, where: str = "") -> BadRequest:
    """Go's error for a value (not a struct field) of the wrong JSON type."""
    return BadRequest(
        f"{where}json: cannot unmarshal {json_kind(value)} into Go value of type {go_type}"
    )


def _object(value: Any, where: str, go_type: str) -> dict[str, Any]:
    """``value`` as a JSON object ({} for null), or Go's type error."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise type_mismatch(value, where, go_type)
    return value


# -- input items --------------------------------------------------------------------------


class _Input:
    """``input`` items -> native messages, in one pass (a million items must not cost a
    million intermediate objects).

    Ollama decodes every item before it converts any, so a malformed item anywhere is
    reported before a conversion failure (a file input, a bad image, unparsable call
    arguments) in an earlier one: the first of those is kept in ``problem`` and raised at the
    end."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.thinking = ""  # a reasoning item's text waits for the next assistant turn
        self.names: dict[str, str] = {}  # call id -> function name, for tool results
        self.problem: str | None = None

    def fail(self, message: str) -> None:
        if self.problem is None:
            self.problem = message

    def content(self, value: Any, name: str, where: str) -> tuple[str, list[str]]:
        """A message's ``content`` (or a tool result's ``output``): a string or content
        items, as text and images."""
        if value is None:
            return "", []
        if isinstance(value, str):
            return value, []
        if not isinstance(value, list):
            raise _value_mismatch(
                value, "[]json.RawMessage", f"{where}{name} must be a string or array: "
            )
        text, images = "", []
        for index, part in enumerate(value):
            label = f"{where}{name}[{index}]: "
            if not isinstance(part, dict):
                raise _value_mismatch(part, "openai.ResponsesContent", label)
            kind = optional_string(part, "type", "ResponsesContent")
            if kind in ("input_text", "output_text"):
                text += optional_string(part, "text", "ResponsesTextContent")
            elif kind == "input_image":
                url = optional_string(part, "image_url", "ResponsesImageContent")
                optional_string(part, "detail", "ResponsesImageContent")
                if url:  # a file_id alone is not supported, and skipped as in Ollama
                    try:
                        images.append(image_data(url))
                    except BadRequest as exc:
                        self.fail(exc.message)
            elif kind == "input_file":
                self.fail("file inputs are not currently supported")
            else:
                raise BadRequest(f"{label}unknown content type: {kind}")
        return text, images

    def function_call(self, raw: dict[str, Any]) -> dict[str, Any]:
        """A ``function_call`` item as a native tool call."""
        struct = "ResponsesFunctionCall"
        text = optional_string(raw, "arguments", struct)
        call_id = optional_string(raw, "call_id", struct)
        name = optional_string(raw, "name", struct)
        arguments: Any = {}
        if text:
            prefix = "failed to parse function call arguments: "
            try:
                arguments = decode_json(text.encode())
            except BadRequest as exc:
                self.fail(prefix + exc.message)
            if arguments is None:
                arguments = {}
            if not isinstance(arguments, dict):
                self.fail(
                    _value_mismatch(arguments, "api.ToolCallFunctionArguments", prefix).message
                )
                arguments = {}
        if call_id:
            self.names[call_id] = name
        return {"id": call_id, "function": {"name": name, "arguments": arguments}}

    def message(self, raw: dict[str, Any], where: str, following: Any) -> None:
        role = optional_string(raw, "role", "ResponsesInputMessage")
        text, images = self.content(raw.get("content"), "content", where)
        message: dict[str, Any] = {"role": role, "content": text}
        if images:
            message["images"] = images
        if role == "assistant" and self.thinking:
            message["thinking"], self.thinking = self.thinking, ""
        answered = _output_call_id(following)
        if role == "assistant" and answered and self._merge_into_call(message, answered):
            return
        self.messages.append(message)

    def _merge_into_call(self, message: dict[str, Any], call_id: str) -> bool:
        """An assistant message replayed between a ``function_call`` and its output joins the
        assistant turn holding that call, so the result still follows the call (as Ollama
        does)."""
        last = self.messages[-1] if self.messages else None
        if last is None or last["role"] != "assistant":
            return False
        if not any(call.get("id") == call_id for call in last.get("tool_calls", [])):
            return False
        if last["content"] and message["content"]:
            last["content"] += "\n"
        last["content"] += message["content"]
        if message.get("images"):
            last["images"] = [*last.get("images", []), *message["images"]]
        if message.get("thinking"):
            last["thinking"] = message["thinking"]
        return True

    def call(self, raw: dict[str, Any]) -> None:
        call = self.function_call(raw)
        if self.messages and self.messages[-1]["role"] == "assistant":
            turn = self.messages[-1]
            turn["tool_calls"] = [*turn.get("tool_calls", []), call]
        else:
            turn = {"role": "assistant", "content": "", "tool_calls": [call]}
            self.messages.append(turn)
        if self.thinking:
            turn["thinking"], self.thinking = self.thinking, ""

    def result(self, raw: dict[str, Any], where: str) -> None:
        call_id = optional_string(raw, "call_id", "ResponsesFunctionCallOutput")
        text, images = self.content(raw.get("output"), "output", where)
        result: dict[str, Any] = {"role": "tool", "content": text, "tool_call_id": call_id}
        if images:
            result["images"] = images
        if self.names.get(call_id):
            result["tool_name"] = self.names[call_id]
        self.messages.append(result)

    def item(self, index: int, raw: Any, following: Any) -> None:
        where = f"input[{index}]: "
        if not isinstance(raw, dict):
            raise _value_mismatch(raw, "openai.ResponsesInputItem", where)
        kind = optional_string(raw, "type", "ResponsesInputItem")
        if not kind and optional_string(raw, "role", "ResponsesInputItem"):
            kind = "message"  # the {"role", "content"} shorthand
        if kind == "message":
            self.message(raw, where, following)
        elif kind == "function_call":
            self.call(raw)
        elif kind == "function_call_output":
            self.result(raw, where)
        elif kind == "reasoning":
            self.thinking = _reasoning_text(raw)
        elif kind == "web_search_call":
            pass  # history of a built-in search: the next message carries its result
        elif not kind:
            raise BadRequest(f"{where}input item missing required 'type' field")
        else:
            raise BadRequest(f"{where}unknown input item type: {go_value(kind, sharp=True)}")


def _output_call_id(raw: Any) -> str:
    """The call a ``function_call_output`` item answers ("" for any other item)."""
    if isinstance(raw, dict) and raw.get("type") == "function_call_output":
        call_id = raw.get("call_id")
        return call_id if isinstance(call_id, str) else ""
    return ""


def _reasoning_text(raw: dict[str, Any]) -> str:
    """A replayed ``reasoning`` item's text: Ollama puts the thinking in
    ``encrypted_content``; other servers' items may carry it in the summary only."""
    text = optional_string(raw, "encrypted_content", "ResponsesReasoningInput")
    if text:
        return text
    summary = raw.get("summary")
    parts = summary if isinstance(summary, list) else []
    return "".join(
        part["text"]
        for part in parts
        if isinstance(part, dict) and isinstance(part.get("text"), str)
    )


def input_messages(value: Any) -> list[dict[str, Any]]:
    """``input`` -> native messages, in Ollama's order and merging rules."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, list):
        raise _value_mismatch(value, "[]json.RawMessage", "input must be a string or array: ")
    state = _Input()
    last = len(value) - 1
    for index, raw in enumerate(value):
        state.item(index, raw, value[index + 1] if index < last else None)
    if state.problem is not None:
        raise BadRequest(state.problem)
    if state.thinking:
        state.messages.append({"role": "assistant", "content": "", "thinking": state.thinking})
    return state.messages


# -- tools, format, reasoning -------------------------------------------------------------

_TOOL = "ResponsesRequest.tools"


def _tool(raw: Any) -> dict[str, Any]:
    """A tool as the request gave it, type-checked, in the shape the response echoes."""
    if not isinstance(raw, dict):
        raise type_mismatch(raw, _TOOL, "openai.ResponsesTool")
    description, strict, parameters = (
        raw.get("description"),
        raw.get("strict"),
        raw.get("parameters"),
    )
    if description is not None:
        optional_string(raw, "description", _TOOL)
    if strict is not None and not isinstance(strict, bool):
        raise type_mismatch(strict, f"{_TOOL}.strict", "bool")
    if parameters is not None and not isinstance(parameters, dict):
        raise type_mismatch(parameters, f"{_TOOL}.parameters", "map[string]interface {}")
    tool: dict[str, Any] = {
        "type": optional_string(raw, "type", _TOOL),
        "name": optional_string(raw, "name", _TOOL),
        "description": description,
        "strict": strict,
        "parameters": parameters,
    }
    members = raw.get("tools")
    if members is not None:
        if not isinstance(members, list):
            raise type_mismatch(members, f"{_TOOL}.tools", "[]openai.ResponsesTool")
        if members:
            tool["tools"] = [_tool(member) for member in members]
    return tool


def _functions(tool: dict[str, Any]) -> list[dict[str, Any]]:
    """One declared tool as native tools: a ``namespace`` expands to its members, named
    ``namespace.member``, as in Ollama."""
    if tool["type"] != "namespace":
        function: dict[str, Any] = {"name": tool["name"], "description": tool["description"] or ""}
        if tool["parameters"] is not None:
            function["parameters"] = tool["parameters"]
        return [{"type": tool["type"], "function": function}]
    expanded = []
    prefix = tool["name"] + "."
    for member in tool.get("tools", []):
        for native in _functions(member):
            name = native["function"]["name"]
            if tool["name"] and not name.startswith(prefix):
                native["function"]["name"] = prefix + name
            expanded.append(native)
    return expanded


def _offered(tools: list[dict[str, Any]], choice: Any) -> list[dict[str, Any]]:
    """The native tools the model is offered under ``tool_choice``."""
    natives = [
        native for tool in tools if tool["type"] != _BUILT_IN_SEARCH for native in _functions(tool)
    ]
    if choice == "none":
        return []
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = choice.get("name")
        chosen = [native for native in natives if native["function"]["name"] == name]
        if not chosen:
            raise BadRequest(
                f"tool_choice names function {go_value(name, sharp=True)}, "
                "which is not among the tools"
            )
        return chosen
    return natives


def _tool_choice(value: Any) -> Any:
    if value is None:
        return "auto"
    if isinstance(value, str):
        if value not in ("auto", "none", "required"):
            raise BadRequest(
                f"invalid tool_choice: {go_value(value, sharp=True)} "
                '(must be "auto", "none", "required" or an object)'
            )
        return value
    if not isinstance(value, dict):
        raise type_mismatch(value, "ResponsesRequest.tool_choice", "openai.ToolChoice")
    optional_string(value, "type", "ResponsesRequest.tool_choice")
    optional_string(value, "name", "ResponsesRequest.tool_choice")
    return value


def _text_format(value: Any) -> dict[str, Any] | None:
    """``text.format`` type-checked, or None when absent."""
    text = _object(value, "ResponsesRequest.text", "openai.ResponsesText")
    where = "ResponsesRequest.text.format"
    raw = text.get("format")
    if raw is None:
        return None
    fmt = _object(raw, where, "openai.ResponsesTextFormat")
    checked: dict[str, Any] = {"type": optional_string(fmt, "type", where)}
    name = optional_string(fmt, "name", where)
    if name:
        checked["name"] = name
    if fmt.get("schema") is not None:
        checked["schema"] = fmt["schema"]
    strict = fmt.get("strict")
    if strict is not None:
        if not isinstance(strict, bool):
            raise type_mismatch(strict, f"{where}.strict", "bool")
        checked["strict"] = strict
    return checked


def _native_format(fmt: dict[str, Any] | None) -> Any:
    if fmt is None:
        return None
    if fmt["type"] == "json_schema":
        return fmt.get("schema")
    if fmt["type"] == "json_object":
        return "json"
    return None


def _reasoning(value: Any) -> dict[str, str]:
    where = "ResponsesRequest.reasoning"
    reasoning = _object(value, where, "openai.ResponsesReasoning")
    out = {}
    for key in ("effort", "summary", "generate_summary"):
        text = optional_string(reasoning, key, where)
        if text:
            out[key] = text
    if out.get("effort"):
        think_for_effort(out["effort"])  # checked now, with Ollama's message
    return out


# -- the request --------------------------------------------------------------------------


@dataclass
class ResponsesEcho:
    """What a response repeats of its request (OpenAI's response object does)."""

    instructions: str | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: Any = "auto"
    truncation: str = "disabled"
    text_format: dict[str, Any] | None = None
    top_p: float = 1.0
    temperature: float = 1.0
    reasoning: dict[str, str] = field(default_factory=dict)
    max_output_tokens: int | None = None
    background: bool = False


@dataclass
class ResponsesRequest:
    """A decoded ``/v1/responses`` body: the native chat body it asks for, and what the
    answer echoes."""

    native: dict[str, Any]
    echo: ResponsesEcho
    model: str
    stream: bool

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> ResponsesRequest:
        """From a body type-checked with :data:`RESPONSES_REQUEST`; raises
        :class:`BadRequest` with Ollama's messages."""
        struct = "ResponsesRequest"
        temperature = number_field(body, "temperature", struct, "float64")
        top_p = number_field(body, "top_p", struct, "float64")
        reasoning = _reasoning(body.get("reasoning"))
        fmt = _text_format(body.get("text"))
        raw_tools = body.get("tools")
        if raw_tools is not None and not isinstance(raw_tools, list):
            raise type_mismatch(raw_tools, _TOOL, "[]openai.ResponsesTool")
        tools = [_tool(raw) for raw in raw_tools or []]
        choice = _tool_choice(body.get("tool_choice"))
        instructions = body.get("instructions") or ""

        messages = [{"role": "system", "content": instructions}] if instructions else []
        messages += input_messages(body.get("input"))
        # OpenAI's default temperature is 1.0; top_p is left to the model, as Ollama does.
        options: dict[str, Any] = {"temperature": 1.0 if temperature is None else temperature}
        if top_p is not None:
            options["top_p"] = top_p
        if body.get("max_output_tokens") is not None:
            options["num_predict"] = body["max_output_tokens"]
        stream = bool(body.get("stream"))
        native: dict[str, Any] = {
            "model": body.get("model", ""),
            "messages": messages,
            "stream": stream,
            "options": options,
        }
        offered = _offered(tools, choice)
        if offered:
            native["tools"] = offered
        native_format = _native_format(fmt)
        if native_format is not None:
            native["format"] = native_format
        if reasoning.get("effort"):
            native["think"] = think_for_effort(reasoning["effort"])
        echo = ResponsesEcho(
            instructions=instructions or None,
            tools=tools,
            tool_choice=choice,
            truncation=body.get("truncation") or "disabled",
            text_format=fmt,
            top_p=1.0 if top_p is None else top_p,
            temperature=options["temperature"],
            reasoning=reasoning,
            max_output_tokens=body.get("max_output_tokens"),
            background=bool(body.get("background")),
        )
        return cls(native=native, echo=echo, model=native["model"], stream=stream)
