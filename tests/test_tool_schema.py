"""Tool definitions from Python callables and classes (ollamakit._schema, _docstrings).

This module itself uses ``from __future__ import annotations``, so every annotation below is a
string that the converter has to resolve.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import dataclasses
import datetime
import decimal
import enum
import functools
import pathlib
import subprocess
import sys
import textwrap
import types
import typing
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import (
    Annotated,
    Any,
    Generic,
    Literal,
    NewType,
    Optional,
    TypedDict,
    TypeVar,
    Union,
)

import annotated_types
import msgspec
import pydantic
import pytest
import typing_extensions
from typing_extensions import NotRequired, Required

from ollamakit._docstrings import parse_docstring
from ollamakit._errors import RequestError
from ollamakit._schema import json_schema_for, tool_schema, tool_schemas

SRC = str(pathlib.Path(__file__).resolve().parents[1] / "src")


def params(tool: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = tool["function"]["parameters"]
    return result


def function(
    name: str, description: str, properties: dict[str, Any], required: list[str]
) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


# ---------------------------------------------------------------------------------------------
# Types used by the tests (module level so that string annotations resolve)
# ---------------------------------------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Priority(enum.IntEnum):
    """How urgent a task is."""

    LOW = 1
    HIGH = 2


class Mixed(enum.Enum):
    NAME = "name"
    NUMBER = 7


UserId = NewType("UserId", int)
Numeric = TypeVar("Numeric", bound=float)
T = TypeVar("T")


@dataclasses.dataclass
class Address:
    """A postal address.

    Attributes:
        street: Street and house number.
        city: City name.
    """

    street: str
    city: str = "Paris"
    tags: list[str] = dataclasses.field(default_factory=list)
    zip_code: Annotated[str, "Postal code."] | None = None
    country: str = dataclasses.field(default="FR", metadata={"description": "ISO country code."})
    internal: int = dataclasses.field(default=0, init=False)


@dataclasses.dataclass
class Box(Generic[T]):
    item: T


class Movie(TypedDict):
    """A film.

    Args:
        title: The title.
    """

    title: str
    year: int


class Options(TypedDict, total=False):
    verbose: bool
    level: Required[Annotated[int, "Log level."]]


class Tree(TypedDict):
    label: str
    children: NotRequired[list[Tree]]


@dataclasses.dataclass
class LinkedNode:
    value: int
    next: LinkedNode | None = None


@dataclasses.dataclass
class Department:
    name: str
    manager: Employee


@dataclasses.dataclass
class Employee:
    name: str
    department: Department | None = None


class Pet(pydantic.BaseModel):
    """A pet.

    Attributes:
        name: What the pet answers to.
    """

    name: str
    kind: Literal["cat", "dog"] = "cat"
    age: int = pydantic.Field(default=1, ge=0, description="Age in years.")


class Owner(pydantic.BaseModel):
    """Someone who has pets."""

    name: str
    pets: list[Pet]
    favorite: Color | None = None


class Category(pydantic.BaseModel):
    """A category tree."""

    name: str
    parent: Category | None = None
    children: list[Category] = []


class Point(msgspec.Struct):
    """A point on the plane."""

    x: float
    y: float = 0.0
    label: Annotated[str, msgspec.Meta(description="A label.")] = ""


class NotATool:
    pass


# ---------------------------------------------------------------------------------------------
# json_schema_for: every typing form
# ---------------------------------------------------------------------------------------------


SCHEMAS: list[tuple[str, Any, dict[str, Any]]] = [
    ("int", int, {"type": "integer"}),
    ("float", float, {"type": "number"}),
    ("bool", bool, {"type": "boolean"}),
    ("str", str, {"type": "string"}),
    ("bytes", bytes, {"type": "string"}),
    ("None", None, {"type": "null"}),
    ("datetime", datetime.datetime, {"type": "string", "format": "date-time"}),
    ("date", datetime.date, {"type": "string", "format": "date"}),
    ("time", datetime.time, {"type": "string", "format": "time"}),
    ("timedelta", datetime.timedelta, {"type": "string", "format": "duration"}),
    ("uuid", uuid.UUID, {"type": "string", "format": "uuid"}),
    ("decimal", decimal.Decimal, {"type": "number"}),
    ("path", pathlib.Path, {"type": "string", "format": "path"}),
    ("Any", Any, {}),
    ("object", object, {}),
    ("list[int]", list[int], {"type": "array", "items": {"type": "integer"}}),
    ("List[str]", typing.List[str], {"type": "array", "items": {"type": "string"}}),  # noqa: UP006
    ("Sequence[float]", Sequence[float], {"type": "array", "items": {"type": "number"}}),
    ("Iterable[bool]", Iterable[bool], {"type": "array", "items": {"type": "boolean"}}),
    ("tuple[int, ...]", tuple[int, ...], {"type": "array", "items": {"type": "integer"}}),
    (
        "set[int]",
        set[int],
        {"type": "array", "items": {"type": "integer"}, "uniqueItems": True},
    ),
    (
        "frozenset[str]",
        frozenset[str],
        {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
    ),
    ("deque[int]", collections.deque[int], {"type": "array", "items": {"type": "integer"}}),
    ("bare list", list, {"type": "array"}),
    ("list[Any]", list[Any], {"type": "array"}),
    ("bare dict", dict, {"type": "object"}),
    (
        "tuple[int, str]",
        tuple[int, str],
        {
            "type": "array",
            "prefixItems": [{"type": "integer"}, {"type": "string"}],
            "items": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            "minItems": 2,
            "maxItems": 2,
        },
    ),
    (
        "tuple[float, float]",
        tuple[float, float],
        {
            "type": "array",
            "prefixItems": [{"type": "number"}, {"type": "number"}],
            "items": {"type": "number"},
            "minItems": 2,
            "maxItems": 2,
        },
    ),
    (
        "dict[str, int]",
        dict[str, int],
        {"type": "object", "additionalProperties": {"type": "integer"}},
    ),
    (
        "Mapping[str, list[str]]",
        Mapping[str, list[str]],
        {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    ),
    ("dict[str, Any]", dict[str, Any], {"type": "object"}),
    (
        "Literal[str]",
        Literal["celsius", "fahrenheit"],
        {"type": "string", "enum": ["celsius", "fahrenheit"]},
    ),
    ("Literal[int]", Literal[1, 2, 3], {"type": "integer", "enum": [1, 2, 3]}),
    ("Literal[bool]", Literal[True], {"type": "boolean", "enum": [True]}),
    ("Literal single", Literal["only"], {"type": "string", "enum": ["only"]}),
    ("Literal mixed", Literal["a", 1], {"type": ["string", "integer"], "enum": ["a", 1]}),
    ("Literal enum member", Literal[Color.RED], {"type": "string", "enum": ["red"]}),
    (
        "Literal with None",
        Literal["a", None],
        {"type": ["string", "null"], "enum": ["a", None]},
    ),
    (
        "Optional[Literal]",
        Optional[Literal["a", "b"]],  # noqa: UP045
        {"type": ["string", "null"], "enum": ["a", "b", None]},
    ),
    (
        "union of Literals",
        Union[Literal["a"], Literal["b"]],  # noqa: UP007
        {"type": "string", "enum": ["a", "b"]},
    ),
    ("Enum", Color, {"type": "string", "enum": ["red", "green"]}),
    (
        "IntEnum with docstring",
        Priority,
        {"type": "integer", "enum": [1, 2], "description": "How urgent a task is."},
    ),
    ("Enum mixed values", Mixed, {"type": ["string", "integer"], "enum": ["name", 7]}),
    ("Optional[str]", Optional[str], {"type": ["string", "null"]}),  # noqa: UP045
    ("str | None", str | None, {"type": ["string", "null"]}),
    ("int | None", int | None, {"type": ["integer", "null"]}),
    (
        "datetime | None",
        datetime.datetime | None,
        {"type": ["string", "null"], "format": "date-time"},
    ),
    (
        "Color | None",
        Color | None,
        {"type": ["string", "null"], "enum": ["red", "green", None]},
    ),
    (
        "list[int] | None",
        list[int] | None,
        {"anyOf": [{"type": "array", "items": {"type": "integer"}}, {"type": "null"}]},
    ),
    ("Any | None", Optional[Any], {}),  # noqa: UP045
    ("int | str", int | str, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
    (
        "Union[int, str, None]",
        Union[int, str, None],  # noqa: UP007
        {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
    ),
    (
        "list[int] | tuple[int, ...]",
        list[int] | tuple[int, ...],
        {"type": "array", "items": {"type": "integer"}},
    ),
    ("Annotated str", Annotated[int, "A count."], {"type": "integer", "description": "A count."}),
    (
        "Annotated Field",
        Annotated[int, pydantic.Field(description="Between 1 and 10.", ge=1, le=10)],
        {"type": "integer", "description": "Between 1 and 10.", "minimum": 1, "maximum": 10},
    ),
    (
        "Annotated msgspec.Meta",
        Annotated[str, msgspec.Meta(min_length=1, pattern="^[a-z]+$", description="Slug.")],
        {"type": "string", "description": "Slug.", "minLength": 1, "pattern": "^[a-z]+$"},
    ),
    (
        "Annotated annotated_types",
        Annotated[list[int], annotated_types.MaxLen(3), annotated_types.Gt(0)],
        {"type": "array", "items": {"type": "integer"}, "maxItems": 3, "exclusiveMinimum": 0},
    ),
    (
        "Annotated Doc",
        Annotated[str, typing_extensions.Doc("Documented.")],
        {"type": "string", "description": "Documented."},
    ),
    (
        "Annotated inside list",
        list[Annotated[int, "An id."]],
        {"type": "array", "items": {"type": "integer", "description": "An id."}},
    ),
    ("NewType", UserId, {"type": "integer"}),
    ("TypeVar bound", Numeric, {"type": "number"}),
    ("TypeVar unbound", T, {}),
    (
        "dataclass",
        Address,
        {
            "type": "object",
            "description": "A postal address.",
            "properties": {
                "street": {"type": "string", "description": "Street and house number."},
                "city": {"type": "string", "description": "City name.", "default": "Paris"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "zip_code": {
                    "type": ["string", "null"],
                    "description": "Postal code.",
                    "default": None,
                },
                "country": {
                    "type": "string",
                    "description": "ISO country code.",
                    "default": "FR",
                },
            },
            "required": ["street"],
        },
    ),
    (
        "generic dataclass",
        Box[int],
        {"type": "object", "properties": {"item": {"type": "integer"}}, "required": ["item"]},
    ),
    (
        "TypedDict",
        Movie,
        {
            "type": "object",
            "description": "A film.",
            "properties": {
                "title": {"type": "string", "description": "The title."},
                "year": {"type": "integer"},
            },
            "required": ["title", "year"],
        },
    ),
    (
        "TypedDict total=False with Required",
        Options,
        {
            "type": "object",
            "properties": {
                "verbose": {"type": "boolean"},
                "level": {"type": "integer", "description": "Log level."},
            },
            "required": ["level"],
        },
    ),
    (
        "pydantic model",
        Pet,
        {
            "type": "object",
            "description": "A pet.",
            "properties": {
                "name": {"type": "string", "description": "What the pet answers to."},
                "kind": {"type": "string", "enum": ["cat", "dog"], "default": "cat"},
                "age": {
                    "type": "integer",
                    "default": 1,
                    "description": "Age in years.",
                    "minimum": 0,
                },
            },
            "required": ["name"],
        },
    ),
    (
        "msgspec Struct",
        Point,
        {
            "type": "object",
            "description": "A point on the plane.",
            "properties": {
                "x": {"type": "number"},
                "y": {"type": "number", "default": 0.0},
                "label": {"type": "string", "description": "A label.", "default": ""},
            },
            "required": ["x"],
        },
    ),
]


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [pytest.param(a, e, id=name) for name, a, e in SCHEMAS],
)
def test_json_schema_for(annotation: Any, expected: dict[str, Any]) -> None:
    assert json_schema_for(annotation) == expected


def test_nested_pydantic_model_is_inlined() -> None:
    assert json_schema_for(Owner) == {
        "type": "object",
        "description": "Someone who has pets.",
        "properties": {
            "name": {"type": "string"},
            "pets": {
                "type": "array",
                "items": {
                    "type": "object",
                    "description": "A pet.",
                    "properties": {
                        "name": {"type": "string", "description": "What the pet answers to."},
                        "kind": {"type": "string", "enum": ["cat", "dog"], "default": "cat"},
                        "age": {
                            "type": "integer",
                            "default": 1,
                            "description": "Age in years.",
                            "minimum": 0,
                        },
                    },
                    "required": ["name"],
                },
            },
            "favorite": {
                "type": ["string", "null"],
                "enum": ["red", "green", None],
                "default": None,
            },
        },
        "required": ["name", "pets"],
    }


def test_nested_dataclass_and_typeddict_in_a_function() -> None:
    def ship(to: Address, films: list[Movie]) -> None:
        """Ship films to an address."""

    assert params(tool_schema(ship)) == {
        "type": "object",
        "properties": {
            "to": json_schema_for(Address),
            "films": {"type": "array", "items": json_schema_for(Movie)},
        },
        "required": ["to", "films"],
    }
    assert "$defs" not in repr(tool_schema(ship))


# ---------------------------------------------------------------------------------------------
# Recursion
# ---------------------------------------------------------------------------------------------


def test_self_referencing_dataclass_is_expanded_once() -> None:
    assert json_schema_for(LinkedNode) == {
        "type": "object",
        "properties": {
            "value": {"type": "integer"},
            "next": {"anyOf": [{"type": "object"}, {"type": "null"}], "default": None},
        },
        "required": ["value"],
    }


def test_self_referencing_typeddict() -> None:
    assert json_schema_for(Tree) == {
        "type": "object",
        "properties": {
            "label": {"type": "string"},
            "children": {"type": "array", "items": {"type": "object"}},
        },
        "required": ["label"],
    }


def test_mutually_recursive_dataclasses() -> None:
    assert json_schema_for(Employee) == {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "department": {
                "anyOf": [
                    {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "manager": {"type": "object"},
                        },
                        "required": ["name", "manager"],
                    },
                    {"type": "null"},
                ],
                "default": None,
            },
        },
        "required": ["name"],
    }


def test_self_referencing_pydantic_model_has_no_refs() -> None:
    assert tool_schema(Category) == function(
        "Category",
        "A category tree.",
        {
            "name": {"type": "string"},
            "parent": {"anyOf": [{"type": "object"}, {"type": "null"}], "default": None},
            "children": {"type": "array", "items": {"type": "object"}, "default": []},
        },
        ["name"],
    )


def test_local_self_referencing_class() -> None:
    @dataclasses.dataclass
    class Folder:
        name: str
        subfolders: list[Folder]

    assert json_schema_for(Folder) == {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "subfolders": {"type": "array", "items": {"type": "object"}},
        },
        "required": ["name", "subfolders"],
    }


# ---------------------------------------------------------------------------------------------
# Functions: parameters, defaults, required
# ---------------------------------------------------------------------------------------------


def get_weather(
    city: str,
    unit: Literal["celsius", "fahrenheit"] = "celsius",
    days: int = 1,
    country: str | None = None,
    when: datetime.date | None = None,
) -> str:
    """Get the weather forecast for a city.

    Args:
        city: The city, e.g. "Paris".
        unit: Temperature unit.
        days: How many days
            to forecast.
        country: ISO code of the country.
    """
    return city


def test_function_tool_full_schema() -> None:
    assert tool_schema(get_weather) == function(
        "get_weather",
        "Get the weather forecast for a city.",
        {
            "city": {"type": "string", "description": 'The city, e.g. "Paris".'},
            "unit": {
                "type": "string",
                "enum": ["celsius", "fahrenheit"],
                "description": "Temperature unit.",
                "default": "celsius",
            },
            "days": {
                "type": "integer",
                "description": "How many days to forecast.",
                "default": 1,
            },
            "country": {
                "type": ["string", "null"],
                "description": "ISO code of the country.",
                "default": None,
            },
            "when": {"type": ["string", "null"], "format": "date", "default": None},
        },
        ["city"],
    )


def test_optional_without_default_is_required_but_nullable() -> None:
    def pick(choice: int | None, fallback: int | None = None) -> None:
        """Pick."""

    assert params(tool_schema(pick)) == {
        "type": "object",
        "properties": {
            "choice": {"type": ["integer", "null"]},
            "fallback": {"type": ["integer", "null"], "default": None},
        },
        "required": ["choice"],
    }


def test_defaults_recorded_only_when_json() -> None:
    sentinel = object()

    def f(
        a: float = 1.5,
        b: tuple[int, ...] = (1, 2),
        c: Color = Color.GREEN,
        d: Any = sentinel,
        e: float = float("inf"),
        f: dict[str, int] | None = None,
    ) -> None:
        """F."""

    assert params(tool_schema(f))["properties"] == {
        "a": {"type": "number", "default": 1.5},
        "b": {"type": "array", "items": {"type": "integer"}, "default": [1, 2]},
        "c": {"type": "string", "enum": ["red", "green"], "default": "green"},
        "d": {},
        "e": {"type": "number"},
        "f": {
            "anyOf": [
                {"type": "object", "additionalProperties": {"type": "integer"}},
                {"type": "null"},
            ],
            "default": None,
        },
    }
    assert params(tool_schema(f))["required"] == []


def test_unannotated_parameters() -> None:
    def f(anything, count, flag=False):  # type: ignore[no-untyped-def]
        """F.

        Args:
            anything: No type given anywhere.
            count (int): Typed only in the docstring.
            flag (bool, optional): Also typed in the docstring.
        """

    assert params(tool_schema(f)) == {
        "type": "object",
        "properties": {
            "anything": {"description": "No type given anywhere."},
            "count": {"type": "integer", "description": "Typed only in the docstring."},
            "flag": {
                "type": "boolean",
                "description": "Also typed in the docstring.",
                "default": False,
            },
        },
        "required": ["anything", "count"],
    }


def test_variadics_are_excluded() -> None:
    def f(a: int, *args: int, b: str = "", **kwargs: Any) -> None:
        """F."""

    assert params(tool_schema(f)) == {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "string", "default": ""}},
        "required": ["a"],
    }


def test_no_parameters_and_no_docstring() -> None:
    def ping() -> None:
        pass

    assert tool_schema(ping) == function("ping", "", {}, [])


def test_annotated_description_wins_over_docstring() -> None:
    def f(x: Annotated[int, "From Annotated."], y: Annotated[str, pydantic.Field(min_length=2)]):  # type: ignore[no-untyped-def]
        """F.

        Args:
            x: From the docstring.
            y: From the docstring too.
        """

    assert params(tool_schema(f))["properties"] == {
        "x": {"type": "integer", "description": "From Annotated."},
        "y": {"type": "string", "description": "From the docstring too.", "minLength": 2},
    }


def test_parameter_description_wins_over_class_docstring() -> None:
    def f(address: Address, priority: Priority) -> None:
        """F.

        Args:
            address: Where to deliver.
        """

    properties = params(tool_schema(f))["properties"]
    assert properties["address"]["description"] == "Where to deliver."
    assert properties["priority"]["description"] == "How urgent a task is."


# ---------------------------------------------------------------------------------------------
# Kinds of callables
# ---------------------------------------------------------------------------------------------


class Calculator:
    """A calculator."""

    def add(self, a: int, b: int = 0) -> int:
        """Add two numbers.

        Args:
            a: First number.
            b: Second number.
        """
        return a + b

    @classmethod
    def make(cls, precision: int) -> Calculator:
        """Make a calculator."""
        return cls()

    @staticmethod
    def negate(x: float) -> float:
        """Negate x."""
        return -x


ADD = function(
    "add",
    "Add two numbers.",
    {
        "a": {"type": "integer", "description": "First number."},
        "b": {"type": "integer", "description": "Second number.", "default": 0},
    },
    ["a"],
)


def test_bound_method() -> None:
    assert tool_schema(Calculator().add) == ADD


def test_unbound_method_drops_self() -> None:
    assert tool_schema(Calculator.add) == ADD


def test_classmethod_and_staticmethod() -> None:
    assert tool_schema(Calculator.make) == function(
        "make", "Make a calculator.", {"precision": {"type": "integer"}}, ["precision"]
    )
    assert tool_schema(Calculator.negate) == function(
        "negate", "Negate x.", {"x": {"type": "number"}}, ["x"]
    )
    raw = Calculator.__dict__["make"]
    assert tool_schema(raw) == tool_schema(Calculator.make)


def test_partial_removes_bound_parameters() -> None:
    tool = tool_schema(functools.partial(get_weather, "Paris", days=3))
    assert tool["function"]["name"] == "get_weather"
    assert list(params(tool)["properties"]) == ["unit", "country", "when"]
    assert params(tool)["required"] == []


def test_partial_of_bound_method() -> None:
    tool = tool_schema(functools.partial(Calculator().add, b=2))
    assert tool == function(
        "add", "Add two numbers.", {"a": {"type": "integer", "description": "First number."}}, ["a"]
    )


def test_decorated_function_keeps_its_signature() -> None:
    def logged(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return func(*args, **kwargs)

        return wrapper

    assert tool_schema(logged(get_weather)) == tool_schema(get_weather)


def test_async_function() -> None:
    async def fetch(url: str) -> str:
        """Fetch a URL."""
        await asyncio.sleep(0)
        return url

    assert tool_schema(fetch) == function(
        "fetch", "Fetch a URL.", {"url": {"type": "string"}}, ["url"]
    )


def test_callable_object() -> None:
    class Search:
        """Search the web."""

        def __call__(self, query: str, limit: int = 10) -> list[str]:
            return []

    assert tool_schema(Search()) == function(
        "Search",
        "Search the web.",
        {"query": {"type": "string"}, "limit": {"type": "integer", "default": 10}},
        ["query"],
    )


class Greeter:
    """Greet someone."""

    def __init__(self, name: str, shout: bool = False) -> None:
        self.name = name


def test_plain_class_uses_its_constructor() -> None:
    assert tool_schema(Greeter) == function(
        "Greeter",
        "Greet someone.",
        {"name": {"type": "string"}, "shout": {"type": "boolean", "default": False}},
        ["name"],
    )


def test_lambda_is_rejected() -> None:
    with pytest.raises(RequestError, match="lambda"):
        tool_schema(lambda x: x)


# ---------------------------------------------------------------------------------------------
# Docstring styles
# ---------------------------------------------------------------------------------------------


def google_style(args: list[str], query: str, limit: int = 5) -> None:
    """Run a query.

    The query runs against the index:
    nothing else is touched.

    Args:
        args: Extra command-line
            arguments.
        query (str): The query text.
        limit: At most this many results.

    Returns:
        Nothing at all.

    Raises:
        ValueError: never.
    """


def numpy_style(args: list[str], query: str, limit: int = 5) -> None:
    """Run a query.

    The query runs against the index:
    nothing else is touched.

    Parameters
    ----------
    args : list of str
        Extra command-line
        arguments.
    query : str
        The query text.
    limit : int, optional
        At most this many results.

    Returns
    -------
    None
        Nothing at all.
    """


def rest_style(args: list[str], query: str, limit: int = 5) -> None:
    """Run a query.

    The query runs against the index:
    nothing else is touched.

    :param args: Extra command-line
        arguments.
    :type args: list[str]
    :param str query: The query text.
    :param limit: At most this many results.
    :returns: Nothing at all.
    :rtype: None
    """


QUERY_TOOL_PROPERTIES = {
    "args": {
        "type": "array",
        "items": {"type": "string"},
        "description": "Extra command-line arguments.",
    },
    "query": {"type": "string", "description": "The query text."},
    "limit": {"type": "integer", "description": "At most this many results.", "default": 5},
}


@pytest.mark.parametrize("func", [google_style, numpy_style, rest_style])
def test_docstring_styles(func: Callable[..., None]) -> None:
    assert tool_schema(func) == function(
        func.__name__,
        "Run a query.\n\nThe query runs against the index:\nnothing else is touched.",
        QUERY_TOOL_PROPERTIES,
        ["args", "query"],
    )


def test_parse_docstring_types() -> None:
    assert parse_docstring(google_style.__doc__).types == {"query": "str"}
    assert parse_docstring(numpy_style.__doc__).types == {
        "args": "list of str",
        "query": "str",
        "limit": "int, optional",
    }
    assert parse_docstring(rest_style.__doc__).types == {"args": "list[str]", "query": "str"}


def test_parse_docstring_edge_cases() -> None:
    assert parse_docstring(None) == ("", {}, {})
    doc = parse_docstring(
        """Summary.

        Keyword Args:
            *args: Positional extras.
            **kwargs: Keyword extras.
        Example:
            args: not a parameter
        """
    )
    assert doc.summary == "Summary."
    assert doc.params == {"args": "Positional extras.", "kwargs": "Keyword extras."}
    numpy_pair = parse_docstring("S.\n\nParameters\n----------\nx1, x2 : float\n    Coordinates.\n")
    assert numpy_pair.params == {"x1": "Coordinates.", "x2": "Coordinates."}


# ---------------------------------------------------------------------------------------------
# Classes as tools
# ---------------------------------------------------------------------------------------------


def test_pydantic_model_as_tool() -> None:
    assert tool_schema(Pet) == function(
        "Pet",
        "A pet.",
        {
            "name": {"type": "string", "description": "What the pet answers to."},
            "kind": {"type": "string", "enum": ["cat", "dog"], "default": "cat"},
            "age": {
                "type": "integer",
                "default": 1,
                "description": "Age in years.",
                "minimum": 0,
            },
        },
        ["name"],
    )


def test_pydantic_model_without_docstring_or_required_fields() -> None:
    class Settings(pydantic.BaseModel):
        debug: bool = False

    assert tool_schema(Settings) == function(
        "Settings", "", {"debug": {"type": "boolean", "default": False}}, []
    )


def test_pydantic_dataclass_as_tool() -> None:
    @pydantic.dataclasses.dataclass
    class Query:
        """A query."""

        text: str
        limit: int = 3

    assert tool_schema(Query) == function(
        "Query",
        "A query.",
        {"text": {"type": "string"}, "limit": {"type": "integer", "default": 3}},
        ["text"],
    )


def test_dataclass_as_tool() -> None:
    tool = tool_schema(Address)
    expected = json_schema_for(Address)
    description = expected.pop("description")
    assert tool == {
        "type": "function",
        "function": {"name": "Address", "description": description, "parameters": expected},
    }


def test_typeddict_as_tool() -> None:
    assert tool_schema(Movie) == function(
        "Movie",
        "A film.",
        {"title": {"type": "string", "description": "The title."}, "year": {"type": "integer"}},
        ["title", "year"],
    )


def test_msgspec_struct_class_as_tool() -> None:
    assert tool_schema(Point)["function"]["name"] == "Point"
    assert params(tool_schema(Point))["required"] == ["x"]


# ---------------------------------------------------------------------------------------------
# Ready-made tools
# ---------------------------------------------------------------------------------------------


def test_dict_passes_through_untouched() -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "lookup",
            "parameters": {
                "type": "object",
                "properties": {"q": {"type": "string", "minLength": 3, "x-extra": [1, 2]}},
                "$defs": {"Unused": {"type": "object"}},
            },
        },
    }
    before = copy.deepcopy(tool)
    result = tool_schema(tool)
    assert result == before
    assert tool == before
    assert result is tool


def test_other_mappings_are_copied() -> None:
    frozen = types.MappingProxyType({"type": "function", "function": {"name": "f"}})
    assert tool_schema(frozen) == {"type": "function", "function": {"name": "f"}}


def test_struct_instance_and_model_dump_objects() -> None:
    class FunctionSpec(msgspec.Struct):
        name: str
        parameters: dict[str, Any]

    class ToolSpec(msgspec.Struct):
        function: FunctionSpec
        type: str = "function"

    spec = ToolSpec(FunctionSpec("f", {"type": "object", "properties": {}}))
    assert tool_schema(spec) == {
        "function": {"name": "f", "parameters": {"type": "object", "properties": {}}},
        "type": "function",
    }

    import ollama

    official = ollama.Tool(
        type="function",
        function=ollama.Tool.Function(
            name="f",
            description="F.",
            parameters=ollama.Tool.Function.Parameters(  # type: ignore[call-arg]
                type="object",
                required=["x"],
                properties={"x": ollama.Tool.Function.Parameters.Property(type="integer")},
            ),
        ),
    )
    assert tool_schema(official) == {
        "type": "function",
        "function": {
            "name": "f",
            "description": "F.",
            "parameters": {
                "type": "object",
                "required": ["x"],
                "properties": {"x": {"type": "integer"}},
            },
        },
    }

    class Legacy:
        def to_dict(self) -> dict[str, Any]:
            return {"type": "function", "function": {"name": "legacy"}}

    assert tool_schema(Legacy()) == {"type": "function", "function": {"name": "legacy"}}


def test_tool_schemas_maps_a_sequence() -> None:
    raw = {"type": "function", "function": {"name": "raw"}}
    result = tool_schemas([get_weather, Pet, raw])
    assert [t["function"]["name"] for t in result] == ["get_weather", "Pet", "raw"]
    assert result[2] is raw
    assert tool_schemas(()) == []
    assert tool_schemas(None) == []
    assert tool_schemas(t for t in [raw]) == [raw]


@pytest.mark.parametrize("tools", [get_weather, {"type": "function"}, "get_weather"])
def test_tool_schemas_rejects_a_single_tool(tools: Any) -> None:
    with pytest.raises(RequestError, match="list of tools"):
        tool_schemas(tools)


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("obj", [42, "get_weather", None, b"x", 3.5])
def test_unsupported_objects(obj: Any) -> None:
    with pytest.raises(RequestError, match=r"cannot use .* as a tool"):
        tool_schema(obj)


def test_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        tool_schema(42)


def test_enum_class_is_not_a_tool() -> None:
    with pytest.raises(RequestError, match="Enum"):
        tool_schema(Color)


def test_builtin_without_signature() -> None:
    with pytest.raises(RequestError, match="signature"):
        tool_schema(int)


def test_unsupported_annotation() -> None:
    def f(callback: Callable[[int], int]) -> None:
        """F."""

    with pytest.raises(RequestError, match="JSON schema"):
        tool_schema(f)


def test_non_json_enum_value() -> None:
    class Weird(enum.Enum):
        PAIR = (1, 2j)

    with pytest.raises(RequestError, match=r"Weird\.PAIR"):
        json_schema_for(Weird)


def test_unresolved_string_annotation() -> None:
    with pytest.raises(RequestError, match="forward reference 'Missing'"):
        json_schema_for("Missing")


# ---------------------------------------------------------------------------------------------
# Forward references (this module uses ``from __future__ import annotations``)
# ---------------------------------------------------------------------------------------------


def plan_trip(stops: list[Destination], mode: TravelMode = "train") -> None:
    """Plan a trip; the types are defined further down the module.

    Args:
        stops: Where to go.
    """


@dataclasses.dataclass
class Destination:
    name: str
    nights: int = 1


TravelMode = Literal["train", "car"]


def test_forward_references_to_later_definitions() -> None:
    assert tool_schema(plan_trip) == function(
        "plan_trip",
        "Plan a trip; the types are defined further down the module.",
        {
            "stops": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "nights": {"type": "integer", "default": 1},
                    },
                    "required": ["name"],
                },
                "description": "Where to go.",
            },
            "mode": {"type": "string", "enum": ["train", "car"], "default": "train"},
        },
        ["stops"],
    )


def define(source: str, name: str) -> Any:
    """Compile source as a module of its own, without this module's ``from __future__`` flags."""
    module = types.ModuleType(f"_tool_schema_source_{len(sys.modules)}")
    sys.modules[module.__name__] = module  # where typing.get_type_hints looks up class globals
    exec(compile(source, module.__name__, "exec", dont_inherit=True), module.__dict__)
    return getattr(module, name)


