"""Testing code that uses Ollama with ollamakit's pytest plugin (``ollamakit[pytest]``).

    pytest examples/pytest -k fake   # the scripted fake only: no model, no server
    pytest examples/pytest           # also a real model, on the embedded server ([server] extra)
    pytest examples/pytest --ollama-host http://127.0.0.1:11434   # or an Ollama already running

``ollama_fake`` answers exactly what a test scripts, at once, faults included: use it for your
code's logic and error handling. ``ollama_server`` runs a real (tiny) model: use it to check the
wiring end to end; its answers are a base model's, so check their shape, not their wording.
Each test below points one client at one fixture: the official ``ollama`` package, ollamakit,
LangChain (``langchain-ollama``) and the ``openai`` SDK (Ollama's OpenAI-compatible API).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import ollama
import openai
import pytest
from langchain_ollama import ChatOllama, OllamaEmbeddings

import ollamakit
from ollamakit.testing import FakeOllama, tool_call
from ollamakit.testing.live import LiveOllama

QUESTION = [{"role": "user", "content": "Why is the sky blue?"}]
SHORT = {"num_predict": 8, "temperature": 0}  # a few tokens keep the real model quick


def ask(client: ollama.Client, model: str) -> str:
    """The code under test: one question, the answer's text."""
    return client.chat(model, QUESTION).message.content or ""


@pytest.fixture
def transport() -> Iterator[httpx.HTTPTransport]:
    """langchain-ollama never closes its HTTP connections (a ResourceWarning later on); with
    a transport of ours, closing it closes them."""
    with httpx.HTTPTransport() as instance:
        yield instance


# -- ollama_fake: scripted answers ---------------------------------------------------------


def test_fake_official_client(ollama_fake: FakeOllama) -> None:
    ollama_fake.chat("Rayleigh scattering.")
    with ollama.Client(host=ollama_fake.url) as client:
        assert ask(client, "llama3.2") == "Rayleigh scattering."
    sent = ollama_fake.last("chat").json()
    assert sent["model"] == "llama3.2" and sent["messages"] == QUESTION


def test_fake_ollamakit_stream_that_fails(ollama_fake: FakeOllama) -> None:
    ollama_fake.chat(["Rayleigh", " scat"], error="out of memory")
    received: list[str] = []
    with ollamakit.Client(ollama_fake.url) as client, pytest.raises(ollamakit.StreamError):
        for chunk in client.chat("llama3.2", QUESTION, stream=True):
            received.append(chunk.message.content or "")
    assert received == ["Rayleigh", " scat"]


def test_fake_langchain(ollama_fake: FakeOllama, transport: httpx.HTTPTransport) -> None:
    ollama_fake.chat("", tool_calls=[tool_call("get_weather", {"city": "Paris"})])
    ollama_fake.embed(dimensions=4)
    options = {"base_url": ollama_fake.url, "sync_client_kwargs": {"transport": transport}}
    message = ChatOllama(model="llama3.2", **options).invoke("Weather in Paris?")
    assert message.tool_calls[0]["name"] == "get_weather"  # type: ignore[attr-defined]
    assert message.tool_calls[0]["args"] == {"city": "Paris"}  # type: ignore[attr-defined]
    embeddings = OllamaEmbeddings(model="all-minilm", **options)
    vectors = embeddings.embed_documents(["first", "second"])
    assert len(vectors) == 2 and len(vectors[0]) == 4


def test_fake_openai_sdk(ollama_fake: FakeOllama) -> None:
    ollama_fake.chat(error="model 'llama3.2' not found", status=404)
    # No retries: the SDK would otherwise ask three times before raising.
    client = openai.OpenAI(base_url=ollama_fake.url + "/v1", api_key="ollama", max_retries=0)
    with client, pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="llama3.2", messages=QUESTION)  # type: ignore[arg-type]


# -- ollama_server: a real model -------------------------------------------------------------


def test_server_official_client(ollama_server: LiveOllama) -> None:
    with ollama.Client(host=ollama_server.url) as client:
        reply = client.generate(ollama_server.model, "The sky is", options=SHORT)
    assert reply.done and 0 < (reply.eval_count or 0) <= SHORT["num_predict"]


def test_server_ollamakit(ollama_server: LiveOllama) -> None:
    # OLLAMA_HOST points at the server for the session, so the module functions reach it.
    stream = ollamakit.chat(ollama_server.model, QUESTION, options=SHORT, stream=True)
    final = stream.final()
    assert final.done and final.message.role == "assistant"
    assert ollamakit.show(ollama_server.model).details.family == "gemma3"


def test_server_langchain(ollama_server: LiveOllama, transport: httpx.HTTPTransport) -> None:
    chat = ChatOllama(
        model=ollama_server.model,
        base_url=ollama_server.url,
        sync_client_kwargs={"transport": transport},
        num_predict=8,
        temperature=0,
    )
    message = chat.invoke("Why is the sky blue?")
    assert isinstance(message.content, str)
    assert message.usage_metadata is not None and message.usage_metadata["output_tokens"] > 0  # type: ignore[attr-defined]


def test_server_openai_sdk(ollama_server: LiveOllama) -> None:
    with openai.OpenAI(base_url=ollama_server.openai_url, api_key="ollama") as client:
        reply = client.chat.completions.create(
            model=ollama_server.model,
            messages=QUESTION,  # type: ignore[arg-type]
            max_tokens=8,
            temperature=0,
        )
    assert reply.choices[0].message.role == "assistant"
    assert reply.usage is not None and 0 < reply.usage.completion_tokens <= 8
