"""``format``, tools and thinking end to end, through the official ``ollama`` client and ours.

gemma3:270m is a base model: left to itself it neither calls tools nor thinks. The tests make
it do both deterministically (temperature 0, fixed seed) without special-casing the server:

* **tools**: a model derived from it whose TEMPLATE renders ``.Tools`` and earlier calls as
  ``<tool_call>{...}</tool_call>`` (so the tag comes from ``{{ if .ToolCalls }}``), and whose
  MESSAGE history holds three worked calls. The greedy continuation of a new question is then
  a call, written out with the tag: the same prompt sent with ``raw=True`` shows the model's
  own text, which the chat route must turn into ``tool_calls``.
* **thinking**: a derived model whose TEMPLATE shows ``.Thinking`` as ``<think>…</think>``
  inside ``range .Messages`` (so the tags are inferred) and ends the prompt with ``<think>``
  when thinking is on (a prefill: the parser starts inside thinking). Its history of worked
  answers makes the model close the tag and answer; the raw continuation of the same prompt
  is compared with the split the server made.
* **format**: small schemas (a boolean, a bounded integer) or few-shot JSON answers, so the
  constrained object completes well inside the token budget; every output is validated.

Generations stay within 24 tokens.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import ollama
import pytest
from pydantic import BaseModel, ConfigDict, Field
from server_support import DEMO, THINK_HISTORY, THINK_TEMPLATE, ServerProcess

import ollamakit
from ollamakit.server.grammar import integer_range_rule
from ollamakit.server.output import OutputShaper, ThinkingParser
from ollamakit.server.templates import tool_call_tag
from ollamakit.server.toolcalls import ToolCallParser

# Some tests run five short generations; on a busy 2-core machine that can pass 120 s.
pytestmark = pytest.mark.timeout(300)

RESPONSE_ERRORS = (ollama.ResponseError, ollamakit.ResponseError)
CALL_ID = re.compile(r"call_[a-z0-9]{8}")

TOOLS_TEMPLATE = (
    "{{- if .Tools }}Tools: {{ range .Tools }}{{ .Function.Name }} {{ end }}\n{{ end }}"
    "{{- range .Messages }}"
    '{{ if eq .Role "tool" }}result:\n{{ .Content }}'
    "{{ else }}{{ .Role }}:\n{{ .Content }}"
    "{{ if .ToolCalls }}<tool_call>{{ range .ToolCalls }}"
    '{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}'
    "{{ end }}</tool_call>{{ end }}{{ end }}\n"
    "{{ end }}assistant:\n"
)

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}

TOOL_HISTORY = [
    message
    for city in ("Oslo", "Rome", "Lima")
    for message in (
        {"role": "user", "content": f"Weather in {city}?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": city}}}],
        },
    )
]

# The call is ~22 tokens; the stop string ends the generation if the model gets that far.
TOOL_OPTIONS = {"temperature": 0, "seed": 42, "num_predict": 24, "stop": ["</tool_call>"]}
THINK_OPTIONS = {"temperature": 0, "seed": 42, "num_predict": 16, "stop": ["\nuser"]}
FORMAT_OPTIONS = {"temperature": 0, "seed": 42, "num_predict": 24}

ASK_WEATHER = [{"role": "user", "content": "Weather in Paris?"}]
ASK_SUM = [{"role": "user", "content": "3+4?"}]

FEW_SHOT_JSON = [
    {"role": "user", "content": "2+2"},
    {"role": "assistant", "content": '{"answer": 4}'},
    {"role": "user", "content": "3+3"},
    {"role": "assistant", "content": '{"answer": 6}'},
    {"role": "user", "content": "1+1"},
]
RAW_FEW_SHOT_JSON = 'Q: 2+2\nA: {"answer": 4}\nQ: 3+3\nA: {"answer": 6}\nQ: 1+1\nA:'
ASK_VERDICT = "Is the sky blue? Answer as JSON."
BAD_FORMAT = 'invalid format: "\\"yaml\\""; expected "json" or a valid JSON Schema object'


class Verdict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ok: bool
    n: int = Field(ge=0, le=9)


class Sum(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: int = Field(ge=0, le=99)


def _get(item: Any, key: str) -> Any:
    return item.get(key) if isinstance(item, dict) else getattr(item, key, None)


def _call_id(call: Any) -> str | None:
    """The call's id; the official client's ToolCall model has no ``id`` field and drops it."""
    value = _get(call, "id")
    return value if isinstance(value, str) else None


def _create(server: ServerProcess, name: str, template: str, messages: list[Any]) -> str:
    response = httpx.post(
        server.url + "/api/create",
        json={
            "model": name,
            "from": DEMO,
            "template": template,
            "messages": messages,
            "stream": False,
        },
        timeout=120,
    )
    assert response.json() == {"status": "success"}
    return f"{name}:latest"


@pytest.fixture(scope="module")
def tools_model(embedded: ServerProcess, demo_model: str) -> Iterator[str]:
    yield _create(embedded, "feature-tools", TOOLS_TEMPLATE, TOOL_HISTORY)
    httpx.request("DELETE", embedded.url + "/api/delete", json={"model": "feature-tools"})


@pytest.fixture(scope="module")
def think_model(embedded: ServerProcess, demo_model: str) -> Iterator[str]:
    yield _create(embedded, "feature-think", THINK_TEMPLATE, THINK_HISTORY)
    httpx.request("DELETE", embedded.url + "/api/delete", json={"model": "feature-think"})


def _rendered(base_url: str, path: str, body: dict[str, Any]) -> str:
    reply = httpx.post(base_url + path, json={**body, "_debug_render_only": True}, timeout=60)
    assert reply.status_code == 200, reply.text
    return str(reply.json()["_debug_info"]["rendered_template"])


def _assert_error(caught: pytest.ExceptionInfo[Exception], status: int, message: str) -> None:
    error: Any = caught.value
    assert error.status_code == status
    assert error.error == message


# -- format -------------------------------------------------------------------------------


@pytest.mark.server
def test_format_schema_in_generate_and_chat(client: Any, demo_model: str) -> None:
    schema = Verdict.model_json_schema()
    assert schema["properties"]["n"] == {
        "maximum": 9,
        "minimum": 0,
        "title": "N",
        "type": "integer",
    }
    generated = client.generate(demo_model, ASK_VERDICT, format=schema, options=FORMAT_OPTIONS)
    parts = list(
        client.generate(demo_model, ASK_VERDICT, format=schema, options=FORMAT_OPTIONS, stream=True)
    )
    assert "".join(part.response for part in parts) == generated.response
    chatted = client.chat(
        demo_model,
        messages=[{"role": "user", "content": ASK_VERDICT}],
        format=schema,
        options=FORMAT_OPTIONS,
    )
    chunks = list(
        client.chat(
            demo_model,
            messages=[{"role": "user", "content": ASK_VERDICT}],
            format=schema,
            options=FORMAT_OPTIONS,
            stream=True,
        )
    )
    assert "".join(chunk.message.content for chunk in chunks) == chatted.message.content
    for reply, text in (
        (generated, generated.response),
        (parts[-1], generated.response),
        (chatted, chatted.message.content),
        (chunks[-1], chatted.message.content),
    ):
        # The grammar closed the object and then allowed nothing but the end of the output.
        assert reply.done_reason == "stop", text
        # `n` is bounded by the schema (unbounded, the model writes 100000000000...).
        Verdict.model_validate_json(text, strict=True)


@pytest.mark.server
def test_format_json_in_generate_and_chat(client: Any, demo_model: str) -> None:
    replies = [
        client.chat(demo_model, messages=FEW_SHOT_JSON, format="json", options=FORMAT_OPTIONS)
    ]
    chunks = list(
        client.chat(
            demo_model,
            messages=FEW_SHOT_JSON,
            format="json",
            options=FORMAT_OPTIONS,
            stream=True,
        )
    )
    texts = [replies[0].message.content, "".join(chunk.message.content for chunk in chunks)]
    replies.append(chunks[-1])
    # raw: the few-shot prompt as is, without the chat template around it.
    replies.append(
        client.generate(
            demo_model, RAW_FEW_SHOT_JSON, raw=True, format="json", options=FORMAT_OPTIONS
        )
    )
    parts = list(
        client.generate(
            demo_model,
            RAW_FEW_SHOT_JSON,
            raw=True,
            format="json",
            options=FORMAT_OPTIONS,
            stream=True,
        )
    )
    texts += [replies[2].response, "".join(part.response for part in parts)]
    replies.append(parts[-1])
    assert texts[0] == texts[1] and texts[2] == texts[3]
    for reply, text in zip(replies, texts):
        assert reply.done_reason == "stop", text
        value = json.loads(text)
        assert isinstance(value, dict) and isinstance(value.get("answer"), int), text


@pytest.mark.server
def test_format_type_gives_parsed(client: Any, demo_model: str) -> None:
    if isinstance(client, ollamakit.Client):
        chatted = client.chat(
            demo_model, messages=FEW_SHOT_JSON, format=Sum, options=FORMAT_OPTIONS
        )
        generated = client.generate(demo_model, ASK_VERDICT, format=Verdict, options=FORMAT_OPTIONS)
        assert isinstance(chatted.message.parsed, Sum)
        assert chatted.message.parsed == Sum.model_validate_json(chatted.message.content or "")
        assert isinstance(generated.parsed, Verdict)
        assert generated.parsed == Verdict.model_validate_json(generated.response)
    else:
        # The official client takes the schema; validating is the caller's job.
        chatted = client.chat(
            demo_model,
            messages=FEW_SHOT_JSON,
            format=Sum.model_json_schema(),
            options=FORMAT_OPTIONS,
        )
        Sum.model_validate_json(chatted.message.content, strict=True)


@pytest.mark.server
def test_format_errors(client: Any, base_url: str, demo_model: str) -> None:
    for path, body in (
        ("/api/chat", {"messages": [{"role": "user", "content": "x"}]}),
        ("/api/generate", {"prompt": "x"}),
    ):
        # The official client refuses such a format itself, so this one goes over HTTP.
        reply = httpx.post(base_url + path, json={"model": DEMO, "format": "yaml", **body})
        assert (reply.status_code, reply.json()) == (500, {"error": BAD_FORMAT})
    # "" means no format.
    reply = client.generate(demo_model, "Hi", format="", options={"num_predict": 1})
    assert reply.done


# -- tools --------------------------------------------------------------------------------


@pytest.mark.server
def test_tools_reach_the_template_and_calls_are_parsed(
    client: Any, base_url: str, tools_model: str
) -> None:
    assert "tools" in client.show(tools_model).capabilities
    prompt = _rendered(
        base_url,
        "/api/chat",
        {"model": tools_model, "messages": ASK_WEATHER, "tools": [WEATHER_TOOL]},
    )
    assert prompt.startswith("Tools: get_weather \nuser:\nWeather in Oslo?\nassistant:\n")
    assert '<tool_call>{"name": "get_weather", "arguments": {"city":"Lima"}}</tool_call>' in prompt
    assert prompt.endswith("user:\nWeather in Paris?\nassistant:\n")
    # What the model itself writes for that prompt: a tagged call.
    raw = client.generate(tools_model, prompt, raw=True, options=TOOL_OPTIONS)
    assert raw.response.startswith(
        '<tool_call>{"name": "get_weather", "arguments": {"city":"Paris"}}'
    ), raw.response

    reply = client.chat(
        tools_model, messages=ASK_WEATHER, tools=[WEATHER_TOOL], options=TOOL_OPTIONS
    )
    assert reply.message.content == ""  # the tag and the JSON are not content
    [call] = reply.message.tool_calls
    assert call.function.name == "get_weather"
    assert call.function.arguments == {"city": "Paris"}
    if isinstance(client, ollamakit.Client):
        assert CALL_ID.fullmatch(_call_id(call) or ""), call
        assert call.function.index == 0

    # The answer, with its call, goes back into the history with the tool's result.
    history = [
        *ASK_WEATHER,
        reply.message,
        {"role": "tool", "tool_name": "get_weather", "content": "18C"},
    ]
    follow = client.chat(
        tools_model, messages=history, tools=[WEATHER_TOOL], options={"num_predict": 1}
    )
    assert follow.done


@pytest.mark.server
def test_tool_calls_stream_like_ollama(client: Any, base_url: str, tools_model: str) -> None:
    chunks = list(
        client.chat(
            tools_model,
            messages=ASK_WEATHER,
            tools=[WEATHER_TOOL],
            options=TOOL_OPTIONS,
            stream=True,
        )
    )
    with_calls = [chunk for chunk in chunks if chunk.message.tool_calls]
    # One chunk, sent as soon as the call's JSON closed (not held for the final chunk).
    [chunk] = with_calls
    assert not chunk.done and chunks[-1].done
    assert [call.function.name for call in chunk.message.tool_calls] == ["get_weather"]
    assert chunk.message.tool_calls[0].function.arguments == {"city": "Paris"}
    assert all(part.message.content == "" for part in chunks)
    assert not chunks[-1].message.tool_calls

    # The wire format, which the official client only partly exposes (it drops ids).
    body = {
        "model": tools_model,
        "messages": ASK_WEATHER,
        "tools": [WEATHER_TOOL],
        "options": TOOL_OPTIONS,
    }
    with httpx.stream("POST", base_url + "/api/chat", json=body, timeout=300) as response:
        lines = [json.loads(line) for line in response.iter_lines() if line]
    [line] = [line for line in lines if line["message"].get("tool_calls")]
    assert line["message"]["content"] == ""
    [call] = line["message"]["tool_calls"]
    assert CALL_ID.fullmatch(call["id"])
    assert call["function"] == {"index": 0, "name": "get_weather", "arguments": {"city": "Paris"}}
    assert lines[-1]["done"] and lines[-1]["message"] == {"role": "assistant", "content": ""}


@pytest.mark.server
def test_tools_need_the_capability(
    client: Any, demo_model: str, think_model: str, tools_model: str
) -> None:
    cases = [
        (demo_model, "registry.ollama.ai/library/gemma3:270m does not support tools"),
        (think_model, "registry.ollama.ai/library/feature-think:latest does not support tools"),
    ]
    for model, message in cases:
        with pytest.raises(RESPONSE_ERRORS) as caught:
            client.chat(model, messages=ASK_WEATHER, tools=[WEATHER_TOOL])
        _assert_error(caught, 400, message)
        with pytest.raises(RESPONSE_ERRORS) as streamed:
            list(client.chat(model, messages=ASK_WEATHER, tools=[WEATHER_TOOL], stream=True))
        _assert_error(streamed, 400, message)
    # Without tools in the request the capability is not needed.
    assert client.chat(demo_model, messages=ASK_WEATHER, options={"num_predict": 1}).done


# -- thinking -----------------------------------------------------------------------------


@pytest.mark.server
def test_thinking_is_split_from_content(client: Any, base_url: str, think_model: str) -> None:
    shown = client.show(think_model)
    assert "thinking" in shown.capabilities and "tools" not in shown.capabilities
    # No `think` in the request: a thinking model thinks by default, so the prompt prefills
    # the opening tag.
    prompt = _rendered(base_url, "/api/chat", {"model": think_model, "messages": ASK_SUM})
    assert prompt.startswith("user:\n2+3?\nassistant:\n<think>add 2 and 3</think>5\n")
    assert prompt.endswith("user:\n3+4?\nassistant:\n<think>")
    # The model's own continuation (think off: no parsing at all).
    raw = client.generate(think_model, prompt, raw=True, think=False, options=THINK_OPTIONS)

    reply = client.chat(think_model, messages=ASK_SUM, options=THINK_OPTIONS)
    thinking, content = reply.message.thinking, reply.message.content
    assert thinking and content, reply.message
    for text in (thinking, content):
        assert "<think>" not in text and "</think>" not in text
    # Thinking up to the closing tag, whitespace after either tag eaten, the rest content.
    pattern = rf"\s*{re.escape(thinking)}</think>\s*{re.escape(content)}"
    assert re.fullmatch(pattern, raw.response), (raw.response, thinking, content)

    chunks = list(client.chat(think_model, messages=ASK_SUM, options=THINK_OPTIONS, stream=True))
    kinds = [
        "thinking" if chunk.message.thinking else "content"
        for chunk in chunks
        if chunk.message.thinking or chunk.message.content
    ]
    assert kinds == sorted(kinds, key=lambda kind: kind == "content")  # thinking first
    assert "".join(chunk.message.thinking or "" for chunk in chunks) == thinking
    assert "".join(chunk.message.content for chunk in chunks) == content


@pytest.mark.server
def test_thinking_in_generate(client: Any, base_url: str, think_model: str) -> None:
    reply = client.generate(think_model, "3+4?", options=THINK_OPTIONS)
    assert reply.thinking and reply.response, reply
    assert "</think>" not in reply.response and "<think>" not in reply.thinking
    parts = list(client.generate(think_model, "3+4?", options=THINK_OPTIONS, stream=True))
    assert "".join(part.thinking or "" for part in parts) == reply.thinking
    assert "".join(part.response for part in parts) == reply.response
    assert parts[-1].done and parts[-1].done_reason == "stop"
    # think=False: no prefill and no parsing; the model's tags are plain text.
    off = client.generate(think_model, "3+4?", think=False, options=THINK_OPTIONS)
    assert not off.thinking
    assert off.response.startswith("<think>"), off.response


@pytest.mark.server
def test_think_levels(client: Any, base_url: str, think_model: str) -> None:
    for level in ("low", "high"):
        prompt = _rendered(
            base_url, "/api/generate", {"model": think_model, "prompt": "3+4?", "think": level}
        )
        assert prompt.startswith(f"effort: {level}\nuser:\n") and prompt.endswith("<think>")
    assert _rendered(
        base_url, "/api/generate", {"model": think_model, "prompt": "3+4?", "think": True}
    ).startswith("user:\n")  # true is level "medium"
    reply = client.chat(think_model, messages=ASK_SUM, think="low", options=THINK_OPTIONS)
    assert reply.message.thinking and "</think>" not in reply.message.content
    chunks = list(
        client.chat(think_model, messages=ASK_SUM, think="high", options=THINK_OPTIONS, stream=True)
    )
    assert "".join(chunk.message.thinking or "" for chunk in chunks)
    assert all("</think>" not in chunk.message.content for chunk in chunks)


@pytest.mark.server
def test_thinking_needs_the_capability(client: Any, demo_model: str, tools_model: str) -> None:
    for model, think in ((demo_model, True), (tools_model, "high")):
        name = model  # the name as the request gave it, quoted
        message = f'"{name}" does not support thinking'
        with pytest.raises(RESPONSE_ERRORS) as generated:
            client.generate(model, "Hi", think=think)
        _assert_error(generated, 400, message)
        with pytest.raises(RESPONSE_ERRORS) as streamed:
            list(client.generate(model, "Hi", think=think, stream=True))
        _assert_error(streamed, 400, message)
        with pytest.raises(RESPONSE_ERRORS) as chatted:
            client.chat(model, messages=ASK_SUM, think=think)
        _assert_error(chatted, 400, message)
        with pytest.raises(RESPONSE_ERRORS) as chat_streamed:
            list(client.chat(model, messages=ASK_SUM, think=think, stream=True))
        _assert_error(chat_streamed, 400, message)
    # think=false is always accepted.
    reply = client.generate(demo_model, "Hi", think=False, options={"num_predict": 1})
    assert reply.done and not reply.thinking


@pytest.mark.server
def test_format_after_thinking(client: Any, think_model: str) -> None:
    """A thinking model thinks unconstrained; the schema applies to the answer only."""
    schema = Sum.model_json_schema()
    reply = client.chat(think_model, messages=ASK_SUM, format=schema, options=FORMAT_OPTIONS)
    assert reply.message.thinking, reply.message
    assert "{" not in reply.message.thinking
    Sum.model_validate_json(reply.message.content, strict=True)
    assert reply.done_reason == "stop"
    chunks = list(
        client.chat(
            think_model, messages=ASK_SUM, format=schema, options=FORMAT_OPTIONS, stream=True
        )
    )
    assert "".join(chunk.message.thinking or "" for chunk in chunks) == reply.message.thinking
    assert "".join(chunk.message.content for chunk in chunks) == reply.message.content


# -- parsers without a model ----------------------------------------------------------------


NAMES = ["get_weather", "get", "add"]


def _feed(parser: ToolCallParser, pieces: list[str]) -> tuple[str, list[list[Any]]]:
    """Content, and the calls returned after each piece (then by finish)."""
    content = ""
    calls = []
    for piece in pieces:
        text, found = parser.add(piece)
        content += text
        calls.append(found)
    held, rest = parser.finish()
    return content + held, [*calls, rest]


def _functions(calls: list[list[Any]]) -> list[Any]:
    return [call["function"] for group in calls for call in group]


def test_tool_call_forms() -> None:
    # name + arguments, name + parameters as a JSON string, {"<tool>": {...}}, nested, and a
    # bare name before an object, all after one tag.
    text = (
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>'
        '<tool_call>{"name": "add", "parameters": "{\\"a\\": 1}"}</tool_call>'
        '<tool_call>{"add": {"a": 2}}</tool_call>'
        '<tool_call>{"call": {"name": "add", "arguments": {"a": 3}}}</tool_call>'
        '<tool_call>add {"a": 4}</tool_call>'
    )
    content, calls = _feed(ToolCallParser("<tool_call>", NAMES), [text])
    assert content == ""
    assert _functions(calls) == [
        {"index": 0, "name": "get_weather", "arguments": {"city": "Oslo"}},
        {"index": 1, "name": "add", "arguments": {"a": 1}},
        {"index": 2, "name": "add", "arguments": {"a": 2}},
        {"index": 3, "name": "add", "arguments": {"a": 3}},
        {"index": 4, "name": "add", "arguments": {"a": 4}},
    ]
    ids = [call["id"] for group in calls for call in group]
    assert all(CALL_ID.fullmatch(value) for value in ids) and len(set(ids)) == len(ids)


def test_tool_calls_are_returned_as_they_complete() -> None:
    parser = ToolCallParser("<tool_call>", NAMES)
    pieces = [
        "Sure. <tool",
        '_call>{"name": "get',  # "get" is a tool, but so may be "get_weather": wait
        '_weather", "arguments": {"city": "Rome"}}',
        '</tool_call><tool_call>{"name": "add", "arguments": {"a": "}"}}',
        "</tool_call>",
    ]
    content, calls = _feed(parser, pieces)
    assert content == "Sure. "
    assert [len(group) for group in calls] == [0, 0, 1, 1, 0, 0]
    assert _functions(calls)[1] == {"index": 1, "name": "add", "arguments": {"a": "}"}}


def test_earliest_then_longest_tool_name() -> None:
    _, calls = _feed(
        ToolCallParser("<tool_call>", ["get", "get_weather"]),
        ['<tool_call>{"name": "get_weather", "arguments": {}}'],
    )
    assert [function["name"] for function in _functions(calls)] == ["get_weather"]


def test_text_that_is_not_a_call() -> None:
    # Arguments that are not JSON, or an unknown tool: no call; unlike Ollama, which drops
    # the held text, it comes back as content.
    for text in (
        '<tool_call>{"name": "add", "arguments": "not json"}',
        '<tool_call>{"name": "unknown", "arguments": {}}',
    ):
        assert _feed(ToolCallParser("<tool_call>", NAMES), [text]) == (text, [[], []])
    # A bare "{" tag only counts as the first non-blank output; then everything is content.
    late = 'Call {"name": "add", "arguments": {}}'
    assert _feed(ToolCallParser("{", NAMES), [late]) == (late, [[], []])
    content, calls = _feed(ToolCallParser("{", NAMES), ["  ", '{"add": {"a": 1}}'])
    assert content == "  " and _functions(calls) == [
        {"index": 0, "name": "add", "arguments": {"a": 1}}
    ]
    # A balanced object that is no call is released as content right away.
    parser = ToolCallParser("{", NAMES)
    assert parser.add('{"x": 1}') == ('{"x": 1}', [])
    assert parser.add(" more") == (" more", [])


def test_thinking_parser_follows_ollama() -> None:
    parser = ThinkingParser("<think>", "</think>")
    pieces = ["\n <thi", "nk>\n  first", " step</th", "ink>", "\n\n", "Answer"]
    results = [parser.feed(piece) for piece in pieces]
    assert "".join(part[0] for part in results) == "first step"  # blank after the tag eaten
    assert "".join(part[1] for part in results) == "Answer"
    shaper = OutputShaper(("<think>", "</think>"))
    shaper.prompt_rendered("assistant:\n<think>\n")  # prefilled: starts inside thinking
    first, second = shaper.feed("\n  idea</think>"), shaper.feed(" reply")
    assert (first.thinking, first.content, second.thinking, second.content) == (
        "idea",
        "",
        "",
        "reply",
    )


def _gbnf_regex(rule: str) -> str:
    """The GBNF subset :func:`integer_range_rule` writes, as a Python regex."""
    return re.sub(r'"([^"]*)"', lambda match: re.escape(match.group(1)), rule).replace(" ", "")


@pytest.mark.parametrize(
    ("low", "high"),
    [(0, 9), (1, 100), (37, 1234), (-5, -2), (-12, 7), (None, -3), (5, None), (None, None)],
)
def test_integer_bounds_grammar(low: int | None, high: int | None) -> None:
    pattern = re.compile(_gbnf_regex(integer_range_rule(low, high)))
    for number in range(-1500, 1501):
        inside = (low is None or number >= low) and (high is None or number <= high)
        assert bool(pattern.fullmatch(str(number))) == inside, number
    assert not pattern.fullmatch("007") and not pattern.fullmatch("-0")


@pytest.mark.parametrize(
    "source",
    [
        # Blank text before the tag is skipped, as Ollama's findTextNode does.
        "{{ if .ToolCalls }}\n{{ range .ToolCalls }}<tool_call>{{ . }}{{ end }}{{ end }}",
        # The cut at "{" comes before the trim, so the newline is not part of the tag.
        '{{ if .ToolCalls }}<tool_call>\n{"name": "{{ range .ToolCalls }}{{ end }}{{ end }}',
        TOOLS_TEMPLATE,
    ],
)
def test_tool_call_tag_from_template(source: str) -> None:
    assert tool_call_tag(source) == "<tool_call>"
