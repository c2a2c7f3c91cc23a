"""Go's standard formatting, byte for byte, wherever the server shows what Ollama would print.

Ollama is written in Go, so its messages, stored JSON and template output come from
``strconv``, ``encoding/json`` and ``fmt``. This module is the server's one copy of each:

* :func:`quote`, :func:`quote_rune`, :func:`can_backquote`: ``strconv.Quote`` (``%q``),
  ``QuoteToASCII`` (``%+q``), ``QuoteRune`` and ``CanBackquote`` (``%#q``);
* :func:`json_char`: the ``'x'`` quoting of ``encoding/json``'s syntax errors;
* :func:`marshal`: ``encoding/json.Marshal`` (HTML characters and U+2028/U+2029 escaped,
  map keys sorted, Go's float format);
* :func:`format_float`: ``strconv.FormatFloat(f, 'e'|'f'|'g', -1, 64)``, Go's ``%v`` of a
  float64;
* :func:`type_name`: ``fmt``'s ``%T``.

Python strings stand for Go strings through their UTF-8 encoding. A lone surrogate has none:
one from U+DC80 to U+DCFF stands for the byte it escapes (``errors="surrogateescape"``, how
Python keeps invalid UTF-8 in a string), any other for the three bytes ``surrogatepass``
gives it; either way Go sees invalid UTF-8.

Values can take part in :func:`marshal` and :func:`type_name` the way Go types with a
``MarshalJSON`` method or a named type do: a ``go_json_value()`` method returns what to
marshal in their place (an :class:`OrderedObject` for a struct), a ``go_type`` attribute
names their type.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "OrderedObject",
    "UnsupportedValueError",
    "can_backquote",
    "decoded_json",
    "format_float",
    "is_empty_value",
    "json_char",
    "marshal",
    "quote",
    "quote_rune",
    "type_name",
]

# -- strconv.Quote ----------------------------------------------------------------------------

_SHORT_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}
_SURROGATES = re.compile("[\ud800-\udfff]")
_HEX_DIGITS = "0123456789abcdef"


def _bytes_of_surrogate(m: re.Match[str]) -> str:
    """A lone surrogate as the invalid bytes it stands for, each as U+DC00 + byte."""
    char = m.group()
    if "\udc80" <= char <= "\udcff":
        return char
    return "".join(chr(0xDC00 + b) for b in char.encode("utf-8", "surrogatepass"))


def _go_runes(text: str | bytes) -> str:
    """``text`` decoded as Go decodes UTF-8: invalid bytes become U+DC80 to U+DCFF."""
    if isinstance(text, (bytes, bytearray)):
        return bytes(text).decode("utf-8", "surrogateescape")
    if _SURROGATES.search(text) is None:
        return text
    return _SURROGATES.sub(_bytes_of_surrogate, text)


def _escaped_rune(char: str, quote_char: str, ascii_only: bool) -> str:
    """Go's ``appendEscapedRune`` for a valid rune."""
    if char == quote_char or char == "\\":
        return "\\" + char
    if char.isprintable() and (char < "\x80" or not ascii_only):
        return char
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    code = ord(char)
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def quote(text: str | bytes, *, ascii_only: bool = False) -> str:
    """``strconv.Quote`` (``ascii_only``: ``QuoteToASCII``): a double-quoted Go string literal,
    e.g. ``"a\\ab"`` for ``"a\\x07b"``; invalid UTF-8 bytes as ``\\xNN``."""
    out = ['"']
    for char in _go_runes(text):
        if "\udc80" <= char <= "\udcff":
            out.append(f"\\x{ord(char) - 0xDC00:02x}")
        else:
            out.append(_escaped_rune(char, '"', ascii_only))
    out.append('"')
    return "".join(out)


def quote_rune(code: int, *, ascii_only: bool = False) -> str:
    """``strconv.QuoteRune`` (``%q`` of an integer): ``'x'``; an invalid code point is U+FFFD."""
    if not 0 <= code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        code = 0xFFFD
    return "'" + _escaped_rune(chr(code), "'", ascii_only) + "'"


