"""OpenAI's Responses API (``POST /v1/responses``) of the embedded server: the ``openai``
package's ``client.responses.create`` against the real server and demo model, hostile bodies
over plain HTTP, and the request and event translation without a model."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
import zstandard
from server_support import DEMO, FORCED_CALL, WEATHER_TOOL, ServerProcess, run_example

from ollamakit.server.routes.responses_output import ResponsesStream, whole_response
from ollamakit.server.routes.responses_request import (
    ResponsesEcho,
    ResponsesRequest,
    zstd_decompressed,
)
from ollamakit.server.service.events import Delta, Done, Failed
from ollamakit.server.validate import BadRequest

# Greedy and short: the same answer every run, and quick on a 2-core machine.
TINY: dict[str, Any] = {"temperature": 0, "max_output_tokens": 8}
# The same function in the Responses API's flat shape.
WEATHER = {"type": "function", **WEATHER_TOOL["function"]}
PARIS_CALL = {"type": "json_schema", "name": "call", "schema": FORCED_CALL}


@pytest.fixture(scope="module")
def client(embedded: ServerProcess, demo_model: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{embedded.url}/v1", api_key="ollama", max_retries=0) as made:
        yield made


STARTED = ["response.created", "response.in_progress"]


def _message_events(kinds: list[str]) -> list[str]:
    """The events of one streamed assistant message, with as many text deltas as ``kinds``."""
    return [
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * kinds.count("response.output_text.delta"),
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ]


def _native_chat(url: str, model: str, messages: list[dict[str, Any]], **options: Any) -> Any:
    body = {
        "model": model,
        "messages": messages,
        "stream": False,
        "options": {"temperature": 0, **options},
    }
    return httpx.post(f"{url}/api/chat", json=body, timeout=60).json()


# -- the openai client against the server -------------------------------------------------


@pytest.mark.server
def test_create(client: openai.OpenAI, embedded: ServerProcess) -> None:
    response = client.responses.create(
        model=DEMO, instructions="Answer in French.", input="Say hello.", **TINY
    )
    assert response.object == "response"
    assert response.id.startswith("resp_")
    assert response.status == "completed"
    assert response.model == DEMO
    assert response.instructions == "Answer in French."
    assert response.previous_response_id is None and response.store is False
    assert response.temperature == 0 and response.max_output_tokens == 8
    [message] = response.output
    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_")
    assert response.output_text
    usage = response.usage
    assert usage is not None and usage.input_tokens > 0
    assert usage.output_tokens == 8  # a base model never stops this early
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    # The same generation as the native chat the request maps to: instructions first.
    native = _native_chat(
        embedded.url,
        DEMO,
        [
            {"role": "system", "content": "Answer in French."},
            {"role": "user", "content": "Say hello."},
        ],
        num_predict=8,
    )
    assert native["message"]["content"] == response.output_text
    assert native["prompt_eval_count"] == usage.input_tokens


@pytest.mark.server
def test_stream(client: openai.OpenAI) -> None:
    whole = client.responses.create(model=DEMO, input="Why is the sky blue?", **TINY)
    events = list(
        client.responses.create(model=DEMO, input="Why is the sky blue?", stream=True, **TINY)
    )
    kinds = [event.type for event in events]
    assert kinds.count("response.output_text.delta") >= 1
    assert kinds == [*STARTED, *_message_events(kinds), "response.completed"]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    text = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert text == whole.output_text
    completed = events[-1].response  # type: ignore[union-attr]
    assert completed.status == "completed" and completed.output_text == text
    assert completed.usage is not None and completed.usage.output_tokens == 8
    assert events[0].response.status == "in_progress"  # type: ignore[union-attr]
    assert events[0].response.id == completed.id  # type: ignore[union-attr]


@pytest.mark.server
def test_max_output_tokens(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model=DEMO, input="Count to ten.", temperature=0, max_output_tokens=3
    )
    assert response.usage is not None and response.usage.output_tokens == 3
    assert response.max_output_tokens == 3


@pytest.mark.server
def test_json_schema_format(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"capital": {"enum": ["Paris", "Rome"]}},
        "required": ["capital"],
        "additionalProperties": False,
    }
    response = client.responses.create(
        model=DEMO,
        input="What is the capital of France?",
        text={
            "format": {"type": "json_schema", "name": "capital", "schema": schema, "strict": True}
        },
        temperature=0,
        max_output_tokens=32,
    )
    assert json.loads(response.output_text)["capital"] in ("Paris", "Rome")
    assert response.text is not None and response.text.format is not None
    assert response.text.format.type == "json_schema"
    json_mode = client.responses.create(
        model=DEMO, input="A JSON object, please.", text={"format": {"type": "json_object"}}, **TINY
    )
    assert json_mode.output_text.lstrip().startswith("{")


@pytest.mark.server
def test_function_call_round_trip(
    client: openai.OpenAI, embedded: ServerProcess, tools_model: str
) -> None:
    ask: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    request: dict[str, Any] = {
        "model": tools_model,
        "tools": [WEATHER],
        "text": {"format": PARIS_CALL},
        "temperature": 0,
        "max_output_tokens": 16,
    }
    response = client.responses.create(input=ask, **request)
    [call] = response.output
    assert call.type == "function_call"
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    assert call.call_id.startswith("call_") and call.status == "completed"
    assert response.tools[0].name == "get_weather"  # type: ignore[union-attr]

    events = list(client.responses.create(input=ask, stream=True, **request))
    kinds = [event.type for event in events]
    assert kinds == [
        *STARTED,
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    streamed = events[-2].item  # type: ignore[union-attr]
    assert (streamed.name, json.loads(streamed.arguments)) == ("get_weather", {"city": "Paris"})

    # The client runs the function and sends the whole conversation back (stateless).
    history = [
        *ask,
        call.model_dump(),
        {"type": "function_call_output", "call_id": call.call_id, "output": "22 C, sunny"},
    ]
    answer = client.responses.create(model=tools_model, input=history, tools=[WEATHER], **TINY)
    assert answer.output[0].type == "message"
    native = _native_chat(
        embedded.url,
        tools_model,
        [
            *ask,
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": call.call_id,
                        "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
                    }
                ],
            },
            {
                "role": "tool",
                "content": "22 C, sunny",
                "tool_call_id": call.call_id,
                "tool_name": "get_weather",
            },
        ],
        num_predict=8,
    )
    assert native["message"]["content"] == answer.output_text


@pytest.mark.server
def test_reasoning(client: openai.OpenAI, think_model: str) -> None:
    request: dict[str, Any] = {
        "model": think_model,
        "input": "3+4?",
        "reasoning": {"effort": "medium", "summary": "auto"},
        "temperature": 0,
        "max_output_tokens": 16,
    }
    response = client.responses.create(**request)
    reasoning, message = response.output
    assert reasoning.type == "reasoning" and message.type == "message"
    [summary] = reasoning.summary
    assert summary.text and reasoning.encrypted_content == summary.text
    assert response.output_text and "<think>" not in response.output_text
    assert response.reasoning is not None and response.reasoning.effort == "medium"

    events = list(client.responses.create(stream=True, **request))
    kinds = [event.type for event in events]
    thoughts = kinds.count("response.reasoning_summary_text.delta")
    assert kinds == [
        *STARTED,
        "response.output_item.added",
        *["response.reasoning_summary_text.delta"] * thoughts,
        "response.reasoning_summary_text.done",
        "response.output_item.done",
        *_message_events(kinds),
        "response.completed",
    ]
    final = events[-1].response  # type: ignore[union-attr]
    assert final.output[0].summary[0].text == summary.text
    assert final.output_text == response.output_text

    # Off: no reasoning item.
    off = client.responses.create(**{**request, "reasoning": {"effort": "none"}})
    assert [item.type for item in off.output] == ["message"]


@pytest.mark.server
def test_tool_choice(client: openai.OpenAI) -> None:
    # The demo model's template has no tools: offering none makes the request valid.
    response = client.responses.create(
        model=DEMO,
        input="Hi",
        tools=[WEATHER],
        tool_choice="none",
        **TINY,  # type: ignore[list-item]
    )
    assert response.tool_choice == "none"
    with pytest.raises(openai.BadRequestError) as unsupported:
        client.responses.create(model=DEMO, input="Hi", tools=[WEATHER], **TINY)  # type: ignore[list-item]
    assert (
        unsupported.value.body["message"]
        == f"registry.ollama.ai/library/{DEMO} does not support tools"
    )  # type: ignore[index]


@pytest.mark.server
def test_ignored_fields(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model=DEMO,
        input="Hi",
        previous_response_id="resp_123",
        store=True,
        metadata={"user": "x"},
        include=["reasoning.encrypted_content"],
        truncation="auto",
        **TINY,
    )
    assert response.status == "completed"
    assert response.previous_response_id is None and response.store is False
    assert response.truncation == "auto"


@pytest.mark.server
def test_no_input_only_loads_the_model(embedded: ServerProcess, demo_model: str) -> None:
    url = f"{embedded.url}/v1/responses"
    whole = httpx.post(url, json={"model": DEMO}, timeout=60).json()
    assert whole["status"] == "completed"
    assert whole["output"][0]["content"][0]["text"] == ""
    assert whole["usage"]["output_tokens"] == 0
    streamed = httpx.post(url, json={"model": DEMO, "stream": True}, timeout=60)
    assert streamed.headers["content-type"].startswith("text/event-stream")
    kinds = [
        line[len("event: ") :] for line in streamed.text.splitlines() if line.startswith("event: ")
    ]
    assert kinds == [*STARTED, "response.completed"]


@pytest.mark.server
def test_errors(client: openai.OpenAI, embedded: ServerProcess) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.responses.create(model="no-such-model", input="x", **TINY)
    assert missing.value.body == {
        "message": "model 'no-such-model' not found",
        "type": "not_found_error",
        "param": None,
        "code": None,
    }
    with pytest.raises(openai.BadRequestError) as effort:
        client.responses.create(model=DEMO, input="x", reasoning={"effort": "high"}, **TINY)
    assert effort.value.body["message"] == f'"{DEMO}" does not support thinking'  # type: ignore[index]


@pytest.mark.server
def test_example_script(embedded: ServerProcess, demo_model: str) -> None:
    """examples/openai_responses.py against the real server (the demo model has no tools)."""
    result = run_example("openai_responses.py", embedded.url)
    assert result.returncode == 0, result.stderr
    assert re.search(r"status=completed in=\d+ out=\d+", result.stdout)
    assert re.search(r"\(\d+ tokens\)", result.stdout)
    assert "JSON: {" in result.stdout
    assert "no function calls with this model" in result.stdout
    assert "does not support tools" in result.stdout


UNMARSHAL = "json: cannot unmarshal "
STRUCT = " into Go struct field ResponsesRequest."
RAW_LIST = " into Go value of type []json.RawMessage"
MALFORMED: list[tuple[bytes, str]] = [
    (b"", "EOF"),
    (b"{", "unexpected EOF"),
    (b"[]", UNMARSHAL + "array into Go value of type openai.ResponsesRequest"),
    (b"null", "model is required"),
    (b'{"model": 7}', UNMARSHAL + "number" + STRUCT + "model of type string"),
    (b'{"model": "m", "input": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "exceeded max depth"),
]
WRONG: list[tuple[dict[str, Any], str]] = [
    ({"input": 7}, "input must be a string or array: " + UNMARSHAL + "number" + RAW_LIST),
    ({"input": [{"type": "bogus"}]}, 'input[0]: unknown input item type: "bogus"'),
    ({"input": [{}]}, "input[0]: input item missing required 'type' field"),
    (
        {"input": [None]},
        "input[0]: " + UNMARSHAL + "null into Go value of type openai.ResponsesInputItem",
    ),
    (
        {"input": [{"role": "user", "content": [{"type": "x"}]}]},
        "input[0]: content[0]: unknown content type: x",
    ),
    (
        {"input": [{"role": "user", "content": 5}]},
        "input[0]: content must be a string or array: " + UNMARSHAL + "number" + RAW_LIST,
    ),
    (
        {"input": [{"role": "user", "content": [{"type": "input_file", "file_data": "x"}]}]},
        "file inputs are not currently supported",
    ),
    (
        {
            "input": [
                {"role": "user", "content": [{"type": "input_image", "image_url": "http://a"}]}
            ]
        },
        "image URLs are not currently supported, please use base64 encoded data instead",
    ),
    (
        {"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{"}]},
        "failed to parse function call arguments: unexpected EOF",
    ),
    ({"temperature": "hot"}, UNMARSHAL + "string" + STRUCT + "temperature of type float64"),
    (
        {"max_output_tokens": 1.5},
        UNMARSHAL + "number 1.5" + STRUCT + "max_output_tokens of type int",
    ),
    (
        {"reasoning": {"effort": "huge"}},
        'invalid reasoning value: "huge" (must be "minimal", "low", "medium", "high", "xhigh", '
        '"ultra", "max", or "none")',
    ),
    ({"tools": {}}, UNMARSHAL + "object" + STRUCT + "tools of type []openai.ResponsesTool"),
    ({"tool_choice": 3}, UNMARSHAL + "number" + STRUCT + "tool_choice of type openai.ToolChoice"),
    ({"stream": "yes"}, UNMARSHAL + "string" + STRUCT + "stream of type bool"),
]


def _openai_error(message: str, status: int = 400) -> dict[str, Any]:
    kind = "invalid_request_error" if status == 400 else "api_error"
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


@pytest.mark.server
@pytest.mark.parametrize(("body", "message"), MALFORMED)
def test_malformed_bodies(embedded: ServerProcess, body: bytes, message: str) -> None:
    response = httpx.post(f"{embedded.url}/v1/responses", content=body, timeout=30)
    assert (response.status_code, response.json()) == (400, _openai_error(message))


@pytest.mark.server
@pytest.mark.parametrize(("fields", "message"), WRONG)
def test_wrong_fields(
    embedded: ServerProcess, demo_model: str, fields: dict[str, Any], message: str
) -> None:
    body = {"model": DEMO, "input": "x", **fields}
    response = httpx.post(f"{embedded.url}/v1/responses", json=body, timeout=30)
    assert (response.status_code, response.json()) == (400, _openai_error(message))


@pytest.mark.server
def test_body_over_the_limit(embedded: ServerProcess) -> None:
    # Over the body limit (64 MiB): refused from its Content-Length, in OpenAI's shape.
    over = b'{"model": "x", "input": "' + b"a" * (64 << 20) + b'"}'
    for path in ("/v1/responses", "/v1/chat/completions"):
        response = httpx.post(embedded.url + path, content=over, timeout=30)
        expected = _openai_error("http: request body too large", 413)
        assert (response.status_code, response.json()) == (413, expected)


@pytest.mark.server
def test_zstd_body(embedded: ServerProcess, demo_model: str) -> None:
    url, headers = f"{embedded.url}/v1/responses", {"content-encoding": "zstd"}
    body = json.dumps({"model": DEMO, "input": "Hi", **TINY}).encode()
    compressed = zstandard.ZstdCompressor().compress(body)
    response = httpx.post(url, content=compressed, headers=headers, timeout=60)
    plain = httpx.post(url, content=body, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["output"] == [
        {**item, "id": response.json()["output"][0]["id"]} for item in plain.json()["output"]
    ]
    garbage = httpx.post(url, content=b"not zstd", headers=headers, timeout=30)
    assert garbage.status_code == 400
    assert garbage.json() == _openai_error("failed to decompress zstd body")
    # 21 MiB of spaces compress to a few hundred bytes: refused by size, not decoded whole.
    bomb = zstandard.ZstdCompressor().compress(b" " * (21 << 20))
    assert len(bomb) < 4096
    refused = httpx.post(url, content=bomb, headers=headers, timeout=30)
    assert refused.status_code == 400
    assert refused.json() == _openai_error("http: request body too large")


def test_zstd_without_declared_size_is_bounded_while_decoding() -> None:
    writer = zstandard.ZstdCompressor(write_content_size=False).compressobj()
    bomb = writer.compress(b"{" * (21 << 20)) + writer.flush()
    with pytest.raises(BadRequest, match="request body too large"):
        zstd_decompressed(bomb)
    assert zstd_decompressed(zstandard.ZstdCompressor().compress(b"{}")) == b"{}"


@pytest.mark.server
def test_invalid_schema_is_a_server_error(embedded: ServerProcess, demo_model: str) -> None:
    body = {"model": DEMO, "input": "x", "text": {"format": {"type": "json_schema", "schema": 5}}}
    response = httpx.post(f"{embedded.url}/v1/responses", json=body, timeout=30)
    message = 'invalid format: "5"; expected "json" or a valid JSON Schema object'
    assert (response.status_code, response.json()) == (500, _openai_error(message, 500))


@pytest.mark.server
def test_huge_input_fails_fast(embedded: ServerProcess, demo_model: str) -> None:
    items = [{"role": "user", "content": "hi"}] * 100_000 + [{"type": "bogus"}]
    response = httpx.post(
        f"{embedded.url}/v1/responses", json={"model": DEMO, "input": items}, timeout=60
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == 'input[100000]: unknown input item type: "bogus"'


# -- translation, without a model ---------------------------------------------------------


def _translate(**body: Any) -> ResponsesRequest:
    return ResponsesRequest.from_body({"model": "m", **body})


def test_string_input_and_options() -> None:
    parsed = _translate(
        input="Hi",
        instructions="Be brief.",
        temperature=0.2,
        top_p=0.9,
        max_output_tokens=5,
        stream=True,
    )
    assert parsed.native == {
        "model": "m",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "stream": True,
        "options": {"temperature": 0.2, "top_p": 0.9, "num_predict": 5},
    }
    # OpenAI's default temperature; top_p left to the model, as in Ollama.
    assert _translate(input="Hi").native["options"] == {"temperature": 1.0}
    assert _translate().native["messages"] == []


def test_items() -> None:
    image = base64.b64encode(b"\x89PNG").decode()
    parsed = _translate(
        input=[
            {"role": "developer", "content": "Rules."},
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Look: "},
                    {
                        "type": "input_image",
                        "detail": "auto",
                        "image_url": f"data:image/png;base64,{image}",
                    },
                    {"type": "input_image", "file_id": "file_1"},
                ],
            },
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "Hmm."},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Let me check."}],
            },
            {"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": '{"q": "x"}'},
            {"type": "function_call", "call_id": "c2", "name": "other", "arguments": ""},
            {"type": "message", "role": "assistant", "content": "Checking both."},
            {
                "type": "function_call_output",
                "call_id": "c1",
                "output": [{"type": "input_text", "text": "found"}],
            },
            {"type": "function_call_output", "call_id": "c2", "output": "none"},
            {"type": "web_search_call", "id": "ws_1", "status": "completed"},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Done."}]},
        ]
    )
    assert parsed.native["messages"] == [
        {"role": "developer", "content": "Rules."},
        {"role": "user", "content": "Look: ", "images": [image]},
        {
            "role": "assistant",
            "content": "Let me check.\nChecking both.",
            "thinking": "Hmm.",
            "tool_calls": [
                {"id": "c1", "function": {"name": "lookup", "arguments": {"q": "x"}}},
                {"id": "c2", "function": {"name": "other", "arguments": {}}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "found", "tool_name": "lookup"},
        {"role": "tool", "tool_call_id": "c2", "content": "none", "tool_name": "other"},
        {"role": "assistant", "content": "", "thinking": "Done."},
    ]


def test_tools_choice_format_and_reasoning() -> None:
    namespace = {
        "type": "namespace",
        "name": "files",
        "tools": [{"type": "function", "name": "read", "parameters": {"type": "object"}}],
    }
    search = {"type": "web_search"}
    parsed = _translate(
        input="x",
        tools=[WEATHER, namespace, search],
        text={"format": {"type": "json_schema", "name": "s", "schema": {"type": "object"}}},
        reasoning={"effort": "minimal", "summary": "auto"},
    )
    assert [tool["function"]["name"] for tool in parsed.native["tools"]] == [
        "get_weather",
        "files.read",
    ]
    assert parsed.native["tools"][0] == WEATHER_TOOL
    assert parsed.native["format"] == {"type": "object"}
    assert parsed.native["think"] == "low"
    assert parsed.echo.reasoning == {"effort": "minimal", "summary": "auto"}
    assert [tool["type"] for tool in parsed.echo.tools] == ["function", "namespace", "web_search"]

    assert "tools" not in _translate(input="x", tools=[WEATHER], tool_choice="none").native
    named = _translate(
        input="x",
        tools=[WEATHER, namespace],
        tool_choice={"type": "function", "name": "files.read"},
    )
    assert [tool["function"]["name"] for tool in named.native["tools"]] == ["files.read"]
    with pytest.raises(BadRequest, match='tool_choice names function "nope"'):
        _translate(input="x", tools=[WEATHER], tool_choice={"type": "function", "name": "nope"})
    assert (
        _translate(input="x", text={"format": {"type": "json_object"}}).native["format"] == "json"
    )
    assert "format" not in _translate(input="x", text={"format": {"type": "text"}}).native
    assert _translate(input="x", reasoning={"effort": "none"}).native["think"] is False
    assert _translate(input="x", reasoning={"effort": "xhigh"}).native["think"] == "max"


def _events(chunks: list[bytes]) -> list[tuple[str, Any]]:
    out = []
    for frame in b"".join(chunks).decode().split("\n\n")[:-1]:
        head, data = frame.split("\n")
        assert head.startswith("event: ") and data.startswith("data: ")
        payload = json.loads(data[len("data: ") :])
        assert payload["type"] == head[len("event: ") :]
        out.append((payload["type"], payload))
    return out


def test_stream_with_reasoning_then_text() -> None:
    stream = ResponsesStream(ResponsesEcho(), "resp_1", "msg_1", "m")
    chunks: list[bytes] = []
    for event in (
        Delta(thinking="Let me "),
        Delta(thinking="see."),
        Delta(content="Hi"),
        Delta(content="!"),
    ):
        chunks += stream.convert(event)
    chunks += stream.convert(Done("stop", prompt_eval_count=3, eval_count=4))
    events = _events(chunks)
    assert [kind for kind, _ in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    assert events[5][1]["text"] == "Let me see."
    assert events[7][1]["output_index"] == 1  # the message follows the reasoning item
    final = events[-1][1]["response"]
    assert [item["type"] for item in final["output"]] == ["reasoning", "message"]
    assert final["output"][0]["encrypted_content"] == "Let me see."
    assert final["output"][1]["content"][0]["text"] == "Hi!"
    assert final["usage"]["total_tokens"] == 7
    # Keys sorted, as Go writes maps.
    first = b"".join(chunks).split(b"\n")[1]
    keys = list(json.loads(first[len(b"data: ") :]))
    assert keys == sorted(keys)


def test_stream_stops_text_after_a_call_and_reports_failure() -> None:
    stream = ResponsesStream(ResponsesEcho(), "resp_1", "msg_1", "m")
    call = {"id": "call_1", "function": {"index": 0, "name": "f", "arguments": {"a": 1}}}
    chunks = stream.convert(Delta(tool_calls=[call]))
    chunks += stream.convert(Delta(content="ignored"))
    chunks += stream.convert(Failed(RuntimeError("out of memory")))
    events = _events(chunks)
    assert [kind for kind, _ in events][2:] == [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.failed",
    ]
    assert events[2][1]["item"]["status"] == "in_progress"
    assert events[3][1]["delta"] == '{"a":1}'
    failed = events[-1][1]["response"]
    assert failed["status"] == "failed"
    assert failed["error"] == {"code": "api_error", "message": "out of memory"}
    assert [item["type"] for item in failed["output"]] == ["function_call"]


def test_whole_response() -> None:
    echo = ResponsesEcho(instructions="Be brief.", temperature=0.0)
    call = {"id": "call_1", "function": {"index": 0, "name": "f", "arguments": {}}}
    with_call = whole_response(
        echo, "resp_9", "msg_9", "m", Delta(thinking="Hm", tool_calls=[call]), Done("stop")
    )
    assert [item["id"] for item in with_call["output"]] == ["rs_resp_9", "fc_resp_9_0"]
    assert with_call["output"][1]["arguments"] == "{}"
    assert with_call["instructions"] == "Be brief." and with_call["temperature"] == 0.0
    empty = whole_response(ResponsesEcho(), "resp_9", "msg_9", "m", Delta(), Done("load"))
    assert empty["output"] == [
        {
            "id": "msg_9",
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "", "annotations": [], "logprobs": []}],
        }
    ]
    assert empty["text"] == {"format": {"type": "text"}} and empty["reasoning"] is None