def test_unresolvable_annotation_names_the_parameter() -> None:
    f = define(
        "from __future__ import annotations\n"
        "def f(a: int, b: NoSuchType) -> AlsoMissing:\n"
        "    '''F.'''\n",
        "f",
    )
    with pytest.raises(RequestError, match="'NoSuchType' of parameter 'b' of tool 'f'"):
        tool_schema(f)


def test_unresolvable_return_annotation_is_harmless() -> None:
    f = define(
        "from __future__ import annotations\n"
        "def f(a: int, b: list[str] | None = None) -> NoSuchType:\n"
        "    '''F.'''\n",
        "f",
    )
    assert tool_schema(f) == function(
        "f",
        "F.",
        {
            "a": {"type": "integer"},
            "b": {
                "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}],
                "default": None,
            },
        },
        ["a"],
    )


def test_evaluated_annotations_and_quoted_forward_references() -> None:
    f = define(
        "import typing\n"
        "def f(a: typing.Optional[int] = None, b: 'list[Later]' = ()):\n"
        "    '''F.'''\n"
        "class Later(typing.TypedDict):\n"
        "    x: 'typing.Literal[1, 2]'\n",
        "f",
    )
    assert f.__annotations__["a"] == Optional[int]  # noqa: UP045
    assert params(tool_schema(f))["properties"] == {
        "a": {"type": ["integer", "null"], "default": None},
        "b": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"x": {"type": "integer", "enum": [1, 2]}},
                "required": ["x"],
            },
            "default": [],
        },
    }


