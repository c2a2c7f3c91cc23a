"""Wire parity with the official ``ollama`` package: the same call sends the same request.

Every public method is called through the official package and through ollamakit, sync and
async, with a matrix of arguments: the defaults, each parameter of the official signature in
turn, messages as dicts and as ``Message``, images as path, bytes and base64, tools as
functions, dicts and ``Tool``, ``format`` as "json", a schema and a pydantic class, ``stream``
true and false. A recording server on a real socket (the fake Ollama) receives both, and
method, path, query, ``Content-Type`` and the JSON body (key order and number types included)
must be identical. With httpx >= 0.28, whose JSON encoding is compact like ours, the body bytes
must be identical too.

The deliberate differences are the cases marked with one of ``DIFFERENCES`` (the same list is
in README.md, "Compatibility with the official package"); each states exactly what differs and
the test checks that nothing else does.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
import msgspec
import ollama
import pydantic
import pytest

import ollamakit
from ollamakit.testing import FakeOllama, RecordedRequest, Reply, chat_stream, generate_stream
from support import Api

pytestmark = pytest.mark.anyio

DIFFERENCES = {
    "blob-head": "create_blob first asks HEAD /api/blobs/<digest> and uploads only when the "
    "server lacks the blob",
    "message-keys": "message keys the official Message model lacks (tool_call_id, ...) are sent; "
    "the official package drops them",
    "dict-tools": "tool dicts are sent as given; the official package drops every key its Tool "
    "model lacks ($ref, minimum, nested properties, ...)",
    "function-tools": "the schema of a Python function keeps what the official converter loses: "
    "parameters with defaults are not required, Literal/Enum values, list items, nested models",
}

PNG = b"\x89PNG\r\n\x1a\n fake image"
PNG_BASE64 = base64.b64encode(PNG).decode()
BLOB = b"blob bytes " * 300
BLOB_DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64


def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
      a: The first number
      b: The second number
    """
    return a + b


def lookup(city: str, unit: Literal["c", "f"] = "c", days: list[int] | None = None) -> str:
    """Look up the weather.

    Args:
      city: Where
      unit: Which scale
      days: Which days ahead
    """
    return city


# Evaluated annotations: the official converter resolves string annotations in its own module.
lookup.__annotations__ = {"city": str, "unit": Literal["c", "f"], "days": list[int] | None,
                          "return": str}  # fmt: skip


class Weather(pydantic.BaseModel):
    city: str
    temperature: float


DICT_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The time in a city",
        "parameters": {
            "type": "object",
            "required": ["city"],
            "properties": {"city": {"type": "string", "description": "the city"}},
        },
    },
}
RICH_DICT_TOOL = {
    "type": "function",
    "function": {
        "name": "book",
        "description": "Book seats",
        "parameters": {
            "type": "object",
            "required": ["seats"],
            "properties": {
                "seats": {"type": "integer", "minimum": 1, "description": "how many"},
                "where": {"type": "object", "properties": {"row": {"type": "integer"}}},
            },
        },
    },
}


def tool_object(pkg: Any) -> Any:
    """DICT_TOOL as the package's own ``Tool`` object."""
    if pkg is ollama:
        return ollama.Tool.model_validate(DICT_TOOL)
    return msgspec.convert(DICT_TOOL, ollamakit.Tool)


Build = Callable[[Any, Path], tuple[tuple[Any, ...], dict[str, Any]]]


@dataclass
class Case:
    id: str
    method: str
    build: Build
    """``(package, tmp_path) -> (args, kwargs)``: each package gets its own Message, Tool, ..."""
    difference: str | None = None
    ours: Build | None = None
    """What ollamakit is given instead, when the official package cannot take the same input."""


