"""Client and AsyncClient against the fake server over real sockets: every test runs twice."""

from __future__ import annotations

import base64
import builtins
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

import ollamakit
from ollamakit import (
    ChatResponse,
    ConnectionError,
    IncompleteStreamError,
    InternalServerError,
    Message,
    NotFoundError,
    Options,
    RequestError,
    ResponseError,
    ServerBusyError,
    StreamError,
    TimeoutError,
)
from ollamakit.testing import FakeOllama, Reply, chat_stream, generate_stream
from support import Api

pytestmark = pytest.mark.anyio

CHAT_REPLY = {
    "model": "llama3.2",
    "created_at": "2025-10-26T17:15:24.097767123Z",
    "message": {"role": "assistant", "content": "The sky is blue because of Rayleigh scattering."},
    "done": True,
    "done_reason": "stop",
    "total_duration": 4883583458,
    "load_duration": 1334875,
    "prompt_eval_count": 26,
    "prompt_eval_duration": 342546000,
    "eval_count": 282,
    "eval_duration": 4535599000,
}


async def test_chat(api: Api, server: FakeOllama) -> None:
    server.expect("POST", "/api/chat", Reply.json(CHAT_REPLY))
    messages = [{"role": "user", "content": "Why is the sky blue?"}]
    response = await api("chat", "llama3.2", messages)
    assert isinstance(response, ChatResponse)
    assert response.message.content.startswith("The sky is blue")  # type: ignore[union-attr]
    assert response["message"]["content"] == response.message.content
    assert response.eval_count == 282
    assert server.requests[-1].json() == {
        "model": "llama3.2",
        "messages": messages,
        "tools": [],
        "stream": False,
    }
    assert server.requests[-1].path == "/api/chat"


async def test_chat_sends_every_argument(api: Api, server: FakeOllama) -> None:
    server.expect("POST", "/api/chat", Reply.json(CHAT_REPLY))
    previous = Message(role="assistant", content="earlier", thinking="hmm")
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    await api(
        "chat",
        "llama3.2",
        [{"role": "user", "content": "hi"}, previous],
        tools=[tool],
        think="high",
        logprobs=True,
        top_logprobs=3,
        format={"type": "object"},
        options={"temperature": 0, "custom_key": 1},
        keep_alive=0,
        truncate=False,
        shift=False,
    )
    body = server.requests[-1].json()
    assert body == {
        "model": "llama3.2",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "earlier", "thinking": "hmm"},
        ],
        "tools": [tool],
        "stream": False,
        "think": "high",
        "logprobs": True,
        "top_logprobs": 3,
        "format": {"type": "object"},
        "options": {"temperature": 0, "custom_key": 1},
        "keep_alive": 0,
        "truncate": False,
        "shift": False,
    }


async def test_previous_response_message_can_be_appended(api: Api, server: FakeOllama) -> None:
    server.expect("POST", "/api/chat", Reply.json(CHAT_REPLY))
    messages: list[Any] = [{"role": "user", "content": "hi"}]
    first = await api("chat", "llama3.2", messages)
    messages += [first.message, {"role": "user", "content": "more"}]
    await api("chat", "llama3.2", messages)
    sent = server.requests[-1].json()["messages"]
    assert sent[1] == {"role": "assistant", "content": CHAT_REPLY["message"]["content"]}  # type: ignore[index]


async def test_chat_stream(api: Api, server: FakeOllama) -> None:
    server.expect("POST", "/api/chat", Reply.ndjson(chat_stream(["The", " sky", " is", " blue"])))
    stream = await api("chat", "llama3.2", [{"role": "user", "content": "hi"}], stream=True)
    chunks = await api.collect(stream)
    assert [c.message.content for c in chunks] == ["The", " sky", " is", " blue", ""]
    assert chunks[-1].done
    final = await api.final(stream)
    assert final.message.content == "The sky is blue"
    assert final.eval_count == 4
    assert server.requests[-1].json()["stream"] is True


async def test_generate_stream_and_options_object(api: Api, server: FakeOllama) -> None:
    server.expect("POST", "/api/generate", Reply.ndjson(generate_stream(["a", "b"])))
    stream = await api(
        "generate", "llama3.2", "Say ab", stream=True, options=Options(temperature=0.1, seed=7)
    )
    final = await api.final(stream)
    assert final.response == "ab"
    assert final.context == [1, 2, 3]
    body = server.requests[-1].json()
    assert body["options"] == {"temperature": 0.1, "seed": 7}
    assert body["prompt"] == "Say ab"


