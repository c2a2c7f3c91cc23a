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

:func:`run_tools` / :func:`arun_tools` run the tool-calling loop on top of this: chat, run the
tools the model asked for, send their results back, until the model answers.
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
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableSequence, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec

from ._errors import OllamaError, RequestError
from ._types import NOT_GIVEN

if TYPE_CHECKING:
    from pydantic.json_schema import GenerateJsonSchema

    from ._async_client import AsyncClient
    from ._sync_client import Client
    from ._types import ChatResponse, Tool

__all__ = [
    "ToolLoopLimitError",
    "arun_tools",
    "json_schema_for",
    "run_tools",
    "tool_schema",
    "tool_schemas",
]

JsonSchema = dict[str, Any]

_EMPTY: Any = inspect.Parameter.empty
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


# --------------------------------------------------------------------------------------------
# Docstrings
# --------------------------------------------------------------------------------------------


class Docstring(NamedTuple):
    """A parsed docstring: the text before the sections, and per-parameter text and types."""

    summary: str
    params: dict[str, str]
    types: dict[str, str]


_PARAM_SECTIONS = frozenset(
    {
        "args",
        "arguments",
        "parameters",
        "params",
        "keyword args",
        "keyword arguments",
        "other parameters",
        "other params",
        "attributes",
    }
)
_SECTIONS = _PARAM_SECTIONS | {
    "returns",
    "return",
    "yields",
    "yield",
    "receives",
    "raises",
    "raise",
    "exceptions",
    "warns",
    "warnings",
    "warning",
    "examples",
    "example",
    "notes",
    "note",
    "see also",
    "references",
    "todo",
    "methods",
}
_REST_PARAM_FIELDS = frozenset(
    {"param", "parameter", "arg", "argument", "key", "keyword", "ivar", "var", "cvar"}
)
_REST_TYPE_FIELDS = frozenset({"type", "vartype"})

_UNDERLINE = re.compile(r"[-=]{3,}")
_GOOGLE_HEADER = re.compile(r"([A-Za-z][A-Za-z ]*?)\s*:")
_GOOGLE_ENTRY = re.compile(r"(\*{0,2}\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)")
_NUMPY_ENTRY = re.compile(r"(\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)*)\s*(?::\s*(.*))?")
_REST_FIELD = re.compile(r":(\w+)(?:\s+([^:]*?))?\s*:\s*(.*)")

_Target = list[tuple[dict[str, str], str]]


def _append(target: _Target, text: str) -> None:
    for mapping, key in target:
        mapping[key] = f"{mapping[key]} {text}" if mapping[key] else text


