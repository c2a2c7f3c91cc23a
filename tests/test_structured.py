"""Structured outputs: format_schema's schema for each kind of format, and its parser."""

from __future__ import annotations

import dataclasses
import enum
import pathlib
import subprocess
import sys
import textwrap
import types
from typing import Annotated, Any, Literal, TypedDict

import annotated_types
import msgspec
import pydantic
import pytest

from ollamakit._errors import OllamaError, ParseError, RequestError
from ollamakit._schema import json_schema_for
from ollamakit._structured import format_schema

SRC = str(pathlib.Path(__file__).resolve().parents[1] / "src")


class Address(pydantic.BaseModel):
    city: str
    zip_code: str | None = None


class Person(pydantic.BaseModel):
    """Someone mentioned in the text."""

    name: str
    age: int
    address: Address


@dataclasses.dataclass
class Film:
    """A film."""

    title: str
    year: int
    genres: list[str] = dataclasses.field(default_factory=list)


class Point(TypedDict):
    x: float
    y: float


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Pixel(msgspec.Struct):
    position: Point
    colour: Colour
    alpha: Annotated[float, msgspec.Meta(ge=0, le=1)] = 1.0


@pydantic.dataclasses.dataclass
class Interval:
    low: int
    high: int

    @pydantic.model_validator(mode="after")
    def ordered(self) -> Interval:
        if self.low > self.high:
            raise ValueError("low must not exceed high")
        return self


@dataclasses.dataclass
class Review:
    film: Film
    author: Person  # a pydantic model inside a dataclass
    score: Annotated[int, annotated_types.Interval(ge=1, le=5)]


def parse_error(parse: Any, text: str) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse(text)
    assert info.value.raw == text
    return info.value


# ---------------------------------------------------------------------------------------------
# Formats that are sent as they are
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "json"])
def test_plain_formats(value: Any) -> None:
    assert format_schema(value) == (value, None)


def test_schema_dict_is_passed_through_untouched() -> None:
    schema = {"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}, "$defs": {"A": {}}}
    sent, parse = format_schema(schema)
    assert sent is schema
    assert parse is None
    proxy = types.MappingProxyType({"type": "array"})
    assert format_schema(proxy) == ({"type": "array"}, None)


@pytest.mark.parametrize("value", ["xml", "JSON", 5, True, [Film], Film("a", 1)])
def test_invalid_formats(value: Any) -> None:
    with pytest.raises(RequestError, match="format"):
        format_schema(value)


def test_type_without_json_form() -> None:
    class Opaque:
        def __init__(self, handle: Any) -> None:
            self.handle = handle

    with pytest.raises(RequestError, match="Opaque"):
        format_schema(Opaque)


# ---------------------------------------------------------------------------------------------
# pydantic models
# ---------------------------------------------------------------------------------------------


def test_pydantic_model() -> None:
    schema, parse = format_schema(Person)
    # pydantic's own schema, $defs included: the server builds its grammar from all of it.
    assert schema == Person.model_json_schema()
    assert isinstance(schema, dict)
    assert "$defs" in schema
    assert parse is not None
    person = parse('{"name": "Ada", "age": "36", "address": {"city": "London"}}')
    assert person == Person(name="Ada", age=36, address=Address(city="London"))


def test_pydantic_model_parse_errors() -> None:
    _, parse = format_schema(Person)
    error = parse_error(parse, '{"name": "Ada", "age": "old", "address": {"city": "London"}}')
    assert isinstance(error, OllamaError)
    assert isinstance(error, ValueError)
    assert "does not validate as Person" in str(error)
    assert "age" in error.error
    error = parse_error(parse, '{"name": "Ada", "age": 36, "addr')
    assert "Invalid JSON" in error.error
    error = parse_error(parse, "")
    assert "Person" in error.error


def test_list_of_pydantic_models() -> None:
    schema, parse = format_schema(list[Address])
    assert schema == {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "zip_code": {"type": ["string", "null"], "default": None},
            },
            "required": ["city"],
        },
    }
    assert parse is not None
    assert parse('[{"city": "Oslo"}, {"city": "Rome", "zip_code": "00100"}]') == [
        Address(city="Oslo"),
        Address(city="Rome", zip_code="00100"),
    ]
    error = parse_error(parse, '[{"zip_code": "1"}]')
    assert "city" in error.error


def test_pydantic_dataclass_runs_its_validators() -> None:
    schema, parse = format_schema(Interval)
    assert schema == json_schema_for(Interval)
    assert parse is not None
    assert parse('{"low": 1, "high": "2"}') == Interval(low=1, high=2)
    error = parse_error(parse, '{"low": 3, "high": 2}')
    assert "low must not exceed high" in error.error


# ---------------------------------------------------------------------------------------------
# dataclasses, TypedDicts, msgspec Structs and other annotations
# ---------------------------------------------------------------------------------------------


