"""The OpenAI-compatible API (``/v1/...``) of the embedded server, driven by the ``openai``
package against the real server and demo model, plus the request and stream translation
without a model."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import re
import struct
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from server_support import DEMO, FORCED_CALL, WEATHER_TOOL, ServerProcess

from ollamakit.server.routes.openai import (
    ChatStream,
    CompletionStream,
    completion_logprobs,
    native_chat_body,
    native_generate_body,
)
from ollamakit.server.service.events import Delta, Done, Failed
from ollamakit.server.validate import BadRequest

# Greedy and short: the same answer every run, and quick on a 2-core machine.
TINY: dict[str, Any] = {"max_tokens": 8, "temperature": 0, "seed": 42}
HELLO = [{"role": "user", "content": "Say hello."}]


@pytest.fixture(scope="module")
def client(embedded: ServerProcess, demo_model: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{embedded.url}/v1", api_key="ollama", max_retries=0) as made:
        yield made


def _sse_payloads(text: str) -> list[str]:
    assert text.endswith("data: [DONE]\n\n")
    events = text.split("\n\n")
    assert events[-1] == ""
    payloads = []
    for event in events[:-1]:
        assert event.startswith("data: "), event
        payloads.append(event[len("data: ") :])
    return payloads


# -- chat ---------------------------------------------------------------------------------


@pytest.mark.server
def test_chat_completion(client: openai.OpenAI, embedded: ServerProcess) -> None:
    before = int(time.time())
    completion = client.chat.completions.create(model=DEMO, messages=HELLO, **TINY)
    assert re.fullmatch(r"chatcmpl-\d{1,3}", completion.id)
    assert completion.object == "chat.completion"
    assert completion.model == DEMO
    assert completion.system_fingerprint == "fp_ollama"
    assert before <= completion.created <= time.time() + 1
    [choice] = completion.choices
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert choice.message.content
    assert choice.message.tool_calls is None
    assert choice.finish_reason in ("stop", "length")
    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens > 0
    assert 0 < usage.completion_tokens <= 8
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    # The same generation as the native route with the options the request maps to.
    native = httpx.post(
        f"{embedded.url}/api/chat",
        json={
            "model": DEMO,
            "messages": HELLO,
            "stream": False,
            "options": {"num_predict": 8, "temperature": 0, "seed": 42, "top_p": 1.0},
        },
        timeout=60,
    ).json()
    assert native["message"]["content"] == choice.message.content
    assert native["done_reason"] == choice.finish_reason


@pytest.mark.server
def test_chat_stream_async(embedded: ServerProcess, demo_model: str) -> None:
    async def run() -> tuple[list[Any], str | None]:
        async with openai.AsyncOpenAI(
            base_url=f"{embedded.url}/v1", api_key="ollama", max_retries=0
        ) as aclient:
            whole = await aclient.chat.completions.create(model=DEMO, messages=HELLO, **TINY)
            stream = await aclient.chat.completions.create(
                model=DEMO,
                messages=HELLO,
                stream=True,
                stream_options={"include_usage": True},
                **TINY,
            )
            chunks = [chunk async for chunk in stream]
            return chunks, whole.choices[0].message.content

    chunks, whole_content = asyncio.run(run())
    *deltas, finish, usage_chunk = chunks
    ids = {chunk.id for chunk in chunks}
    assert len(ids) == 1 and re.fullmatch(r"chatcmpl-\d{1,3}", ids.pop())
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert all(chunk.system_fingerprint == "fp_ollama" for chunk in chunks)
    assert deltas, "no content chunks"
    roles = [chunk.choices[0].delta.role for chunk in deltas]
    assert roles[0] == "assistant" and not any(roles[1:])
    assert all(chunk.choices[0].finish_reason is None for chunk in deltas)
    content = "".join(chunk.choices[0].delta.content or "" for chunk in deltas)
    assert content == whole_content
    [last] = finish.choices
    assert last.finish_reason in ("stop", "length")
    assert last.delta.content is None and last.delta.role is None
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None
    assert 0 < usage_chunk.usage.completion_tokens <= 8
    assert usage_chunk.usage.total_tokens == (
        usage_chunk.usage.prompt_tokens + usage_chunk.usage.completion_tokens
    )


@pytest.mark.server
def test_chat_stream_framing(embedded: ServerProcess, demo_model: str) -> None:
    body = {"model": DEMO, "messages": HELLO, "stream": True, **TINY, "max_tokens": 3}
    response = httpx.post(f"{embedded.url}/v1/chat/completions", json=body, timeout=60)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    *payloads, done = _sse_payloads(response.text)
    assert done == "[DONE]"
    chunks = [json.loads(payload) for payload in payloads]
    # Without include_usage: no usage chunk, and the finish chunk's delta is empty.
    assert all(chunk["choices"] for chunk in chunks)
    assert chunks[-1]["choices"] == [{"index": 0, "delta": {}, "finish_reason": "length"}]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"


@pytest.mark.server
def test_chat_logprobs(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=DEMO,
        messages=HELLO,
        logprobs=True,
        top_logprobs=2,
        **{**TINY, "max_tokens": 3},
    )
    logprobs = completion.choices[0].logprobs
    assert logprobs is not None and logprobs.content is not None
    assert len(logprobs.content) == completion.usage.completion_tokens
    assert "".join(item.token for item in logprobs.content) == completion.choices[0].message.content
    for item in logprobs.content:
        assert item.logprob <= 0
        assert len(item.top_logprobs) == 2
        # Greedy decoding picks the most likely token.
        assert item.top_logprobs[0].logprob == pytest.approx(item.logprob)


@pytest.mark.server
def test_response_format_json_schema(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"sky_is_blue": {"type": "boolean"}},
        "required": ["sky_is_blue"],
        "additionalProperties": False,
    }
    completion = client.chat.completions.create(
        model=DEMO,
        messages=[{"role": "user", "content": "Is the sky blue?"}],
        response_format={"type": "json_schema", "json_schema": {"name": "sky", "schema": schema}},
        **{**TINY, "max_tokens": 16},
    )
    assert completion.choices[0].finish_reason == "stop"
    value = json.loads(completion.choices[0].message.content or "")
    assert set(value) == {"sky_is_blue"}
    assert isinstance(value["sky_is_blue"], bool)


# -- tools --------------------------------------------------------------------------------


@pytest.mark.server
def test_tools_on_a_model_without_tool_support(
    client: openai.OpenAI, embedded: ServerProcess
) -> None:
    native = httpx.post(
        f"{embedded.url}/api/chat",
        json={"model": DEMO, "messages": HELLO, "tools": [WEATHER_TOOL], "stream": False},
        timeout=60,
    )
    assert native.status_code == 400
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=DEMO, messages=HELLO, tools=[WEATHER_TOOL], **TINY)
    assert caught.value.status_code == 400
    assert caught.value.body == {
        "message": native.json()["error"],
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


@pytest.mark.server
def test_tool_definitions_reach_the_prompt(
    client: openai.OpenAI, embedded: ServerProcess, tools_model: str
) -> None:
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    raw = client.chat.completions.with_raw_response.create(
        model=tools_model,
        messages=messages,
        tools=[WEATHER_TOOL],
        extra_body={"_debug_render_only": True},
    )
    rendered = raw.http_response.json()["_debug_info"]["rendered_template"]
    assert '"name":"get_weather"' in rendered
    assert '"description":"Weather in a city"' in rendered
    assert rendered.endswith("user: Weather in Paris?\nassistant: ")
    native = httpx.post(
        f"{embedded.url}/api/chat",
        json={
            "model": tools_model,
            "messages": messages,
            "tools": [WEATHER_TOOL],
            "_debug_render_only": True,
        },
        timeout=60,
    ).json()
    assert native["_debug_info"]["rendered_template"] == rendered


@pytest.mark.server
def test_tool_calls_in_responses(client: openai.OpenAI, tools_model: str) -> None:
    request: dict[str, Any] = {
        "model": tools_model,
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "tools": [WEATHER_TOOL],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "call", "schema": FORCED_CALL},
        },
        **TINY,
        "max_tokens": 16,
    }
    completion = client.chat.completions.create(**request)
    [choice] = completion.choices
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == ""
    [call] = choice.message.tool_calls or []
    assert re.fullmatch(r"call_[a-z0-9]{8}", call.id)
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert isinstance(call.function.arguments, str)
    assert json.loads(call.function.arguments) == {"city": "Paris"}

    chunks = list(client.chat.completions.create(stream=True, **request))
    calls = [item for chunk in chunks for item in (chunk.choices[0].delta.tool_calls or [])]
    assert [(item.function.name, item.function.arguments) for item in calls] == [
        ("get_weather", '{"city":"Paris"}')
    ]
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


# -- completions --------------------------------------------------------------------------


@pytest.mark.server
def test_completions(client: openai.OpenAI) -> None:
    completion = client.completions.create(model=DEMO, prompt="The capital of France is", **TINY)
    assert re.fullmatch(r"cmpl-\d{1,3}", completion.id)
    assert completion.object == "text_completion"
    assert completion.model == DEMO
    assert completion.system_fingerprint == "fp_ollama"
    [choice] = completion.choices
    assert choice.text
    assert choice.finish_reason in ("stop", "length")
    assert completion.usage is not None
    assert 0 < completion.usage.completion_tokens <= 8

    stream = client.completions.create(
        model=DEMO,
        prompt="The capital of France is",
        stream=True,
        stream_options={"include_usage": True},
        **TINY,
    )
    chunks = list(stream)
    *texts, finish, usage_chunk = chunks
    assert all(chunk.object == "text_completion" for chunk in chunks)
    assert "".join(chunk.choices[0].text for chunk in texts) == choice.text
    assert finish.choices[0].finish_reason == choice.finish_reason
    assert usage_chunk.choices == []
    assert usage_chunk.usage == completion.usage


@pytest.mark.server
def test_completion_logprobs(client: openai.OpenAI) -> None:
    completion = client.completions.create(
        model=DEMO, prompt="One, two,", logprobs=2, **{**TINY, "max_tokens": 3}
    )
    [choice] = completion.choices
    logprobs = choice.logprobs
    assert logprobs is not None
    assert "".join(logprobs.tokens or []) == choice.text
    assert logprobs.text_offset == [
        sum(len(token) for token in (logprobs.tokens or [])[:i])
        for i in range(len(logprobs.tokens or []))
    ]
    assert all(len(top) == 2 for top in logprobs.top_logprobs or [])


# -- embeddings ---------------------------------------------------------------------------


@pytest.mark.server
def test_embeddings(client: openai.OpenAI) -> None:
    texts = ["The sky is blue.", "Grass is green."]
    floats = client.embeddings.create(model=DEMO, input=texts, encoding_format="float")
    assert floats.object == "list"
    assert floats.model == DEMO
    assert [item.index for item in floats.data] == [0, 1]
    assert all(item.object == "embedding" for item in floats.data)
    for item in floats.data:
        assert math.isclose(math.fsum(x * x for x in item.embedding), 1.0, rel_tol=1e-6)
    assert floats.usage.prompt_tokens > 0
    assert floats.usage.total_tokens == floats.usage.prompt_tokens

    raw = client.embeddings.with_raw_response.create(
        model=DEMO, input=texts, encoding_format="base64"
    )
    for item, expected in zip(raw.http_response.json()["data"], floats.data):
        packed = base64.b64decode(item["embedding"])
        decoded = struct.unpack(f"<{len(packed) // 4}f", packed)
        assert decoded == struct.unpack(
            f"<{len(expected.embedding)}f",
            struct.pack(f"<{len(expected.embedding)}f", *expected.embedding),
        )
    # The client asks for base64 unless told otherwise and decodes it itself. (Compared with
    # the same single input: inputs batched together differ by float rounding.)
    default = client.embeddings.create(model=DEMO, input=texts[0])
    single = client.embeddings.create(model=DEMO, input=texts[0], encoding_format="float")
    assert default.data[0].embedding == pytest.approx(single.data[0].embedding, abs=1e-6)

    short = client.embeddings.create(model=DEMO, input=texts[0], dimensions=8)
    vector = short.data[0].embedding
    assert len(vector) == 8
    assert math.isclose(math.fsum(x * x for x in vector), 1.0, rel_tol=1e-5)


# -- models -------------------------------------------------------------------------------


@pytest.mark.server
def test_models(client: openai.OpenAI, embedded: ServerProcess) -> None:
    manifest = embedded.models / "manifests" / "registry.ollama.ai" / "library" / "gemma3" / "270m"
    created = manifest.stat().st_mtime_ns // 1_000_000_000
    listed = {model.id: model for model in client.models.list()}
    demo = listed[DEMO]
    assert (demo.object, demo.created, demo.owned_by) == ("model", created, "library")
    retrieved = client.models.retrieve(DEMO)
    assert retrieved.model_dump() == demo.model_dump()
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("no-such-model")
    assert caught.value.body == {
        "message": "model 'no-such-model' not found",
        "type": "not_found_error",
        "param": None,
        "code": None,
    }


# -- errors and cancellation --------------------------------------------------------------


@pytest.mark.server
def test_errors(client: openai.OpenAI, embedded: ServerProcess) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="no-such-model", messages=HELLO, **TINY)
    assert missing.value.status_code == 404
    assert missing.value.body["message"] == "model 'no-such-model' not found"
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="no-such-model", prompt="x", **TINY)
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="no-such-model", input="x")

    with pytest.raises(openai.BadRequestError) as empty:
        client.chat.completions.create(model=DEMO, messages=[])
    assert empty.value.body["message"] == "[] is too short - 'messages'"

    response = httpx.post(
        f"{embedded.url}/v1/chat/completions",
        json={"model": DEMO, "messages": HELLO, "temperature": "hot"},
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": "json: cannot unmarshal string into Go struct field "
            "ChatCompletionRequest.temperature of type float64",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }
    with pytest.raises(openai.BadRequestError) as effort:
        client.chat.completions.create(model=DEMO, messages=HELLO, reasoning_effort="high")
    assert effort.value.body["message"] == f'"{DEMO}" does not support thinking'
    with pytest.raises(openai.BadRequestError) as encoding:
        client.embeddings.create(model=DEMO, input="x", encoding_format="int8")
    assert encoding.value.body["message"] == (
        "Invalid value for 'encoding_format' = int8. Supported values: ['float', 'base64']."
    )


@pytest.mark.server
def test_disconnect_cancels_generation(client: openai.OpenAI) -> None:
    long: dict[str, Any] = {
        "model": DEMO,
        "messages": [{"role": "user", "content": "Tell me a long story."}],
        "max_tokens": 3000,
        "temperature": 0,
        "seed": 1,
    }
    with client.chat.completions.create(stream=True, **long) as stream:
        for _, chunk in zip(range(3), stream):
            assert chunk.choices[0].finish_reason is None
    # Had the 3000-token generation kept going, this would wait behind it.
    started = time.monotonic()
    client.chat.completions.create(model=DEMO, messages=HELLO, **TINY)
    assert time.monotonic() - started < 10

    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=1.5).chat.completions.create(**long)
    started = time.monotonic()
    client.chat.completions.create(model=DEMO, messages=HELLO, **TINY)
    assert time.monotonic() - started < 10


# -- translation, without a model ---------------------------------------------------------


def test_chat_request_translation() -> None:
    native = native_chat_body(
        {
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 5,
            "stop": "\n",
            "seed": 3,
            "presence_penalty": 0.5,
            "response_format": {"type": "json_object"},
            "logprobs": True,
            "top_logprobs": 2,
        }
    )
    assert native == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": False,
        "options": {
            "stop": ["\n"],
            "num_predict": 5,
            "temperature": 1.0,
            "seed": 3,
            "presence_penalty": 0.5,
            "top_p": 1.0,
        },
        "format": "json",
        "logprobs": True,
        "top_logprobs": 2,
    }
    schema = {"type": "object"}
    schema_body = native_chat_body(
        {
            "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "json_schema", "json_schema": {"schema": schema}},
            "temperature": 0,
            "top_p": 0.5,
        }
    )
    assert schema_body["format"] == schema
    assert schema_body["options"]["temperature"] == 0
    assert schema_body["options"]["top_p"] == 0.5
    with pytest.raises(BadRequest, match=r"^\[\] is too short - 'messages'$"):
        native_chat_body({"model": "m", "messages": []})


@pytest.mark.parametrize(
    ("effort", "think"),
    [
        ("none", False),
        ("minimal", "low"),
        ("low", "low"),
        ("medium", "medium"),
        ("high", "high"),
        ("max", "max"),
        ("xhigh", "max"),
        ("ultra", "max"),
    ],
)
def test_reasoning_effort(effort: str, think: bool | str) -> None:
    messages = [{"role": "user", "content": "x"}]
    assert native_chat_body({"messages": messages, "reasoning_effort": effort})["think"] == think
    nested = native_chat_body({"messages": messages, "reasoning": {"effort": effort}})
    assert nested["think"] == think


def test_reasoning_effort_rejected() -> None:
    with pytest.raises(BadRequest) as caught:
        native_chat_body({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "x"})
    assert caught.value.status == 400
    assert caught.value.message == (
        'invalid reasoning value: "x" (must be "minimal", "low", "medium", "high", "xhigh", '
        '"ultra", "max", or "none")'
    )


def test_message_translation() -> None:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "reasoning": "hm",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "look", "arguments": '{"at": "it"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "a cat"},
    ]
    assert native_chat_body({"messages": messages})["messages"] == [
        {"role": "user", "content": "What is this?"},
        {"role": "user", "content": "", "images": [png]},
        {
            "role": "assistant",
            "content": "",
            "thinking": "hm",
            "tool_calls": [
                {"id": "call_1", "function": {"name": "look", "arguments": {"at": "it"}}}
            ],
        },
        {"role": "tool", "content": "a cat", "tool_name": "look", "tool_call_id": "call_1"},
    ]


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (
            {"role": "user", "content": [{"type": "image_url", "image_url": "https://x/y.png"}]},
            "image URLs are not currently supported, please use base64 encoded data instead",
        ),
        (
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": "data:text/a;base64,"}],
            },
            "invalid image input",
        ),
        (
            {"role": "user", "content": [{"type": "image_url", "image_url": "data:;base64,@@"}]},
            "invalid image input",
        ),
        ({"role": "user", "content": [{"type": "audio"}]}, "invalid message format"),
        ({"role": "user", "content": 3}, "invalid message content type: float64"),
        ({"role": "user"}, "invalid message content type: <nil>"),
        (
            {
                "role": "assistant",
                "tool_calls": [{"function": {"name": "f", "arguments": "{oops"}}],
            },
            "invalid tool call arguments",
        ),
    ],
)
def test_message_errors(message: dict[str, Any], error: str) -> None:
    with pytest.raises(BadRequest) as caught:
        native_chat_body({"messages": [message]})
    assert (caught.value.message, caught.value.status) == (error, 400)


def test_completion_request_translation() -> None:
    native = native_generate_body(
        {"model": "m", "prompt": "p", "suffix": "s", "stop": ["a", "b"], "logprobs": 0}
    )
    assert native == {
        "model": "m",
        "prompt": "p",
        "stream": False,
        "options": {"stop": ["a", "b"], "temperature": 1.0, "top_p": 1.0},
        "suffix": "s",
        "logprobs": True,
        "top_logprobs": 0,
    }
    with pytest.raises(BadRequest, match=r"^invalid type for 'stop' field: float64$"):
        native_generate_body({"prompt": "p", "stop": ["a", 1]})


def _decode_events(events: list[bytes]) -> list[Any]:
    out = []
    for event in events:
        assert event.startswith(b"data: ") and event.endswith(b"\n\n")
        payload = event[len(b"data: ") : -2]
        out.append(payload.decode() if payload == b"[DONE]" else json.loads(payload))
    return out


def test_chat_stream_conversion() -> None:
    stream = ChatStream("chatcmpl-1", 100, "m", include_usage=True)
    first = _decode_events(stream.convert(Delta(content="Hi", thinking="hmm")))
    assert [chunk["choices"][0]["delta"] for chunk in first] == [
        {"role": "assistant", "reasoning": "hmm"},
        {"content": "Hi"},
    ]
    call = {"id": "call_abc", "function": {"index": 0, "name": "f", "arguments": {"a": 1}}}
    tool = _decode_events(stream.convert(Delta(tool_calls=[call])))
    assert tool[0]["choices"][0]["delta"] == {
        "content": "",
        "tool_calls": [
            {
                "index": 0,
                "id": "call_abc",
                "type": "function",
                "function": {"name": "f", "arguments": '{"a":1}'},
            }
        ],
    }
    end = _decode_events(stream.convert(Done("stop", prompt_eval_count=4, eval_count=2)))
    assert end[0]["choices"] == [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]
    assert end[1]["choices"] == []
    assert end[1]["usage"] == {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}
    assert end[2] == "[DONE]"
    assert {chunk["id"] for chunk in [*first, *tool, *end[:2]]} == {"chatcmpl-1"}


def test_stream_conversion_edges() -> None:
    # Nothing generated: the role still comes first, then the finish chunk.
    quiet = ChatStream("chatcmpl-2", 100, "m", include_usage=False)
    events = _decode_events(quiet.convert(Done("length")))
    assert [event if isinstance(event, str) else event["choices"] for event in events] == [
        [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
        [{"index": 0, "delta": {}, "finish_reason": "length"}],
        "[DONE]",
    ]
    # A failure after the stream started is an error event, as the openai client expects.
    [error] = _decode_events(quiet.convert(Failed(RuntimeError("boom"))))
    assert error == {"error": {"message": "boom", "type": "api_error", "param": None, "code": None}}
    text = CompletionStream("cmpl-3", 100, "m", include_usage=False)
    events = _decode_events(
        [
            *text.convert(Delta(content="ab")),
            *text.convert(Done("stop")),
        ]
    )
    assert [event if isinstance(event, str) else event["choices"] for event in events] == [
        [{"text": "ab", "index": 0, "finish_reason": None}],
        [{"text": "", "index": 0, "finish_reason": "stop"}],
        "[DONE]",
    ]


def test_completion_logprobs_shape() -> None:
    items = [
        {"token": "ab", "logprob": -0.5, "top_logprobs": [{"token": "ab", "logprob": -0.5}]},
        {"token": "c", "logprob": -1.0, "top_logprobs": [{"token": "c", "logprob": -1.0}]},
    ]
    assert completion_logprobs(items, offset=3) == {
        "tokens": ["ab", "c"],
        "token_logprobs": [-0.5, -1.0],
        "top_logprobs": [{"ab": -0.5}, {"c": -1.0}],
        "text_offset": [3, 5],
    }