def parse_docstring(doc: str | None) -> Docstring:
    """Split a Google, NumPy or reST docstring into summary, parameter texts and types.

    Headers and fields count only at the docstring's own indentation and only under a known
    section name, so a parameter called ``args`` (indented under ``Args:``) or a summary line
    ending with a colon is never taken for a section.
    """
    if not doc:
        return Docstring("", {}, {})
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    params: dict[str, str] = {}
    types_: dict[str, str] = {}
    state = "summary"
    entry_indent: int | None = None
    target: _Target = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        stripped = line.strip()
        if not stripped:
            if state == "summary":
                summary.append("")
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            key = stripped.lower()
            if key in _SECTIONS and i < len(lines) and _UNDERLINE.fullmatch(lines[i].strip()):
                state = "numpy" if key in _PARAM_SECTIONS else "skip"
                target = []
                i += 1
                continue
            header = _GOOGLE_HEADER.fullmatch(stripped)
            if header is not None and header.group(1).lower() in _SECTIONS:
                state = "google" if header.group(1).lower() in _PARAM_SECTIONS else "skip"
                entry_indent = None
                target = []
                continue
            field = _REST_FIELD.fullmatch(stripped)
            if field is not None:
                state = "field"
                target = []
                kind, arg, text = field.group(1).lower(), field.group(2), field.group(3).strip()
                words = arg.split() if arg else []
                if words:
                    name = words[-1].lstrip("*")
                    if kind in _REST_PARAM_FIELDS:
                        params[name] = text
                        target = [(params, name)]
                        if len(words) > 1:
                            types_[name] = " ".join(words[:-1])
                    elif kind in _REST_TYPE_FIELDS:
                        types_[name] = text
                        target = [(types_, name)]
                continue
        if state == "summary":
            summary.append(line)
        elif state == "google":
            if entry_indent is None:
                entry_indent = indent
            if indent > entry_indent:
                _append(target, stripped)
            elif indent < entry_indent:
                # Unindented prose after the entries closes the section.
                state, target = "end", []
            elif (entry := _GOOGLE_ENTRY.fullmatch(stripped)) is not None:
                name = entry.group(1).lstrip("*")
                params[name] = entry.group(3).strip()
                if entry.group(2):
                    types_[name] = entry.group(2).strip()
                target = [(params, name)]
            else:
                _append(target, stripped)
        elif state == "numpy":
            if indent > 0:
                _append(target, stripped)
            elif (entry := _NUMPY_ENTRY.fullmatch(stripped)) is not None:
                names = [n.strip().lstrip("*") for n in entry.group(1).split(",")]
                target = []
                for name in names:
                    params[name] = ""
                    target.append((params, name))
                    if entry.group(2):
                        types_[name] = entry.group(2).strip()
            else:
                target = []
        elif state == "field":
            if indent > 0:
                _append(target, stripped)
            else:
                state, target = "end", []
    return Docstring("\n".join(summary).strip(), params, types_)


# Docstring types used for unannotated parameters; only unambiguous spellings.
_DOC_TYPES: dict[str, type] = {
    "int": int,
    "integer": int,
    "float": float,
    "number": float,
    "str": str,
    "string": str,
    "bool": bool,
    "boolean": bool,
    "list": list,
    "array": list,
    "dict": dict,
    "object": dict,
}


def _doc_type(text: str | None) -> Any:
    if not text:
        return Any
    words = [w.strip() for w in text.split(",") if w.strip() and w.strip() != "optional"]
    return _DOC_TYPES.get(words[0], Any) if len(words) == 1 else Any


def _own_doc(cls: type) -> str | None:
    """A class's own docstring: never one inherited from BaseModel, Struct or object."""
    doc = cls.__dict__.get("__doc__")
    if not isinstance(doc, str):
        return None
    # dataclass() invents "Name(x: int, ...)" when the class has no docstring, and Enum
    # before Python 3.11 "An enumeration.".
    if dataclasses.is_dataclass(cls) and doc.startswith(f"{cls.__name__}(") and "\n" not in doc:
        return None
    if issubclass(cls, enum.Enum) and doc == "An enumeration.":
        return None
    return doc


# --------------------------------------------------------------------------------------------
# Type inspection helpers
# --------------------------------------------------------------------------------------------


def _is_form(obj: Any, name: str) -> bool:
    """Whether obj is the typing special form ``name``, from typing or typing_extensions."""
    if obj is getattr(typing, name, _EMPTY):
        return True
    extensions = sys.modules.get("typing_extensions")
    return extensions is not None and obj is getattr(extensions, name, _EMPTY)


_QUALIFIERS = ("Required", "NotRequired", "ReadOnly", "Final", "ClassVar")


def _peel(tp: Any) -> tuple[Any, list[Any]]:
    """Strip ``Annotated`` and field qualifiers, returning the bare type and the metadata."""
    metadata: list[Any] = []
    while True:
        origin = typing.get_origin(tp)
        if origin is None:
            return tp, metadata
        if _is_form(origin, "Annotated"):
            # Inner metadata first so that an outer annotation overrides it.
            metadata[:0] = list(tp.__metadata__)
            tp = tp.__origin__
        elif any(_is_form(origin, name) for name in _QUALIFIERS):
            tp = typing.get_args(tp)[0]
        else:
            return tp, metadata


