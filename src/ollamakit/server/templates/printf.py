"""``printf``: Go's ``fmt`` verbs, flags, widths and precisions."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..gofmt import can_backquote, format_float, quote, quote_rune, type_name
from .values import _fmt_v, _GoStruct, _JSONStringer, _sort_key


class _Spec:
    __slots__ = ("minus", "plus", "prec", "sharp", "space", "width", "zero")

    def __init__(self) -> None:
        self.minus = self.plus = self.sharp = self.space = self.zero = False
        self.width: int | None = None
        self.prec: int | None = None


def _pad(s: str, spec: _Spec, numeric: bool = False) -> str:
    width = spec.width
    if width is None or len(s) >= width:
        return s
    fill = width - len(s)
    if spec.minus:
        return s + " " * fill
    if spec.zero and numeric:
        sign = s[0] if s[:1] in ("+", "-", " ") else ""
        return sign + "0" * fill + s[len(sign) :]
    return " " * fill + s


def _bad_verb(verb: str, v: Any) -> str:
    if v is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({type_name(v)}={_fmt_v(v, False)})"


def _fmt_int(v: int, verb: str, spec: _Spec) -> str:
    if verb == "c":
        valid = 0 <= v <= 0x10FFFF and not 0xD800 <= v <= 0xDFFF
        return _pad(chr(v) if valid else "\ufffd", spec)
    if verb == "q":
        return _pad(quote_rune(v, ascii_only=spec.plus), spec)
    if verb == "U":
        s = f"U+{v:04X}"
        if spec.sharp and 0 <= v <= 0x10FFFF and chr(v).isprintable():
            s += f" '{chr(v)}'"
        return _pad(s, spec)
    neg = v < 0
    a = -v if neg else v
    if verb in ("d", "v"):
        digits = str(a)
    elif verb == "x":
        digits = f"{a:x}"
    elif verb == "X":
        digits = f"{a:X}"
    elif verb in ("o", "O"):
        digits = f"{a:o}"
    elif verb == "b":
        digits = f"{a:b}"
    else:
        return _bad_verb(verb, v)
    if spec.prec is not None:
        digits = "" if spec.prec == 0 and a == 0 else digits.rjust(spec.prec, "0")
    prefix = ""
    if verb == "O" or (spec.sharp and verb == "o" and not digits.startswith("0")):
        prefix = "0o" if verb == "O" else "0"
    elif spec.sharp and verb in ("x", "X"):
        prefix = "0x" if verb == "x" else "0X"
    elif spec.sharp and verb == "b":
        prefix = "0b"
    sign = "-" if neg else "+" if spec.plus else " " if spec.space else ""
    return _pad(sign + prefix + digits, spec, numeric=spec.prec is None)


def _fmt_float(v: float, verb: str, spec: _Spec) -> str:
    if verb not in "vgGeEfF":
        return _bad_verb(verb, v)
    if math.isnan(v):
        return _pad("+NaN" if spec.plus else " NaN" if spec.space else "NaN", spec)
    if math.isinf(v):
        return _pad("-Inf" if v < 0 else " Inf" if spec.space and not spec.plus else "+Inf", spec)
    if verb == "v" or (verb in "gG" and spec.prec is None):
        s = format_float(v)
        if verb == "G":
            s = s.upper()
    elif verb in "gG":
        s = format(v, ("#" if spec.sharp else "") + f".{spec.prec}{verb}")
    else:
        prec = 6 if spec.prec is None else spec.prec
        s = format(v, ("#" if spec.sharp else "") + f".{prec}{verb}")
    if spec.plus and not s.startswith("-"):
        s = "+" + s
    elif spec.space and not s.startswith("-"):
        s = " " + s
    return _pad(s, spec, numeric=True)


def _fmt_str(v: str, verb: str, spec: _Spec) -> str:
    if verb in ("v", "s"):
        if spec.prec is not None:
            v = v[: spec.prec]
        return _pad(v, spec)
    if verb == "q":
        if spec.prec is not None:
            v = v[: spec.prec]
        if spec.sharp and can_backquote(v):
            return _pad("`" + v + "`", spec)
        return _pad(quote(v, ascii_only=spec.plus), spec)
    if verb in ("x", "X"):
        data = v.encode("utf-8", "surrogatepass")
        if spec.prec is not None:
            data = data[: spec.prec]
        hexes = [f"{b:02x}" if verb == "x" else f"{b:02X}" for b in data]
        prefix = ("0x" if verb == "x" else "0X") if spec.sharp else ""
        if spec.space:
            return _pad(" ".join(prefix + h for h in hexes), spec)
        return _pad(prefix + "".join(hexes), spec)
    return _bad_verb(verb, v)


def _fmt_arg(v: Any, verb: str, spec: _Spec) -> str:
    if verb == "T":
        return _pad(type_name(v), spec)
    if v is None:
        return _pad("<nil>", spec) if verb == "v" else _bad_verb(verb, v)
    if isinstance(v, bool):
        if verb in ("t", "v"):
            return _pad("true" if v else "false", spec)
        return _bad_verb(verb, v)
    if isinstance(v, int):
        return _fmt_int(int(v), verb, spec)
    if isinstance(v, float):
        return _fmt_float(v, verb, spec)
    if isinstance(v, str):
        if verb == "v" and spec.sharp:
            return _pad(quote(v), spec)
        return _fmt_str(v, verb, spec)
    stringer = isinstance(v, _JSONStringer) or (isinstance(v, _GoStruct) and v._json_stringer)
    if stringer and verb in ("v", "s", "q", "x", "X"):
        return _fmt_str(_fmt_v(v, False), "s" if verb == "v" else verb, spec)
    if isinstance(v, _GoStruct):
        if spec.plus and verb == "v":
            parts = [f"{f}:{_fmt_arg(getattr(v, f), verb, spec)}" for f in v._go_fields]
        else:
            parts = [_fmt_arg(getattr(v, f), verb, spec) for f in v._go_fields]
        return "{" + " ".join(parts) + "}"
    if isinstance(v, Mapping):
        items = sorted(v.items(), key=lambda kv: _sort_key(kv[0]))
        inner = " ".join(f"{_fmt_arg(k, verb, spec)}:{_fmt_arg(x, verb, spec)}" for k, x in items)
        return "map[" + inner + "]"
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(_fmt_arg(x, verb, spec) for x in v) + "]"
    return _fmt_str(_fmt_v(v, False), "s" if verb == "v" else verb, spec)


def _too_large(number: int) -> bool:
    # Go's fmt refuses widths and precisions beyond a million ("crazy long number").
    return not -1_000_000 <= number <= 1_000_000


def _int_arg(args: Sequence[Any], index: int) -> int | None:
    """Go's ``intFromArg``: the int argument for a ``*`` width or precision, None when it is
    missing, not an int or too large."""
    if index >= len(args):
        return None
    value = args[index]
    if isinstance(value, bool) or not isinstance(value, int) or _too_large(value):
        return None
    return int(value)


def _parse_num(fmt: str, i: int) -> tuple[int | None, int]:
    """Go's ``parsenum``: digits at ``i`` -> (number or None, index after them). A number
    already past a million when another digit follows consumes the rest of the format, as
    in Go (which then reports ``%!(NOVERB)``)."""
    n = len(fmt)
    number: int | None = None
    while i < n and "0" <= fmt[i] <= "9":
        if number is not None and _too_large(number):
            return None, n
        number = (number or 0) * 10 + ord(fmt[i]) - 48
        i += 1
    return number, i


def _go_sprintf(fmt: str, args: Sequence[Any]) -> str:
    out: list[str] = []
    n = len(fmt)
    i = 0
    argi = 0
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        if i >= n:
            out.append("%!(NOVERB)")
            break
        spec = _Spec()
        while i < n and fmt[i] in "#0+- ":
            c = fmt[i]
            if c == "#":
                spec.sharp = True
            elif c == "0":
                spec.zero = True
            elif c == "+":
                spec.plus = True
            elif c == "-":
                spec.minus = True
            else:
                spec.space = True
            i += 1
        if i < n and fmt[i] == "*":
            i += 1
            width = _int_arg(args, argi)
            if width is None:
                out.append("%!(BADWIDTH)")
            elif width < 0:
                spec.minus, spec.width = True, -width
            else:
                spec.width = width
            argi += 1
        else:
            spec.width, i = _parse_num(fmt, i)
        if i < n and fmt[i] == ".":
            i += 1
            if i < n and fmt[i] == "*":
                i += 1
                prec = _int_arg(args, argi)
                if prec is None or prec < 0:  # Go: a negative precision is a bad one
                    out.append("%!(BADPREC)")
                else:
                    spec.prec = prec
                argi += 1
            else:
                spec.prec, i = _parse_num(fmt, i)
                if spec.prec is None:
                    spec.prec = 0
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[argi]
        argi += 1
        if spec.minus:
            spec.zero = False
        out.append(_fmt_arg(arg, verb, spec))
    if argi < len(args):
        extra = ", ".join(
            "<nil>" if a is None else f"{type_name(a)}={_fmt_v(a, False)}" for a in args[argi:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)
