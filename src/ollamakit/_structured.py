"""Structured outputs: a Python type as ``format=``, and the parser for what the model writes.

:func:`format_schema` turns the ``format`` argument into what the server takes (``"json"`` or
a JSON schema) plus, for a type, a parser of the model's text into that type::

    schema, parse = format_schema(Weather)        # a pydantic model, dataclass, Struct, ...
    response = client.chat(model, messages, format=schema)
    weather = parse(response.message.content)     # a Weather, or ParseError

Parsing is lax where JSON is ambiguous (``"3"`` for an int), as pydantic is by default:

* pydantic models: ``model_json_schema()`` (sent as is, ``$defs`` included: the server turns the
  whole schema into a grammar) and ``model_validate_json``;
* every other type (dataclass, TypedDict, msgspec Struct, ``list[Model]``, ``Literal``, ...):
  the schema of :func:`ollamakit._schema.json_schema_for` (inlined) and msgspec's decoder, which
  reads these types natively; pydantic's ``TypeAdapter`` instead when the type carries pydantic
  parts msgspec would skip (pydantic dataclasses, ``Field``/``annotated_types`` constraints).

pydantic stays optional and is never imported by this module for a type that does not use it.
"""

from __future__ import annotations

import functools
import sys
import typing
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from ._errors import ParseError, RequestError

__all__ = ["Parser", "format_schema"]

Parser = Callable[[str], Any]
"""Parses the model's text into the ``format`` type; raises :class:`ParseError`."""

FormatValue = str | dict[str, Any] | None
"""``format`` as sent to the server."""


def format_schema(format: Any) -> tuple[FormatValue, Parser | None]:
    """The ``format`` to send and, when ``format`` is a type, the parser of the model's output.

    * ``None``, ``""`` and ``"json"``: sent as they are, no parser;
    * a JSON schema (a dict): sent untouched (the same object), no parser;
    * a type: its JSON schema and a parser that returns an instance (see the module docstring).

    The schema of a type is computed once and shared between calls: do not modify it.
    Raises :class:`RequestError` for anything else, or a type with no JSON form.
    """
    if format is None:
        return None, None
    if isinstance(format, str):
        if format in ("", "json"):
            return format, None
        raise RequestError(
            f"invalid format {format!r}: expected 'json', a JSON schema (a dict) or a type "
            "such as a pydantic model or dataclass"
        )
    if isinstance(format, dict):
        return format, None
    if isinstance(format, Mapping):
        return dict(format), None
    if not _is_annotation(format):
        raise RequestError(
            f"invalid format of type {type(format).__name__}: expected 'json', a JSON schema "
            "(a dict) or a type such as a pydantic model or dataclass"
        )
    try:
        return _cached_schema(format)
    except TypeError:  # unhashable metadata inside Annotated
        return _schema(format)


def _is_annotation(obj: Any) -> bool:
    return (
        isinstance(obj, type)
        or typing.get_origin(obj) is not None
        or obj is typing.Any
        or type(obj).__name__ in ("TypeAliasType", "NewType")
    )


@functools.lru_cache(maxsize=256)
def _cached_schema(tp: Any) -> tuple[FormatValue, Parser]:
    return _schema(tp)


def _name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__qualname__
    return repr(tp).replace("typing.", "")


def _pydantic_base_model(tp: Any) -> bool:
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(tp, type) and issubclass(tp, pydantic.BaseModel)


def _schema(tp: Any) -> tuple[FormatValue, Parser]:
    name = _name(tp)
    if _pydantic_base_model(tp):
        try:
            schema: dict[str, Any] = tp.model_json_schema()
        except Exception as exc:
            raise RequestError(f"cannot describe {name} as a JSON schema: {exc}") from exc
        return schema, _pydantic_parser(tp.model_validate_json, name)

    from ._schema import json_schema_for

    schema = json_schema_for(tp)
    adapter = _pydantic_adapter(tp) if _uses_pydantic(tp, set()) else None
    if adapter is not None:
        return schema, _pydantic_parser(adapter.validate_json, name)
    return schema, _msgspec_parser(tp, name)


def _pydantic_adapter(tp: Any) -> Any:
    try:
        from pydantic import TypeAdapter

        return TypeAdapter(tp)
    except Exception:
        # e.g. a msgspec Struct inside: pydantic cannot build it, msgspec can.
        return None


def _pydantic_parser(validate_json: Callable[[str], Any], name: str) -> Parser:
    def parse(text: str) -> Any:
        try:
            return validate_json(text)
        except ValueError as exc:  # pydantic's ValidationError, for bad JSON too
            raise ParseError(
                f"the model's output does not validate as {name}: {exc}", _text(text)
            ) from None

    return parse


def _msgspec_parser(tp: Any, name: str) -> Parser:
    from ._coerce import dec_hook

    try:
        decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(
            tp, strict=False, dec_hook=dec_hook
        )
    except TypeError as exc:
        raise RequestError(f"cannot parse JSON as {name}: {exc}") from exc

    def parse(text: str) -> Any:
        try:
            return decoder.decode(text)
        except msgspec.ValidationError as exc:
            raise ParseError(
                f"the model's output does not validate as {name}: {exc}", _text(text)
            ) from None
        except msgspec.DecodeError as exc:
            raise ParseError(f"the model's output is not valid JSON: {exc}", _text(text)) from None

    return parse


def _text(raw: str | bytes) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


_PYDANTIC_MODULES = ("pydantic", "annotated_types")


def _uses_pydantic(tp: Any, seen: set[int]) -> bool:
    """Whether ``tp`` has parts only pydantic validates: its dataclasses, models or constraints.

    msgspec would decode a pydantic dataclass as a plain one (no validators) and ignore
    ``Field``/``annotated_types`` constraints; nested pydantic models alone it handles (through
    the decode hook), so they do not count here.
    """
    if id(tp) in seen:
        return False
    seen.add(id(tp))
    import dataclasses

    from ._schema import class_hints, is_form, is_typeddict, peel, pydantic_dataclass

    bare, metadata = peel(tp)
    for item in metadata:
        module = type(item).__module__.split(".")[0]
        if module in _PYDANTIC_MODULES:
            return True
    if pydantic_dataclass(bare):
        return True
    origin = typing.get_origin(bare)
    if origin is not None:
        if is_form(origin, "Literal"):
            return False
        members = [origin, *typing.get_args(bare)]
        return any(_uses_pydantic(member, seen) for member in members)
    if not isinstance(bare, type) or _pydantic_base_model(bare):
        return False
    structured = (
        dataclasses.is_dataclass(bare)
        or is_typeddict(bare)
        or (issubclass(bare, tuple) and hasattr(bare, "_fields"))
    )
    if not structured:
        return False
    try:
        hints = class_hints(bare)
    except RequestError:
        return False
    return any(_uses_pydantic(hint, seen) for hint in hints.values())