def can_backquote(text: str | bytes) -> bool:
    """``strconv.CanBackquote``: whether ``%#q`` may print ``text`` between backquotes."""
    for char in _go_runes(text):
        if char >= "\x80":
            if char == "\ufeff" or "\udc80" <= char <= "\udcff":
                return False
        elif (char < " " and char != "\t") or char == "`" or char == "\x7f":
            return False
    return True


def json_char(char: str) -> str:
    """``encoding/json``'s ``quoteChar``: a character in a syntax error, e.g. ``'\\x01'``."""
    if char == "'":
        return "'\\''"
    if char == '"':
        return "'\"'"
    return "'" + quote(char)[1:-1] + "'"


# -- strconv.FormatFloat ------------------------------------------------------------------------

#: ``FormatFloat(f, 'g', -1, 64)`` writes an exponent from this one on (strconv's ``eprec``).
_G_SHORTEST_EPREC = 6


def _shortest_digits(f: float) -> tuple[str, int]:
    """Shortest round-trip digits of ``abs(f)`` and the decimal point position.

    The value is ``0.<digits> * 10**dp``, as in Go's ``strconv`` internals.
    """
    if f == 0:
        return "0", 1
    mant, _, exp = repr(abs(f)).partition("e")
    ip, _, fp = mant.partition(".")
    digits = (ip + fp).lstrip("0")
    dp = len(digits) + (int(exp) if exp else 0) - len(fp)
    digits = digits.rstrip("0")
    return digits or "0", dp


def _sign(f: float) -> str:
    return "-" if f < 0 or (f == 0 and math.copysign(1.0, f) < 0) else ""


def _format_e(f: float) -> str:
    digits, dp = _shortest_digits(f)
    exp = dp - 1
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{_sign(f)}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"


def _format_f(f: float) -> str:
    sign = _sign(f)
    if f == 0:
        return sign + "0"
    digits, dp = _shortest_digits(f)
    if dp <= 0:
        return sign + "0." + "0" * (-dp) + digits
    if dp >= len(digits):
        return sign + digits + "0" * (dp - len(digits))
    return sign + digits[:dp] + "." + digits[dp:]


def format_float(f: float, verb: str = "g") -> str:
    """``strconv.FormatFloat(f, verb, -1, 64)``: the shortest digits that read back as ``f``.

    ``"g"`` is Go's ``%v`` of a float64 (``1e+06``, ``0.0001``, ``1e-05``, ``+Inf``, ``NaN``).
    """
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if verb == "e":
        return _format_e(f)
    if verb == "f":
        return _format_f(f)
    if f == 0:
        return _sign(f) + "0"
    _, dp = _shortest_digits(f)
    exp = dp - 1
    if exp < -4 or exp >= _G_SHORTEST_EPREC:
        return _format_e(f)
    return _format_f(f)


# -- encoding/json ------------------------------------------------------------------------------


class UnsupportedValueError(ValueError):
    """A value ``encoding/json`` refuses: NaN, an infinity, a function, a key that is not a
    string or an integer."""


class OrderedObject(dict[str, Any]):
    """A JSON object written with its keys in insertion order, as Go writes a struct's fields
    (a plain mapping is a Go map: its keys are sorted)."""

    __slots__ = ()


_JSON_ESCAPE_RE = re.compile('[\x00-\x1f"\\\\<>&\u2028\u2029\ud800-\udfff]')
_JSON_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def _json_escape_char(m: re.Match[str]) -> str:
    c = m.group()
    esc = _JSON_ESCAPES.get(c)
    if esc is not None:
        return esc
    if "\ud800" <= c <= "\udfff":
        return "\\ufffd"  # invalid UTF-8, as Go replaces it
    return f"\\u{ord(c):04x}"


def _json_str(s: str) -> str:
    return '"' + _JSON_ESCAPE_RE.sub(_json_escape_char, s) + '"'


def _json_float(f: float) -> str:
    if math.isnan(f) or math.isinf(f):
        raise UnsupportedValueError(f"json: unsupported value: {format_float(f)}")
    if f == 0:
        return _sign(f) + "0"
    a = abs(f)
    if a < 1e-6 or a >= 1e21:
        s = _format_e(f)
        # Go writes e-7 where strconv gives e-07.
        if len(s) >= 4 and s[-4] == "e" and s[-3] == "-" and s[-2] == "0":
            s = s[:-2] + s[-1]
        return s
    return _format_f(f)