def _qualifiers(tp: Any) -> set[str]:
    """The field qualifiers (``Required``, ``NotRequired``, ...) wrapped around a type."""
    found: set[str] = set()
    while (origin := typing.get_origin(tp)) is not None:
        if _is_form(origin, "Annotated"):
            tp = tp.__origin__
            continue
        name = next((n for n in _QUALIFIERS if _is_form(origin, n)), None)
        if name is None:
            break
        found.add(name)
        tp = typing.get_args(tp)[0]
    return found


def _is_typeddict(tp: Any) -> bool:
    return (
        isinstance(tp, type)
        and hasattr(tp, "__required_keys__")
        and hasattr(tp, "__total__")
        and hasattr(tp, "__annotations__")
    )


def _pydantic_model(tp: Any) -> bool:
    # pydantic cannot have made tp unless it is already imported; checking sys.modules keeps
    # plain functions free of a pydantic import.
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(tp, type) and issubclass(tp, pydantic.BaseModel)


def _pydantic_dataclass(tp: Any) -> bool:
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


def _class_hints(cls: type) -> dict[str, Any]:
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
        bare, metadata = _peel(tp)
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
        if _is_form(origin, "Annotated"):
            bare, metadata = _peel(tp)
            return _apply_metadata(self.build(bare), metadata)
        if any(_is_form(origin, name) for name in _QUALIFIERS):
            return self.build(args[0])
        if origin is typing.Union or origin is types.UnionType:
            return self._union(args)
        if _is_form(origin, "Literal"):
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
        if isinstance(origin, type) and (dataclasses.is_dataclass(origin) or _is_typeddict(origin)):
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
        if concrete and all(_is_form(typing.get_origin(m), "Literal") for m in concrete):
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
            if _is_form(typing.get_origin(arg), "Literal"):
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
        if _is_typeddict(cls):
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
        if _pydantic_model(cls) or _pydantic_dataclass(cls):
            return _pydantic_schema(cls)
        if issubclass(cls, msgspec.Struct):
            return _msgspec_schema(cls)
        if dataclasses.is_dataclass(cls):
            return self._structured(cls, self._dataclass_fields)
        if issubclass(cls, tuple) and hasattr(cls, "_fields"):  # NamedTuple
            hints = _class_hints(cls)
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
        summary = parse_docstring(_own_doc(cls)).summary
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
            doc = parse_docstring(_own_doc(cls))
            properties, required = fields(cls, doc)
        finally:
            self._expanding.pop()
        return _object(properties, required, doc.summary)

    def _dataclass_fields(
        self, cls: type, doc: Docstring
    ) -> tuple[dict[str, JsonSchema], list[str]]:
        hints = _class_hints(cls)
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
        for name, tp in _class_hints(cls).items():
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
        doc = _own_doc(obj) or (inspect.getdoc(init) if defines_init else None)
        return init, obj.__name__, doc
    call = type(obj).__call__
    name = getattr(obj, "__name__", None) or type(obj).__name__
    doc = _own_doc(type(obj)) or inspect.getdoc(call)
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
            annotation = _doc_type(doc.types.get(param.name))
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
        if _is_typeddict(obj):
            return _class_tool(obj)
        if issubclass(obj, enum.Enum):
            raise RequestError(
                f"{obj.__qualname__} is an Enum, which cannot be a tool; use it as the type "
                "of a parameter"
            )
        if _pydantic_model(obj) or issubclass(obj, msgspec.Struct) or dataclasses.is_dataclass(obj):
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


# --------------------------------------------------------------------------------------------
# The tool-calling loop
# --------------------------------------------------------------------------------------------

ToolCallHook = Callable[[str, dict[str, Any]], object]
"""Called with the tool name and the arguments the model sent, before the tool runs."""