def _case(
    id: str,
    method: str,
    *args: Any,
    difference: str | None = None,
    **kwargs: Any,
) -> Case:
    def build(pkg: Any, tmp: Path) -> tuple[tuple[Any, ...], dict[str, Any]]:
        def resolve(value: Any) -> Any:
            if callable(value) and getattr(value, "lazy", False):
                return value(pkg, tmp)
            if isinstance(value, list):
                return [resolve(item) for item in value]
            if isinstance(value, dict):
                return {key: resolve(item) for key, item in value.items()}
            return value

        return tuple(resolve(a) for a in args), {k: resolve(v) for k, v in kwargs.items()}

    return Case(id, method, build, difference)


def lazy(function: Callable[[Any, Path], Any]) -> Any:
    """An argument computed per package and test directory (a Message, a file path, ...)."""
    function.lazy = True  # type: ignore[attr-defined]
    return function


image_path = lazy(lambda pkg, tmp: str(tmp / "image.png"))
image_pathlib = lazy(lambda pkg, tmp: tmp / "image.png")
blob_path = lazy(lambda pkg, tmp: str(tmp / "model.bin"))

# A non-default value for each parameter of the official signatures.
SAMPLES: dict[str, dict[str, Any]] = {
    "generate": {
        "prompt": "Why is the sky blue?", "suffix": "end", "system": "Be brief.",
        "template": "{{ .Prompt }}", "context": [1, 2, 3], "stream": True, "think": True,
        "logprobs": True, "top_logprobs": 3, "raw": True, "format": "json",
        "images": [PNG_BASE64], "options": {"temperature": 0.5, "pi": 3.14159},
        "keep_alive": "5m", "width": 64, "height": 32, "steps": 4,
    },
    "chat": {
        "messages": [{"role": "user", "content": "hi"}], "tools": [add], "stream": True,
        "think": "high", "logprobs": True, "top_logprobs": 2, "format": "json",
        "options": {"num_ctx": 8192}, "keep_alive": 1.5,
    },
    "embed": {"input": ["a", "b"], "truncate": False, "options": {"num_ctx": 512},
              "keep_alive": 0, "dimensions": 8},
    "embeddings": {"prompt": "hello", "options": {"seed": 1}, "keep_alive": -1},
    "pull": {"insecure": True, "stream": True},
    "push": {"insecure": True, "stream": True},
    "create": {
        "quantize": "q4_K_M", "from_": "llama3.2", "files": {"model.gguf": DIGEST_A},
        "adapters": {"lora.gguf": DIGEST_B}, "template": "{{ .Prompt }}", "license": "MIT",
        "system": "You are terse.", "parameters": {"temperature": 0.2, "stop": ["<|end|>"]},
        "messages": [{"role": "user", "content": "hi"}], "stream": True,
    },
    "web_search": {"max_results": 5},
    "systemone": {"keep_alive": "1m"},
}  # fmt: skip

# The smallest valid call of each method.
REQUIRED: dict[str, tuple[Any, ...]] = {
    "generate": ("m",), "chat": ("m",), "embed": ("m",), "embeddings": ("m",),
    "pull": ("m",), "push": ("m",), "create": ("m",), "create_blob": (blob_path,),
    "list": (), "ps": (), "show": ("m",), "delete": ("m",), "copy": ("a", "b"),
    "web_search": ("what is ollama",), "web_fetch": ("https://ollama.com",),
    "systemone": ("m", "state", {"q": {"type": "noul", "instructions": "Is it?"}}),
}  # fmt: skip


def _parameter_cases() -> Iterator[Case]:
    """Each method with its required arguments only, then with each parameter set in turn."""
    for method, required in REQUIRED.items():
        official = getattr(ollama.Client, method, None)
        if official is None:  # an older official package
            continue
        difference = "blob-head" if method == "create_blob" else None
        yield _case(f"{method}-required", method, *required, difference=difference)
        parameters = inspect.signature(official).parameters
        for name, value in SAMPLES.get(method, {}).items():
            if name in parameters:
                yield _case(f"{method}-{name}", method, *required, **{name: value})


