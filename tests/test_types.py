"""Response models: dict-style access, tolerance to unknown and missing fields, dumping."""

from __future__ import annotations

import datetime
import json

import msgspec
import pytest

from ollamakit import (
    ChatResponse,
    ListResponse,
    Message,
    Options,
    ProtocolError,
    ShowResponse,
)
from ollamakit._types import decode_response

CHUNK = (
    b'{"model":"llama3.2","created_at":"2025-10-26T17:15:24.097767Z",'
    b'"message":{"role":"assistant","content":" fantastic"},"done":false}'
)


def test_attribute_and_item_access() -> None:
    response = decode_response(ChatResponse, CHUNK)
    assert response.message.content == " fantastic"
    assert response["message"]["content"] == " fantastic"
    assert response.get("model") == "llama3.2"
    assert "message" in response
    assert "done_reason" not in response
    assert response["done_reason"] is None
    assert response.get("done_reason", "n/a") == "n/a"
    assert response.message["tool_calls"] is None
    with pytest.raises(KeyError):
        response["no_such_field"]


def test_unknown_fields_are_kept_at_every_level() -> None:
    data = {
        "model": "m",
        "done": True,
        "brand_new": {"x": 1},
        "message": {
            "role": "assistant",
            "content": "hi",
            "audio": "abc",
            "tool_calls": [{"id": "call_1", "function": {"name": "f", "arguments": {}}, "x": 2}],
        },
    }
    response = decode_response(ChatResponse, json.dumps(data).encode())
    assert response["brand_new"] == {"x": 1}
    assert response.brand_new == {"x": 1}  # type: ignore[attr-defined]
    assert response.model_extra == {"brand_new": {"x": 1}}
    assert response.message["audio"] == "abc"
    assert response.message.tool_calls is not None
    assert response.message.tool_calls[0]["x"] == 2
    assert response.message.tool_calls[0].id == "call_1"
    dumped = response.model_dump(exclude_none=True)
    assert dumped["brand_new"] == {"x": 1}
    assert dumped["message"]["audio"] == "abc"
    assert dumped["message"]["tool_calls"][0]["x"] == 2


def test_arguments_sent_as_a_json_string_are_decoded() -> None:
    line = (
        b'{"message":{"role":"assistant","content":"",'
        b'"tool_calls":[{"function":{"name":"add","arguments":"{\\"a\\": 1}"}}]},"done":true}'
    )
    response = decode_response(ChatResponse, line)
    assert response.message.tool_calls is not None
    assert response.message.tool_calls[0].function.arguments == {"a": 1}


def test_show_without_model_info_and_alias_access() -> None:
    response = decode_response(ShowResponse, b'{"modelfile":"FROM x"}')
    assert response.modelinfo is None
    response = decode_response(ShowResponse, b'{"model_info":{"general.architecture":"gemma3"}}')
    assert response.modelinfo == {"general.architecture": "gemma3"}
    assert response["model_info"] == {"general.architecture": "gemma3"}
    assert response["modelinfo"] == {"general.architecture": "gemma3"}
    assert response.model_dump(exclude_none=True) == {
        "model_info": {"general.architecture": "gemma3"}
    }


def test_list_has_name_and_datetime() -> None:
    body = (
        b'{"models":[{"name":"a:latest","model":"a:latest",'
        b'"modified_at":"2025-10-26T10:15:24.097767123-07:00","size":5,"digest":"ab",'
        b'"details":{"family":"gemma3","parameter_size":"268M"}}]}'
    )
    response = decode_response(ListResponse, body)
    model = response.models[0]
    assert model.name == "a:latest"
    assert model["name"] == "a:latest"
    assert model.modified_at == datetime.datetime(
        2025, 10, 26, 17, 15, 24, 97767, tzinfo=datetime.timezone.utc
    )
    assert model.details is not None
    assert model.details.parameter_size == "268M"


def test_iteration_and_dict_conversion() -> None:
    response = decode_response(ChatResponse, CHUNK)
    pairs = dict(response)
    assert pairs["model"] == "llama3.2"
    assert ("done", False) in list(response)
    assert json.loads(response.model_dump_json())["message"]["content"] == " fantastic"


def test_message_round_trip_and_copy() -> None:
    message = Message(role="user", content="hello", images=["aGk="])
    assert message.model_dump(exclude_none=True) == {
        "role": "user",
        "content": "hello",
        "images": ["aGk="],
    }
    changed = message.model_copy(update={"content": "bye"})
    assert changed.content == "bye"
    assert message.content == "hello"
    assert Message.ToolCall.Function(name="f").name == "f"


def test_options_has_every_current_option() -> None:
    names = {
        "num_keep", "seed", "num_predict", "top_k", "top_p", "min_p", "typical_p",
        "repeat_last_n", "temperature", "repeat_penalty", "presence_penalty",
        "frequency_penalty", "stop", "num_ctx", "num_batch", "num_gpu", "main_gpu",
        "use_mmap", "num_thread", "draft_num_predict",
    }  # fmt: skip
    assert names <= set(Options.__struct_fields__)
    options = Options(min_p=0.05, draft_num_predict=4, stop=["\n"])
    assert options.model_dump(exclude_none=True) == {
        "min_p": 0.05,
        "stop": ["\n"],
        "draft_num_predict": 4,
    }
    assert msgspec.json.decode(msgspec.json.encode(options)) == {
        "min_p": 0.05,
        "stop": ["\n"],
        "draft_num_predict": 4,
    }


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"', b"null"])
def test_malformed_bodies_raise_protocol_error(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_response(ChatResponse, body)


def test_wrong_field_types_are_tolerated() -> None:
    response = decode_response(ChatResponse, b'{"model":"m","eval_count":"12","done":true}')
    assert response.eval_count == 12
