"""Anthropic's Messages API (``/v1/messages``, ``/v1/messages/count_tokens``) of the embedded
server, driven by the ``anthropic`` package against the real server and demo model, plus the
request and event translation without a model."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest
from server_support import (
    DEMO,
    ServerProcess,
    make_client,
    run_example,
)

from ollamakit.server.routes.anthropic_wire import (
    MessageStream,
    message_response,
    native_chat_body,
    stop_reason,
)
from ollamakit.server.service.events import Delta, Done, Failed
from ollamakit.server.validate import BadRequest

# Greedy and short: the same answer every run, and quick on a 2-core machine. The anthropic
# package (2.x) no longer takes sampling parameters as arguments; they go in the body.
TINY: dict[str, Any] = {"max_tokens": 8, "extra_body": {"temperature": 0}}
HELLO: list[Any] = [{"role": "user", "content": "Say hello."}]

# A base model calls a tool when the prompt shows it calling it: the template lists the tools
# (so the model has the tools capability) and ends with the call three times.
CALL = '{"name": "get_weather", "arguments": {"city": "Paris"}}\n'
TOOLS_TEMPLATE = (
    "{{- if .Tools }}Tools:{{ range .Tools }} {{ .Function.Name }}{{ end }}\n{{ end }}"
    "{{- range .Messages }}{{ .Role }}: {{ .Content }}"
    "{{- range .ToolCalls }} {{ .Function.Name }}({{ .Function.Arguments }}){{ end }}\n{{ end }}"
    + CALL
    * 3
)
WEATHER_TOOL: Any = {
    "name": "get_weather",
    "description": "Weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture(scope="module")
def client(embedded: ServerProcess, demo_model: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=embedded.url, api_key="ollama", max_retries=0) as made:
        yield made


@pytest.fixture(scope="module")
def tools_model(embedded: ServerProcess, demo_model: str) -> str:
    native: Any = make_client("ollama", embedded.url)
    with native:
        native.create(model="anthropic-tools", from_=DEMO, template=TOOLS_TEMPLATE)
        assert "tools" in native.show("anthropic-tools").capabilities
    return "anthropic-tools"


def _without_request_id(body: Any) -> Any:
    """An error body with its request id checked (``req_`` and 24 hex digits) and removed."""
    assert isinstance(body, dict)
    assert re.fullmatch(r"req_[0-9a-f]{24}", body.pop("request_id"))
    return body


def _sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """``event:``/``data:`` pairs of a raw stream, checked to be well framed."""
    assert text.endswith("\n\n")
    events = []
    for chunk in text.split("\n\n")[:-1]:
        kind, data = chunk.split("\n")
        assert kind.startswith("event: ") and data.startswith("data: "), chunk
        payload = json.loads(data[len("data: ") :])
        assert payload["type"] == kind[len("event: ") :]
        events.append((payload["type"], payload))
    return events


# -- messages -----------------------------------------------------------------------------


@pytest.mark.server
def test_message(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model=DEMO, messages=HELLO, **TINY)
    assert message.id.startswith("msg_") and len(message.id) == 28
    assert (message.type, message.role, message.model) == ("message", "assistant", DEMO)
    [block] = message.content
    assert block.type == "text" and block.text
    assert message.stop_reason == "max_tokens"
    assert message.stop_sequence is None
    assert message.usage.output_tokens == 8
    assert message.usage.input_tokens > 0

    # The beta client (``?beta=true``) reaches the same endpoint; greedy, so the same text.
    beta = client.beta.messages.create(model=DEMO, messages=HELLO, **TINY)
    assert [item.model_dump() for item in beta.content] == [block.model_dump()]
    # A system prompt as a string or as text blocks is the same prompt.
    plain = client.messages.create(model=DEMO, messages=HELLO, system="Be brief.", **TINY)
    blocks = client.messages.create(
        model=DEMO,
        messages=HELLO,
        system=[{"type": "text", "text": "Be "}, {"type": "text", "text": "brief."}],
        **TINY,
    )
    assert plain.usage.input_tokens == blocks.usage.input_tokens > message.usage.input_tokens
    assert plain.content == blocks.content


@pytest.mark.server
def test_stream(client: anthropic.Anthropic, embedded: ServerProcess) -> None:
    whole = client.messages.create(model=DEMO, messages=HELLO, **TINY)
    events = list(client.messages.create(model=DEMO, messages=HELLO, stream=True, **TINY))
    kinds = [event.type for event in events]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(kinds[2:-3]) == {"content_block_delta"}
    start, delta = events[0], events[-2]
    assert start.type == "message_start" and delta.type == "message_delta"
    assert start.message.usage.input_tokens == whole.usage.input_tokens
    assert delta.delta.stop_reason == "max_tokens"
    assert delta.usage.output_tokens == 8
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    assert [whole.content[0].model_dump()] == [{"type": "text", "text": text, "citations": None}]

    with client.messages.stream(model=DEMO, messages=HELLO, **TINY) as stream:
        assert "".join(stream.text_stream) == text
        final = stream.get_final_message()
    assert final.stop_reason == "max_tokens"
    assert final.usage.output_tokens == 8

    # On the wire: a ping after the first block starts, as Anthropic sends it.
    body = {"model": DEMO, "messages": HELLO, "stream": True, "max_tokens": 8, "temperature": 0}
    response = httpx.post(embedded.url + "/v1/messages?beta=true", json=body, timeout=60)
    assert response.headers["content-type"].startswith("text/event-stream")
    kinds = [kind for kind, _ in _sse(response.text)]
    assert kinds[:3] == ["message_start", "content_block_start", "ping"]


@pytest.mark.server
def test_stop_sequences(client: anthropic.Anthropic, embedded: ServerProcess) -> None:
    whole = client.messages.create(model=DEMO, messages=HELLO, **TINY)
    text = whole.content[0].text
    word = text.split()[1]
    stopped = client.messages.create(
        model=DEMO, messages=HELLO, stop_sequences=["never seen", word], **TINY
    )
    assert stopped.stop_reason == "stop_sequence"
    assert stopped.stop_sequence == word
    assert stopped.content[0].text == text[: text.index(word)]
    with client.messages.stream(
        model=DEMO, messages=HELLO, stop_sequences=[word], **TINY
    ) as stream:
        final = stream.get_final_message()
    assert (final.stop_reason, final.stop_sequence) == ("stop_sequence", word)
    assert final.content[0].text == stopped.content[0].text  # type: ignore[union-attr]

    # Native answers are unchanged: "stop", and no field naming the sequence.
    native = httpx.post(
        embedded.url + "/api/chat",
        json={
            "model": DEMO,
            "messages": HELLO,
            "stream": False,
            "options": {"num_predict": 8, "temperature": 0, "stop": [word]},
        },
        timeout=60,
    ).json()
    assert native["done_reason"] == "stop"
    assert "stop_sequence" not in native


@pytest.mark.server
def test_thinking_and_sampling_are_accepted(client: anthropic.Anthropic) -> None:
    # The demo model cannot think: thinking is dropped, as Ollama does for Anthropic clients.
    message = client.messages.create(
        model=DEMO,
        messages=HELLO,
        thinking={"type": "enabled", "budget_tokens": 1024},
        metadata={"user_id": "u"},
        max_tokens=8,
        extra_body={"temperature": 0, "top_p": 0.9, "top_k": 20},
    )
    assert [block.type for block in message.content] == ["text"]


@pytest.mark.server
def test_thinking(client: anthropic.Anthropic, think_model: str) -> None:
    ask: list[Any] = [{"role": "user", "content": "3+4?"}]
    request: dict[str, Any] = {
        "model": think_model,
        "messages": ask,
        "max_tokens": 16,
        "stop_sequences": ["\nuser"],
        "extra_body": {"temperature": 0},
    }
    enabled: Any = {"type": "enabled", "budget_tokens": 1024}
    message = client.messages.create(thinking=enabled, **request)
    thinking, text = message.content
    assert thinking.type == "thinking" and text.type == "text"
    assert thinking.thinking and text.text
    assert "<think>" not in text.text and "</think>" not in text.text

    with client.messages.stream(thinking=enabled, **request) as stream:
        events = list(stream)
        final = stream.get_final_message()
    assert [block.model_dump() for block in final.content] == [
        block.model_dump() for block in message.content
    ]
    starts = [(e.index, e.content_block.type) for e in events if e.type == "content_block_start"]
    assert starts == [(0, "thinking"), (1, "text")]
    deltas = {e.delta.type for e in events if e.type == "content_block_delta"}
    assert deltas == {"thinking_delta", "text_delta"}

    # Off: no thinking block; the model's own tags, if any, are plain text.
    plain = client.messages.create(thinking={"type": "disabled"}, **request)
    assert [block.type for block in plain.content] == ["text"]

    # A thinking block sent back goes into the prompt as the turn's thinking.
    history = [
        *ask,
        {"role": "assistant", "content": [thinking.model_dump(), text.model_dump()]},
        {"role": "user", "content": "And 1+1?"},
    ]
    without = [*ask, {"role": "assistant", "content": text.text}, history[-1]]
    counted = client.messages.count_tokens(model=think_model, messages=history, thinking=enabled)
    bare = client.messages.count_tokens(model=think_model, messages=without, thinking=enabled)
    assert counted.input_tokens > bare.input_tokens


# -- tools --------------------------------------------------------------------------------


@pytest.mark.server
def test_tool_use_round_trip(client: anthropic.Anthropic, tools_model: str) -> None:
    ask: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    request: dict[str, Any] = {
        "model": tools_model,
        "tools": [WEATHER_TOOL],
        "tool_choice": {"type": "auto"},
        **TINY,
        "max_tokens": 20,
    }
    message = client.messages.create(messages=ask, **request)
    assert message.stop_reason == "tool_use"
    [call] = message.content
    assert call.type == "tool_use"
    assert (call.name, call.input) == ("get_weather", {"city": "Paris"})
    assert call.id

    with client.messages.stream(messages=ask, **request) as stream:
        events = list(stream)
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert [(b.type, b.name, b.input) for b in final.content] == [  # type: ignore[union-attr]
        ("tool_use", "get_weather", {"city": "Paris"})
    ]
    deltas = [e.delta for e in events if e.type == "content_block_delta"]
    assert [(d.type, d.partial_json) for d in deltas] == [  # type: ignore[union-attr]
        ("input_json_delta", '{"city":"Paris"}')
    ]

    # The result goes back as a tool_result block; the call and the result reach the prompt.
    answered = [
        *ask,
        {"role": "assistant", "content": [call.model_dump()]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "Sunny."}],
        },
    ]
    before = client.messages.count_tokens(model=tools_model, messages=ask, tools=[WEATHER_TOOL])
    after = client.messages.count_tokens(model=tools_model, messages=answered, tools=[WEATHER_TOOL])
    assert after.input_tokens > before.input_tokens
    reply = client.messages.create(messages=answered, **request)
    assert reply.usage.input_tokens == after.input_tokens


@pytest.mark.server
def test_tools_on_a_model_without_tool_support(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model=DEMO, messages=HELLO, tools=[WEATHER_TOOL], **TINY)
    assert _without_request_id(caught.value.body) == {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": f"registry.ollama.ai/library/{DEMO} does not support tools",
        },
    }


# -- count_tokens -------------------------------------------------------------------------


@pytest.mark.server
def test_count_tokens(client: anthropic.Anthropic) -> None:
    """The rendered prompt counted by the model's tokenizer: what generation reports."""
    counted = client.messages.count_tokens(model=DEMO, messages=HELLO)
    message = client.messages.create(model=DEMO, messages=HELLO, **TINY)
    assert counted.input_tokens == message.usage.input_tokens > 0
    system = client.messages.count_tokens(model=DEMO, messages=HELLO, system="Be brief.")
    assert system.input_tokens > counted.input_tokens
    beta = client.beta.messages.count_tokens(model=DEMO, messages=HELLO)
    assert beta.input_tokens == counted.input_tokens
    with pytest.raises(anthropic.NotFoundError):
        client.messages.count_tokens(model="no-such-model", messages=HELLO)