def _matrix_cases() -> Iterator[Case]:
    yield _case("generate-defaults", "generate")
    yield _case("chat-defaults", "chat")
    yield _case("embed-defaults", "embed")
    yield _case("embeddings-defaults", "embeddings")
    yield _case("generate-prompt-positional", "generate", "m", "hi", "suffix")
    yield _case("embed-positional", "embed", "m", ["a"], True, {"x": 1}, "1m", 4)
    yield _case("embed-tuple", "embed", "m", ("a", "b"))
    yield _case("embeddings-positional", "embeddings", "m", "p", {"seed": 3}, 10)
    for stream in (False, True):
        for method in ("generate", "chat", "pull", "push", "create"):
            yield _case(f"{method}-stream-{stream}", method, "m", stream=stream)
    # images: path, pathlib.Path, bytes, base64
    for label, image in [("path", image_path), ("pathlib", image_pathlib), ("bytes", PNG),
                         ("base64", PNG_BASE64)]:  # fmt: skip
        yield _case(f"generate-image-{label}", "generate", "m", "describe", images=[image])
        message = {"role": "user", "content": "describe", "images": [image]}
        yield _case(f"chat-image-{label}", "chat", "m", [message])
    yield _case("generate-images-empty", "generate", "m", "hi", images=[])
    # messages as dicts and as Message
    history = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "add 1 and 2"},
        {"role": "assistant", "content": "", "thinking": "easy",
         "tool_calls": [{"function": {"name": "add", "arguments": {"a": 1, "b": 2}}}]},
        {"role": "tool", "content": "3", "tool_name": "add"},
    ]  # fmt: skip
    yield _case("chat-messages-dicts", "chat", "m", history)
    yield _case("chat-messages-reordered-keys", "chat", "m", [{"content": "hi", "role": "user"}])
    yield _case(
        "chat-messages-Message",
        "chat",
        "m",
        lazy(lambda pkg, tmp: [pkg.Message(role="user", content="hi")]),
    )
    yield _case(
        "chat-messages-Message-images",
        "chat",
        "m",
        lazy(
            lambda pkg, tmp: [pkg.Message(role="user", content="x", images=[pkg.Image(value=PNG)])]
        ),
    )
    yield _case(
        "chat-messages-Message-tool-calls",
        "chat",
        "m",
        lazy(
            lambda pkg, tmp: [
                pkg.Message(
                    role="assistant",
                    tool_calls=[
                        pkg.Message.ToolCall(
                            function=pkg.Message.ToolCall.Function(name="add", arguments={"a": 1})
                        )
                    ],
                )
            ]
        ),
    )
    # tools as functions, dicts and Tool objects
    yield _case("chat-tools-function", "chat", "m", [], tools=[add])
    yield _case("chat-tools-dict", "chat", "m", [], tools=[DICT_TOOL])
    yield _case("chat-tools-Tool", "chat", "m", [], tools=[lazy(lambda pkg, tmp: tool_object(pkg))])
    yield _case("chat-tools-mixed", "chat", "m", [], tools=[add, DICT_TOOL])
    # format: "json", "", a schema, a pydantic class (ollamakit only: see below)
    for method, args in (("generate", ("m", "hi")), ("chat", ("m", []))):
        yield _case(f"{method}-format-json", method, *args, format="json")
        yield _case(f"{method}-format-empty", method, *args, format="")
        yield _case(f"{method}-format-schema", method, *args, format=Weather.model_json_schema())
    # options as an Options object; keep_alive as int, float and str
    yield _case(
        "generate-Options",
        "generate",
        "m",
        "hi",
        options=lazy(lambda pkg, tmp: pkg.Options(temperature=1, seed=42, top_k=20, stop=["x"])),
    )
    for keep_alive in (0, -1, 2.5, "10m"):
        yield _case(f"chat-keep_alive-{keep_alive}", "chat", "m", [], keep_alive=keep_alive)
    yield _case("create-license-list", "create", "m", from_="base", license=["A", "B"])
    yield _case(
        "create-Options-parameters",
        "create",
        "m",
        from_="base",
        parameters=lazy(lambda pkg, tmp: pkg.Options(num_ctx=4096)),
    )
    yield _case(
        "systemone-choice",
        "systemone",
        "m",
        {"ticket": "refund please"},
        {"kind": {"criteria": {"a": "refund", "b": None}, "instructions": "Which?",
                  "type": "choice"},
         "score": {"type": "score", "instructions": "How urgent?", "criteria": ["low", "high"]}},
    )  # fmt: skip
    # the documented differences
    yield _case(
        "chat-message-extra-keys",
        "chat",
        "m",
        [{"role": "tool", "content": "3", "tool_name": "add", "tool_call_id": "call_1"}],
        difference="message-keys",
    )
    yield _case("chat-tools-rich-dict", "chat", "m", [], tools=[RICH_DICT_TOOL],
                difference="dict-tools")  # fmt: skip
    yield _case("chat-tools-rich-function", "chat", "m", [], tools=[lookup],
                difference="function-tools")  # fmt: skip


