"""Typed Arrow columns for what a model returns.

``format=`` a record class (a pydantic model, dataclass, TypedDict or msgspec Struct) becomes one
column per field, typed from the field's annotation, so a million parsed answers land in Parquet
as real ``int64``/``string``/``list<string>``/``struct`` columns, not JSON text:

=============================================  ===========================================
annotation                                     Arrow type
=============================================  ===========================================
``str``, ``datetime``, ``date``, ``UUID``, ...  ``string`` (ISO form)
``int`` / ``float`` / ``bool``                 ``int64`` / ``float64`` / ``bool``
``Literal`` / ``Enum`` of one kind             that kind
``X | None``                                   the type of ``X`` (every column is nullable)
``list[X]``, ``tuple[X, ...]``, ``set[X]``     ``list<X>``
``dict[str, X]``                               ``map<string, X>``
a nested record class                          ``struct``
anything else (``Any``, unions, ...)           ``string`` holding the value as JSON
=============================================  ===========================================

Everything here is pure: no I/O, no Ray.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import sys
import types
import typing
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec
import pyarrow as pa

__all__ = ["RecordColumns", "embedding_array", "record_fields"]

_SCALARS: dict[Any, pa.DataType] = {
    str: pa.string(),
    bool: pa.bool_(),
    int: pa.int64(),
    float: pa.float64(),
}
# Values these types take are written in their ISO / canonical text form.
_AS_TEXT = (datetime.datetime, datetime.date, datetime.time, uuid.UUID, decimal.Decimal)
_SEQUENCES = (list, tuple, set, frozenset, Sequence)


def _pydantic_model(tp: Any) -> bool:
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(tp, type) and issubclass(tp, pydantic.BaseModel)


def _typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__total__")


def _strip(tp: Any) -> Any:
    """``Annotated[X, ...]`` -> ``X`` (constraints do not change the column type)."""
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def record_fields(tp: Any) -> list[tuple[str, Any]] | None:
    """``(key, annotation)`` per field of a record class, keyed as the parsed value is when
    turned into plain data (a msgspec Struct's encoded names); ``None`` for other types."""
    if _pydantic_model(tp):
        return [(name, field.annotation) for name, field in tp.model_fields.items()]
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return [(field.encode_name, field.type) for field in msgspec.structs.fields(tp)]
    if isinstance(tp, type) and (dataclasses.is_dataclass(tp) or _typeddict(tp)):
        hints = typing.get_type_hints(tp)
        if dataclasses.is_dataclass(tp):
            return [(field.name, hints[field.name]) for field in dataclasses.fields(tp)]
        return list(hints.items())
    return None


def _kind(values: Sequence[Any]) -> pa.DataType | None:
    for python_type in (bool, int, str, float):
        if all(type(value) is python_type for value in values):
            return _SCALARS[python_type]
    return None


def arrow_type(tp: Any) -> pa.DataType | None:
    """The Arrow type of values annotated ``tp``; ``None`` when none holds them faithfully."""
    tp = _strip(tp)
    if tp in _SCALARS:
        return _SCALARS[tp]
    if isinstance(tp, type) and issubclass(tp, _AS_TEXT):
        return pa.string()
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _kind([member.value for member in tp])
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Literal:
        return _kind(args)
    if origin is typing.Union or origin is types.UnionType:
        present = [arg for arg in args if arg is not type(None)]
        return arrow_type(present[0]) if len(present) == 1 else None
    if origin in _SEQUENCES and args and (origin is not tuple or args[-1] is Ellipsis):
        item = arrow_type(args[0])
        return None if item is None else pa.list_(item)
    if origin in (dict, Mapping):
        value = arrow_type(args[1]) if len(args) == 2 and _strip(args[0]) is str else None
        return None if value is None else pa.map_(pa.string(), value)
    fields = record_fields(tp)
    if fields is not None:
        children = [(key, arrow_type(annotation)) for key, annotation in fields]
        if any(child is None for _, child in children):
            return None
        return pa.struct([pa.field(key, child) for key, child in children])
    return None


def _plain(value: Any) -> Any:
    """A parsed value as plain data (dicts, lists, str, numbers), as JSON would carry it."""
    if hasattr(value, "model_dump") and _pydantic_model(type(value)):
        return value.model_dump(mode="json")
    return msgspec.to_builtins(value, enc_hook=_enc_hook)


def _enc_hook(value: Any) -> Any:
    if _pydantic_model(type(value)):
        return value.model_dump(mode="json")
    raise NotImplementedError(f"cannot turn {type(value).__name__} into plain data")


def _as_json(value: Any) -> Any:
    return None if value is None else msgspec.json.encode(value).decode()


def _as_map(value: Any) -> Any:
    return None if value is None else list(value.items())


class RecordColumns:
    """The columns of a ``format=`` record class: their names, types and values."""

    def __init__(self, tp: Any, prefix: str = "") -> None:
        fields = record_fields(tp)
        if fields is None:
            raise TypeError(
                f"format={tp!r} has no fields to turn into columns: use a record class (a "
                "pydantic model, dataclass, TypedDict or msgspec Struct), wrapping a list or "
                "another type in a field if need be"
            )
        self.type = tp
        self.names = [prefix + key for key, _ in fields]
        self._keys = [key for key, _ in fields]
        self.types: list[pa.DataType] = []
        self._encoders: list[Callable[[Any], Any] | None] = []
        for _, annotation in fields:
            arrow = arrow_type(annotation)
            self.types.append(pa.string() if arrow is None else arrow)
            self._encoders.append(_encoder(arrow))

    def arrays(self, parsed: Sequence[Any]) -> list[pa.Array]:
        """One array per field for the rows' parsed values (``None`` for a failed row)."""
        rows = [None if value is None else _plain(value) for value in parsed]
        arrays = []
        for key, arrow, encode in zip(self._keys, self.types, self._encoders):
            values = [None if row is None else row.get(key) for row in rows]
            if encode is not None:
                values = [encode(value) for value in values]
            arrays.append(pa.array(values, type=arrow))
        return arrays


def _encoder(arrow: pa.DataType | None) -> Callable[[Any], Any] | None:
    if arrow is None:
        return _as_json
    if pa.types.is_map(arrow):
        return _as_map
    return None


def embedding_array(vectors: Sequence[Sequence[float] | None], size: int | None) -> pa.Array:
    """Embeddings as ``fixed_size_list<float32>[size]`` (``list<float32>`` while the size is
    still unknown, which only happens when no row has succeeded yet)."""
    if size is None:
        return pa.array(vectors, type=pa.list_(pa.float32()))
    return pa.array(vectors, type=pa.list_(pa.float32(), size))
