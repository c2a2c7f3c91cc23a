"""Request body decoding with Go's error messages.

Ollama decodes bodies with Go's ``encoding/json`` into typed structs, so a wrong type answers
400 ``json: cannot unmarshal string into Go struct field GenerateRequest.prompt of type
string``. Clients and tests match on those strings; this module reproduces them from a
per-request field table instead of mirroring Go structs.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import math
from typing import Any

import msgspec

from ..names import ModelName
from .gofmt import json_char, type_name
from .wire import FOREVER_NS, DurationError, parse_duration

__all__ = [
    "BadRequest",
    "check_body",
    "check_registry_name",
    "number_field",
    "optional_string",
    "type_mismatch",
    "CHAT",
    "COPY",
    "CREATE",
    "DELETE",
    "EMBED",
    "EMBEDDINGS",
    "GENERATE",
    "PULL",
    "PUSH",
    "SHOW",
    "decode_body",
    "decode_json",
    "decode_request",
    "json_kind",
    "keep_alive_ns",
    "think_value",
]

# The request structs: field -> Go type. Unknown fields are ignored, as in Go.
GENERATE = (
    "GenerateRequest",
    {
        "model": "string",
        "prompt": "string",
        "suffix": "string",
        "system": "string",
        "template": "string",
        "context": "[]int",
        "stream": "bool",
        "raw": "bool",
        "format": "json",
        "keep_alive": "duration",
        "images": "[]string",
        "options": "options",
        "think": "think",
        "truncate": "bool",
        "shift": "bool",
        "logprobs": "bool",
        "top_logprobs": "int",
        "_debug_render_only": "bool",
    },
)
CHAT = (
    "ChatRequest",
    {
        "model": "string",
        "messages": "[]api.Message",
        "stream": "bool",
        "format": "json",
        "keep_alive": "duration",
        "tools": "[]api.Tool",
        "options": "options",
        "think": "think",
        "truncate": "bool",
        "shift": "bool",
        "logprobs": "bool",
        "top_logprobs": "int",
        "_debug_render_only": "bool",
    },
)
EMBED = (
    "EmbedRequest",
    {
        "model": "string",
        "input": "json",
        "truncate": "bool",
        "dimensions": "int",
        "keep_alive": "duration",
        "options": "options",
    },
)
EMBEDDINGS = (
    "EmbeddingRequest",
    {"model": "string", "prompt": "string", "keep_alive": "duration", "options": "options"},
)
SHOW = (
    "ShowRequest",
    {
        "model": "string",
        "name": "string",
        "system": "string",
        "template": "string",
        "verbose": "bool",
        "options": "options",
    },
)
CREATE = (
    "CreateRequest",
    {
        "model": "string",
        "name": "string",
        "from": "string",
        "files": "map[string]string",
        "adapters": "map[string]string",
        "draft_files": "map[string]string",
        "template": "string",
        "system": "string",
        "license": "json",
        "parameters": "map",
        "messages": "[]api.Message",
        "stream": "bool",
        "quantize": "string",
        "quantization": "string",
        "renderer": "string",
        "parser": "string",
        "requires": "string",
        "remote_host": "string",
        "info": "map",
    },
)
COPY = ("CopyRequest", {"source": "string", "destination": "string"})
DELETE = ("DeleteRequest", {"model": "string", "name": "string"})
PULL = (
    "PullRequest",
    {
        "model": "string",
        "name": "string",
        "insecure": "bool",
        "stream": "bool",
        "username": "string",
        "password": "string",
    },
)
PUSH = ("PushRequest", PULL[1])

_MESSAGE_FIELDS = {
    "role": "string",
    "content": "string",
    "thinking": "string",
    "images": "[]string",
    "tool_calls": "[]api.ToolCall",
    "tool_name": "string",
    "tool_call_id": "string",
}

_THINK_LEVELS = ("high", "medium", "low", "max")


class BadRequest(Exception):
    """A request the server rejects; ``status`` is the HTTP status (400 unless told)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def type_mismatch(value: Any, where: str, go_type: str) -> BadRequest:
    """Go's ``json: cannot unmarshal ...`` error for a field of the wrong JSON type."""
    kind = json_kind(value)
    if kind == "number" and go_type in ("int", "[]int"):
        kind = f"number {value}"
    return BadRequest(
        f"json: cannot unmarshal {kind} into Go struct field {where} of type {go_type}"
    )


