"""Small wire-format helpers shared by the server modules: Go-compatible timestamps, number
formatting, JSON and durations.

Ollama is written in Go, and clients (and people diffing outputs) see Go's formatting: RFC 3339
timestamps with trimmed nanoseconds, ``%v`` numbers (``1`` not ``1.0``), ``encoding/json``'s
HTML-escaped output for stored JSON layers. The helpers here reproduce those where it shows,
with the quoting, JSON and float formatting of :mod:`.gofmt`.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec

from .gofmt import decoded_json, format_float, marshal, quote

__all__ = [
    "FOREVER_NS",
    "DurationError",
    "go_bool",
    "go_json",
    "go_value",
    "json_bytes",
    "parse_duration",
    "rfc3339",
    "rfc3339_utc_now",
]

#: Go's ``math.MaxInt64`` duration, used for a negative keep_alive ("forever").
FOREVER_NS = (1 << 63) - 1

_GO_FALSE = frozenset({"0", "f", "F", "false", "FALSE", "False"})
_GO_TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})


def go_bool(value: str) -> bool:
    """An environment flag as Ollama's ``envconfig.Bool`` reads it: quotes and spaces
    trimmed, empty means false, ``strconv.ParseBool`` syntax, anything unparsable true."""
    text = value.strip().strip("\"'")
    if not text:
        return False
    return text in _GO_TRUE or text not in _GO_FALSE


_ENCODER = msgspec.json.Encoder()


def json_bytes(value: Any) -> bytes:
    """Compact JSON for responses."""
    return _ENCODER.encode(value)


def go_json(value: Any) -> bytes:
    """``json.NewEncoder(w).Encode(v)`` of a decoded JSON value: numbers as the float64s Go
    decodes them into, sorted keys, HTML characters escaped, trailing newline. Used for stored
    layers so that a blob's digest does not depend on how the client spelled its numbers."""
    return marshal(decoded_json(value)).encode() + b"\n"


def go_value(value: Any, *, sharp: bool) -> str:
    """Go's ``%v`` (``sharp=False``) or ``%#v`` (``sharp=True``) of a decoded JSON scalar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, str):
        return quote(value) if sharp else value
    if value is None:
        return "<nil>"
    return str(value)


def rfc3339(ns: int, *, utc: bool = False) -> str:
    """RFC 3339 with nanoseconds, trailing zeros trimmed, as Go's ``time.RFC3339Nano``."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    if utc:
        moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    else:
        moment = datetime.fromtimestamp(seconds).astimezone()
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    offset = moment.utcoffset() or timedelta(0)
    if offset == timedelta(0):
        return text + "Z"
    total = int(offset.total_seconds())
    sign = "+" if total >= 0 else "-"
    hours, minutes = divmod(abs(total) // 60, 60)
    return f"{text}{sign}{hours:02d}:{minutes:02d}"


def rfc3339_far_future(now_ns: int, add_ns: int) -> str:
    """``now + add_ns`` formatted locally; saturates at year 9999 instead of overflowing."""
    try:
        return rfc3339(now_ns + add_ns)
    except (OverflowError, ValueError, OSError):
        limit = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
        return limit.strftime("%Y-%m-%dT%H:%M:%SZ")


_utc_second = -1
_utc_prefix = ""


def rfc3339_utc_now() -> str:
    """The current UTC time for ``created_at``; called once per streamed token, so the
    date part is formatted once per second."""
    global _utc_second, _utc_prefix
    seconds, nanos = divmod(time.time_ns(), 1_000_000_000)
    if seconds != _utc_second:
        moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
        _utc_prefix = moment.strftime("%Y-%m-%dT%H:%M:%S")
        _utc_second = seconds
    if nanos:
        return f"{_utc_prefix}.{nanos:09d}".rstrip("0") + "Z"
    return _utc_prefix + "Z"


class DurationError(ValueError):
    """A string that Go's ``time.ParseDuration`` would reject."""


_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_PART = re.compile(r"(\d*)(?:\.(\d*))?(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")


def parse_duration(text: str) -> int:
    """Go's ``time.ParseDuration``: ``"5m"``, ``"1h30m"``, ``"-1.5s"``, ``"0"`` -> nanoseconds."""
    original = text
    sign = 1
    if text[:1] in "+-" and text:
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if text == "0":
        return 0
    if not text:
        raise DurationError(f'time: invalid duration "{original}"')
    total = 0.0
    position = 0
    while position < len(text):
        match = _PART.match(text, position)
        if match is None or (not match.group(1) and not match.group(2)):
            if match is None and re.match(r"[\d.]+$", text[position:]):
                raise DurationError(f'time: missing unit in duration "{original}"')
            if match is None and re.match(r"[\d.]+", text[position:]):
                unit = re.sub(r"^[\d.]+", "", text[position:])
                raise DurationError(f'time: unknown unit "{unit}" in duration "{original}"')
            raise DurationError(f'time: invalid duration "{original}"')
        whole, fraction, unit = match.groups()
        number = float(f"{whole or '0'}.{fraction or '0'}")
        total += number * _UNITS_NS[unit]
        position = match.end()
    if total > FOREVER_NS:
        raise DurationError(f'time: invalid duration "{original}"')
    return sign * int(total)