async def test_generate_with_images(api: Api, server: FakeOllama, tmp_path: Path) -> None:
    server.expect(
        "POST", "/api/generate", Reply.json({"model": "m", "response": "cat", "done": True})
    )
    picture = tmp_path / "cat.png"
    picture.write_bytes(b"\x89PNG fake")
    encoded = base64.b64encode(b"\x89PNG fake").decode()
    response = await api(
        "generate",
        "llava",
        "What is this?",
        images=[str(picture), picture, b"\x89PNG fake", encoded],
    )
    assert response.response == "cat"
    assert server.requests[-1].json()["images"] == [encoded] * 4


async def test_bad_image_is_rejected_before_sending(api: Api, server: FakeOllama) -> None:
    with pytest.raises(RequestError, match="not found"):
        await api("generate", "llava", "x", images=["/no/such/file.png"])
    with pytest.raises(RequestError, match="invalid image"):
        await api("chat", "llava", [{"role": "user", "content": "x", "images": ["not an image!"]}])
    assert not [r for r in server.requests if r.path.startswith("/api/")]


async def test_embed_and_embeddings(api: Api, server: FakeOllama) -> None:
    server.expect(
        "POST",
        "/api/embed",
        Reply.json({"model": "e", "embeddings": [[0.6, 0.8], [1.0, 0.0]], "prompt_eval_count": 4}),
    )
    server.expect("POST", "/api/embeddings", Reply.json({"embedding": [3.0, 4.0]}))
    response = await api("embed", "e", ["a", "b"], dimensions=2, truncate=True)
    assert response.embeddings == [[0.6, 0.8], [1.0, 0.0]]
    assert server.requests[-1].json() == {
        "model": "e",
        "input": ["a", "b"],
        "truncate": True,
        "dimensions": 2,
    }
    legacy = await api("embeddings", "e", "a")
    assert legacy["embedding"] == [3.0, 4.0]


async def test_model_management(api: Api, server: FakeOllama) -> None:
    tags = {
        "models": [
            {
                "name": "gemma3:270m",
                "model": "gemma3:270m",
                "modified_at": "2026-11-22T04:15:00.123456789Z",
                "size": 253000000,
                "digest": "a" * 64,
                "details": {"format": "gguf", "family": "gemma3", "families": ["gemma3"],
                            "parameter_size": "268.10M", "quantization_level": "Q4_K_M"},
            }
        ]
    }  # fmt: skip
    server.expect("GET", "/api/tags", Reply.json(tags))
    server.expect("GET", "/api/ps", Reply.json({"models": []}))
    server.expect(
        "POST", "/api/show", Reply.json({"modelfile": "FROM x", "capabilities": ["completion"]})
    )
    server.expect("POST", "/api/copy", Reply.empty())
    server.expect("DELETE", "/api/delete", Reply.empty())
    listing = await api("list")
    assert listing.models[0].name == "gemma3:270m"
    assert listing["models"][0]["details"]["quantization_level"] == "Q4_K_M"
    assert (await api("ps")).models == []
    shown = await api("show", "gemma3:270m", verbose=True)
    assert shown.capabilities == ["completion"]
    assert shown.modelinfo is None
    assert server.requests[-1].json() == {"model": "gemma3:270m", "verbose": True}
    assert (await api("copy", "gemma3:270m", "mine:v1")).status == "success"
    assert server.requests[-1].json() == {"source": "gemma3:270m", "destination": "mine:v1"}
    assert (await api("delete", "mine:v1")).status == "success"
    assert server.requests[-1].method == "DELETE"
    assert server.requests[-1].json() == {"model": "mine:v1"}
    assert (await api("version")).version == "0.33.0"