class ToolLoopLimitError(OllamaError):
    """The model was still calling tools after ``max_steps`` chat rounds.

    ``response`` is the last answer, ``messages`` the conversation (the caller's list). The tool
    calls of the last round have been run and their results appended, so the conversation is
    complete: pass ``messages`` to :func:`run_tools` again to continue, or to ``chat`` without
    tools to ask for an answer.
    """

    def __init__(
        self,
        max_steps: int,
        response: ChatResponse | None = None,
        messages: MutableSequence[Any] | None = None,
    ) -> None:
        super().__init__(
            f"the model was still calling tools after {max_steps} chat rounds (max_steps)"
        )
        self.max_steps = max_steps
        self.response = response
        self.messages: MutableSequence[Any] = messages if messages is not None else []

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.max_steps, self.response, self.messages))


class _BadArguments(Exception):
    """Arguments from the model that cannot be bound to the tool; the text goes to the model."""


@functools.lru_cache(maxsize=256)
def _pydantic_adapter(tp: Any) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(tp)


def _dec_hook(tp: Any, obj: Any) -> Any:
    """Builds the types msgspec has no native support for, without importing pydantic."""
    if _pydantic_model(tp) or _pydantic_dataclass(tp):
        return _pydantic_adapter(tp).validate_python(obj)
    if isinstance(tp, type):
        if isinstance(obj, tp):
            return obj
        return tp(**obj) if isinstance(obj, dict) else tp(obj)
    return obj  # a form such as Callable[...] that no JSON value can be checked against


def _convert(value: Any, annotation: Any, bare: Any) -> Any:
    if _pydantic_model(bare) or _pydantic_dataclass(bare):
        return _pydantic_adapter(bare).validate_python(value)
    return msgspec.convert(value, annotation, strict=False, dec_hook=_dec_hook)


def coerce_argument(value: Any, annotation: Any) -> Any:
    """``value`` (decoded JSON) converted to ``annotation`` where the JSON type differs.

    Lax, as models write them: ``"3"`` for an int, ``"true"`` for a bool, an object for a
    dataclass or model, a JSON-encoded string for a list or object, a number for a string.
    Raises ``msgspec.ValidationError`` (or the ``ValueError`` of pydantic or a constructor)
    when the value cannot be the type; a type that cannot be checked passes the value through.
    """
    bare, _ = _peel(annotation)
    if bare is _EMPTY or bare is Any or bare is object:
        return value
    if bare is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if bare in (bytes, bytearray) and isinstance(value, str):
        # The schema says "string"; msgspec would read it as base64.
        return bare(value.encode())
    try:
        return _convert(value, annotation, bare)
    except (msgspec.ValidationError, ValueError) as exc:
        if not (isinstance(value, str) and value.lstrip()[:1] in ("[", "{")):
            raise
        try:
            decoded = msgspec.json.decode(value)
        except msgspec.DecodeError:
            raise exc from None
        return _convert(decoded, annotation, bare)
    except TypeError:
        return value  # msgspec cannot handle this annotation at all


def _problem(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _argument_problem(exc: BaseException, annotation: Any) -> str:
    text = _problem(exc)
    if isinstance(exc, msgspec.ValidationError):
        # msgspec names the bad value but not the allowed ones, which the model needs to retry.
        try:
            values = json_schema_for(annotation).get("enum")
        except Exception:
            values = None
        if isinstance(values, list) and values:
            text += f" (expected one of {', '.join(map(repr, values))})"
    return text


Binder = Callable[[dict[str, Any]], Callable[[], Any]]


def _callable_binder(obj: Callable[..., Any]) -> Binder:
    info = inspect_callable(obj)
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        signature = None
    open_keywords = signature is not None and any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()
    )
    known = [p.name for p in info.parameters]

    def bind(arguments: dict[str, Any]) -> Callable[[], Any]:
        unexpected = [key for key in arguments if key not in known]
        if unexpected and not open_keywords:
            expected = ", ".join(known) if known else "none"
            raise _BadArguments(
                f"unexpected argument{'s' if len(unexpected) > 1 else ''} "
                f"{', '.join(map(repr, unexpected))} (the parameters are: {expected})"
            )
        args: list[Any] = []
        kwargs: dict[str, Any] = {key: arguments[key] for key in unexpected}
        problems: list[str] = []
        for param in info.parameters:
            if param.name in arguments:
                try:
                    value = coerce_argument(arguments[param.name], param.annotation)
                except Exception as exc:
                    problems.append(f"{param.name!r}: {_argument_problem(exc, param.annotation)}")
                    continue
            elif param.default is _EMPTY:
                problems.append(f"missing required argument {param.name!r}")
                continue
            elif param.kind is inspect.Parameter.POSITIONAL_ONLY:
                value = param.default  # keeps the place of the positional arguments after it
            else:
                continue
            if param.kind is inspect.Parameter.POSITIONAL_ONLY:
                args.append(value)
            else:
                kwargs[param.name] = value
        if problems:
            raise _BadArguments("; ".join(problems))
        return functools.partial(obj, *args, **kwargs)

    return bind