def _format_class_case(method: str) -> Case:
    """``format=`` a pydantic class: the official package takes only its schema."""
    args: tuple[Any, ...] = ("m", "hi") if method == "generate" else ("m", [])
    case = _case(f"{method}-format-class", method, *args, format=Weather.model_json_schema())
    case.ours = _case("", method, *args, format=Weather).build
    return case


CASES = [
    *_parameter_cases(),
    *_matrix_cases(),
    _format_class_case("generate"),
    _format_class_case("chat"),
]


# -- the recording server ---------------------------------------------------------------------


def _json_body(request: RecordedRequest) -> Any:
    try:
        return request.json()
    except ValueError:
        return None


def _streamed(request: RecordedRequest) -> bool:
    body = _json_body(request)
    return isinstance(body, dict) and body.get("stream") is True


ANSWER = '{"city": "Paris", "temperature": 21.5}'  # valid for format=Weather


def _chat(request: RecordedRequest) -> Reply:
    records = chat_stream([ANSWER])
    if _streamed(request):
        return Reply.ndjson(records)
    return Reply.json({**records[-1], "message": {"role": "assistant", "content": ANSWER}})


def _generate(request: RecordedRequest) -> Reply:
    records = generate_stream([ANSWER])
    if _streamed(request):
        return Reply.ndjson(records)
    return Reply.json({**records[-1], "response": ANSWER})


def _progress(request: RecordedRequest) -> Reply:
    if _streamed(request):
        return Reply.ndjson([{"status": "success"}])
    return Reply.json({"status": "success"})


def _script(server: FakeOllama) -> None:
    server.expect("POST", "/api/chat", _chat)
    server.expect("POST", "/api/generate", _generate)
    for path in ("/api/pull", "/api/push", "/api/create"):
        server.expect("POST", path, _progress)
    server.expect("POST", "/api/embed", Reply.json({"model": "m", "embeddings": [[0.5]]}))
    server.expect("POST", "/api/embeddings", Reply.json({"embedding": [0.5]}))
    server.expect("HEAD", f"/api/blobs/{BLOB_DIGEST}", Reply.empty(404))
    server.expect("POST", f"/api/blobs/{BLOB_DIGEST}", Reply.empty(201))
    server.expect("GET", "/api/tags", Reply.json({"models": []}))
    server.expect("GET", "/api/ps", Reply.json({"models": []}))
    server.expect("POST", "/api/show", Reply.json({"modelfile": "", "model_info": {}}))
    server.expect("POST", "/api/copy", Reply.empty())
    server.expect("DELETE", "/api/delete", Reply.empty())
    server.expect("POST", "/api/web_search", Reply.json({"results": []}))
    server.expect("POST", "/api/web_fetch", Reply.json({"title": "", "content": "", "links": []}))
    answers = {"model": "m", "answers": {}, "usage": {"input_tokens": 1, "output_tokens": 1}}
    server.expect("POST", "/v1/systemone", Reply.json(answers))