def test_dataclass() -> None:
    schema, parse = format_schema(Film)
    assert schema == {
        "type": "object",
        "description": "A film.",
        "properties": {
            "title": {"type": "string"},
            "year": {"type": "integer"},
            "genres": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["title", "year"],
    }
    assert parse is not None
    assert parse('{"title": "Alien", "year": "1979", "extra": 1}') == Film("Alien", 1979)
    error = parse_error(parse, '{"title": "Alien"}')
    assert error.error == "the model's output does not validate as Film: Object missing " + (
        "required field `year`"
    )
    error = parse_error(parse, '{"title": "Alien", "year": 1979, "genres": "horror"}')
    assert "$.genres" in error.error
    error = parse_error(parse, '{"title": "Alien", "year": 19')
    assert error.error.startswith("the model's output is not valid JSON: ")


def test_typeddict() -> None:
    schema, parse = format_schema(Point)
    assert schema == {
        "type": "object",
        "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
        "required": ["x", "y"],
    }
    assert parse is not None
    assert parse('{"x": 1, "y": 2.5}') == {"x": 1.0, "y": 2.5}
    error = parse_error(parse, '{"x": 1}')
    assert "`y`" in error.error


def test_msgspec_struct() -> None:
    schema, parse = format_schema(Pixel)
    assert schema == json_schema_for(Pixel)
    assert isinstance(schema, dict)
    assert "$defs" not in str(schema)  # nested types inlined
    assert schema["properties"]["colour"] == {"type": "string", "enum": ["blue", "red"]}
    assert parse is not None
    pixel = parse('{"position": {"x": 0, "y": 1}, "colour": "blue"}')
    assert pixel == Pixel(position={"x": 0.0, "y": 1.0}, colour=Colour.BLUE)
    error = parse_error(parse, '{"position": {"x": 0, "y": 1}, "colour": "green"}')
    assert "green" in error.error
    error = parse_error(parse, '{"position": {"x": 0, "y": 1}, "colour": "red", "alpha": 2}')
    assert "<= 1" in error.error  # msgspec's own constraints are checked


def test_dataclass_with_pydantic_parts() -> None:
    _, parse = format_schema(Review)
    assert parse is not None
    text = (
        '{"film": {"title": "Alien", "year": 1979}, "score": 5,'
        ' "author": {"name": "Ada", "age": 36, "address": {"city": "London"}}}'
    )
    review = parse(text)
    assert review.author == Person(name="Ada", age=36, address=Address(city="London"))
    assert review.film == Film("Alien", 1979)
    error = parse_error(parse, text.replace('"score": 5', '"score": 9'))
    assert "less than or equal to 5" in error.error  # the annotated_types constraint


@pytest.mark.parametrize(
    ("annotation", "schema", "text", "value"),
    [
        (list[Film], {"type": "array", "items": json_schema_for(Film)}, '[{"title": "A", '
         '"year": 1}]', [Film("A", 1)]),
        (Literal["yes", "no"], {"type": "string", "enum": ["yes", "no"]}, '"no"', "no"),
        (Colour, {"type": "string", "enum": ["red", "blue"]}, '"red"', Colour.RED),
        (int | None, {"type": ["integer", "null"]}, "null", None),
        (bool, {"type": "boolean"}, "true", True),
        (dict[str, int], {"type": "object", "additionalProperties": {"type": "integer"}},
         '{"a": 1}', {"a": 1}),
        (tuple[str, int], json_schema_for(tuple[str, int]), '["a", 1]', ("a", 1)),
    ],
)  # fmt: skip
def test_other_annotations(annotation: Any, schema: Any, text: str, value: Any) -> None:
    sent, parse = format_schema(annotation)
    assert sent == schema
    assert parse is not None
    assert parse(text) == value


@pytest.mark.parametrize(
    ("annotation", "text"),
    [
        (Literal["yes", "no"], '"maybe"'),
        (int, '"three"'),
        (list[int], "[1, 2"),
        (Annotated[int, annotated_types.Gt(0)], "0"),
        (Annotated[int, pydantic.Field(le=10)], "11"),
        (Annotated[str, msgspec.Meta(max_length=2)], '"abc"'),
    ],
)
def test_other_annotations_parse_errors(annotation: Any, text: str) -> None:
    _, parse = format_schema(annotation)
    assert parse is not None
    parse_error(parse, text)


def test_schema_is_computed_once() -> None:
    first, parse = format_schema(Film)
    second, _ = format_schema(Film)
    assert first is second
    # Unhashable metadata cannot be cached, and still works.
    schema, parse = format_schema(Annotated[int, {"note": "unhashable"}])
    assert schema == {"type": "integer"}
    assert parse is not None
    assert parse("4") == 4


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
package = types.ModuleType("ollamakit")
package.__path__ = [{src!r} + "/ollamakit"]
sys.modules["ollamakit"] = package

import ollamakit._structured
assert "ollamakit._schema" not in sys.modules  # loaded only when a type is given
from ollamakit._structured import format_schema
from ollamakit._errors import ParseError

@dataclasses.dataclass
class Item:
    name: str
    qty: int = 1

schema, parse = format_schema(list[Item])
assert schema["items"]["required"] == ["name"], schema
assert parse('[{"name": "a", "qty": "2"}]') == [Item("a", 2)]
try:
    parse('[{"qty": 2}]')
except ParseError as exc:
    assert "name" in exc.error
else:
    raise AssertionError("expected ParseError")
schema, parse = format_schema(typing.Annotated[int, "just a note"])
assert parse("3") == 3
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