def _class_binder(cls: type) -> Binder:
    # A pydantic model, msgspec Struct, dataclass or TypedDict used as a tool: its fields are
    # the parameters, so the arguments are validated into an instance, which is the result.
    def bind(arguments: dict[str, Any]) -> Callable[[], Any]:
        try:
            instance = coerce_argument(arguments, cls)
        except Exception as exc:
            raise _BadArguments(_problem(exc)) from None
        return lambda: instance

    return bind


def _is_async(obj: Any) -> bool:
    if inspect.iscoroutinefunction(obj):
        return True
    if isinstance(obj, (type, types.FunctionType, types.MethodType, functools.partial)):
        return False
    return inspect.iscoroutinefunction(type(obj).__call__)


def _implementation(tool: Any) -> Callable[..., Any] | None:
    """What runs a tool; None for a definition only (dict, Tool). Mirrors tool_schema."""
    if isinstance(tool, (Mapping, msgspec.Struct, classmethod)):
        return None
    if isinstance(tool, type):
        return tool
    if isinstance(tool, staticmethod):
        func: Callable[..., Any] = tool.__func__
        return func
    if callable(getattr(tool, "model_dump", None)) or callable(getattr(tool, "to_dict", None)):
        return None
    return tool if callable(tool) else None


class _Runner:
    """How to run one tool: its binder and whether it is a coroutine function."""

    __slots__ = ("bind", "mode")

    def __init__(self, tool: Callable[..., Any]) -> None:
        self.bind: Binder
        if isinstance(tool, type) and (
            _is_typeddict(tool)
            or _pydantic_model(tool)
            or issubclass(tool, msgspec.Struct)
            or dataclasses.is_dataclass(tool)
        ):
            self.bind = _class_binder(tool)
            self.mode = "inline"
        else:
            self.bind = _callable_binder(tool)
            self.mode = "async" if _is_async(tool) else "thread"


def _registry(tools: Sequence[Any]) -> tuple[list[dict[str, Any]], dict[str, _Runner | None]]:
    schemas = tool_schemas(tools)
    runners: dict[str, _Runner | None] = {}
    for tool, schema in zip(tools, schemas):
        function = schema.get("function")
        name = function.get("name") if isinstance(function, Mapping) else None
        if not isinstance(name, str) or not name:
            continue  # a definition the model cannot call by name; sent as given
        if name in runners:
            raise RequestError(f"two tools are named {name!r}: the model calls tools by name")
        implementation = _implementation(tool)
        runners[name] = _Runner(implementation) if implementation is not None else None
    return schemas, runners


def _result_hook(obj: Any) -> Any:
    model_dump = getattr(obj, "model_dump", None)
    if callable(model_dump):
        try:
            return model_dump(mode="json")
        except TypeError:
            return model_dump()
    return str(obj)


def result_text(result: Any) -> str:
    """A tool's return value as message content: strings as they are, anything else as JSON."""
    if isinstance(result, str):
        return result
    if isinstance(result, (bytes, bytearray, memoryview)):
        return bytes(result).decode("utf-8", "replace")
    try:
        return msgspec.json.encode(result, enc_hook=_result_hook).decode()
    except Exception:
        return str(result)