@pytest.mark.skipif(sys.version_info < (3, 12), reason="the type statement is new in 3.12")
def test_type_statement_alias() -> None:
    f = define(
        "type Pair = tuple[int, int]\n"
        "type Pairs = list[Pair]\n"
        "def f(points: Pairs) -> None:\n"
        "    '''F.'''\n",
        "f",
    )
    pair = json_schema_for(tuple[int, int])
    assert params(tool_schema(f))["properties"] == {"points": {"type": "array", "items": pair}}


# ---------------------------------------------------------------------------------------------
# The official converter, for comparison
# ---------------------------------------------------------------------------------------------


# Compiled without ``from __future__ import annotations``: with string annotations the official
# converter cannot even build its model (see the test after next).
SEARCH_FILES_SOURCE = '''
from typing import Literal, Optional

def search_files(
    pattern: str,
    mode: Literal["glob", "regex"] = "glob",
    roots: Optional[list[str]] = None,
    args: str = "",
) -> list[str]:
    """Search for files.

    Args:
        pattern: What to look for.
        mode: How to read the pattern.
        roots: Directories to search.
        args: Extra flags for the search tool.
    """
    return []
'''


def test_official_converter_loses_what_we_keep() -> None:
    from ollama._utils import convert_function_to_tool

    search_files = define(SEARCH_FILES_SOURCE, "search_files")
    official = convert_function_to_tool(search_files).model_dump(exclude_none=True)
    official_params = official["function"]["parameters"]
    ours = params(tool_schema(search_files))

    # A parameter with a default is not required.
    assert official_params["required"] == ["pattern", "mode", "args"]
    assert ours["required"] == ["pattern"]
    # The Literal's values survive.
    assert official_params["properties"]["mode"] == {
        "type": "string",
        "description": "How to read the pattern.",
    }
    assert ours["properties"]["mode"] == {
        "type": "string",
        "enum": ["glob", "regex"],
        "description": "How to read the pattern.",
        "default": "glob",
    }
    # The item type of the list survives.
    assert "items" not in official_params["properties"]["roots"]
    assert ours["properties"]["roots"]["anyOf"][0] == {"type": "array", "items": {"type": "string"}}
    # A parameter named ``args`` gets its own description, not the whole Args section.
    assert official_params["properties"]["args"]["description"].startswith("pattern: ")
    assert ours["properties"]["args"]["description"] == "Extra flags for the search tool."


