"""Python callables and classes as Ollama tool definitions.

:func:`tool_schema` turns a tool given in Python into the wire shape the server expects::

    {"type": "function",
     "function": {"name": ..., "description": ...,
                  "parameters": {"type": "object", "properties": {...}, "required": [...]}}}

Accepted tools:

* a function, bound method, ``functools.partial`` (its bound arguments are left out), decorated
  function (``functools.wraps``) or callable object: the parameters come from the signature,
  the descriptions from the docstring (Google ``Args:``, NumPy ``Parameters`` or reST
  ``:param x:``); ``self``/``cls``, ``*args`` and ``**kwargs`` are left out;
* a pydantic model, msgspec Struct, dataclass or TypedDict class: its fields are the
  parameters, the class name is the tool name;
* any other class, through its constructor's signature;
* a ``dict``, returned unchanged (the same object, never modified);
* a msgspec Struct instance (``msgspec.to_builtins``) or any object with ``model_dump()`` /
  ``to_dict()``, such as the official package's ``Tool``.

:func:`json_schema_for` is the type-to-JSON-schema mapping underneath, usable on its own for
structured outputs. The server keeps only ``type`` (a string or a list), ``anyOf``, ``items``,
``description``, ``enum``, ``properties`` and ``required`` of each property, so everything a
model needs is said with those; richer keywords (``default``, ``format``, ``minimum``, ...) are
still emitted for other consumers and cost nothing when the server drops them. The choices:

* ``X | None`` on a scalar becomes ``{"type": ["x", "null"]}`` (``enum`` gains ``null``);
  on anything else, and for unions of several types, ``anyOf``. A parameter is required exactly
  when Python requires it: ``x: int | None = None`` is optional, ``x: int | None`` is required
  but may be null.
* ``Any``, ``object`` and unannotated parameters carry no type constraint (``{}``), because
  claiming ``"string"`` would make the model quote numbers and objects. An unannotated
  parameter whose docstring names a simple type (``x (int): ...``) takes that type instead.
* Nested models, dataclasses and TypedDicts are inlined, never left as ``$ref``: the server
  drops references inside properties. A type that contains itself is expanded once; the inner
  occurrence is a plain ``{"type": "object"}``.
* ``Literal`` and ``Enum`` become ``enum`` with the matching ``type``; a one-value ``Literal``
  too (the server drops ``const``).
* Descriptions, most specific first: ``Annotated[X, "text"]`` (or a pydantic ``Field`` /
  ``msgspec.Meta`` / ``typing_extensions.Doc`` there), then dataclass ``field(metadata=
  {"description": ...})``, then the docstring, then the docstring of the parameter's class.

pydantic is optional: it is imported only for pydantic models, pydantic dataclasses, and types
this module does not know natively (it is then the fallback).
"""

from __future__ import annotations

import collections
import collections.abc as abc
import dataclasses
import enum
import functools
import inspect
import math
import re
import sys
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec

from ._docstrings import Docstring, doc_type, own_doc, parse_docstring
from ._errors import RequestError
from ._types import NOT_GIVEN

if TYPE_CHECKING:
    from pydantic.json_schema import GenerateJsonSchema

__all__ = [
    "CallableInfo",
    "ToolParameter",
    "class_hints",
    "inspect_callable",
    "is_form",
    "is_typeddict",
    "json_schema_for",
    "peel",
    "pydantic_dataclass",
    "pydantic_model",
    "tool_schema",
    "tool_schemas",
]

JsonSchema = dict[str, Any]

_EMPTY: Any = inspect.Parameter.empty
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


# --------------------------------------------------------------------------------------------
# Type inspection helpers
# --------------------------------------------------------------------------------------------


def is_form(obj: Any, name: str) -> bool:
    """Whether obj is the typing special form ``name``, from typing or typing_extensions."""
    if obj is getattr(typing, name, _EMPTY):
        return True
    extensions = sys.modules.get("typing_extensions")
    return extensions is not None and obj is getattr(extensions, name, _EMPTY)


_QUALIFIERS = ("Required", "NotRequired", "ReadOnly", "Final", "ClassVar")


def peel(tp: Any) -> tuple[Any, list[Any]]:
    """Strip ``Annotated`` and field qualifiers, returning the bare type and the metadata."""
    metadata: list[Any] = []
    while True:
        origin = typing.get_origin(tp)
        if origin is None:
            return tp, metadata
        if is_form(origin, "Annotated"):
            # Inner metadata first so that an outer annotation overrides it.
            metadata[:0] = list(tp.__metadata__)
            tp = tp.__origin__
        elif any(is_form(origin, name) for name in _QUALIFIERS):
            tp = typing.get_args(tp)[0]
        else:
            return tp, metadata