def _error_result(exc: BaseException) -> str:
    return f"Error: {_problem(exc)}"


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _wait_here(result: Any, name: str) -> Any:
    """The value of an awaitable returned by a tool, for the synchronous loop."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_awaited(result))
    close = getattr(result, "close", None)
    if callable(close):
        close()
    raise RuntimeError(
        f"tool {name!r} is a coroutine and an event loop is already running in this thread; "
        "use arun_tools with an AsyncClient"
    )


class _PendingCall:
    """One tool call of the model, bound to its implementation (or to the error to report)."""

    __slots__ = ("arguments", "call_id", "error", "mode", "name", "thunk")

    def __init__(self, call: Any, runners: Mapping[str, _Runner | None]) -> None:
        function = getattr(call, "function", None)
        name = getattr(function, "name", None)
        self.name: str = name if isinstance(name, str) else ""
        call_id = getattr(call, "id", None)
        self.call_id: str | None = call_id if call_id else None
        self.thunk: Callable[[], Any] | None = None
        self.error: str | None = None
        self.mode = "inline"
        raw = getattr(function, "arguments", None)
        if isinstance(raw, str):
            try:
                raw = msgspec.json.decode(raw) if raw.strip() else {}
            except msgspec.DecodeError:
                pass
        self.arguments: dict[str, Any] = raw if isinstance(raw, dict) else {}

        if self.name not in runners:
            available = ", ".join(sorted(runners)) or "none"
            self.error = f"Error: unknown tool {self.name!r} (the tools are: {available})"
            return
        runner = runners[self.name]
        if runner is None:
            self.error = f"Error: no implementation for tool {self.name!r}"
            return
        if raw is not None and not isinstance(raw, dict):
            self.error = (
                f"Error: invalid arguments for tool {self.name!r}: expected a JSON object, "
                f"got {raw!r:.200}"
            )
            return
        try:
            self.thunk = runner.bind(self.arguments)
        except _BadArguments as exc:
            self.error = f"Error: invalid arguments for tool {self.name!r}: {exc}"
            return
        self.mode = runner.mode

    def run(self) -> str:
        if self.thunk is None:
            return self.error or ""
        try:
            result = self.thunk()
            if inspect.isawaitable(result):
                result = _wait_here(result, self.name)
        except Exception as exc:
            return _error_result(exc)
        return result_text(result)

    async def arun(self) -> str:
        if self.thunk is None:
            return self.error or ""
        import asyncio

        try:
            if self.mode == "thread":
                # A tool must not block the event loop; its context variables go along.
                result = await asyncio.to_thread(self.thunk)
            else:
                result = self.thunk()
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            return _error_result(exc)
        return result_text(result)

    def message(self, content: str) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "tool", "content": content, "tool_name": self.name}
        if self.call_id is not None:
            message["tool_call_id"] = self.call_id
        return message


def _check_loop_arguments(
    messages: Any, max_steps: Any, chat_kwargs: dict[str, Any]
) -> dict[str, Any]:
    if not isinstance(messages, MutableSequence):
        raise RequestError(
            f"messages must be a list (the conversation is appended to it), not "
            f"{type(messages).__name__}"
        )
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise RequestError(f"max_steps must be a positive integer, not {max_steps!r}")
    kwargs = dict(chat_kwargs)
    if kwargs.pop("stream", False):
        raise RequestError("the tool loop does not stream: drop stream=True")
    return kwargs


def _record(response: ChatResponse, messages: MutableSequence[Any]) -> list[Any]:
    """Appends the assistant's message to the conversation; returns the tool calls it asks for."""
    message = response.message
    if message is None:  # the tolerant decoder keeps a malformed message as None
        return []
    messages.append(message)
    return list(message.tool_calls or [])