# -- errors -------------------------------------------------------------------------------


@pytest.mark.server
def test_unknown_model(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.create(model="no-such-model", messages=HELLO, **TINY)
    assert caught.value.status_code == 404
    assert _without_request_id(caught.value.body) == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "model 'no-such-model' not found"},
    }
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(model="no-such-model", messages=HELLO, stream=True, **TINY)


VALID: dict[str, Any] = {"model": DEMO, "max_tokens": 8, "messages": HELLO}


@pytest.mark.server
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "EOF"),
        (b"{", "unexpected EOF"),
        (b"[1]", "json: cannot unmarshal array into Go value of type anthropic."),
        ({**VALID, "model": None}, "model is required"),
        ({**VALID, "max_tokens": None}, "max_tokens is required and must be positive"),
        ({**VALID, "max_tokens": -1}, "max_tokens is required and must be positive"),
        (
            {**VALID, "max_tokens": "8"},
            "json: cannot unmarshal string into Go struct field MessagesRequest.max_tokens"
            " of type int",
        ),
        ({**VALID, "messages": None}, "messages is required"),
        ({**VALID, "messages": []}, "messages is required"),
        ({**VALID, "messages": [None]}, "cannot unmarshal null"),
        ({**VALID, "messages": [{"role": "user", "content": 5}]}, "cannot unmarshal number"),
        ({**VALID, "messages": [{"role": "user", "content": ""}]}, "every message is empty"),
        ({**VALID, "temperature": "hot"}, "MessagesRequest.temperature of type float64"),
        ({**VALID, "stop_sequences": [1]}, "cannot unmarshal number"),
        ({**VALID, "system": 5}, "system: expected a string or an array of text blocks"),
        ({**VALID, "tools": {}}, "cannot unmarshal object"),
        ({**VALID, "tools": [{"description": "no name"}]}, "every tool needs a name"),
        ({**VALID, "tool_choice": {"type": "sometimes"}}, "tool_choice.type"),
        ({**VALID, "thinking": "on"}, "cannot unmarshal string"),
    ],
)
def test_bad_requests(embedded: ServerProcess, demo_model: str, body: Any, message: str) -> None:
    """Malformed, wrongly typed and null input: 400 in Anthropic's error shape."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    for path in ("/v1/messages", "/v1/messages/count_tokens"):
        if path.endswith("count_tokens") and b"max_tokens" in content:
            continue  # count_tokens has no max_tokens
        response = httpx.post(embedded.url + path, content=content, timeout=30)
        assert response.status_code == 400, response.text
        error = response.json()
        assert error["type"] == "error"
        assert error["error"]["type"] == "invalid_request_error"
        assert message in error["error"]["message"]


@pytest.mark.server
def test_huge_and_deep_input(embedded: ServerProcess, demo_model: str) -> None:
    deep = b'{"model": "' + DEMO.encode() + b'", "max_tokens": 1, "messages": ' + b"[" * 100_000
    response = httpx.post(embedded.url + "/v1/messages", content=deep, timeout=30)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    # Over the body limit (64 MiB): refused from its Content-Length, in Anthropic's shape.
    over = b'{"model": "x", "pad": "' + b"a" * (64 << 20) + b'"}'
    for path in ("/v1/messages", "/v1/messages/count_tokens?beta=true"):
        response = httpx.post(embedded.url + path, content=over, timeout=30)
        assert (response.status_code, _without_request_id(response.json())) == (
            413,
            {
                "type": "error",
                "error": {"type": "request_too_large", "message": "http: request body too large"},
            },
        )
    # A prompt far over the context: counted whole, and refused by generation, not truncated
    # into garbage by count_tokens.
    long = [{"role": "user", "content": "word " * 50_000}]
    counted = httpx.post(
        embedded.url + "/v1/messages/count_tokens",
        json={"model": DEMO, "messages": long},
        timeout=60,
    )
    assert counted.status_code == 200
    assert counted.json()["input_tokens"] > 50_000


# -- translation without a model ----------------------------------------------------------


def test_request_translation() -> None:
    image = "aGVsbG8="
    body = {
        "model": "m",
        "max_tokens": 100,
        "system": [{"type": "text", "text": "Be "}, {"type": "text", "text": "kind."}],
        "temperature": 0.5,
        "top_p": 0.9,
        "top_k": 40,
        "stop_sequences": ["END"],
        "stream": True,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "tools": [WEATHER_TOOL],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look: "},
                    {"type": "image", "source": {"type": "base64", "data": image}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hm", "signature": "s"},
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"a": 1}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": [
                            {"type": "text", "text": "Sunny"},
                            {"type": "image", "source": {"type": "base64", "data": image}},
                        ],
                    },
                    {"type": "text", "text": "Thanks"},
                ],
            },
        ],
    }
    assert native_chat_body(body) == {
        "model": "m",
        "stream": True,
        "think": True,
        "options": {
            "num_predict": 100,
            "temperature": 0.5,
            "top_p": 0.9,
            "top_k": 40,
            "stop": ["END"],
        },
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather in a city",
                    "parameters": WEATHER_TOOL["input_schema"],
                },
            }
        ],
        "messages": [
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": "Look: ", "images": [image]},
            {
                "role": "assistant",
                "content": "Checking.",
                "thinking": "hm",
                "tool_calls": [
                    {"id": "t1", "function": {"name": "get_weather", "arguments": {"a": 1}}}
                ],
            },
            # Tool results come first in a user turn, named after their call.
            {
                "role": "tool",
                "content": "Sunny",
                "images": [image],
                "tool_call_id": "t1",
                "tool_name": "get_weather",
            },
            {"role": "user", "content": "Thanks"},
        ],
    }


@pytest.mark.parametrize(
    ("extra", "think"),
    [
        ({"thinking": {"type": "disabled"}}, False),
        ({"thinking": {"type": "adaptive"}}, None),  # the model's default
        ({"output_config": {"effort": "xhigh"}}, "high"),
        ({"output_config": {"effort": "low"}}, "low"),
        ({"output_config": {"effort": "none"}}, None),
        ({"thinking": {"type": "enabled"}, "output_config": {"effort": "low"}}, True),
    ],
)
def test_thinking_translation(extra: dict[str, Any], think: bool | str | None) -> None:
    assert native_chat_body({**VALID, **extra}).get("think") == think


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (
            {"type": "image", "source": {"type": "url", "url": "http://x"}},
            "invalid image source type: url. Only base64 images are supported.",
        ),
        ({"type": "image", "source": {"type": "base64", "data": "!!"}}, "invalid base64"),
        ({"type": "image"}, "invalid image source"),
        ({"type": "tool_use", "name": "f"}, "tool_use block missing required 'id' field"),
        ({"type": "tool_use", "id": "x"}, "tool_use block missing required 'name' field"),
        ({"type": "tool_use", "id": "x", "name": "f", "input": [1]}, "cannot unmarshal array"),
        ({"type": "text", "text": 5}, "MessagesRequest.messages.content.text of type string"),
    ],
)
def test_block_errors(message: dict[str, Any], error: str) -> None:
    body = {**VALID, "messages": [{"role": "user", "content": [message]}]}
    with pytest.raises(BadRequest) as caught:
        native_chat_body(body)
    assert error in caught.value.message


def test_typed_tools() -> None:
    """Tools Anthropic runs itself are refused; typed client tools are plain functions."""
    for kind in ("web_search_20250305", "web_fetch_20250910", "code_execution_20250825"):
        body = {**VALID, "tools": [{"type": kind, "name": "x"}]}
        with pytest.raises(BadRequest, match="server tools"):
            native_chat_body(body)
    native = native_chat_body({**VALID, "tools": [{"type": "bash_20250124", "name": "bash"}]})
    assert native["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "bash",
                "description": "",
                "parameters": {"type": "object", "properties": {}},
            },
        }
    ]


def test_stop_reasons() -> None:
    assert stop_reason(Done("stop"), False) == "end_turn"
    assert stop_reason(Done("length"), False) == "max_tokens"
    assert stop_reason(Done("stop", stop_sequence="END"), False) == "stop_sequence"
    assert stop_reason(Done("stop"), True) == "tool_use"
    assert stop_reason(Done(""), False) is None  # the client went away


def test_stream_conversion() -> None:
    stream = MessageStream("msg_1", "m", 5)
    call = {"id": "c1", "function": {"index": 0, "name": "f", "arguments": {"x": 1}}}
    chunks = [
        *stream.convert(Delta(thinking="Let me")),
        *stream.convert(Delta(thinking=" see", content="Hi")),
        *stream.convert(Delta(content="!", tool_calls=[call])),
        *stream.convert(Done("stop", prompt_eval_count=5, eval_count=3)),
    ]
    events = _sse(b"".join(chunks).decode())
    summary = [
        (kind, event.get("index"), event.get("delta") or event.get("content_block"))
        for kind, event in events
    ]
    assert summary == [
        ("message_start", None, None),
        ("content_block_start", 0, {"type": "thinking", "thinking": "", "signature": ""}),
        ("ping", None, None),
        ("content_block_delta", 0, {"type": "thinking_delta", "thinking": "Let me"}),
        ("content_block_delta", 0, {"type": "thinking_delta", "thinking": " see"}),
        ("content_block_stop", 0, None),
        ("content_block_start", 1, {"type": "text", "text": ""}),
        ("content_block_delta", 1, {"type": "text_delta", "text": "Hi"}),
        ("content_block_delta", 1, {"type": "text_delta", "text": "!"}),
        ("content_block_stop", 1, None),
        ("content_block_start", 2, {"type": "tool_use", "id": "c1", "name": "f", "input": {}}),
        ("content_block_delta", 2, {"type": "input_json_delta", "partial_json": '{"x":1}'}),
        ("content_block_stop", 2, None),
        ("message_delta", None, {"stop_reason": "tool_use", "stop_sequence": None}),
        ("message_stop", None, None),
    ]
    assert events[0][1]["message"]["usage"] == {"input_tokens": 5, "output_tokens": 0}
    assert events[-2][1]["usage"] == {"input_tokens": 5, "output_tokens": 3}


def test_stream_without_content() -> None:
    """A generation that ends at once still opens and closes the message, with its ping."""
    events = _sse(b"".join(MessageStream("msg_1", "m", 2).convert(Done("stop"))).decode())
    assert [kind for kind, _ in events] == [
        "message_start",
        "ping",
        "message_delta",
        "message_stop",
    ]
    assert events[2][1]["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}


def test_stream_error_after_start() -> None:
    stream = MessageStream("msg_1", "m", 1)
    started = stream.convert(Delta(content="a"))
    failed = stream.convert(Failed(RuntimeError("boom")))
    events = _sse(b"".join([*started, *failed]).decode())
    name, body = events[-1]
    assert (name, _without_request_id(body)) == (
        "error",
        {"type": "error", "error": {"type": "api_error", "message": "boom"}},
    )


def test_message_response() -> None:
    delta = Delta(content="Hi", thinking="hm")
    done = Done("stop", prompt_eval_count=4, eval_count=2, stop_sequence="X")
    assert message_response(delta, done, "msg_1", "m") == {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [
            {"type": "thinking", "thinking": "hm", "signature": ""},
            {"type": "text", "text": "Hi"},
        ],
        "stop_reason": "stop_sequence",
        "stop_sequence": "X",
        "usage": {"input_tokens": 4, "output_tokens": 2},
    }


@pytest.mark.server
def test_example_script(embedded: ServerProcess, demo_model: str) -> None:
    """examples/anthropic_messages.py against the real server."""
    result = run_example("anthropic_messages.py", embedded.url)
    assert result.returncode == 0, result.stderr
    assert "stream stop_reason=max_tokens" in result.stdout
    assert "stop_reason=stop_sequence stop_sequence='\\n'" in result.stdout
    assert re.search(r"the question is \d+ tokens", result.stdout)
