"""The builtin functions of Go's ``text/template`` and Ollama's extra ones."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from ..gofmt import type_name
from .errors import _ExecError
from .printf import _go_sprintf
from .values import _fmt_v, _truth, go_json
from .views import ToolProperty

_BASIC_BOOL, _BASIC_INT, _BASIC_FLOAT, _BASIC_STRING, _BASIC_COMPLEX, _BASIC_NIL, _BASIC_OTHER = (
    range(7)
)


def _basic_kind(v: Any) -> int:
    kind = _KIND_BY_TYPE.get(type(v))
    if kind is not None:
        return kind
    if v is None:
        return _BASIC_NIL
    if isinstance(v, bool):
        return _BASIC_BOOL
    if isinstance(v, int):
        return _BASIC_INT
    if isinstance(v, float):
        return _BASIC_FLOAT
    if isinstance(v, str):
        return _BASIC_STRING
    if isinstance(v, complex):
        return _BASIC_COMPLEX
    return _BASIC_OTHER


_KIND_BY_TYPE: dict[type, int] = {
    type(None): _BASIC_NIL,
    bool: _BASIC_BOOL,
    int: _BASIC_INT,
    float: _BASIC_FLOAT,
    str: _BASIC_STRING,
    complex: _BASIC_COMPLEX,
}


def _fn_eq(arg1: Any, *args: Any) -> bool:
    if type(arg1) is str and len(args) == 1 and type(args[0]) is str:
        return arg1 == args[0]
    if not args:
        raise _ExecError("missing argument for comparison")
    k1 = _basic_kind(arg1)
    for arg in args:
        k2 = _basic_kind(arg)
        if k1 != k2:
            if arg1 is not None and arg is not None:
                raise _ExecError("incompatible types for comparison")
            truth = False
        elif k1 == _BASIC_NIL:
            truth = True
        elif k1 == _BASIC_OTHER:
            if isinstance(arg1, (list, dict, tuple)) or isinstance(arg, (list, dict, tuple)):
                raise _ExecError(f"non-comparable type {_fmt_v(arg, False)}: {type_name(arg)}")
            truth = arg1 is arg
        else:
            truth = arg1 == arg
        if truth:
            return True
    return False


def _fn_ne(arg1: Any, arg2: Any) -> bool:
    return not _fn_eq(arg1, arg2)


def _fn_lt(arg1: Any, arg2: Any) -> bool:
    k1, k2 = _basic_kind(arg1), _basic_kind(arg2)
    if k1 in (_BASIC_NIL, _BASIC_OTHER) or k2 in (_BASIC_NIL, _BASIC_OTHER):
        raise _ExecError("invalid type for comparison")
    if k1 != k2:
        raise _ExecError("incompatible types for comparison")
    if k1 in (_BASIC_BOOL, _BASIC_COMPLEX):
        raise _ExecError("invalid type for comparison")
    return bool(arg1 < arg2)


def _fn_le(arg1: Any, arg2: Any) -> bool:
    return _fn_lt(arg1, arg2) or _fn_eq(arg1, arg2)


def _fn_gt(arg1: Any, arg2: Any) -> bool:
    return not _fn_le(arg1, arg2)


def _fn_ge(arg1: Any, arg2: Any) -> bool:
    return not _fn_lt(arg1, arg2)


def _fn_not(arg: Any) -> bool:
    return not _truth(arg)


def _fn_len(item: Any) -> int:
    if item is None:
        raise _ExecError("len of nil pointer")
    if isinstance(item, str):
        return len(item.encode("utf-8", "surrogatepass"))
    if isinstance(item, (list, tuple, Mapping, bytes, bytearray)):
        return len(item)
    raise _ExecError(f"len of type {type_name(item)}")


def _index_arg(index: Any, cap: int) -> int:
    if index is None:
        raise _ExecError("cannot index slice/array with nil")
    if isinstance(index, bool) or not isinstance(index, int):
        raise _ExecError(f"cannot index slice/array with type {type_name(index)}")
    if index < 0 or index > cap:
        raise _ExecError(f"index out of range: {index}")
    return int(index)


def _fn_index(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise _ExecError("index of untyped nil")
    for index in indexes:
        if item is None:
            raise _ExecError("index of nil pointer")
        if isinstance(item, str):
            data = item.encode("utf-8", "surrogatepass")
            x = _index_arg(index, len(data))
            if x >= len(data):
                raise _ExecError(f"index out of range: {x}")
            item = data[x]
        elif isinstance(item, (list, tuple, bytes, bytearray)):
            x = _index_arg(index, len(item))
            if x >= len(item):
                raise _ExecError(f"index out of range: {x}")
            item = item[x]
        elif isinstance(item, Mapping):
            if index is not None and not isinstance(index, str):
                raise _ExecError(f"value has type {type_name(index)}; should be string")
            item = item.get(index) if index is not None else None
        else:
            raise _ExecError(f"can't index item of type {type_name(item)}")
    return item


def _fn_slice(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise _ExecError("slice of untyped nil")
    if len(indexes) > 3:
        raise _ExecError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise _ExecError("cannot 3-index slice a string")
        data = item.encode("utf-8", "surrogatepass")
        cap = len(data)
    elif isinstance(item, (list, tuple)):
        cap = len(item)
    else:
        raise _ExecError(f"can't slice item of type {type_name(item)}")
    idx = [0, cap, cap]
    for i, index in enumerate(indexes):
        idx[i] = _index_arg(index, cap)
    if idx[0] > idx[1]:
        raise _ExecError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise _ExecError(f"invalid slice index: {idx[1]} > {idx[2]}")
    if isinstance(item, str):
        return data[idx[0] : idx[1]].decode("utf-8", "replace")
    return list(item[idx[0] : idx[1]])


def _sprint(args: Sequence[Any]) -> str:
    out: list[str] = []
    prev_string = False
    for i, arg in enumerate(args):
        is_string = isinstance(arg, str)
        if i and not is_string and not prev_string:
            out.append(" ")
        out.append(_fmt_v(arg, False))
        prev_string = is_string
    return "".join(out)


def _fn_print(*args: Any) -> str:
    return _sprint(args)


def _fn_println(*args: Any) -> str:
    return " ".join(_fmt_v(a, False) for a in args) + "\n"


def _fn_printf(fmt: Any, *args: Any) -> str:
    if not isinstance(fmt, str):
        raise _ExecError(f"expected string; found {_fmt_v(fmt, False)}")
    return _go_sprintf(fmt, args)


def _eval_args(args: Sequence[Any]) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return _sprint(args)


_HTML_ESCAPES = {'"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;", "\0": "\ufffd"}
_HTML_RE = re.compile("[\"'&<>\0]")


def _fn_html(*args: Any) -> str:
    return _HTML_RE.sub(lambda m: _HTML_ESCAPES[m.group()], _eval_args(args))


_JS_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "<": "\\u003C",
    ">": "\\u003E",
    "&": "\\u0026",
    "=": "\\u003D",
}


def _fn_js(*args: Any) -> str:
    out: list[str] = []
    for c in _eval_args(args):
        esc = _JS_ESCAPES.get(c)
        if esc is not None:
            out.append(esc)
        elif c < " " or (c >= "\x80" and not c.isprintable()):
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


def _fn_urlquery(*args: Any) -> str:
    return urllib.parse.quote_plus(_eval_args(args), safe="")


def _fn_call(fn: Any, *args: Any) -> Any:
    if fn is None:
        raise _ExecError("call of nil")
    if not callable(fn):
        raise _ExecError(f"non-function of type {type_name(fn)}")
    try:
        return fn(*args)
    except _ExecError:
        raise
    except Exception as exc:
        raise _ExecError(str(exc)) from exc


def _fn_json(v: Any) -> str:
    return go_json(v)


def _fn_current_date(*args: Any) -> str:
    return date.today().isoformat()


def _fn_yesterday_date(*args: Any) -> str:
    return (date.today() - timedelta(days=1)).isoformat()


def _fn_to_typescript_type(v: Any) -> str:
    if isinstance(v, ToolProperty):
        return v.to_typescript_type()
    return "any"


def _fn_lazy(*args: Any) -> Any:  # pragma: no cover - and/or short-circuit in the executor
    raise AssertionError("and/or are evaluated by the executor")


# name -> (function, minimum args, maximum args or None)
_BUILTINS: dict[str, tuple[Callable[..., Any], int, int | None]] = {
    "and": (_fn_lazy, 1, None),
    "or": (_fn_lazy, 1, None),
    "not": (_fn_not, 1, 1),
    "eq": (_fn_eq, 1, None),
    "ne": (_fn_ne, 2, 2),
    "lt": (_fn_lt, 2, 2),
    "le": (_fn_le, 2, 2),
    "gt": (_fn_gt, 2, 2),
    "ge": (_fn_ge, 2, 2),
    "len": (_fn_len, 1, 1),
    "index": (_fn_index, 1, None),
    "slice": (_fn_slice, 1, None),
    "print": (_fn_print, 0, None),
    "printf": (_fn_printf, 1, None),
    "println": (_fn_println, 0, None),
    "html": (_fn_html, 0, None),
    "js": (_fn_js, 0, None),
    "urlquery": (_fn_urlquery, 0, None),
    "call": (_fn_call, 1, None),
    "json": (_fn_json, 1, 1),
    "currentDate": (_fn_current_date, 0, None),
    "yesterdayDate": (_fn_yesterday_date, 0, None),
    "toTypeScriptType": (_fn_to_typescript_type, 1, 1),
}
_FUNC_NAMES = frozenset(_BUILTINS)
