"""FakeOllama's scripting helpers, through the clients people use: ollamakit, the official
``ollama`` package and the ``openai`` SDK (Ollama's OpenAI-compatible routes)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import ollama
import openai
import pytest

import ollamakit
from ollamakit import Client
from ollamakit.testing import FakeOllama, Reply, tool_call
from ollamakit.testing._answers import fake_embedding, split_text

HI = [{"role": "user", "content": "Hi"}]


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        yield server


@pytest.fixture
def client(fake: FakeOllama) -> Iterator[Client]:
    with Client(fake.url) as instance:
        yield instance


@pytest.fixture
def oai(fake: FakeOllama) -> Iterator[openai.OpenAI]:
    # No retries: a scripted failure must reach the test once, not three times.
    with openai.OpenAI(base_url=fake.url + "/v1", api_key="ollama", max_retries=0) as instance:
        yield instance


def test_split_text() -> None:
    assert split_text("A short one") == ["A", " short", " one"]
    assert split_text(" lead  and trail ") == [" lead", "  and", " trail", " "]
    assert split_text(["Hel", "lo"]) == ["Hel", "lo"]
    assert split_text("") == []


def test_chat_answers_streamed_or_not_with_the_requested_model(
    fake: FakeOllama, client: Client
) -> None:
    fake.chat("The sky is blue.")
    chunks = list(client.chat("qwen3:0.6b", HI, stream=True))
    assert [chunk.message.content for chunk in chunks] == ["The", " sky", " is", " blue.", ""]
    assert {chunk.model for chunk in chunks} == {"qwen3:0.6b"}
    assert chunks[-1].done and chunks[-1].done_reason == "stop" and chunks[-1].eval_count == 4
    whole = client.chat("llama3.2", HI)
    assert whole.message.content == "The sky is blue." and whole.model == "llama3.2"
    assert whole.done


def test_chat_thinking_and_tool_calls(fake: FakeOllama, client: Client) -> None:
    call = tool_call("get_weather", {"city": "Paris"})
    fake.chat("", thinking="Let me check.", tool_calls=[call])
    final = client.chat("m", HI, stream=True).final()
    assert final.message.thinking == "Let me check."
    assert final.message.tool_calls is not None
    assert final.message.tool_calls[0].function.name == "get_weather"
    assert final.message.tool_calls[0].function.arguments == {"city": "Paris"}
    with ollama.Client(host=fake.url) as official:
        whole = official.chat("m", HI, think=True)
    assert whole.message.thinking == "Let me check."
    assert whole.message.tool_calls is not None
    assert whole.message.tool_calls[0].function.arguments == {"city": "Paris"}


def test_answers_are_used_in_order_and_the_last_repeats(fake: FakeOllama, client: Client) -> None:
    fake.chat("one").chat("two")
    assert [client.chat("m", HI).message.content for _ in range(3)] == ["one", "two", "two"]


def test_expect_for_a_route_takes_precedence(
    fake: FakeOllama, client: Client, oai: openai.OpenAI
) -> None:
    fake.chat("scripted by kind")
    fake.expect("POST", "/api/chat", Reply.error("by route", 503))
    with pytest.raises(ollamakit.ServerBusyError, match="by route"):
        client.chat("m", HI)
    reply = oai.chat.completions.create(model="m", messages=HI)  # type: ignore[arg-type]
    assert reply.choices[0].message.content == "scripted by kind"


def test_error_status(fake: FakeOllama, client: Client) -> None:
    fake.chat(error="model 'nope' not found", status=404)
    with pytest.raises(ollamakit.NotFoundError) as caught:
        client.chat("nope", HI)
    assert caught.value.error == "model 'nope' not found"
    with ollama.Client(host=fake.url) as official, pytest.raises(ollama.ResponseError) as error:
        official.chat("nope", HI)
    assert error.value.status_code == 404


def test_error_mid_stream_and_without_stream(fake: FakeOllama, client: Client) -> None:
    fake.chat(["Hel", "lo"], error="out of memory")
    received: list[str] = []
    with pytest.raises(ollamakit.StreamError, match="out of memory"):
        for chunk in client.chat("m", HI, stream=True):
            received.append(chunk.message.content or "")
    assert received == ["Hel", "lo"]
    with pytest.raises(ollamakit.InternalServerError, match="out of memory"):
        client.chat("m", HI)


def test_cut_connection(fake: FakeOllama, client: Client) -> None:
    fake.chat(["Hel", "lo"], cut=True)
    with pytest.raises(ollamakit.IncompleteStreamError):
        list(client.chat("m", HI, stream=True))
    with pytest.raises(ollamakit.ProtocolError):
        client.chat("m", HI)


def test_pauses(fake: FakeOllama, client: Client) -> None:
    fake.chat(["a", "b", "c"], delay=0.1)
    started = time.monotonic()
    assert "".join(client.chat("m", HI, stream=True).text()) == "abc"
    assert time.monotonic() - started >= 0.3
    fake.chat("late", after=5)
    started = time.monotonic()
    with pytest.raises(ollamakit.TimeoutError):
        client.chat("m", HI, timeout=0.3)
    assert time.monotonic() - started < 3


def test_generate(fake: FakeOllama, client: Client) -> None:
    fake.generate("Paris.", thinking="Capital of France")
    chunks = list(client.generate("m", "Capital of France?", stream=True, think=True))
    assert "".join(chunk.response for chunk in chunks) == "Paris."
    assert "".join(chunk.thinking or "" for chunk in chunks) == "Capital of France"
    whole = client.generate("m", "Capital of France?")
    assert whole.response == "Paris." and whole.thinking == "Capital of France"
    assert whole.context == [1, 2, 3]


def test_embed_is_deterministic_per_text(fake: FakeOllama, client: Client) -> None:
    fake.embed()
    first = client.embed("m", ["alpha", "beta", "alpha"]).embeddings
    assert len(first) == 3 and all(len(vector) == 8 for vector in first)
    assert first[0] == first[2] != first[1]
    assert abs(sum(value * value for value in first[0]) - 1) < 1e-9
    assert client.embed("m", "alpha", dimensions=3).embeddings == [fake_embedding("alpha", 3)]
    assert client.embeddings("m", "alpha").embedding == fake_embedding("alpha", 8)
    fake.embed([[0.5, 0.5]])
    assert client.embed("m", ["anything"]).embeddings == [[0.5, 0.5]]


def test_pull(fake: FakeOllama, client: Client) -> None:
    fake.pull(total=2048)
    statuses = list(client.pull("gemma3:270m", stream=True))
    assert statuses[0].status == "pulling manifest" and statuses[-1].status == "success"
    assert [item.completed for item in statuses if item.total] == [0, 1024, 2048]
    assert client.pull("gemma3:270m").status == "success"
    fake.pull(error="pull model manifest: file does not exist")
    with pytest.raises(ollamakit.StreamError, match="file does not exist"):
        list(client.pull("nope", stream=True))
    with pytest.raises(ollamakit.InternalServerError, match="file does not exist"):
        client.pull("nope")


def test_openai_chat(fake: FakeOllama, oai: openai.OpenAI) -> None:
    fake.chat("Hi there", thinking="Greeting")
    reply = oai.chat.completions.create(model="gemma3:270m", messages=HI)  # type: ignore[arg-type]
    assert reply.choices[0].message.content == "Hi there"
    assert reply.model == "gemma3:270m" and reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.completion_tokens == 2
    stream = oai.chat.completions.create(
        model="m",
        messages=HI,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == "Hi there"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 28


def test_openai_tool_calls(fake: FakeOllama, oai: openai.OpenAI) -> None:
    fake.chat(tool_calls=[tool_call("add", {"a": 2, "b": 3}, id="call_1")])
    reply = oai.chat.completions.create(model="m", messages=HI)  # type: ignore[arg-type]
    calls = reply.choices[0].message.tool_calls
    assert reply.choices[0].finish_reason == "tool_calls" and calls is not None
    assert calls[0].id == "call_1"
    assert calls[0].function.name == "add"  # type: ignore[union-attr]
    assert calls[0].function.arguments == '{"a": 2, "b": 3}'  # type: ignore[union-attr]


def test_openai_errors(fake: FakeOllama, oai: openai.OpenAI) -> None:
    fake.chat(error="model 'x' not found", status=404)
    with pytest.raises(openai.NotFoundError, match="model 'x' not found"):
        oai.chat.completions.create(model="x", messages=HI)  # type: ignore[arg-type]
    fake.chat(["Hel"], error="out of memory")
    stream = oai.chat.completions.create(model="m", messages=HI, stream=True)  # type: ignore[arg-type]
    with pytest.raises(openai.APIError, match="out of memory"):
        list(stream)


def test_openai_completions_and_embeddings(fake: FakeOllama, oai: openai.OpenAI) -> None:
    fake.generate("Paris.")
    assert oai.completions.create(model="m", prompt="Capital?").choices[0].text == "Paris."
    streamed = oai.completions.create(model="m", prompt="Capital?", stream=True)
    assert "".join(chunk.choices[0].text for chunk in streamed) == "Paris."
    fake.embed(dimensions=4)
    result = oai.embeddings.create(model="m", input=["alpha", "beta"])  # base64 on the wire
    assert fake.last("embed").json()["encoding_format"] == "base64"
    expected = fake_embedding("alpha", 4)
    assert result.data[0].embedding == pytest.approx(expected, rel=1e-6)
    floats = oai.embeddings.create(model="m", input="alpha", encoding_format="float")
    assert floats.data[0].embedding == pytest.approx(expected, rel=1e-12)


def test_calls_and_last(fake: FakeOllama, client: Client, oai: openai.OpenAI) -> None:
    with pytest.raises(AssertionError, match=r"no chat request reached the fake Ollama"):
        fake.last("chat")
    fake.chat("ok").embed()
    client.chat("m", [{"role": "user", "content": "first"}])
    client.embed("m", "text")
    oai.chat.completions.create(model="m", messages=[{"role": "user", "content": "second"}])
    client.version()
    assert [request.path for request in fake.calls("chat")] == [
        "/api/chat",
        "/v1/chat/completions",
    ]
    assert fake.last("chat").json()["messages"] == [{"role": "user", "content": "second"}]
    assert fake.last("embed").json()["input"] == "text"
    assert fake.last("/api/version").method == "GET"
    assert len(fake.calls()) == 4
    with pytest.raises(AssertionError, match=r"no pull request .* received \['POST /api/chat'"):
        fake.last("pull")