async def test_pull_stream(api: Api, server: FakeOllama) -> None:
    progress = [
        {"status": "pulling manifest"},
        {"status": "pulling abc123abc123", "digest": "sha256:abc", "total": 100, "completed": 50},
        {"status": "verifying sha256 digest"},
        {"status": "writing manifest"},
        {"status": "success"},
    ]
    server.expect("POST", "/api/pull", Reply.ndjson(progress))
    stream = await api("pull", "gemma3:270m", stream=True)
    statuses = [p.status for p in await api.collect(stream)]
    assert statuses[0] == "pulling manifest" and statuses[-1] == "success"
    assert server.requests[-1].json() == {"model": "gemma3:270m", "stream": True, "insecure": False}


async def test_invalid_model_names_never_reach_the_server(api: Api, server: FakeOllama) -> None:
    for bad in ["", "../../etc/passwd", "bad name", "model:"]:
        with pytest.raises(RequestError):
            await api("chat", bad, [])
    with pytest.raises(RequestError, match="list of messages"):
        await api("chat", "m", "hello")
    assert server.requests == []


async def test_http_errors_carry_the_server_message(api: Api, server: FakeOllama) -> None:
    server.expect("POST", "/api/chat", Reply.error("model 'nope' not found", 404))
    with pytest.raises(NotFoundError) as info:
        await api("chat", "nope", [])
    assert info.value.error == "model 'nope' not found"
    assert info.value.status_code == 404
    assert str(info.value) == "model 'nope' not found (status code: 404)"
    assert isinstance(info.value, ResponseError)


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply.body("upstream exploded", 500), "upstream exploded"),
        (Reply.json([1, 2], 500), "[1,2]"),
        (Reply.json("plain", 500), '"plain"'),
        (Reply.body(b"", 500), "Internal Server Error"),
    ],
)
async def test_non_json_error_bodies(
    api: Api, server: FakeOllama, reply: Reply, message: str
) -> None:
    server.expect("POST", "/api/generate", reply)
    with pytest.raises(InternalServerError) as info:
        await api("generate", "m", "x")
    assert info.value.error == message


async def test_stream_http_error_raises_at_the_call(api: Api, server: FakeOllama) -> None:
    busy = "server busy, please try again.  maximum pending requests exceeded"
    server.expect("POST", "/api/chat", Reply.error(busy, 503, {"Retry-After": "2"}))
    with pytest.raises(ServerBusyError) as info:
        await api("chat", "m", [], stream=True)
    assert info.value.retry_after == 2.0


async def test_error_line_mid_stream(api: Api, server: FakeOllama) -> None:
    records: list[Any] = [*chat_stream(["a", "b"])[:2], {"error": "model runner crashed"}]
    server.expect("POST", "/api/chat", Reply.ndjson(records))
    stream = await api("chat", "m", [], stream=True)
    with pytest.raises(StreamError, match="model runner crashed"):
        await api.collect(stream)


async def test_stream_without_done(api: Api, server: FakeOllama) -> None:
    server.expect("POST", "/api/chat", Reply.ndjson(chat_stream(["a", "b"])[:-1]))
    stream = await api("chat", "m", [], stream=True)
    with pytest.raises(IncompleteStreamError):
        await api.collect(stream)


async def test_connection_dropped_mid_stream(api: Api, server: FakeOllama) -> None:
    server.expect("POST", "/api/chat", Reply.ndjson(chat_stream(["a", "b"])[:2], complete=False))
    stream = await api("chat", "m", [], stream=True)
    started = time.monotonic()
    with pytest.raises(IncompleteStreamError):
        await api.collect(stream)
    assert time.monotonic() - started < 5


async def test_malformed_line_mid_stream(api: Api, server: FakeOllama) -> None:
    server.expect("POST", "/api/chat", Reply.ndjson([b"{this is not json}\n"]))
    stream = await api("chat", "m", [], stream=True)
    with pytest.raises(ollamakit.ProtocolError, match="malformed"):
        await api.collect(stream)