class _ToRecorder(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Sends the official client's requests for https://ollama.com to the recording server."""

    def __init__(self, url: str) -> None:
        self._url = httpx.URL(url)
        # verify=False: loading the CA store costs 50 ms per client, and nothing here is TLS.
        self._sync = httpx.HTTPTransport(verify=False)
        self._async = httpx.AsyncHTTPTransport(verify=False)

    def _redirect(self, request: httpx.Request) -> None:
        request.url = request.url.copy_with(
            scheme=self._url.scheme, host=self._url.host, port=self._url.port
        )
        request.headers["host"] = f"{self._url.host}:{self._url.port}"

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._redirect(request)
        return self._sync.handle_request(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._redirect(request)
        return await self._async.handle_async_request(request)

    def close(self) -> None:
        self._sync.close()

    async def aclose(self) -> None:
        await self._async.aclose()


@pytest.fixture(scope="module")
def recorder() -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        _script(server)
        yield server


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("parity")
    (folder / "image.png").write_bytes(PNG)
    (folder / "model.bin").write_bytes(BLOB)
    return folder


HEADERS = {"Authorization": "Bearer parity-key"}


def _clients(mode: str, url: str) -> tuple[Any, Any]:
    to_recorder = {"https://ollama.com": _ToRecorder(url)}
    if mode == "sync":
        return (
            ollama.Client(url, headers=HEADERS, mounts=to_recorder, verify=False),
            ollamakit.Client(url, headers=HEADERS, web_url=url),
        )
    return (
        ollama.AsyncClient(url, headers=HEADERS, mounts=to_recorder, verify=False),
        ollamakit.AsyncClient(url, headers=HEADERS, web_url=url),
    )


async def _call(client: Any, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    result = getattr(client, method)(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    if kwargs.get("stream"):
        if hasattr(result, "__aiter__"):
            async for _ in result:
                pass
        else:
            for _ in result:
                pass


@dataclass
class Sent:
    """What one call put on the wire, and how it failed before sending if it did."""

    requests: list[tuple[str, str, str, str | None, bytes]]
    refused: bool = False


async def _record(server: FakeOllama, client: Any, method: str, build: Build, files: Path) -> Sent:
    args, kwargs = build(ollama if isinstance(client, ollama.Client | ollama.AsyncClient)
                         else ollamakit, files)  # fmt: skip
    before = len(server.requests)
    refused = False
    try:
        await _call(client, method, args, kwargs)
    except ValueError:  # refused before sending: pydantic's ValidationError / our RequestError
        refused = True
    requests = [
        (r.method, r.path, r.query, r.headers.get("content-type"), r.body)
        for r in server.requests[before:]
    ]
    return Sent(requests, refused)


def _canonical(body: bytes) -> str:
    """The JSON text with key order and number types kept, whitespace and escapes normalised."""
    try:
        return json.dumps(json.loads(body))
    except ValueError:
        return repr(body)  # a blob


def _comparable(sent: Sent) -> list[tuple[Any, ...]]:
    return [(m, p, q, ct, _canonical(body)) for m, p, q, ct, body in sent.requests]


def _compact_json() -> bool:
    """Whether the installed httpx encodes ``json=`` compactly, as ollamakit does (>= 0.28)."""
    return httpx.Request("POST", "http://x", json={"a": [1]}).content == b'{"a":[1]}'


def _expected(case: Case, official: Sent, ours: Sent) -> list[tuple[Any, ...]]:
    """What ollamakit must send: the official request, with the case's documented difference."""
    expected = _comparable(official)
    if case.difference is None:
        return expected
    if case.difference == "blob-head":
        head = ("HEAD", f"/api/blobs/{BLOB_DIGEST}", "", "application/json", _canonical(b""))
        return [head, *expected]
    ((method, path, query, content_type, text),) = expected
    body = json.loads(text)
    if case.difference == "message-keys":
        args, _ = case.build(ollamakit, Path("."))
        body["messages"][0]["tool_call_id"] = args[1][0]["tool_call_id"]
    elif case.difference == "dict-tools":
        body["tools"] = [RICH_DICT_TOOL]
    elif case.difference == "function-tools":
        body["tools"] = json.loads(ours.requests[0][4])["tools"]
    return [(method, path, query, content_type, json.dumps(body))]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_same_request_as_the_official_client(
    case: Case, mode: str, recorder: FakeOllama, files: Path
) -> None:
    official_client, our_client = _clients(mode, recorder.url)
    try:
        official = await _record(recorder, official_client, case.method, case.build, files)
        ours = await _record(recorder, our_client, case.method, case.ours or case.build, files)
    finally:
        for client in (official_client, our_client):
            closed = client.close()
            if inspect.isawaitable(closed):
                await closed
    assert ours.refused == official.refused
    if official.refused:
        assert ours.requests == official.requests == []
        return
    assert official.requests, "the official client sent nothing"
    assert _comparable(ours) == _expected(case, official, ours)
    if case.difference is None and _compact_json():
        assert [r[4] for r in ours.requests] == [r[4] for r in official.requests]


def test_the_differences_are_exercised_and_documented() -> None:
    exercised = {case.difference for case in CASES if case.difference is not None}
    assert exercised == set(DIFFERENCES)
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for reason in ("HEAD /api/blobs", "tool_call_id", "$ref", "Literal"):
        assert reason in readme


# -- the official client's private attribute and error phrases --------------------------------


@pytest.mark.parametrize(
    "host",
    [None, "", "127.0.0.1", ":8080", "example.com:56789", "https://example.com",
     "http://example.com/ollama/", "[::1]:8080", "https://[0001:2::1]:443/path"],
)  # fmt: skip
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_underlying_httpx_client_under_the_official_name(
    host: str | None, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    if mode == "sync":
        official: Any = ollama.Client(host)
        ours: Any = ollamakit.Client(host)
        kind: type[Any] = httpx.Client
    else:
        official = ollama.AsyncClient(host)
        ours = ollamakit.AsyncClient(host)
        kind = httpx.AsyncClient
    try:
        assert isinstance(ours._client, kind)
        assert ours._client.base_url == official._client.base_url
    finally:
        for client in (official, ours):
            closed = client.close()
            if inspect.isawaitable(closed):
                await closed


async def test_frameworks_can_send_through_the_underlying_client(
    api: Any, server: FakeOllama
) -> None:
    inner = api.client._client
    response = inner.get("/api/version")
    if inspect.isawaitable(response):
        response = await response
    assert response.json() == {"version": "0.33.0"}
    assert server.requests[-1].path == "/api/version"


async def test_connection_error_starts_with_the_official_sentence(api_closed_port: Any) -> None:
    from ollama._client import CONNECTION_ERROR_MESSAGE

    for stream in (False, True):
        with pytest.raises(ollamakit.ConnectionError) as info:
            await api_closed_port("chat", "m", [], stream=stream)
        assert str(info.value).startswith(CONNECTION_ERROR_MESSAGE + " - ")
        assert isinstance(info.value, ConnectionError)


@pytest.mark.parametrize("method", ["web_search", "web_fetch"])
async def test_web_calls_without_a_key_start_with_the_official_sentence(
    method: str, mode: str, monkeypatch: pytest.MonkeyPatch, server: FakeOllama
) -> None:
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    official = ollama.Client(server.url)
    with pytest.raises(ValueError) as expected:
        getattr(official, method)("x")
    official.close()
    for headers in (None, {"Authorization": "Basic dTpw"}):
        api = Api(mode, server.url, headers=headers)
        with pytest.raises(ollamakit.RequestError) as info:
            await api(method, "x")
        await api.aclose()
        assert str(info.value).startswith(str(expected.value) + ": ")
    assert server.requests == []


@pytest.fixture(params=["sync", "async"])
async def api_closed_port(request: pytest.FixtureRequest) -> Any:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    both = Api(str(request.param), f"http://127.0.0.1:{port}")
    yield both
    await both.aclose()