def number_field(body: dict[str, Any], key: str, struct_name: str, go_type: str) -> float | None:
    """``body[key]`` as a float, None when absent or null, else Go's type error for
    ``struct_name.key``."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise type_mismatch(value, f"{struct_name}.{key}", go_type)
    return float(value)


def optional_string(fields: dict[str, Any], key: str, where: str) -> str:
    """``fields[key]`` as a string, ``""`` when absent or null, else Go's type error for
    ``where.key``."""
    value = fields.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise type_mismatch(value, f"{where}.{key}", "string")
    return value


_GO_INT_MIN, _GO_INT_MAX = -(1 << 63), (1 << 63) - 1


def _check(value: Any, go_type: str, where: str) -> Any:
    """Check one field; returns the value to keep (``None`` for JSON null)."""
    if value is None:
        return None
    if go_type == "json":
        return value
    if go_type == "string":
        if not isinstance(value, str):
            raise type_mismatch(value, where, "string")
    elif go_type == "bool":
        if not isinstance(value, bool):
            raise type_mismatch(value, where, "bool")
    elif go_type == "int":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise type_mismatch(value, where, "int")
        if isinstance(value, float):
            if not value.is_integer():
                raise type_mismatch(value, where, "int")
            value = int(value)
        if not _GO_INT_MIN <= value <= _GO_INT_MAX:  # Go's int is 64 bits: out of range
            raise type_mismatch(value, where, "int")
    elif go_type == "[]int":
        if not isinstance(value, list):
            raise type_mismatch(value, where, "[]int")
        value = [_check(item, "int", where) for item in value]
    elif go_type == "[]string":
        if not isinstance(value, list):
            raise type_mismatch(value, where, "[]string")
        for item in value:
            if not isinstance(item, str):
                raise type_mismatch(item, where, "string")
    elif go_type in ("map", "options"):
        if not isinstance(value, dict):
            raise type_mismatch(value, where, "map[string]interface {}")
        if go_type == "options" and None in value.values():
            # Ollama's Options.FromMap skips null values: clients that send every option
            # (langchain, llama-index) send most of them as null.
            value = {key: item for key, item in value.items() if item is not None}
    elif go_type == "map[string]string":
        if not isinstance(value, dict):
            raise type_mismatch(value, where, "map[string]string")
        for item in value.values():
            if item is not None and not isinstance(item, str):
                raise type_mismatch(item, where, "string")
    elif go_type == "[]api.Message":
        if not isinstance(value, list):
            raise type_mismatch(value, where, "[]api.Message")
        value = [_check_message(item, where) for item in value]
    elif go_type in ("[]api.Tool", "[]api.ToolCall"):
        if not isinstance(value, list):
            raise type_mismatch(value, where, go_type)
        element = go_type[2:]
        for item in value:
            if item is not None and not isinstance(item, dict):
                raise type_mismatch(item, where, element)
    return value


def _check_message(value: Any, where: str) -> dict[str, Any]:
    """Check one message in place (a chat may hold millions: no copy unless a field is null)."""
    if not isinstance(value, dict):
        raise type_mismatch(value, where, "api.Message")
    for key, item in value.items():
        go_type = _MESSAGE_FIELDS.get(key)
        if (
            go_type is not None
            and item is not None
            and not (go_type == "string" and type(item) is str)
        ):
            _check(item, go_type, f"{where}.{key}")
    message: dict[str, Any] = value
    if None in message.values():
        message = {
            key: item
            for key, item in message.items()
            if item is not None or key not in _MESSAGE_FIELDS
        }
    role = message.get("role")
    if isinstance(role, str) and role.lower() != role:
        message["role"] = role.lower()
    return message


_GO_SYNTAX = (
    ("Extra data", "after top-level value"),
    ("Expecting property name", "looking for beginning of object key string"),
    ("Expecting ':'", "after object key"),
    ("Expecting ',' delimiter", "after object key:value pair"),
)


class _NotGoNumber(ValueError):
    """A token Python's json accepts and Go's rejects (NaN, Infinity, 1e999)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def _reject_constant(text: str) -> Any:
    raise _NotGoNumber(text)


