"""Scheduling on a real server: cancellation on disconnect, the bounded queue, keep-alive
expiry, the loaded-model limit and reloads for different load options."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from server_support import DEMO, FAST, ServerProcess

pytestmark = pytest.mark.server

LONG = {"num_predict": 3000, "temperature": 0, "seed": 1}


@pytest.fixture(scope="module")
def sched(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    # One request at a time per model, so that a second one waits in the queue.
    server = start_server(
        env={"OLLAMA_MAX_QUEUE": "1", "OLLAMA_MAX_LOADED_MODELS": "1", "OLLAMA_NUM_PARALLEL": "1"}
    )
    response = httpx.post(
        server.url + "/api/pull", json={"model": DEMO, "stream": False}, timeout=120
    )
    assert response.json() == {"status": "success"}
    return server


def _ps(server: ServerProcess) -> list[dict[str, Any]]:
    models: list[dict[str, Any]] = httpx.get(server.url + "/api/ps", timeout=10).json()["models"]
    return models


def _quick(server: ServerProcess, model: str = DEMO, **extra: Any) -> httpx.Response:
    body = {"model": model, "prompt": "Hi", "stream": False, "options": FAST, **extra}
    return httpx.post(server.url + "/api/generate", json=body, timeout=60)


STORY = [{"role": "user", "content": "Tell me a long story."}]
OPENAI_LONG = {"max_tokens": 3000, "temperature": 0, "seed": 1, "stream": True}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/generate", {"prompt": "Tell me a long story.", "options": LONG}),
        ("/api/chat", {"messages": STORY, "options": LONG}),
        ("/v1/chat/completions", {"messages": STORY, **OPENAI_LONG}),
        ("/v1/completions", {"prompt": "Tell me a long story.", **OPENAI_LONG}),
        ("/v1/messages", {"messages": STORY, "max_tokens": 3000, "stream": True}),
        (
            "/v1/responses",
            {"input": "Tell me a long story.", "max_output_tokens": 3000, "stream": True},
        ),
    ],
    ids=["generate", "chat", "openai-chat", "openai-completions", "anthropic", "responses"],
)
def test_disconnect_cancels_streaming_generation(
    sched: ServerProcess, path: str, body: dict[str, Any]
) -> None:
    request = {"model": DEMO, **body}
    with httpx.stream("POST", sched.url + path, json=request, timeout=60) as response:
        assert response.status_code == 200
        lines = (line for line in response.iter_lines() if line.strip())
        for _ in range(8):  # past the opening events: tokens are being generated
            next(lines)
    # One slot: had the 3000-token generation kept going, this would wait for it (~2 min).
    started = time.monotonic()
    assert _quick(sched).status_code == 200
    assert time.monotonic() - started < 10


def test_disconnect_cancels_non_streaming_generation(sched: ServerProcess) -> None:
    body = {"model": DEMO, "prompt": "Tell me a long story.", "stream": False, "options": LONG}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(sched.url + "/api/generate", json=body, timeout=httpx.Timeout(60, read=1.5))
    started = time.monotonic()
    assert _quick(sched).status_code == 200
    assert time.monotonic() - started < 10


def test_full_queue_answers_503(sched: ServerProcess) -> None:
    body = {"model": DEMO, "prompt": "Tell me a long story.", "options": LONG}
    waiting: list[httpx.Response] = []
    with httpx.stream("POST", sched.url + "/api/generate", json=body, timeout=60) as running:
        lines = running.iter_lines()
        assert json.loads(next(lines))["done"] is False
        # This one waits for the running generation: the queue (size 1) is now full.
        thread = threading.Thread(target=lambda: waiting.append(_quick(sched)))
        thread.start()
        time.sleep(2.0)  # let it reach the server's queue
        refused = _quick(sched)
        assert refused.status_code == 503
        assert refused.json() == {
            "error": "server busy, please try again.  maximum pending requests exceeded"
        }
    thread.join(timeout=60)
    assert waiting and waiting[0].status_code == 200
    assert waiting[0].json()["response"]


def test_keep_alive_expiry(sched: ServerProcess) -> None:
    assert _quick(sched, keep_alive="1s").status_code == 200
    [entry] = _ps(sched)
    assert entry["name"] == DEMO
    deadline = time.monotonic() + 10
    while _ps(sched) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _ps(sched) == []


def test_numeric_keep_alive_and_zero(sched: ServerProcess) -> None:
    assert _quick(sched, keep_alive=0).status_code == 200
    assert _ps(sched) == []  # 0 unloads right after the request
    assert _quick(sched, keep_alive=120.5).status_code == 200
    assert [entry["name"] for entry in _ps(sched)] == [DEMO]


def test_loaded_model_limit_evicts_idle_runner(sched: ServerProcess) -> None:
    copied = httpx.post(sched.url + "/api/copy", json={"source": DEMO, "destination": "twin"})
    assert copied.status_code == 200
    assert _quick(sched, keep_alive="5m").status_code == 200
    assert [entry["name"] for entry in _ps(sched)] == [DEMO]
    twin = _quick(sched, model="twin", keep_alive="5m")
    assert twin.status_code == 200
    assert twin.json()["load_duration"] > 0
    assert [entry["name"] for entry in _ps(sched)] == ["twin:latest"]


def test_different_num_ctx_reloads(sched: ServerProcess) -> None:
    first = _quick(sched, options={**FAST, "num_ctx": 1024})
    assert first.status_code == 200
    [entry] = _ps(sched)
    assert entry["context_length"] == 1024
    warm = _quick(sched, options={**FAST, "num_ctx": 1024})
    assert "load_duration" not in warm.json()
    assert _quick(sched, options={**FAST, "num_ctx": 2048}).json()["load_duration"] > 0
    assert [entry["context_length"] for entry in _ps(sched)] == [2048]


def test_chat_history_is_truncated_to_the_context(sched: ServerProcess) -> None:
    turns = []
    for index in range(40):
        role = "user" if index % 2 == 0 else "assistant"
        turns.append({"role": role, "content": f"Message {index}: " + "words " * 40})
    messages = [
        {"role": "system", "content": "Be brief."},
        *turns,
        {"role": "user", "content": "Bye"},
    ]
    options = {**FAST, "num_ctx": 1024}
    reply = httpx.post(
        sched.url + "/api/chat",
        json={"model": DEMO, "messages": messages, "stream": False, "options": options},
        timeout=120,
    )
    assert reply.status_code == 200
    assert 0 < reply.json()["prompt_eval_count"] < 1024
    refused = httpx.post(
        sched.url + "/api/chat",
        json={
            "model": DEMO,
            "messages": messages,
            "stream": False,
            "truncate": False,
            "options": options,
        },
        timeout=120,
    )
    assert refused.status_code == 400
    assert refused.json()["error"].startswith(
        "the prompt is longer than the context length currently available to the model"
    )
