"""The libraries users point at Ollama, against the embedded server and the demo model:
LangChain (``langchain-ollama``), LlamaIndex (``llama-index-llms-ollama``) and LiteLLM
(``ollama/`` over ``/api/generate``, ``ollama_chat/`` over ``/api/chat``).

Each answer is checked against the native API asked the same thing (greedy decoding, so the
same text), which shows the library's request reached the model as it meant it. No test
touches anything but the loopback server: LiteLLM would fetch its price map and more from
GitHub at import, so it is put in offline mode before the import, and every connection to a
non-loopback address fails the test.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any

# Before LiteLLM is imported: its bundled catalogs (price map and the rest), no downloads.
os.environ["LITELLM_OFFLINE_MODE"] = "true"
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

import httpx
import litellm
import pytest
from langchain_ollama import ChatOllama, OllamaEmbeddings
from llama_index.core.llms import ChatMessage
from llama_index.llms.ollama import Ollama
from pydantic import BaseModel
from server_support import DEMO, FORCED_CALL, WEATHER_TOOL, ServerProcess

pytestmark = pytest.mark.server

QUESTION = "Why is the sky blue?"
GREEDY: dict[str, Any] = {"temperature": 0, "num_predict": 8}


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every TCP connection these libraries open, and every name they look up, must be the
    loopback server's."""
    refused: list[Any] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def allowed_host(host: str) -> bool:
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def allowed(sock: socket.socket, address: Any) -> bool:
        return sock.family not in (socket.AF_INET, socket.AF_INET6) or allowed_host(address[0])

    def connect(sock: socket.socket, address: Any) -> None:
        if not allowed(sock, address):
            refused.append(address)
            raise OSError(f"test refuses a connection to {address!r}")
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        if not allowed(sock, address):
            refused.append(address)
            return 111  # ECONNREFUSED
        return real_connect_ex(sock, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        # A name lookup is the first sign of a connection elsewhere (and fails without a
        # network, which would hide the attempt from the checks above).
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name != "localhost" and not allowed_host(name):
            refused.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"test refuses to look up {name!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield refused
    assert refused == [], f"a client library tried to leave the machine: {refused}"


@pytest.fixture(scope="module", autouse=True)
def litellm_quiet() -> Iterator[None]:
    """No logging callbacks (which could report elsewhere) for this module's LiteLLM calls."""
    names = ("callbacks", "success_callback", "failure_callback")
    saved = {name: getattr(litellm, name) for name in names}
    for name in names:
        setattr(litellm, name, [])
    yield
    for name, value in saved.items():
        setattr(litellm, name, value)


@pytest.fixture
def transport() -> Iterator[httpx.HTTPTransport]:
    """langchain-ollama never closes its HTTP connections (a ResourceWarning later on); with
    a transport of ours, closing it closes them."""
    with httpx.HTTPTransport() as instance:
        yield instance


def _native(url: str, path: str, body: dict[str, Any]) -> Any:
    body = {"stream": False, **body, "options": {**GREEDY, **body.get("options", {})}}
    return httpx.post(f"{url}{path}", json=body, timeout=120).json()


def _native_chat(url: str, model: str, messages: list[dict[str, Any]], **extra: Any) -> Any:
    return _native(url, "/api/chat", {"model": model, "messages": messages, **extra})


# -- LangChain ----------------------------------------------------------------------------


def _chat_ollama(
    url: str, transport: httpx.HTTPTransport, num_predict: int = 8, **kwargs: Any
) -> ChatOllama:
    return ChatOllama(
        base_url=url,
        sync_client_kwargs={"transport": transport},
        temperature=0,
        num_predict=num_predict,
        **kwargs,
    )


def test_langchain_stream(
    embedded: ServerProcess, demo_model: str, transport: httpx.HTTPTransport
) -> None:
    chat = _chat_ollama(embedded.url, transport, model=DEMO)
    chunks = list(chat.stream(QUESTION))
    assert len(chunks) > 1
    text = "".join(str(chunk.content) for chunk in chunks)
    native = _native_chat(embedded.url, DEMO, [{"role": "user", "content": QUESTION}])
    assert text == native["message"]["content"]
    assert chat.invoke(QUESTION).content == text


def test_langchain_bind_tools(
    embedded: ServerProcess, tools_model: str, transport: httpx.HTTPTransport
) -> None:
    # The schema makes the demo weights answer with a call, which the template's parser reads.
    chat = _chat_ollama(
        embedded.url, transport, model=tools_model, format=FORCED_CALL, num_predict=16
    )
    message = chat.bind_tools([WEATHER_TOOL]).invoke("Weather in Paris?")
    [call] = message.tool_calls  # type: ignore[attr-defined]
    assert (call["name"], call["args"]) == ("get_weather", {"city": "Paris"})


class Capital(BaseModel):
    city: str


def test_langchain_structured_output(
    embedded: ServerProcess, demo_model: str, transport: httpx.HTTPTransport
) -> None:
    chat = _chat_ollama(embedded.url, transport, model=DEMO, num_predict=24)
    structured = chat.with_structured_output(Capital, method="json_schema")
    answer = structured.invoke("The capital of France, as JSON.")
    assert isinstance(answer, Capital) and answer.city


def test_langchain_embeddings(
    embedded: ServerProcess, demo_model: str, transport: httpx.HTTPTransport
) -> None:
    embeddings = OllamaEmbeddings(
        model=DEMO, base_url=embedded.url, sync_client_kwargs={"transport": transport}
    )
    texts = ["The sky is blue.", "Grass is green."]
    first, second = embeddings.embed_documents(texts)
    # One /api/embed call with both inputs: they share decodes, as the native call does.
    native = _native(embedded.url, "/api/embed", {"model": DEMO, "input": texts})
    assert first == pytest.approx(native["embeddings"][0], abs=1e-6)
    assert second == pytest.approx(native["embeddings"][1], abs=1e-6)
    assert len(second) == len(first) and second != first
    alone = _native(embedded.url, "/api/embed", {"model": DEMO, "input": texts[0]})
    assert embeddings.embed_query(texts[0]) == pytest.approx(alone["embeddings"][0], abs=1e-6)


# -- LlamaIndex ---------------------------------------------------------------------------


@pytest.fixture
def llama_index_llm(embedded: ServerProcess, demo_model: str) -> Iterator[Ollama]:
    llm = Ollama(
        model=DEMO,
        base_url=embedded.url,
        temperature=0,
        request_timeout=120,
        context_window=2048,
        additional_kwargs={"num_predict": 8},
    )
    yield llm
    llm.client._client.close()


def test_llama_index_complete_and_chat(embedded: ServerProcess, llama_index_llm: Ollama) -> None:
    native = _native_chat(
        embedded.url, DEMO, [{"role": "user", "content": QUESTION}], options={"num_ctx": 2048}
    )
    expected = native["message"]["content"]
    assert llama_index_llm.complete(QUESTION).text == expected
    reply = llama_index_llm.chat([ChatMessage(role="user", content=QUESTION)])
    assert reply.message.content == expected
    chunks = list(llama_index_llm.stream_chat([ChatMessage(role="user", content=QUESTION)]))
    assert len(chunks) > 1
    assert "".join(chunk.delta or "" for chunk in chunks) == expected
    assert chunks[-1].message.content == expected


def test_llama_index_context_window_from_show(embedded: ServerProcess, demo_model: str) -> None:
    # context_window=-1 (the default) asks /api/show for the model's trained context length.
    llm = Ollama(model=DEMO, base_url=embedded.url, request_timeout=120, context_window=-1)
    try:
        info = httpx.post(f"{embedded.url}/api/show", json={"model": DEMO}, timeout=30).json()
        assert llm.metadata.context_window == info["model_info"]["gemma3.context_length"]
    finally:
        llm.client._client.close()


# -- LiteLLM ------------------------------------------------------------------------------


def _litellm(model: str, url: str, **kwargs: Any) -> Any:
    return litellm.completion(
        model=model,
        messages=[{"role": "user", "content": QUESTION}],
        api_base=url,
        temperature=0,
        max_tokens=8,
        **kwargs,
    )


# LiteLLM's own typed dicts make pydantic warn while LiteLLM imports them lazily.
LITELLM_IMPORT_WARNING = "ignore:Item.* using the `ReadOnly` qualifier:UserWarning"


@pytest.mark.filterwarnings(LITELLM_IMPORT_WARNING)
def test_litellm_ollama_chat(embedded: ServerProcess, demo_model: str) -> None:
    native = _native_chat(embedded.url, DEMO, [{"role": "user", "content": QUESTION}])
    reply = _litellm(f"ollama_chat/{DEMO}", embedded.url)
    assert reply.choices[0].message.content == native["message"]["content"]
    assert reply.usage.completion_tokens == native["eval_count"]
    chunks = list(_litellm(f"ollama_chat/{DEMO}", embedded.url, stream=True))
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text == native["message"]["content"]


@pytest.mark.filterwarnings(LITELLM_IMPORT_WARNING)
def test_litellm_ollama_generate(embedded: ServerProcess, demo_model: str) -> None:
    reply = _litellm(f"ollama/{DEMO}", embedded.url)
    text = reply.choices[0].message.content
    assert isinstance(text, str) and text
    assert 0 < reply.usage.completion_tokens <= 8
    chunks = list(_litellm(f"ollama/{DEMO}", embedded.url, stream=True))
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == text