async def test_stalled_stream_times_out(mode: str, server: FakeOllama) -> None:
    records = chat_stream(["a", "b"])
    server.expect("POST", "/api/chat", Reply.ndjson(records, delay=3.0))
    api = Api(mode, server.url, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        stream = await api("chat", "m", [], stream=True)
        await api.collect(stream)
    assert time.monotonic() - started < 2.5
    await api.aclose()


async def test_per_call_timeout(api: Api, server: FakeOllama) -> None:
    server.expect("POST", "/api/generate", Reply.json({"response": "x", "done": True}).after(2.0))
    started = time.monotonic()
    with pytest.raises(TimeoutError) as info:
        await api("generate", "m", "x", timeout=0.3)
    assert isinstance(info.value, builtins.TimeoutError)
    assert time.monotonic() - started < 1.5


async def test_connection_refused(mode: str) -> None:
    with FakeOllama() as fake:
        url = fake.url  # a port that was just free and is now closed
    api = Api(mode, url)
    for call in (("list",), ("chat", "m", [])):
        with pytest.raises(ConnectionError, match="Failed to connect") as info:
            await api(*call)
        assert isinstance(info.value, builtins.ConnectionError)
    with pytest.raises(ConnectionError):
        await api("chat", "m", [], stream=True)
    await api.aclose()


async def test_closing_a_stream_releases_the_connection(api: Api, server: FakeOllama) -> None:
    server.expect("POST", "/api/chat", Reply.ndjson(chat_stream(["x"] * 50), delay=0.01))
    stream = await api("chat", "m", [], stream=True)
    if api.mode == "sync":
        first = next(stream)
    else:
        first = await stream.__anext__()
    assert first.message.content == "x"
    await api.close_stream(stream)
    deadline = time.monotonic() + 3
    while server.open_connections and time.monotonic() < deadline:
        await anyio.sleep(0.02)
    assert server.open_connections == 0


async def test_stream_context_manager(mode: str, server: FakeOllama) -> None:
    server.expect("POST", "/api/chat", Reply.ndjson(chat_stream(["a", "b", "c"], model="m")))
    if mode == "sync":
        client = ollamakit.Client(server.url)
        with client.chat("m", [], stream=True) as stream:
            text = "".join(stream.text())
        client.close()
    else:
        aclient = ollamakit.AsyncClient(server.url)
        async with await aclient.chat("m", [], stream=True) as astream:
            text = "".join([piece async for piece in astream.text()])
        await aclient.close()
    assert text == "abc"


async def test_headers_user_agent_and_api_key(
    mode: str, server: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "sk-secret")
    api = Api(mode, server.url, headers={"X-Trace": "1"})
    await api("version")
    headers = server.requests[-1].headers
    assert headers["user-agent"].startswith(f"ollamakit/{ollamakit.__version__}")
    assert headers["authorization"] == "Bearer sk-secret"
    assert headers["x-trace"] == "1"
    assert "sk-secret" not in repr(api.client)
    await api.aclose()
    api = Api(mode, server.url, headers={"Authorization": "Token mine"})
    await api("version")
    assert server.requests[-1].headers["authorization"] == "Token mine"
    await api.aclose()


async def test_basic_auth_from_host(mode: str, server: FakeOllama) -> None:
    api = Api(mode, f"http://user:pa%40ss@{server.host}:{server.port}")
    await api("version")
    expected = base64.b64encode(b"user:pa@ss").decode()
    assert server.requests[-1].headers["authorization"] == f"Basic {expected}"
    assert "pa@ss" not in repr(api.client)
    await api.aclose()


async def test_host_with_path_prefix(mode: str, server: FakeOllama) -> None:
    server.expect("GET", "/ollama/api/tags", Reply.json({"models": []}))
    api = Api(mode, server.url + "/ollama/")
    assert (await api("list")).models == []
    await api.aclose()


async def test_async_client_survives_a_new_event_loop(server: FakeOllama) -> None:
    import asyncio
    import threading

    client = ollamakit.AsyncClient(server.url)
    results: list[str] = []

    def run_twice() -> None:
        for _ in range(2):
            results.append(asyncio.run(client.version()).version)

    thread = threading.Thread(target=run_twice)
    thread.start()
    thread.join(10)
    assert results == ["0.33.0", "0.33.0"]


def test_module_functions_use_a_lazy_default_client(
    server: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ollamakit, "_default_client", None)
    monkeypatch.setenv("OLLAMA_HOST", server.url)
    server.expect("POST", "/api/chat", Reply.json(CHAT_REPLY))
    assert ollamakit._default_client is None
    response = ollamakit.chat("llama3.2", [{"role": "user", "content": "hi"}])
    assert response.message.content == CHAT_REPLY["message"]["content"]  # type: ignore[index]
    assert ollamakit._default_client is not None
    assert ollamakit.version().version == "0.33.0"
    ollamakit._default_client.close()
