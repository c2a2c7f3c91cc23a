"""Values as Go sees them: printing (``%v``), JSON through ``encoding/json``, truthiness.

Template data is plain Python (``None`` for nil, ``dict`` for a map, ``list`` for a slice) plus
the Go structs and named types of :mod:`.views`, which take part through the hooks of
:mod:`..gofmt` (``go_type``, ``go_json_value``) and, for printing, :class:`_JSONStringer`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ..gofmt import OrderedObject, UnsupportedValueError, format_float, is_empty_value, marshal


class _GoStruct:
    """A Go struct value: fixed exported fields, an error on any other field."""

    __slots__ = ()
    #: Go's name of the type, as ``%T`` prints it.
    go_type: ClassVar[str] = "struct"
    _go_fields: ClassVar[tuple[str, ...]] = ()
    #: (json key, attribute, omitempty); ``None`` means untagged Go fields.
    _json_spec: ClassVar[tuple[tuple[str, str, bool], ...] | None] = None
    #: Whether the Go type has a ``String`` method that prints its JSON.
    _json_stringer: ClassVar[bool] = False

    def __repr__(self) -> str:
        fields = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._go_fields)
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self._go_fields)

    __hash__ = None  # type: ignore[assignment]

    def go_json_value(self) -> OrderedObject:
        """The struct as ``encoding/json`` writes it: tagged fields in order, ``omitempty``."""
        spec = self._json_spec
        if spec is None:
            spec = tuple((f, f, False) for f in self._go_fields)
        fields = OrderedObject()
        for key, attr, omitempty in spec:
            value = getattr(self, attr)
            if not (omitempty and is_empty_value(value)):
                fields[key] = value
        return fields


class _JSONStringer:
    """Containers whose Go type has a ``String`` method (Ollama prints them as JSON)."""

    __slots__ = ()

    def go_string(self) -> str:
        raise NotImplementedError


def go_json(value: Any) -> str:
    """``encoding/json.Marshal`` of a template value, as the ``json`` template function returns.

    Returns ``""`` for values Go cannot marshal (NaN, infinities, functions), as the
    template function does when ``json.Marshal`` fails.
    """
    try:
        return marshal(value)
    except UnsupportedValueError:
        return ""


def _sort_key(k: Any) -> tuple[int, Any]:
    # fmt sorts map keys by kind first, then by value.
    if isinstance(k, bool):
        return (0, k)
    if isinstance(k, (int, float)):
        return (1, k)
    if isinstance(k, str):
        return (2, k)
    return (3, str(k))


def go_sprint(value: Any) -> str:
    """``fmt.Sprint`` of one template value (Go's ``%v``)."""
    return _fmt_v(value, False)


def _fmt_v(v: Any, plus: bool) -> str:
    if isinstance(v, str):
        return str(v)
    if v is None:
        return "<nil>"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(int(v))
    if isinstance(v, float):
        return format_float(v)
    if isinstance(v, _JSONStringer):
        return v.go_string()
    if isinstance(v, _GoStruct):
        if v._json_stringer:
            return go_json(v)
        if plus:
            return "{" + " ".join(f"{f}:{_fmt_v(getattr(v, f), plus)}" for f in v._go_fields) + "}"
        return "{" + " ".join(_fmt_v(getattr(v, f), plus) for f in v._go_fields) + "}"
    if isinstance(v, Mapping):
        items = sorted(v.items(), key=lambda kv: _sort_key(kv[0]))
        return "map[" + " ".join(f"{_fmt_v(k, plus)}:{_fmt_v(x, plus)}" for k, x in items) + "]"
    if isinstance(v, (bytes, bytearray)):
        return "[" + " ".join(str(b) for b in v) + "]"
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(_fmt_v(x, plus) for x in v) + "]"
    return str(v)


def _print_top(v: Any) -> str:
    # An action that yields nil prints "<no value>": text/template sees an invalid value
    # once the empty interface is unwrapped.
    if v is None:
        return "<no value>"
    return _fmt_v(v, False)


def _truth(v: Any) -> bool:
    if v is None:
        return False
    t = type(v)
    if t is bool:
        return bool(v)
    if t is str or t is list or t is dict or t is tuple:
        return len(v) > 0
    if t is int or t is float:
        return bool(v != 0)
    if isinstance(v, _GoStruct):
        return True
    if isinstance(v, (str, list, tuple, Mapping, bytes, bytearray)):
        return len(v) > 0
    if isinstance(v, (int, float, complex)):
        return bool(v != 0)
    return True
