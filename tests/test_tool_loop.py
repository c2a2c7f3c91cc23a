"""The tool-calling loop (run_tools / arun_tools) against the fake server over real sockets.

Tests taking the ``api`` fixture run twice: with Client and run_tools, with AsyncClient and
arun_tools.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import enum
import functools
import pickle
import threading
from collections.abc import Callable
from typing import Any, Literal

import msgspec
import pydantic
import pytest

from ollamakit import AsyncClient, ChatResponse, Client, Message, OllamaError, RequestError, Tool
from ollamakit._coerce import coerce_argument
from ollamakit._schema import tool_schemas
from ollamakit._tool_loop import ToolLoopLimitError, arun_tools, result_text, run_tools
from ollamakit.testing import FakeOllama, Reply
from support import Api

pytestmark = pytest.mark.anyio

MODEL = "llama3.2"
USER = {"role": "user", "content": "What is the weather in Paris?"}


def call(
    name: str, arguments: Any, id: str | None = None, index: int | None = None
) -> dict[str, Any]:
    function: dict[str, Any] = {"name": name, "arguments": arguments}
    if index is not None:
        function["index"] = index
    result: dict[str, Any] = {"function": function}
    if id is not None:
        result["id"] = id
    return result


def assistant(content: str = "", calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    return message


def sent(message: dict[str, Any]) -> dict[str, Any]:
    """A message as it goes out: empty values are left out, as the official package does."""
    return {key: value for key, value in message.items() if value not in ("", [], None)}


def reply(content: str = "", calls: list[dict[str, Any]] | None = None) -> Reply:
    return Reply.json(
        {
            "model": MODEL,
            "created_at": "2025-10-26T17:15:24.097767123Z",
            "message": assistant(content, calls),
            "done": True,
            "done_reason": "stop",
            "total_duration": 4883583458,
            "eval_count": 12,
        }
    )


def tool_message(content: str, name: str, call_id: str | None = None) -> dict[str, Any]:
    message = {"role": "tool", "content": content, "tool_name": name}
    if call_id is not None:
        message["tool_call_id"] = call_id
    return message


async def loop(api: Api, *args: Any, **kwargs: Any) -> ChatResponse:
    if api.mode == "sync":
        assert isinstance(api.client, Client)
        return run_tools(api.client, *args, **kwargs)
    assert isinstance(api.client, AsyncClient)
    return await arun_tools(api.client, *args, **kwargs)


def bodies(server: FakeOllama) -> list[Any]:
    assert all(request.path == "/api/chat" for request in server.requests)
    return [request.json() for request in server.requests]


def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict[str, Any]:
    """Current weather for a city.

    Args:
        city: The city name.
        unit: Temperature unit.
    """
    return {"city": city, "temperature": 18, "unit": unit}


def get_time(city: str) -> str:
    """The local time in a city."""
    return f"12:00 in {city}"


# ---------------------------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------------------------


async def test_single_tool_round(api: Api, server: FakeOllama) -> None:
    first = [call("get_weather", {"city": "Paris"}, id="call_1", index=0)]
    server.expect("POST", "/api/chat", reply(calls=first), reply("It is 18 °C in Paris."))
    messages: list[Any] = [USER]

    response = await loop(api, MODEL, messages, [get_weather])

    assert isinstance(response, ChatResponse)
    assert response.message.content == "It is 18 °C in Paris."
    result = '{"city":"Paris","temperature":18,"unit":"celsius"}'
    tool_result = tool_message(result, "get_weather", "call_1")
    # The caller's list holds the whole exchange: the assistant messages as returned.
    assert len(messages) == 4
    assert messages[0] is USER
    assert isinstance(messages[1], Message)
    assert messages[1].model_dump(exclude_none=True) == assistant(calls=first)
    assert messages[2] == tool_result
    assert messages[3] is response.message

    tools = tool_schemas([get_weather])
    assert bodies(server) == [
        {"model": MODEL, "messages": [USER], "tools": tools, "stream": False},
        {
            "model": MODEL,
            "messages": [USER, sent(assistant(calls=first)), tool_result],
            "tools": tools,
            "stream": False,
        },
    ]
    assert tools[0]["function"]["parameters"]["required"] == ["city"]


async def test_answer_without_tool_calls(api: Api, server: FakeOllama) -> None:
    server.expect("POST", "/api/chat", reply("Hello."))
    messages: list[Any] = [{"role": "user", "content": "Hi"}]
    response = await loop(api, MODEL, messages, [get_weather])
    assert response.message.content == "Hello."
    assert len(server.requests) == 1
    assert messages[1] is response.message


async def test_two_calls_in_one_round(api: Api, server: FakeOllama) -> None:
    calls = [
        call("get_weather", {"city": "Paris", "unit": "fahrenheit"}, id="a", index=0),
        call("get_time", {"city": "Oslo"}, id="b", index=1),
    ]
    server.expect("POST", "/api/chat", reply(calls=calls), reply("Done."))
    messages: list[Any] = [USER]

    await loop(api, MODEL, messages, [get_weather, get_time])

    results = [
        tool_message('{"city":"Paris","temperature":18,"unit":"fahrenheit"}', "get_weather", "a"),
        tool_message("12:00 in Oslo", "get_time", "b"),
    ]
    assert messages[2:4] == results  # in the order of the calls
    assert bodies(server)[1]["messages"] == [USER, sent(assistant(calls=calls)), *results]
    assert bodies(server)[1]["tools"] == tool_schemas([get_weather, get_time])


async def test_several_rounds(api: Api, server: FakeOllama) -> None:
    server.expect(
        "POST",
        "/api/chat",
        reply(calls=[call("get_time", {"city": "Oslo"})]),
        reply("Let me also check the weather.", [call("get_weather", {"city": "Oslo"})]),
        reply("Noon and 18 degrees."),
    )
    messages: list[Any] = [USER]
    response = await loop(api, MODEL, messages, [get_weather, get_time])
    assert response.message.content == "Noon and 18 degrees."
    sent = bodies(server)
    assert len(sent) == 3
    assert [m["role"] for m in sent[2]["messages"]] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
    ]
    assert sent[2]["messages"][3]["content"] == "Let me also check the weather."
    assert [m.get("role") if isinstance(m, dict) else m.role for m in messages] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
        "assistant",
    ]


async def test_tool_call_id_only_when_sent(api: Api, server: FakeOllama) -> None:
    calls = [call("get_time", {"city": "Oslo"}), call("get_time", {"city": "Rome"}, id="x7")]
    server.expect("POST", "/api/chat", reply(calls=calls), reply("ok"))
    messages: list[Any] = [USER]
    await loop(api, MODEL, messages, [get_time])
    assert messages[2] == {"role": "tool", "content": "12:00 in Oslo", "tool_name": "get_time"}
    assert messages[3] == {
        "role": "tool",
        "content": "12:00 in Rome",
        "tool_name": "get_time",
        "tool_call_id": "x7",
    }
    assert bodies(server)[1]["messages"][2:] == messages[2:4]


async def test_exception_is_returned_to_the_model(api: Api, server: FakeOllama) -> None:
    def lookup(city: str) -> str:
        raise ValueError(f"no station near {city}")

    def empty_error() -> str:
        raise KeyError

    calls = [call("lookup", {"city": "Atlantis"}), call("empty_error", {})]
    server.expect("POST", "/api/chat", reply(calls=calls), reply("Sorry."))
    messages: list[Any] = [USER]
    response = await loop(api, MODEL, messages, [lookup, empty_error])
    assert response.message.content == "Sorry."
    assert messages[2]["content"] == "Error: ValueError: no station near Atlantis"
    assert messages[3]["content"] == "Error: KeyError"
    assert bodies(server)[1]["messages"][2]["content"] == messages[2]["content"]


async def test_unknown_tool(api: Api, server: FakeOllama) -> None:
    server.expect(
        "POST", "/api/chat", reply(calls=[call("get_wether", {"city": "Paris"})]), reply("ok")
    )
    messages: list[Any] = [USER]
    await loop(api, MODEL, messages, [get_weather, get_time])
    assert messages[2] == tool_message(
        "Error: unknown tool 'get_wether' (the tools are: get_time, get_weather)", "get_wether"
    )


async def test_definition_without_implementation(api: Api, server: FakeOllama) -> None:
    as_dict = {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look something up.",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        },
    }
    as_tool = Tool(function=Tool.Function(name="search", description="Search."))
    calls = [call("lookup", {"q": "x"}), call("search", {})]
    server.expect("POST", "/api/chat", reply(calls=calls), reply("ok"))
    messages: list[Any] = [USER]
    await loop(api, MODEL, messages, [as_dict, as_tool])
    assert [m["content"] for m in messages[2:4]] == [
        "Error: no implementation for tool 'lookup'",
        "Error: no implementation for tool 'search'",
    ]
    assert bodies(server)[0]["tools"] == [
        as_dict,
        {"type": "function", "function": {"name": "search", "description": "Search."}},
    ]


async def test_max_steps(api: Api, server: FakeOllama) -> None:
    # The last scripted reply repeats: the model never stops calling tools.
    server.expect("POST", "/api/chat", reply(calls=[call("get_time", {"city": "Oslo"})]))
    messages: list[Any] = [USER]
    with pytest.raises(ToolLoopLimitError) as info:
        await loop(api, MODEL, messages, [get_time], max_steps=3)
    assert isinstance(info.value, OllamaError)
    assert "3 chat rounds" in str(info.value)
    assert info.value.max_steps == 3
    assert len(server.requests) == 3
    assert info.value.messages is messages
    assert info.value.response is not None
    assert info.value.response.message is messages[-2]
    # Every round's calls were answered, so the conversation can be continued as it is.
    assert len(messages) == 1 + 3 * 2
    assert messages[-1] == tool_message("12:00 in Oslo", "get_time")
    assert len(bodies(server)[2]["messages"]) == 5


async def test_argument_coercion(api: Api, server: FakeOllama) -> None:
    received: dict[str, Any] = {}

    def book(
        count: int,
        price: float,
        confirm: bool,
        seats: list[int],
        day: datetime.date,
        seat: Seat,
        colour: Colour,
        label: str,
        note: str | None = None,
    ) -> str:
        received.update({k: v for k, v in locals().items() if k != "received"})
        return "booked"

    arguments = {
        "count": "3",
        "price": "2.5",
        "confirm": "true",
        "seats": "[1, 2]",  # a JSON array sent as a string
        "day": "2025-05-01",
        "seat": {"row": "4", "letter": "C"},
        "colour": "red",
        "label": 7,
    }
    server.expect("POST", "/api/chat", reply(calls=[call("book", arguments)]), reply("ok"))
    messages: list[Any] = [USER]
    await loop(api, MODEL, messages, [book])
    assert messages[2]["content"] == "booked"
    assert received == {
        "count": 3,
        "price": 2.5,
        "confirm": True,
        "seats": [1, 2],
        "day": datetime.date(2025, 5, 1),
        "seat": Seat(row=4, letter="C"),
        "colour": Colour.RED,
        "label": "7",
        "note": None,
    }
    assert type(received["price"]) is float


async def test_invalid_arguments_are_reported(api: Api, server: FakeOllama) -> None:
    calls = [
        call("get_weather", {"city": "Paris", "unit": "kelvin"}),
        call("get_weather", {}),
        call("get_weather", {"city": "Paris", "country": "FR"}),
        call("get_weather", "not json"),
        call("book_seat", {"seat": {"row": "front"}}),
    ]
    server.expect("POST", "/api/chat", reply(calls=calls), reply("ok"))
    messages: list[Any] = [USER]

    def book_seat(seat: Seat) -> str:
        raise AssertionError("not called")

    await loop(api, MODEL, messages, [get_weather, book_seat])
    contents = [m["content"] for m in messages[2:7]]
    prefix = "Error: invalid arguments for tool "
    assert contents[0] == (
        prefix + "'get_weather': 'unit': ValidationError: Invalid enum value 'kelvin' "
        "(expected one of 'celsius', 'fahrenheit')"
    )
    assert contents[1] == prefix + "'get_weather': missing required argument 'city'"
    assert contents[2] == (
        prefix + "'get_weather': unexpected argument 'country' (the parameters are: city, unit)"
    )
    assert contents[3] == prefix + "'get_weather': expected a JSON object, got 'not json'"
    assert contents[4].startswith(prefix + "'book_seat': 'seat': ValidationError: ")
    assert "$.row" in contents[4]


async def test_kinds_of_callables(api: Api, server: FakeOllama) -> None:
    class Counter:
        def __init__(self) -> None:
            self.total = 0

        def add(self, amount: int) -> int:
            """Add to the counter."""
            self.total += amount
            return self.total

    class Echo:
        def __call__(self, text: str) -> str:
            """Echo text."""
            return text.upper()

    def scale(value: float, /, factor: float = 2.0, *, offset: float = 0.0) -> float:
        """Scale a value."""
        return value * factor + offset

    def tagged(name: str, **extra: Any) -> dict[str, Any]:
        """Any extra argument is accepted."""
        return {"name": name, **extra}

    def power(base: int, exponent: int) -> int:
        """Power."""
        return base**exponent

    counter = Counter()
    echo = Echo()
    square = functools.partial(power, exponent=2)
    functools.update_wrapper(square, power)
    calls = [
        call("add", {"amount": "5"}),
        call("Echo", {"text": "hi"}),
        call("scale", {"value": 3, "offset": "1"}),
        call("tagged", {"name": "a", "colour": "red"}),
        call("power", {"base": "7"}),
    ]
    server.expect("POST", "/api/chat", reply(calls=calls), reply("ok"))
    messages: list[Any] = [USER]
    await loop(api, MODEL, messages, [counter.add, echo, scale, tagged, square])
    assert [m["content"] for m in messages[2:7]] == [
        "5",
        "HI",
        "7.0",
        '{"name":"a","colour":"red"}',
        "49",
    ]
    assert counter.total == 5
    sent = bodies(server)[0]["tools"]
    assert [t["function"]["name"] for t in sent] == ["add", "Echo", "scale", "tagged", "power"]


async def test_model_classes_as_tools(api: Api, server: FakeOllama) -> None:
    class Person(pydantic.BaseModel):
        """A person to remember."""

        name: str
        age: int

    class Point(msgspec.Struct):
        x: float
        y: float

    calls = [
        call("Person", {"name": "Ada", "age": "36"}),
        call("Point", {"x": 1, "y": "2"}),
        call("Seat", {"row": 3, "letter": "A"}),
        call("Person", {"name": "Bob"}),
    ]
    server.expect("POST", "/api/chat", reply(calls=calls), reply("ok"))
    messages: list[Any] = [USER]
    await loop(api, MODEL, messages, [Person, Point, Seat])
    contents = [m["content"] for m in messages[2:6]]
    assert contents[:3] == [
        '{"name":"Ada","age":36}',
        '{"x":1.0,"y":2.0}',
        '{"row":3,"letter":"A"}',
    ]
    assert contents[3].startswith("Error: invalid arguments for tool 'Person': ValidationError")
    assert "age" in contents[3]


async def test_on_tool_call_hook(api: Api, server: FakeOllama) -> None:
    calls = [call("get_time", {"city": "Oslo"}), call("nope", {"x": 1})]
    server.expect("POST", "/api/chat", reply(calls=calls), reply("ok"))
    seen: list[tuple[str, dict[str, Any]]] = []
    await loop(
        api,
        MODEL,
        [USER],
        [get_time],
        on_tool_call=lambda name, arguments: seen.append((name, arguments)),
    )
    assert seen == [("get_time", {"city": "Oslo"}), ("nope", {"x": 1})]


async def test_chat_arguments_are_passed_on(api: Api, server: FakeOllama) -> None:
    server.expect("POST", "/api/chat", reply(calls=[call("get_time", {"city": "A"})]), reply("ok"))
    await loop(
        api,
        MODEL,
        [USER],
        [get_time],
        options={"temperature": 0},
        think=False,
        keep_alive="5m",
    )
    for body in bodies(server):
        assert body["options"] == {"temperature": 0}
        assert body["think"] is False
        assert body["keep_alive"] == "5m"
        assert body["stream"] is False


async def test_invalid_loop_arguments(api: Api, server: FakeOllama) -> None:
    with pytest.raises(RequestError, match="does not stream"):
        await loop(api, MODEL, [USER], [get_time], stream=True)
    with pytest.raises(RequestError, match="max_steps"):
        await loop(api, MODEL, [USER], [get_time], max_steps=0)
    with pytest.raises(RequestError, match="messages must be a list"):
        await loop(api, MODEL, (USER,), [get_time])
    with pytest.raises(RequestError, match="two tools are named 'get_time'"):
        await loop(api, MODEL, [USER], [get_time, get_time])
    with pytest.raises(RequestError, match="list of tools"):
        await loop(api, MODEL, [USER], get_time)
    assert server.requests == []


async def test_server_error_propagates(api: Api, server: FakeOllama) -> None:
    from ollamakit import NotFoundError

    server.expect("POST", "/api/chat", Reply.error("model 'x' not found", 404))
    messages: list[Any] = [USER]
    with pytest.raises(NotFoundError):
        await loop(api, MODEL, messages, [get_time])
    assert messages == [USER]


# ---------------------------------------------------------------------------------------------
# Async specifics
# ---------------------------------------------------------------------------------------------


async def test_async_round_runs_calls_concurrently(server: FakeOllama) -> None:
    started: list[str] = []
    both_started = asyncio.Event()
    barrier = threading.Barrier(2, timeout=5)

    async def fetch(url: str) -> str:
        """Fetch a URL."""
        started.append(url)
        if len(started) == 2:
            both_started.set()
        # Finishes only once the other call has started too.
        await asyncio.wait_for(both_started.wait(), timeout=5)
        return f"page {url}"

    def compute(n: int) -> int:
        """A blocking computation, run in a worker thread."""
        barrier.wait()  # raises BrokenBarrierError unless both run at the same time
        return n * n

    calls = [
        call("fetch", {"url": "a"}, id="1"),
        call("fetch", {"url": "b"}, id="2"),
        call("compute", {"n": 3}, id="3"),
        call("compute", {"n": "4"}, id="4"),
    ]
    server.expect("POST", "/api/chat", reply(calls=calls), reply("done"))
    hooked: list[str] = []

    async def hook(name: str, arguments: dict[str, Any]) -> None:
        hooked.append(name)

    client = AsyncClient(server.url)
    try:
        messages: list[Any] = [USER]
        await arun_tools(client, MODEL, messages, [fetch, compute], on_tool_call=hook)
    finally:
        await client.close()
    assert [m["content"] for m in messages[2:6]] == ["page a", "page b", "9", "16"]
    assert [m["tool_call_id"] for m in messages[2:6]] == ["1", "2", "3", "4"]
    assert hooked == ["fetch", "fetch", "compute", "compute"]


async def test_async_plain_function_does_not_block_the_loop(server: FakeOllama) -> None:
    ticks = 0
    stop = threading.Event()

    def slow() -> str:
        """Blocks its thread for a while."""
        stop.wait(0.3)
        return "slow done"

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    server.expect("POST", "/api/chat", reply(calls=[call("slow", {})]), reply("ok"))
    client = AsyncClient(server.url)
    try:
        task = asyncio.ensure_future(ticker())
        messages: list[Any] = [USER]
        await arun_tools(client, MODEL, messages, [slow])
        stop.set()
        await task
    finally:
        await client.close()
    assert messages[2]["content"] == "slow done"
    assert ticks >= 5


async def test_async_awaits_coroutine_results(server: FakeOllama) -> None:
    async def double(n: int) -> int:
        """Double."""
        return 2 * n

    class AsyncTool:
        async def __call__(self, text: str) -> str:
            """Upper-case."""
            return text.upper()

    @functools.wraps(double)
    def wrapped(n: int) -> Any:  # a plain function returning a coroutine
        return double(n + 1)

    wrapped.__name__ = "wrapped"
    calls = [
        call("double", {"n": "2"}),
        call("AsyncTool", {"text": "x"}),
        call("wrapped", {"n": 1}),
    ]
    server.expect("POST", "/api/chat", reply(calls=calls), reply("ok"))
    client = AsyncClient(server.url)
    try:
        messages: list[Any] = [USER]
        await arun_tools(client, MODEL, messages, [double, AsyncTool(), wrapped])
    finally:
        await client.close()
    assert [m["content"] for m in messages[2:5]] == ["4", "X", "4"]


async def test_wrong_client_kind(server: FakeOllama) -> None:
    async_client = AsyncClient(server.url)
    try:
        with pytest.raises(RequestError, match="use arun_tools"):
            run_tools(async_client, MODEL, [USER], [get_time])  # type: ignore[arg-type]
    finally:
        await async_client.close()
    server.expect("POST", "/api/chat", reply("ok"))
    with Client(server.url) as client, pytest.raises(RequestError, match="use run_tools"):
        await arun_tools(client, MODEL, [USER], [get_time])  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Sync specifics
# ---------------------------------------------------------------------------------------------


def test_sync_loop_runs_coroutine_tools() -> None:
    async def double(n: int) -> int:
        """Double."""
        await asyncio.sleep(0)
        return 2 * n

    with FakeOllama() as server, Client(server.url) as client:
        server.expect("POST", "/api/chat", reply(calls=[call("double", {"n": 4})]), reply("ok"))
        messages: list[Any] = [USER]
        run_tools(client, MODEL, messages, [double])
    assert messages[2]["content"] == "8"


async def test_sync_loop_in_running_event_loop_reports_coroutine_tools(
    server: FakeOllama,
) -> None:
    async def double(n: int) -> int:
        """Double."""
        return 2 * n

    server.expect("POST", "/api/chat", reply(calls=[call("double", {"n": 4})]), reply("ok"))
    with Client(server.url) as client:
        messages: list[Any] = [USER]
        run_tools(client, MODEL, messages, [double])
    assert messages[2]["content"].startswith("Error: RuntimeError: tool 'double' is a coroutine")


# ---------------------------------------------------------------------------------------------
# Units: coercion, result text, the error
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Seat:
    row: int
    letter: str = "A"


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class Size(pydantic.BaseModel):
    width: int
    height: int


@pytest.mark.parametrize(
    ("value", "annotation", "expected"),
    [
        ("3", int, 3),
        (3.0, int, 3),
        (3, float, 3.0),
        ("false", bool, False),
        (5, str, "5"),
        (1.5, str, "1.5"),
        ("abc", bytes, b"abc"),
        ('{"width": 1, "height": "2"}', Size, Size(width=1, height=2)),
        ([{"width": "1", "height": 2}], list[Size], [Size(width=1, height=2)]),
        ({"row": "2"}, Seat, Seat(row=2)),
        ("[1, 2]", tuple[int, ...], (1, 2)),
        ("green", Colour, Colour.GREEN),
        ("x", Any, "x"),
        ({"a": 1}, dict, {"a": 1}),
        ("/tmp/x", __import__("pathlib").Path, __import__("pathlib").Path("/tmp/x")),
        (None, int | None, None),
    ],
)
def test_coerce_argument(value: Any, annotation: Any, expected: Any) -> None:
    assert coerce_argument(value, annotation) == expected


@pytest.mark.parametrize(
    ("value", "annotation"),
    [
        ("abc", int),
        (3.5, int),
        ("blue", Colour),
        ({"row": "x"}, Seat),
        ("[1,", list[int]),
        ('{"width": "x"}', Size),
        (7, Callable[[int], int]),
    ],
)
def test_coerce_argument_rejects(value: Any, annotation: Any) -> None:
    with pytest.raises((msgspec.ValidationError, ValueError)):
        coerce_argument(value, annotation)


class Unprintable:
    def __str__(self) -> str:
        return "<unprintable>"


@pytest.mark.parametrize(
    ("result", "text"),
    [
        ("plain", "plain"),
        ("", ""),
        (None, "null"),
        (True, "true"),
        (42, "42"),
        (2.5, "2.5"),
        ([1, "a"], '[1,"a"]'),
        ({"ü": (1, 2)}, '{"ü":[1,2]}'),
        (Seat(row=1), '{"row":1,"letter":"A"}'),
        (Size(width=1, height=2), '{"width":1,"height":2}'),
        ({"size": Size(width=1, height=2)}, '{"size":{"width":1,"height":2}}'),
        (datetime.date(2025, 1, 2), '"2025-01-02"'),
        (Colour.RED, '"red"'),
        (b"bytes", "bytes"),
        ({"obj": Unprintable()}, '{"obj":"<unprintable>"}'),
    ],
)
def test_result_text(result: Any, text: str) -> None:
    assert result_text(result) == text


def test_tool_loop_limit_error_pickles() -> None:
    response = ChatResponse(model=MODEL, message=Message(role="assistant", content=""))
    error = ToolLoopLimitError(2, response, [USER])
    copied = pickle.loads(pickle.dumps(error))
    assert isinstance(copied, ToolLoopLimitError)
    assert str(copied) == str(error)
    assert copied.max_steps == 2
    assert copied.messages == [USER]
    assert copied.response == response