def _json_key(k: Any) -> str:
    if isinstance(k, str):
        return k
    if isinstance(k, int) and not isinstance(k, bool):
        return str(k)
    raise UnsupportedValueError(f"json: unsupported type: {type_name(k)}")


def _json_object(v: Mapping[Any, Any], out: list[str]) -> None:
    keys = list(v) if isinstance(v, OrderedObject) else sorted(v, key=_json_key)
    out.append("{")
    first = True
    for k in keys:
        if not first:
            out.append(",")
        first = False
        out.append(_json_str(_json_key(k)))
        out.append(":")
        _json_into(v[k], out)
    out.append("}")


def _json_array(v: list[Any] | tuple[Any, ...], out: list[str]) -> None:
    out.append("[")
    for i, item in enumerate(v):
        if i:
            out.append(",")
        _json_into(item, out)
    out.append("]")


def _json_into(v: Any, out: list[str]) -> None:
    # Exact types first: a template's tools are thousands of these per rendering.
    t = type(v)
    if t is str:
        out.append(_json_str(v))
    elif v is None:
        out.append("null")
    elif t is bool:
        out.append("true" if v else "false")
    elif t is int:
        out.append(str(v))
    elif t is float:
        out.append(_json_float(v))
    elif t is dict or t is OrderedObject:
        _json_object(v, out)
    elif t is list:
        _json_array(v, out)
    elif hasattr(v, "go_json_value"):
        _json_into(v.go_json_value(), out)
    elif isinstance(v, str):
        out.append(_json_str(str(v)))
    elif isinstance(v, bool):
        out.append("true" if v else "false")
    elif isinstance(v, int):
        out.append(str(int(v)))
    elif isinstance(v, float):
        out.append(_json_float(float(v)))
    elif isinstance(v, Mapping):
        _json_object(v, out)
    elif isinstance(v, (list, tuple)):
        _json_array(v, out)
    elif isinstance(v, (bytes, bytearray)):
        out.append('"' + base64.b64encode(bytes(v)).decode("ascii") + '"')
    else:
        raise UnsupportedValueError(f"json: unsupported type: {type_name(v)}")


def marshal(value: Any) -> str:
    """``encoding/json.Marshal``: compact, map keys sorted, ``<>&`` and U+2028/U+2029 escaped,
    floats as Go writes them (``1e-7``, ``0.000001``, ``1e+21``), bytes in base64.

    Python ints are Go ints; pass floats for numbers Go decoded into ``any`` (float64).
    Raises :class:`UnsupportedValueError` where ``json.Marshal`` fails.
    """
    out: list[str] = []
    _json_into(value, out)
    return "".join(out)


def decoded_json(v: Any) -> Any:
    """A JSON value as ``encoding/json`` decodes it into ``any``: every number a float64."""
    if isinstance(v, bool) or v is None or isinstance(v, (str, float)):
        return v
    if isinstance(v, int):
        try:
            return float(v)
        except OverflowError:  # beyond float64, where Go refuses to decode: keep the digits
            return v
    if isinstance(v, Mapping):
        return {str(k): decoded_json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [decoded_json(x) for x in v]
    return v


def is_empty_value(v: Any) -> bool:
    """``encoding/json``'s ``isEmptyValue``: what an ``omitempty`` field leaves out."""
    if v is None or v is False:
        return True
    if isinstance(v, (str, list, tuple, dict)):
        return len(v) == 0
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v == 0
    return False


# -- fmt's %T -----------------------------------------------------------------------------------


def type_name(value: Any, *, decoded_json: bool = False) -> str:
    """``fmt``'s ``%T``: ``string``, ``float64``, ``map[string]interface {}``, ``<nil>``...

    ``decoded_json``: the value was decoded from JSON into Go's ``any``, where every number
    is a float64 (otherwise a Python int is a Go ``int``).
    """
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "float64" if decoded_json else "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    named = getattr(value, "go_type", None)
    if isinstance(named, str):
        return named
    if isinstance(value, Mapping):
        return "map[string]interface {}"
    if isinstance(value, (bytes, bytearray)):
        return "[]uint8"
    if isinstance(value, (list, tuple)):
        return "[]interface {}"
    if callable(value):
        return "func"
    return type(value).__name__