def _reject_overflow(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotGoNumber(text)
    return value


def _decode_error(raw: bytes) -> BadRequest:
    """Go's message for malformed JSON (computed only on the error path)."""
    text = raw.decode("utf-8", errors="replace")
    try:
        json.loads(text, parse_constant=_reject_constant, parse_float=_reject_overflow)
    except RecursionError:
        return BadRequest("exceeded max depth")
    except _NotGoNumber as exc:
        if exc.text.startswith("-I"):
            return BadRequest("invalid character 'I' in numeric literal")
        if exc.text[0] in "NI":
            return BadRequest(f"invalid character '{exc.text[0]}' looking for beginning of value")
        return BadRequest(f"json: cannot unmarshal number {exc.text} into Go value of type float64")
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
            return BadRequest("unexpected EOF")
        char = text[exc.pos]
        if exc.msg.startswith("Invalid control character"):
            return BadRequest(f"invalid character {json_char(char)} in string literal")
        if exc.msg.startswith("Invalid \\escape"):
            char = text[exc.pos + 1 : exc.pos + 2]
            return BadRequest(f"invalid character {json_char(char)} in string escape code")
        for prefix, where in _GO_SYNTAX:
            if exc.msg.startswith(prefix):
                return BadRequest(f"invalid character '{char}' {where}")
        return BadRequest(f"invalid character '{char}' looking for beginning of value")
    return BadRequest("unexpected EOF")


def _replace_each_invalid_byte(error: UnicodeError) -> tuple[str, int]:
    # Go's decoder turns every byte of an invalid sequence into its own U+FFFD; Python's
    # "replace" handler would merge a truncated multi-byte sequence into one.
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return "\ufffd" * (error.end - error.start), error.end


codecs.register_error("ollamakit-go-replace", _replace_each_invalid_byte)


# A large body's big arrays are decoded this many items at a time (see _decode_piecewise).
_PIECEWISE_BYTES = 1 << 20
_BATCH_ITEMS = 4096


def _decode_piecewise(raw: bytes) -> dict[str, Any] | None:
    """A large JSON object decoded so that no single call holds the interpreter long.

    msgspec decodes a whole document in one call, during which no other thread runs: for a
    64 MiB chat of two million messages that stops the event loop for a second or more. Here
    the top level is split into raw fields first (a fast scan), and each large array into
    raw items decoded a few thousand at a time, so other threads run in between. None when
    the body is not a well-formed object: the caller then decodes it whole, errors included.
    """
    try:
        fields = msgspec.json.decode(raw, type=dict[str, msgspec.Raw])
        body: dict[str, Any] = {}
        for key, value in fields.items():
            if len(value) < _PIECEWISE_BYTES or memoryview(value)[:1].tobytes() != b"[":
                body[key] = msgspec.json.decode(value)
                continue
            items = msgspec.json.decode(value, type=list[msgspec.Raw])
            decoded: list[Any] = []
            for start in range(0, len(items), _BATCH_ITEMS):
                batch = b",".join(items[start : start + _BATCH_ITEMS])
                decoded += msgspec.json.decode(b"[" + batch + b"]")
            body[key] = decoded
        return body
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None


def decode_json(raw: bytes) -> Any:
    """JSON as Go's ``encoding/json`` reads it, whatever msgspec version is installed.

    Invalid UTF-8 inside strings becomes U+FFFD instead of an error. msgspec reported it as
    ``UnicodeDecodeError`` up to 0.22 and as ``DecodeError`` since 0.23, so the repair does not
    depend on the exception: any failure on bytes that are not valid UTF-8 retries once on the
    repaired text, and the fast path (valid input) pays nothing.
    """
    if len(raw) > _PIECEWISE_BYTES and raw.lstrip()[:1] == b"{":
        body = _decode_piecewise(raw)
        if body is not None:
            return body
    try:
        return msgspec.json.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        pass
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raw = raw.decode("utf-8", errors="ollamakit-go-replace").encode()
        try:
            return msgspec.json.decode(raw)
        except (msgspec.DecodeError, RecursionError):
            pass
    raise _decode_error(raw) from None


#: Bodies up to this size are decoded on the event loop (well under a millisecond); larger
#: ones in a worker thread, so a 64 MiB chat does not hold up every other request.
INLINE_BODY_BYTES = 64 << 10


async def decode_request(raw: bytes, spec: tuple[str, dict[str, str]]) -> dict[str, Any]:
    """:func:`decode_body`, in a worker thread when ``raw`` is large."""
    if len(raw) <= INLINE_BODY_BYTES:
        return decode_body(raw, spec)
    return await asyncio.to_thread(decode_body, raw, spec)


def decode_body(raw: bytes, spec: tuple[str, dict[str, str]]) -> dict[str, Any]:
    """Decode and type-check a request body; raises :class:`BadRequest`."""
    struct = spec[0]
    if not raw.strip():
        raise BadRequest("missing request body")
    data = decode_json(raw)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadRequest(
            f"json: cannot unmarshal {json_kind(data)} into Go value of type api.{struct}"
        )
    return check_body(data, spec)


def check_body(data: dict[str, Any], spec: tuple[str, dict[str, str]]) -> dict[str, Any]:
    """Type-check a decoded body (or one another API was translated into): the fields of
    ``spec`` only, JSON nulls dropped; raises :class:`BadRequest`."""
    struct, fields = spec
    body: dict[str, Any] = {}
    for key, value in data.items():
        go_type = fields.get(key)
        if go_type is None:
            continue
        checked = _check(value, go_type, f"{struct}.{key}")
        if checked is not None:
            body[key] = checked
    return body


def check_registry_name(name: ModelName) -> None:
    """A name used to reach a registry: its host may carry a port, which must be a number
    (``a:../ns/m`` is a valid name, but no registry can be at ``a:..``)."""
    host, _, port = name.host.partition(":")
    if port and not (port.isdigit() and port.isascii() and int(port) <= 65535 and host):
        raise BadRequest("invalid model name")


def keep_alive_ns(value: Any) -> int | None:
    """``keep_alive`` as Ollama reads it: seconds (number) or a Go duration; negative means
    forever (returned as -1). None when absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BadRequest(f"Unsupported type: '{type_name(value, decoded_json=True)}'")
    if isinstance(value, str):
        try:
            nanoseconds = parse_duration(value)
        except DurationError as exc:
            raise BadRequest(str(exc)) from None
    elif value < 0 or value * 1_000_000_000 >= FOREVER_NS:
        # Beyond Go's largest duration (~292 years) a keep-alive is "forever", which also
        # keeps expiry dates representable.
        nanoseconds = -1
    else:
        nanoseconds = int(value * 1_000_000_000)
    return -1 if nanoseconds < 0 else nanoseconds


def env_keep_alive_ns(text: str) -> int:
    """``OLLAMA_KEEP_ALIVE``: a Go duration or bare integer seconds."""
    text = text.strip().strip("\"'")
    if not text:
        return 5 * 60 * 1_000_000_000
    try:
        seconds = int(text)
    except ValueError:
        nanoseconds = parse_duration(text)
    else:
        nanoseconds = seconds * 1_000_000_000
    return -1 if nanoseconds < 0 else nanoseconds


def think_value(value: Any) -> bool | str | None:
    """``think``: a bool or one of the levels; None when absent."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in _THINK_LEVELS:
        return value
    raise BadRequest('think must be a boolean or string ("high", "medium", "low", true, or false)')