def test_official_converter_fails_on_postponed_annotations() -> None:
    from ollama._utils import convert_function_to_tool

    postponed = define("from __future__ import annotations\n" + SEARCH_FILES_SOURCE, "search_files")
    with pytest.raises(pydantic.PydanticUserError):
        convert_function_to_tool(postponed)
    assert tool_schema(postponed) == tool_schema(define(SEARCH_FILES_SOURCE, "search_files"))


# ---------------------------------------------------------------------------------------------
# pydantic stays optional
# ---------------------------------------------------------------------------------------------

WITHOUT_PYDANTIC = """
import dataclasses, importlib.abc, sys, types, typing

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "pydantic" or name.startswith("pydantic."):
            raise ImportError("pydantic is blocked")
        return None

sys.meta_path.insert(0, Block())
# Load the module without the package __init__, which is none of this test's business.
package = types.ModuleType("ollamakit")
package.__path__ = [{src!r} + "/ollamakit"]
sys.modules["ollamakit"] = package

from ollamakit._schema import tool_schema, json_schema_for
from ollamakit._errors import RequestError

@dataclasses.dataclass
class Item:
    name: str
    qty: int = 1

class Order(typing.TypedDict):
    items: list[Item]

def order(items: list[Item], note: typing.Optional[str] = None) -> None:
    '''Place an order.'''

assert tool_schema(order)["function"]["parameters"]["required"] == ["items"]
assert tool_schema(Order)["function"]["name"] == "Order"
assert json_schema_for(Item)["required"] == ["name"]
try:
    json_schema_for(complex)
except RequestError as exc:
    assert "pydantic" in str(exc), exc
else:
    raise AssertionError("expected RequestError")
assert not any(m == "pydantic" or m.startswith("pydantic.") for m in sys.modules)
print("ok")
"""


def test_works_without_pydantic() -> None:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(WITHOUT_PYDANTIC).replace("{src!r}", repr(SRC))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_import_does_not_import_pydantic() -> None:
    code = (
        "import sys, types\n"
        f"package = types.ModuleType('ollamakit'); package.__path__ = [{SRC!r} + '/ollamakit']\n"
        "sys.modules['ollamakit'] = package\n"
        "import ollamakit._schema, ollamakit._coerce, ollamakit._tool_loop\n"
        "print('pydantic' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