def _qualifiers(tp: Any) -> set[str]:
    """The field qualifiers (``Required``, ``NotRequired``, ...) wrapped around a type."""
    found: set[str] = set()
    while (origin := typing.get_origin(tp)) is not None:
        if is_form(origin, "Annotated"):
            tp = tp.__origin__
            continue
        name = next((n for n in _QUALIFIERS if is_form(origin, n)), None)
        if name is None:
            break
        found.add(name)
        tp = typing.get_args(tp)[0]
    return found


def is_typeddict(tp: Any) -> bool:
    return (
        isinstance(tp, type)
        and hasattr(tp, "__required_keys__")
        and hasattr(tp, "__total__")
        and hasattr(tp, "__annotations__")
    )


def pydantic_model(tp: Any) -> bool:
    # pydantic cannot have made tp unless it is already imported; checking sys.modules keeps
    # plain functions free of a pydantic import.
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(tp, type) and issubclass(tp, pydantic.BaseModel)


def pydantic_dataclass(tp: Any) -> bool:
    return dataclasses.is_dataclass(tp) and hasattr(tp, "__pydantic_validator__")


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__qualname__
    return repr(tp).replace("typing.", "")


def _json_value(value: Any, depth: int = 0) -> tuple[bool, Any]:
    """``(True, json_value)`` when value has an exact JSON form, else ``(False, None)``."""
    if depth > 32:
        return False, None
    if isinstance(value, enum.Enum):
        return _json_value(value.value, depth + 1)
    if value is None or isinstance(value, (bool, str)):
        return True, value
    if isinstance(value, int):
        return True, int(value)
    if isinstance(value, float):
        return (True, float(value)) if math.isfinite(value) else (False, None)
    if isinstance(value, (list, tuple)):
        items = []
        for item in value:
            ok, converted = _json_value(item, depth + 1)
            if not ok:
                return False, None
            items.append(converted)
        return True, items
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            ok, converted = _json_value(item, depth + 1)
            if not ok or not isinstance(key, str):
                return False, None
            result[key] = converted
        return True, result
    return False, None


_JSON_TYPE_NAMES: tuple[tuple[type, str], ...] = (
    (type(None), "null"),
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)


def _types_of(values: Iterable[Any]) -> str | list[str]:
    names: list[str] = []
    for value in values:
        for cls, name in _JSON_TYPE_NAMES:
            if isinstance(value, cls):
                if name not in names:
                    names.append(name)
                break
    return names[0] if len(names) == 1 else names


_SCALAR_TYPES = frozenset({"string", "integer", "number", "boolean"})


def _nullable(schema: JsonSchema) -> JsonSchema:
    """``schema`` that also accepts null: a type list for scalars, ``anyOf`` otherwise."""
    if not schema:
        return schema
    kind: Any = schema.get("type")
    scalar = (isinstance(kind, str) and kind in _SCALAR_TYPES) or (
        isinstance(kind, list) and all(k in _SCALAR_TYPES or k == "null" for k in kind)
    )
    if kind == "null" or (isinstance(kind, list) and "null" in kind and scalar):
        return schema
    if scalar and "anyOf" not in schema:
        result = dict(schema)
        names: list[Any] = [kind] if isinstance(kind, str) else list(kind)
        result["type"] = [*names, "null"]
        if isinstance(result.get("enum"), list) and None not in result["enum"]:
            result["enum"] = [*result["enum"], None]
        return result
    if list(schema) == ["anyOf"]:
        members = schema["anyOf"]
        return schema if {"type": "null"} in members else {"anyOf": [*members, {"type": "null"}]}
    return {"anyOf": [schema, {"type": "null"}]}


_LENGTH_KEYS = {
    "string": ("minLength", "maxLength"),
    "array": ("minItems", "maxItems"),
    "object": ("minProperties", "maxProperties"),
}
_BOUND_KEYS = (
    ("gt", "exclusiveMinimum"),
    ("ge", "minimum"),
    ("lt", "exclusiveMaximum"),
    ("le", "maximum"),
    ("multiple_of", "multipleOf"),
)