def run_tools(
    client: Client,
    model: str,
    messages: MutableSequence[Any],
    tools: Sequence[Callable[..., Any] | Mapping[str, Any] | Tool],
    *,
    max_steps: int = 8,
    on_tool_call: ToolCallHook | None = None,
    **chat_kwargs: Any,
) -> ChatResponse:
    """Chat with tools until the model answers without calling one; returns that answer.

    Each round sends ``messages`` with ``tools`` to ``client.chat`` (not streamed; the other
    keyword arguments, e.g. ``options`` or ``think``, are passed on), then runs the tools the
    model called, in order, and sends their results back.

    ``messages`` is extended in place: every assistant message (including the final answer) and
    every tool result (``{"role": "tool", "content": ..., "tool_name": ..., "tool_call_id": ...}``)
    is appended, so the whole exchange stays visible and can be continued.

    ``tools`` are what ``chat`` accepts. A function (or callable object, bound method, partial)
    is called with the model's arguments, converted to the annotated types where JSON differs
    (``"3"`` for an ``int``, an object for a dataclass); a pydantic model, msgspec Struct,
    dataclass or TypedDict class is validated from them. The result is sent as text: strings as
    they are, anything else as JSON. An exception, arguments that do not fit, an unknown tool
    name or a definition without code (a dict or :class:`Tool`) do not stop the loop: the model
    receives ``"Error: ..."`` as the result and can try again.

    ``on_tool_call(name, arguments)`` is called before each tool runs (for logging or a UI).
    Raises :class:`ToolLoopLimitError` when the model still calls tools after ``max_steps``
    rounds; errors of ``chat`` itself propagate.
    """
    kwargs = _check_loop_arguments(messages, max_steps, chat_kwargs)
    schemas, runners = _registry(tools)
    response: ChatResponse | None = None
    for _ in range(max_steps):
        reply: Any = client.chat(model, messages, tools=schemas, stream=False, **kwargs)
        if inspect.isawaitable(reply):
            close = getattr(reply, "close", None)
            if callable(close):
                close()
            raise RequestError("run_tools needs a Client; use arun_tools with an AsyncClient")
        response = reply
        calls = _record(response, messages)
        if not calls:
            return response
        for call in calls:
            pending = _PendingCall(call, runners)
            if on_tool_call is not None:
                on_tool_call(pending.name, pending.arguments)
            messages.append(pending.message(pending.run()))
    raise ToolLoopLimitError(max_steps, response, messages)


async def arun_tools(
    client: AsyncClient,
    model: str,
    messages: MutableSequence[Any],
    tools: Sequence[Callable[..., Any] | Mapping[str, Any] | Tool],
    *,
    max_steps: int = 8,
    on_tool_call: ToolCallHook | None = None,
    **chat_kwargs: Any,
) -> ChatResponse:
    """:func:`run_tools` for an :class:`AsyncClient`.

    The calls of one round run concurrently: coroutine functions are awaited, plain functions
    run in worker threads (``asyncio.to_thread``) so that they do not block the event loop.
    Results are appended in the order of the calls. ``on_tool_call`` may be a coroutine
    function; it is called for every call of a round before any of them starts.
    """
    import asyncio

    kwargs = _check_loop_arguments(messages, max_steps, chat_kwargs)
    schemas, runners = _registry(tools)
    response: ChatResponse | None = None
    for _ in range(max_steps):
        reply: Any = client.chat(model, messages, tools=schemas, stream=False, **kwargs)
        if not inspect.isawaitable(reply):
            raise RequestError("arun_tools needs an AsyncClient; use run_tools with a Client")
        answer: ChatResponse = await reply
        response = answer
        calls = _record(answer, messages)
        if not calls:
            return answer
        pending = [_PendingCall(call, runners) for call in calls]
        if on_tool_call is not None:
            for item in pending:
                hooked = on_tool_call(item.name, item.arguments)
                if inspect.isawaitable(hooked):
                    await hooked
        results = await asyncio.gather(*(item.arun() for item in pending))
        messages.extend(item.message(text) for item, text in zip(pending, results))
    raise ToolLoopLimitError(max_steps, response, messages)
