"""``format=`` a class: the schema is sent, the reply comes back validated as ``.parsed``."""

from __future__ import annotations

import dataclasses
import json
from typing import TypedDict

import pydantic
import pytest

from ollamakit import ParseError
from ollamakit.testing import FakeOllama, Reply, chat_stream, generate_stream
from support import Api

pytestmark = pytest.mark.anyio


class Country(pydantic.BaseModel):
    name: str
    capital: str
    languages: list[str]


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Pet(TypedDict):
    name: str
    age: int


FRANCE = {"name": "France", "capital": "Paris", "languages": ["French"]}


def _chat_reply(content: str) -> Reply:
    return Reply.json({"model": "m", "message": {"role": "assistant", "content": content},
                       "done": True, "done_reason": "stop"})  # fmt: skip


async def test_pydantic_class(api: Api, server: FakeOllama) -> None:
    server.expect("POST", "/api/chat", _chat_reply(json.dumps(FRANCE)))
    response = await api("chat", "m", [{"role": "user", "content": "France?"}], format=Country)
    assert response.message.parsed == Country(**FRANCE)
    assert response.parsed == Country(**FRANCE)
    assert server.requests[-1].json()["format"] == Country.model_json_schema()
    # the parsed value is not an extra field that would be sent back
    assert "parsed" not in response.message.model_dump()


async def test_dataclass_on_generate(api: Api, server: FakeOllama) -> None:
    server.expect(
        "POST", "/api/generate", Reply.json({"response": '{"x": 1, "y": 2}', "done": True})
    )
    response = await api("generate", "m", "a point", format=Point)
    assert response.parsed == Point(1, 2)
    assert server.requests[-1].json()["format"]["required"] == ["x", "y"]


async def test_typed_dict_streamed(api: Api, server: FakeOllama) -> None:
    server.expect("POST", "/api/chat", Reply.ndjson(chat_stream(['{"name": "Rex",', ' "age": 3}'])))
    stream = await api("chat", "m", [], format=Pet, stream=True)
    final = await api.final(stream)
    assert final.message.parsed == {"name": "Rex", "age": 3}


async def test_invalid_output_raises_parse_error(api: Api, server: FakeOllama) -> None:
    server.expect("POST", "/api/chat", _chat_reply('{"name": "France"}'))
    with pytest.raises(ParseError) as info:
        await api("chat", "m", [], format=Country)
    assert info.value.raw == '{"name": "France"}'
    server.expect("POST", "/api/generate", Reply.ndjson(generate_stream(["not json"])))
    with pytest.raises(ParseError):
        await api("generate", "m", "x", format=Point, on_chunk=lambda _: None)


async def test_json_and_schema_dicts_pass_through(api: Api, server: FakeOllama) -> None:
    server.expect("POST", "/api/chat", _chat_reply("{}"))
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    response = await api("chat", "m", [], format=schema)
    assert response.message.parsed is None
    assert server.requests[-1].json()["format"] == schema
    await api("chat", "m", [], format="json")
    assert server.requests[-1].json()["format"] == "json"