def _apply_constraints(schema: JsonSchema, item: Any) -> None:
    # Duck-typed so that annotated_types, pydantic's constraint objects and msgspec.Meta all
    # work without importing any of them.
    for attr, key in _BOUND_KEYS:
        value = getattr(item, attr, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            schema[key] = value
    kind: Any = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    length_keys = _LENGTH_KEYS.get(kind) if isinstance(kind, str) else None
    if length_keys is not None:
        for attr, key in zip(("min_length", "max_length"), length_keys):
            value = getattr(item, attr, None)
            if isinstance(value, int) and not isinstance(value, bool):
                schema[key] = value
    pattern = getattr(item, "pattern", None)
    if isinstance(pattern, re.Pattern):
        pattern = pattern.pattern
    if isinstance(pattern, str):
        schema["pattern"] = pattern


def _apply_metadata(schema: JsonSchema, metadata: Iterable[Any]) -> JsonSchema:
    fields_module = sys.modules.get("pydantic.fields")
    field_info = getattr(fields_module, "FieldInfo", None)
    for item in metadata:
        if isinstance(item, str):
            if item.strip():
                schema["description"] = inspect.cleandoc(item)
            continue
        if isinstance(item, type):
            continue
        if field_info is not None and isinstance(item, field_info):
            if item.description:
                schema["description"] = item.description
            if item.examples:
                schema["examples"] = list(item.examples)
            schema = _apply_metadata(schema, item.metadata)
            extra = item.json_schema_extra
            if isinstance(extra, dict):
                schema.update(extra)
            elif callable(extra):
                extra(schema)
            continue
        documentation = getattr(item, "documentation", None)  # typing_extensions.Doc
        description = getattr(item, "description", None)
        for text in (documentation, description):
            if isinstance(text, str) and text.strip():
                schema["description"] = inspect.cleandoc(text)
        _apply_constraints(schema, item)
        if isinstance(item, msgspec.Meta):
            if item.examples:
                schema["examples"] = list(item.examples)
            if item.extra_json_schema:
                schema.update(item.extra_json_schema)
    return schema


# --------------------------------------------------------------------------------------------
# Schemas produced by pydantic and msgspec
# --------------------------------------------------------------------------------------------

_DATA_KEYS = frozenset({"default", "enum", "const", "examples", "example"})


def _def_key(ref: str) -> str | None:
    for prefix in ("#/$defs/", "#/definitions/"):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return None


def _describe_from_docstring(schema: Any) -> Any:
    """Cut a class docstring used as description down to its summary; feed its parameters."""
    if not isinstance(schema, dict) or not isinstance(schema.get("description"), str):
        return schema
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return schema
    doc = parse_docstring(schema["description"])
    schema = dict(schema)
    if doc.summary:
        schema["description"] = doc.summary
    else:
        del schema["description"]
    described = {}
    for name, prop in properties.items():
        text = doc.params.get(name)
        if text and isinstance(prop, dict) and "description" not in prop:
            prop = {**prop, "description": text}
        described[name] = prop
    schema["properties"] = described
    return schema


def _inline(node: Any, defs: Mapping[str, Any], stack: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs, stack) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    key = _def_key(ref) if isinstance(ref, str) else None
    if key is not None and key in defs:
        siblings = {
            k: (v if k in _DATA_KEYS else _inline(v, defs, stack))
            for k, v in node.items()
            if k not in ("$ref", "$defs")
        }
        target = defs[key]
        if key in stack:
            kind = target.get("type") if isinstance(target, dict) else None
            resolved: JsonSchema = {"type": kind} if isinstance(kind, str) else {}
        else:
            resolved = _inline(target, defs, (*stack, key))
            if resolved.get("title") == key:
                del resolved["title"]
        resolved.update(siblings)
        return resolved
    return {
        k: (v if k in _DATA_KEYS else _inline(v, defs, stack))
        for k, v in node.items()
        if k != "$defs"
    }


def _normalize(node: Any) -> Any:
    """Bring a foreign schema to this module's conventions (see the module docstring)."""
    if isinstance(node, list):
        return [_normalize(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {k: (v if k in _DATA_KEYS else _normalize(v)) for k, v in node.items()}
    if "const" in result and "enum" not in result:
        result["enum"] = [result.pop("const")]
    if "enum" in result and "type" not in result and isinstance(result["enum"], list):
        result["type"] = _types_of(result["enum"])
    members = result.get("anyOf")
    if isinstance(members, list) and len(members) == 2 and {"type": "null"} in members:
        other = members[1] if members[0] == {"type": "null"} else members[0]
        collapsed = _nullable(other)
        if "anyOf" not in collapsed:
            rest = {k: v for k, v in result.items() if k != "anyOf"}
            result = {**collapsed, **rest}
    if isinstance(result.get("properties"), dict):
        result.setdefault("required", [])
    if "type" in result:
        # pydantic sorts keys alphabetically; "type" first reads like the native output.
        result = {"type": result.pop("type"), **result}
    return result


def _import_foreign(raw: JsonSchema, name: str | None) -> JsonSchema:
    defs = raw.get("$defs") or raw.get("definitions") or {}
    defs = {key: _describe_from_docstring(value) for key, value in defs.items()}
    root = _describe_from_docstring({k: v for k, v in raw.items() if k != "definitions"})
    schema: JsonSchema = _inline(root, defs, ())
    if name is not None and schema.get("title") == name:
        del schema["title"]
    result: JsonSchema = _normalize(schema)
    return result


@functools.cache
def _pydantic_generator() -> type[GenerateJsonSchema]:
    from pydantic.json_schema import GenerateJsonSchema

    class QuietTitles(GenerateJsonSchema):
        # Field titles are only the field name re-cased; they add noise and the server drops
        # them. Explicit Field(title=...) still comes through.
        def field_title_should_be_set(self, schema: Any) -> bool:
            return False

    return QuietTitles


def _pydantic_schema(tp: Any) -> JsonSchema:
    try:
        import pydantic
    except ImportError:
        raise RequestError(
            f"cannot describe {_type_name(tp)} as a JSON schema: it is not a type ollamakit "
            "knows natively; installing pydantic adds support for more types"
        ) from None
    try:
        if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
            raw = tp.model_json_schema(schema_generator=_pydantic_generator())
        else:
            adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(tp)
            raw = adapter.json_schema(schema_generator=_pydantic_generator())
    except Exception as exc:
        raise RequestError(f"cannot describe {_type_name(tp)} as a JSON schema: {exc}") from exc
    return _import_foreign(raw, getattr(tp, "__name__", None))


def _msgspec_schema(tp: Any) -> JsonSchema:
    try:
        raw = msgspec.json.schema(tp)
    except Exception as exc:
        raise RequestError(f"cannot describe {_type_name(tp)} as a JSON schema: {exc}") from exc
    return _import_foreign(raw, getattr(tp, "__name__", None))


# --------------------------------------------------------------------------------------------
# Python types to JSON schema
# --------------------------------------------------------------------------------------------

_SCALARS: dict[type, JsonSchema] = {
    str: {"type": "string"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bytes: {"type": "string"},
    bytearray: {"type": "string"},
    type(None): {"type": "null"},
}

# Looked up through sys.modules: a value of these types implies its module is loaded, and
# importing them here would slow down importing ollamakit. Order matters (datetime < date).
_FORMATS: tuple[tuple[str, str, JsonSchema], ...] = (
    ("datetime", "datetime", {"type": "string", "format": "date-time"}),
    ("datetime", "date", {"type": "string", "format": "date"}),
    ("datetime", "time", {"type": "string", "format": "time"}),
    ("datetime", "timedelta", {"type": "string", "format": "duration"}),
    ("uuid", "UUID", {"type": "string", "format": "uuid"}),
    ("decimal", "Decimal", {"type": "number"}),
    ("pathlib", "PurePath", {"type": "string", "format": "path"}),
    ("ipaddress", "IPv4Address", {"type": "string", "format": "ipv4"}),
    ("ipaddress", "IPv6Address", {"type": "string", "format": "ipv6"}),
    ("re", "Pattern", {"type": "string", "format": "regex"}),
)

_ARRAY_ORIGINS: frozenset[Any] = frozenset(
    {
        list,
        set,
        frozenset,
        collections.deque,
        abc.Sequence,
        abc.MutableSequence,
        abc.Set,
        abc.MutableSet,
        abc.Collection,
        abc.Iterable,
    }
)
_UNIQUE_ORIGINS: frozenset[Any] = frozenset({set, frozenset, abc.Set, abc.MutableSet})
_OBJECT_ORIGINS: frozenset[Any] = frozenset(
    {
        dict,
        collections.OrderedDict,
        collections.defaultdict,
        abc.Mapping,
        abc.MutableMapping,
    }
)


def _dedupe(schemas: Iterable[JsonSchema]) -> list[JsonSchema]:
    unique: list[JsonSchema] = []
    for schema in schemas:
        if schema not in unique:
            unique.append(schema)
    return unique


def _object(
    properties: dict[str, JsonSchema], required: list[str], description: str | None
) -> JsonSchema:
    schema: JsonSchema = {"type": "object"}
    if description:
        schema["description"] = description
    schema["properties"] = properties
    schema["required"] = required
    return schema


def class_hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls, include_extras=True)
    except Exception:
        pass
    # A class defined inside a function cannot name itself through its module's globals.
    try:
        return typing.get_type_hints(cls, localns={cls.__name__: cls}, include_extras=True)
    except Exception as exc:
        raise RequestError(
            f"cannot resolve the field annotations of {cls.__qualname__}: {exc}; annotations "
            "are evaluated in the class's module, so the types they name must be defined "
            "there (not only under TYPE_CHECKING or inside a function)"
        ) from exc


class _SchemaBuilder:
    """One conversion: carries the recursion guard and the type-variable bindings."""

    __slots__ = ("_expanding", "_typevars")

    def __init__(self) -> None:
        self._expanding: list[Any] = []
        self._typevars: dict[Any, Any] = {}

    def build(self, tp: Any) -> JsonSchema:
        if tp is Any or tp is object or tp is _EMPTY:
            return {}
        if tp is None:
            return {"type": "null"}
        if isinstance(tp, (str, typing.ForwardRef)):
            name = tp if isinstance(tp, str) else tp.__forward_arg__
            raise RequestError(
                f"unresolved forward reference {name!r}: pass the type itself, or define it "
                "at module level so that typing.get_type_hints can resolve it"
            )
        if isinstance(tp, typing.TypeVar):
            return self._typevar(tp)
        supertype = getattr(tp, "__supertype__", None)  # typing.NewType
        if supertype is not None:
            return self.build(supertype)
        if type(tp).__name__ == "TypeAliasType":  # the 3.12 ``type X = ...`` statement
            return self.build(tp.__value__)
        origin = typing.get_origin(tp)
        if origin is not None:
            return self._generic(tp, origin)
        if isinstance(tp, type):
            return self._class(tp)
        raise RequestError(f"cannot describe {tp!r} as a JSON schema: it is not a type")

    def parameter(
        self, tp: Any, description: str | None = None, default: Any = _EMPTY
    ) -> JsonSchema:
        """The schema of one parameter or field, with its description and default."""
        bare, metadata = peel(tp)
        schema = self.build(bare)
        if description:
            schema["description"] = description
        if metadata:
            schema = _apply_metadata(schema, metadata)
        if default is not _EMPTY:
            ok, value = _json_value(default)
            if ok:
                schema["default"] = value
        return schema

    def _typevar(self, tp: typing.TypeVar) -> JsonSchema:
        if tp in self._typevars:
            return self.build(self._typevars[tp])
        if tp.__bound__ is not None:
            return self.build(tp.__bound__)
        if tp.__constraints__:
            return self._union(tp.__constraints__)
        return {}

    def _generic(self, tp: Any, origin: Any) -> JsonSchema:
        args = typing.get_args(tp)
        if is_form(origin, "Annotated"):
            bare, metadata = peel(tp)
            return _apply_metadata(self.build(bare), metadata)
        if any(is_form(origin, name) for name in _QUALIFIERS):
            return self.build(args[0])
        if origin is typing.Union or origin is types.UnionType:
            return self._union(args)
        if is_form(origin, "Literal"):
            return self._literal(args)
        if origin is tuple:
            return self._tuple(args)
        if origin in _ARRAY_ORIGINS:
            schema: JsonSchema = {"type": "array"}
            items = self.build(args[0]) if args else {}
            if items:
                schema["items"] = items
            if origin in _UNIQUE_ORIGINS:
                schema["uniqueItems"] = True
            return schema
        if origin in _OBJECT_ORIGINS:
            schema = {"type": "object"}
            values = self.build(args[1]) if len(args) == 2 else {}
            if values:
                schema["additionalProperties"] = values
            return schema
        if isinstance(origin, type) and (dataclasses.is_dataclass(origin) or is_typeddict(origin)):
            parameters = getattr(origin, "__parameters__", ())
            saved = self._typevars
            self._typevars = {**saved, **dict(zip(parameters, args))}
            try:
                return self._class(origin)
            finally:
                self._typevars = saved
        if isinstance(origin, type) and issubclass(origin, msgspec.Struct):
            return _msgspec_schema(tp)
        return _pydantic_schema(tp)

    def _union(self, members: Iterable[Any]) -> JsonSchema:
        members = list(members)
        concrete = [m for m in members if m is not None and m is not type(None)]
        nullable = len(concrete) < len(members)
        if concrete and all(is_form(typing.get_origin(m), "Literal") for m in concrete):
            values = [v for m in concrete for v in typing.get_args(m)]
            return self._literal([*values, None] if nullable else values)
        schemas = _dedupe(self.build(m) for m in concrete)
        if any(not schema for schema in schemas):
            return {}
        if len(schemas) == 1:
            return _nullable(schemas[0]) if nullable else schemas[0]
        if nullable:
            schemas.append({"type": "null"})
        return {"anyOf": schemas}

    def _literal(self, args: Iterable[Any]) -> JsonSchema:
        values: list[Any] = []
        for arg in args:
            if is_form(typing.get_origin(arg), "Literal"):
                candidates: Iterable[Any] = typing.get_args(arg)
            else:
                candidates = (arg,)
            for candidate in candidates:
                ok, value = _json_value(candidate)
                if not ok:
                    raise RequestError(f"Literal value {candidate!r} has no JSON form")
                if value not in values:
                    values.append(value)
        return {"type": _types_of(values), "enum": values}

    def _tuple(self, args: tuple[Any, ...]) -> JsonSchema:
        schema: JsonSchema = {"type": "array"}
        if len(args) == 2 and args[1] is Ellipsis:
            items = self.build(args[0])
            if items:
                schema["items"] = items
            return schema
        if not args or args == ((),):
            return schema
        members = [self.build(arg) for arg in args]
        schema["prefixItems"] = members
        # The server drops prefixItems; items (which covers nothing past maxItems) keeps the
        # element types when it does.
        unique = _dedupe(members)
        if all(unique):
            schema["items"] = unique[0] if len(unique) == 1 else {"anyOf": unique}
        schema["minItems"] = schema["maxItems"] = len(members)
        return schema

    def _class(self, cls: type) -> JsonSchema:
        if is_typeddict(cls):
            return self._structured(cls, self._typeddict_fields)
        if issubclass(cls, enum.Enum):
            return self._enum(cls)
        for base in cls.__mro__:
            scalar = _SCALARS.get(base)
            if scalar is not None:
                return dict(scalar)
        for module_name, attr, formatted in _FORMATS:
            module = sys.modules.get(module_name)
            known = getattr(module, attr, None) if module is not None else None
            if isinstance(known, type) and issubclass(cls, known):
                return dict(formatted)
        if pydantic_model(cls) or pydantic_dataclass(cls):
            return _pydantic_schema(cls)
        if issubclass(cls, msgspec.Struct):
            return _msgspec_schema(cls)
        if dataclasses.is_dataclass(cls):
            return self._structured(cls, self._dataclass_fields)
        if issubclass(cls, tuple) and hasattr(cls, "_fields"):  # NamedTuple
            hints = class_hints(cls)
            return self._tuple(tuple(hints.get(name, Any) for name in cls._fields))
        if issubclass(cls, (list, tuple, set, frozenset, collections.deque)):
            schema: JsonSchema = {"type": "array"}
            if issubclass(cls, (set, frozenset)):
                schema["uniqueItems"] = True
            return schema
        if issubclass(cls, dict):
            return {"type": "object"}
        return _pydantic_schema(cls)

    def _enum(self, cls: type[enum.Enum]) -> JsonSchema:
        values = []
        for member in cls:
            ok, value = _json_value(member.value)
            if not ok:
                raise RequestError(
                    f"{cls.__qualname__}.{member.name} has a value with no JSON form "
                    f"({member.value!r})"
                )
            values.append(value)
        schema: JsonSchema = {"type": _types_of(values), "enum": values}
        summary = parse_docstring(own_doc(cls)).summary
        if summary:
            schema["description"] = summary
        return schema

    def _structured(
        self,
        cls: type,
        fields: Callable[[type, Docstring], tuple[dict[str, JsonSchema], list[str]]],
    ) -> JsonSchema:
        if cls in self._expanding:
            return {"type": "object"}
        self._expanding.append(cls)
        try:
            doc = parse_docstring(own_doc(cls))
            properties, required = fields(cls, doc)
        finally:
            self._expanding.pop()
        return _object(properties, required, doc.summary)

    def _dataclass_fields(
        self, cls: type, doc: Docstring
    ) -> tuple[dict[str, JsonSchema], list[str]]:
        hints = class_hints(cls)
        properties: dict[str, JsonSchema] = {}
        required: list[str] = []
        for field in dataclasses.fields(cls):
            if not field.init:
                continue
            described = field.metadata.get("description")
            description = described if isinstance(described, str) else doc.params.get(field.name)
            default = _EMPTY if field.default is dataclasses.MISSING else field.default
            properties[field.name] = self.parameter(
                hints.get(field.name, Any), description, default
            )
            if default is _EMPTY and field.default_factory is dataclasses.MISSING:
                required.append(field.name)
        return properties, required

    def _typeddict_fields(
        self, cls: type, doc: Docstring
    ) -> tuple[dict[str, JsonSchema], list[str]]:
        required_keys: frozenset[str] = getattr(cls, "__required_keys__", frozenset())
        properties: dict[str, JsonSchema] = {}
        required: list[str] = []
        for name, tp in class_hints(cls).items():
            properties[name] = self.parameter(tp, doc.params.get(name))
            # Under ``from __future__ import annotations`` the class sees Required[...] only as
            # a string, so __required_keys__ misses it; the resolved hint has the final word.
            qualifiers = _qualifiers(tp)
            if "Required" in qualifiers or (
                name in required_keys and "NotRequired" not in qualifiers
            ):
                required.append(name)
        return properties, required


def json_schema_for(annotation: Any) -> dict[str, Any]:
    """The JSON schema for a type annotation, as used for tool parameters.

    Nested classes are inlined (no ``$ref``/``$defs``), so the result can also be passed as a
    structured-output ``format``. Raises :class:`RequestError` for a type with no JSON form.

    >>> json_schema_for(list[int] | None)
    {'anyOf': [{'type': 'array', 'items': {'type': 'integer'}}, {'type': 'null'}]}
    """
    return _SchemaBuilder().parameter(annotation)


# --------------------------------------------------------------------------------------------
# Callables
# --------------------------------------------------------------------------------------------


class ToolParameter(NamedTuple):
    """One parameter a model may supply, as read from the signature."""

    name: str
    kind: inspect._ParameterKind
    annotation: Any
    default: Any
    """``inspect.Parameter.empty`` when the parameter is required."""
    description: str | None


class CallableInfo(NamedTuple):
    """What a callable offers as a tool; also what a tool-calling loop needs to bind arguments."""

    name: str
    description: str
    parameters: list[ToolParameter]


def _hint_source(obj: Any) -> tuple[Any, str, Any]:
    """The function holding the annotations, the tool name and the docstring source."""
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        return obj, obj.__name__, obj
    if isinstance(obj, types.MethodType):
        return obj.__func__, obj.__name__, obj
    if isinstance(obj, type):
        cls: Any = obj
        defines_init = cls.__init__ is not object.__init__
        init = cls.__init__ if defines_init else cls.__new__
        doc = own_doc(obj) or (inspect.getdoc(init) if defines_init else None)
        return init, obj.__name__, doc
    call = type(obj).__call__
    name = getattr(obj, "__name__", None) or type(obj).__name__
    doc = own_doc(type(obj)) or inspect.getdoc(call)
    return call, name, doc


def inspect_callable(obj: Callable[..., Any]) -> CallableInfo:
    """Name, description and model-facing parameters of a callable tool."""
    bound_keywords: set[str] = set()
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    target: Any = obj
    while isinstance(target, functools.partial):
        bound_keywords.update(target.keywords)
        target = target.func
    source, name, doc_source = _hint_source(target)
    if name == "<lambda>":
        raise RequestError(
            "a lambda cannot be a tool: the model calls tools by name; use a def function"
        )
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError) as exc:
        raise RequestError(f"cannot read the signature of {name!r}: {exc}") from exc
    if isinstance(doc_source, str) or doc_source is None:
        docstring = doc_source
    else:
        docstring = inspect.getdoc(doc_source)
    doc = parse_docstring(docstring)

    source = inspect.unwrap(source)
    try:
        hints: dict[str, Any] | None = typing.get_type_hints(source, include_extras=True)
    except Exception:
        # Resolved one parameter at a time below, so that an unresolvable return annotation
        # or skipped parameter does no harm and an error can name its parameter.
        hints = None

    parameters: list[ToolParameter] = []
    for index, param in enumerate(signature.parameters.values()):
        if param.kind in _VARIADIC or param.name in bound_keywords:
            continue
        if index == 0 and param.name in ("self", "cls") and param.kind in _POSITIONAL:
            continue
        if param.default is NOT_GIVEN:
            # Client plumbing such as ``timeout=`` (so ``client.web_search`` works as a tool):
            # not something the model should choose.
            continue
        if hints is not None:
            annotation = hints.get(param.name, _EMPTY)
        else:
            annotation = _resolve(param.annotation, source, param.name, name)
        if annotation is _EMPTY:
            annotation = doc_type(doc.types.get(param.name))
        parameters.append(
            ToolParameter(
                param.name, param.kind, annotation, param.default, doc.params.get(param.name)
            )
        )
    return CallableInfo(name, doc.summary, parameters)


def _resolve(annotation: Any, source: Any, param: str, tool: str) -> Any:
    if not isinstance(annotation, str):
        return annotation
    namespace = getattr(source, "__globals__", {})
    try:
        return eval(annotation, namespace)  # the same evaluation typing.get_type_hints does
    except Exception as exc:
        raise RequestError(
            f"cannot resolve the annotation {annotation!r} of parameter {param!r} of tool "
            f"{tool!r}: {exc}; annotations are evaluated in the function's module, so the "
            "types they name must be defined there (not only under TYPE_CHECKING)"
        ) from exc


# --------------------------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------------------------


def _tool(name: str, description: str, parameters: JsonSchema) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


def _class_tool(cls: type) -> dict[str, Any]:
    schema = _SchemaBuilder().build(cls)
    if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
        raise RequestError(
            f"{cls.__qualname__} cannot be a tool: its JSON schema is not an object with properties"
        )
    description = schema.pop("description", "")
    schema.pop("title", None)
    schema.setdefault("required", [])
    return _tool(cls.__name__, description, schema)


def _function_tool(obj: Callable[..., Any]) -> dict[str, Any]:
    info = inspect_callable(obj)
    builder = _SchemaBuilder()
    properties: dict[str, JsonSchema] = {}
    required: list[str] = []
    for param in info.parameters:
        properties[param.name] = builder.parameter(
            param.annotation, param.description, param.default
        )
        if param.default is _EMPTY:
            required.append(param.name)
    # "required" before "properties", as the official package orders them.
    parameters = {"type": "object", "required": required, "properties": properties}
    return _tool(info.name, info.description, parameters)


def _dump(obj: Any) -> Any:
    model_dump = getattr(obj, "model_dump", None)
    if callable(model_dump):
        try:
            # The official Tool spells "$defs" through an alias and leaves unset fields None.
            return model_dump(exclude_none=True, by_alias=True)
        except TypeError:
            return model_dump()
    return obj.to_dict()


def tool_schema(obj: Any) -> dict[str, Any]:
    """The Ollama tool definition for ``obj`` (see the module docstring for what is accepted).

    Raises :class:`RequestError` when ``obj`` cannot be a tool.
    """
    if isinstance(obj, dict):
        return obj
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, msgspec.Struct) and not callable(getattr(obj, "model_dump", None)):
        # ollamakit's own Tool goes through model_dump below: to_builtins would omit its
        # default "type": "function" (omit_defaults).
        result = msgspec.to_builtins(obj)
    elif isinstance(obj, type):
        if is_typeddict(obj):
            return _class_tool(obj)
        if issubclass(obj, enum.Enum):
            raise RequestError(
                f"{obj.__qualname__} is an Enum, which cannot be a tool; use it as the type "
                "of a parameter"
            )
        if pydantic_model(obj) or issubclass(obj, msgspec.Struct) or dataclasses.is_dataclass(obj):
            return _class_tool(obj)
        return _function_tool(obj)
    elif callable(getattr(obj, "model_dump", None)) or callable(getattr(obj, "to_dict", None)):
        result = _dump(obj)
    elif callable(obj) or isinstance(obj, (staticmethod, classmethod)):
        return _function_tool(obj)
    else:
        raise RequestError(
            f"cannot use {type(obj).__name__} {obj!r:.60} as a tool: pass a function, a "
            "pydantic model, dataclass or TypedDict class, or a tool dict"
        )
    if not isinstance(result, dict):
        raise RequestError(
            f"{type(obj).__name__} did not convert to a tool dict (got {type(result).__name__})"
        )
    return result


def tool_schemas(tools: Iterable[Any] | None) -> list[dict[str, Any]]:
    """:func:`tool_schema` over a sequence of tools (None gives an empty list)."""
    if tools is None:
        return []
    if isinstance(tools, (str, bytes, Mapping)) or not isinstance(tools, Iterable):
        raise RequestError(
            f"tools must be a list of tools, not {type(tools).__name__}; wrap a single tool "
            "in a list"
        )
    return [tool_schema(tool) for tool in tools]
