"""The pure parts of ``ollamakit.ray``: prompt templates, Arrow types for ``format=`` classes,
and the choice of host. No Ray, no server."""

from __future__ import annotations

import dataclasses
import datetime
import enum
from typing import Annotated, Any, Literal, TypedDict

import msgspec
import pyarrow as pa
import pydantic
import pytest

from ollamakit import BadRequestError, ConnectionError, ServerBusyError
from ollamakit.ray._columns import RecordColumns, arrow_type, embedding_array
from ollamakit.ray._hosts import HostPool, retryable
from ollamakit.ray._template import NullValueError, Template

# -- templates ------------------------------------------------------------------------------


def test_template_renders_columns_with_format_specs_and_conversions() -> None:
    template = Template("{title!r} scored {score:.1f} {{not a field}} {title}")
    assert template.columns == ("title", "score")
    assert template.render({"title": "Dune", "score": 9.25}) == (
        "'Dune' scored 9.2 {not a field} Dune"
    )


def test_template_fields_are_column_names_never_lookups() -> None:
    template = Template("{a.b} {c[0]}")
    assert template.columns == ("a.b", "c[0]")

    class Secret:
        b = "leaked"

    assert template.render({"a.b": "x", "c[0]": "y", "a": Secret()}) == "x y"


def test_template_null_value_fails_the_row() -> None:
    with pytest.raises(NullValueError, match="column 'body' is null"):
        Template("{title}: {body}").render({"title": "t", "body": None})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{}", "names no column"),
        ("{0:{width}}", "may not contain another field"),
        ("{a!x}", "unknown conversion"),
        ("{a", "invalid template"),
    ],
)
def test_template_mistakes_are_caught_before_any_row(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Template(text)


# -- Arrow types ----------------------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass
class Point:
    x: int
    y: float


class Tagged(TypedDict):
    name: str
    tags: list[str]


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (str, pa.string()),
        (int, pa.int64()),
        (float, pa.float64()),
        (bool, pa.bool_()),
        (datetime.date, pa.string()),
        (Literal["a", "b"], pa.string()),
        (Literal[1, 2], pa.int64()),
        (Color, pa.string()),
        (int | None, pa.int64()),
        (Annotated[int, "meta"], pa.int64()),
        (list[str], pa.list_(pa.string())),
        (tuple[float, ...], pa.list_(pa.float64())),
        (dict[str, int], pa.map_(pa.string(), pa.int64())),
        (Point, pa.struct([("x", pa.int64()), ("y", pa.float64())])),
        (
            list[Tagged],
            pa.list_(pa.struct([("name", pa.string()), ("tags", pa.list_(pa.string()))])),
        ),
        (Any, None),
        (int | str, None),
        (Literal["a", 1], None),
        (tuple[int, str], None),
        (dict[int, str], None),
    ],
)
def test_arrow_type_of_annotations(annotation: Any, expected: pa.DataType | None) -> None:
    assert arrow_type(annotation) == expected


class Review(pydantic.BaseModel):
    sentiment: Literal["positive", "negative"]
    stars: int
    topics: list[str]
    where: Point | None = None
    extra: Any = None
    counts: dict[str, int] = {}


class ReviewStruct(msgspec.Struct, rename="camel"):
    star_count: int
    color: Color


def test_record_columns_from_a_pydantic_model() -> None:
    columns = RecordColumns(Review, prefix="r_")
    assert columns.names == ["r_sentiment", "r_stars", "r_topics", "r_where", "r_extra", "r_counts"]
    parsed = [
        Review(
            sentiment="positive", stars=5, topics=["plot"], where=Point(1, 2.5), extra={"k": [1]}
        ),
        None,
        Review(sentiment="negative", stars=1, topics=[], counts={"a": 2}),
    ]
    table = pa.table(dict(zip(columns.names, columns.arrays(parsed))))
    assert table.schema.types == columns.types
    assert table.to_pylist() == [
        {"r_sentiment": "positive", "r_stars": 5, "r_topics": ["plot"],
         "r_where": {"x": 1, "y": 2.5}, "r_extra": '{"k":[1]}', "r_counts": []},
        dict.fromkeys(columns.names),
        {"r_sentiment": "negative", "r_stars": 1, "r_topics": [], "r_where": None,
         "r_extra": None, "r_counts": [("a", 2)]},
    ]  # fmt: skip


def test_record_columns_from_a_struct_use_its_wire_names_and_enum_values() -> None:
    columns = RecordColumns(ReviewStruct)
    assert columns.names == ["starCount", "color"]
    arrays = columns.arrays([ReviewStruct(star_count=3, color=Color.BLUE)])
    assert [array.to_pylist() for array in arrays] == [[3], ["blue"]]


def test_record_columns_from_a_typeddict_and_a_dataclass() -> None:
    assert RecordColumns(Tagged).types == [pa.string(), pa.list_(pa.string())]
    assert RecordColumns(Point).arrays([Point(3, 0.5)])[1].to_pylist() == [0.5]


def test_record_columns_need_a_record_class() -> None:
    with pytest.raises(TypeError, match="record class"):
        RecordColumns(list[Point])


def test_embeddings_are_fixed_size_float32_lists() -> None:
    array = embedding_array([[0.5, 1.0], None], 2)
    assert array.type == pa.list_(pa.float32(), 2)
    assert array.to_pylist() == [[0.5, 1.0], None]
    assert embedding_array([None], None).type == pa.list_(pa.float32())


# -- hosts ----------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_pool_sends_to_the_least_loaded_host_round_robin_among_equals() -> None:
    pool = HostPool(["a", "b", "c"], start=1, clock=Clock())
    order = []
    for _ in range(4):
        index = pool.choose()
        pool.started(index)
        order.append(pool.name(index))
    assert order == ["b", "c", "a", "b"]
    pool.finished(2)  # c is now the least loaded
    assert pool.name(pool.choose()) == "c"


def test_pool_takes_turns_when_requests_go_one_at_a_time() -> None:
    pool = HostPool(["a", "b"], start=0, clock=Clock())
    order = []
    for _ in range(4):
        index = pool.choose()
        pool.started(index)
        pool.finished(index)
        order.append(pool.name(index))
    assert order == ["a", "b", "a", "b"]


def test_pool_sets_a_failed_host_aside_for_the_cooldown_only_on_transport_errors() -> None:
    clock = Clock()
    pool = HostPool(["a", "b"], start=0, cooldown=5, clock=clock)
    pool.started(0)
    pool.finished(0, BadRequestError("bad", 400))
    assert pool.healthy(0)
    pool.started(0)
    pool.finished(0, ConnectionError("refused"))
    assert not pool.healthy(0)
    pool.started(1)  # b is busier, but a is down
    assert pool.choose() == 1
    clock.now += 5
    assert pool.healthy(0) and pool.choose() == 0


def test_pool_prefers_untried_hosts_then_the_one_back_soonest() -> None:
    clock = Clock()
    pool = HostPool(["a", "b"], start=0, cooldown=5, clock=clock)
    assert pool.choose(tried=[0]) == 1
    for index in (1, 0):  # b goes down first, so it is back first
        pool.started(index)
        pool.finished(index, ConnectionError("refused"))
        clock.now += 1
    assert pool.choose() == 1
    assert pool.choose(tried=[0, 1]) == 1


def test_what_is_worth_another_attempt() -> None:
    assert retryable(ConnectionError("refused"))
    assert retryable(ServerBusyError("busy", 503))
    assert not retryable(BadRequestError("bad", 400))


def test_pool_needs_a_host() -> None:
    with pytest.raises(ValueError, match="hosts is empty"):
        HostPool([])
