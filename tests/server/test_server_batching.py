"""Parallel requests over HTTP (``OLLAMA_NUM_PARALLEL=2``, ``OLLAMA_MAX_QUEUE=1``): two
streams run at once, a third waits its turn, a fourth is refused with 503 at once; ``/api/ps``
reports the context a request gets and the memory llama.cpp allocated; ``shift: false``
ends a generation when the context is full."""

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
def parallel(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    server = start_server(env={"OLLAMA_NUM_PARALLEL": "2", "OLLAMA_MAX_QUEUE": "1"})
    response = httpx.post(
        server.url + "/api/pull", json={"model": DEMO, "stream": False}, timeout=120
    )
    assert response.json() == {"status": "success"}
    return server


def _quick(server: ServerProcess, **extra: Any) -> httpx.Response:
    body = {"model": DEMO, "prompt": "Hi", "stream": False, "options": FAST, **extra}
    return httpx.post(server.url + "/api/generate", json=body, timeout=120)


def test_two_run_at_once_a_third_waits_a_fourth_is_refused(parallel: ServerProcess) -> None:
    url = parallel.url + "/api/generate"
    first = {"model": DEMO, "prompt": "Tell me a long story.", "options": LONG}
    second = {**first, "prompt": "Tell me another long story."}
    waiting: list[httpx.Response] = []
    with (
        httpx.stream("POST", url, json=first, timeout=60) as one,
        httpx.stream("POST", url, json=second, timeout=60) as two,
    ):
        lines = [one.iter_lines(), two.iter_lines()]
        # Both produce tokens before either ends: they run side by side.
        for _ in range(3):
            for stream in lines:
                assert json.loads(next(stream))["done"] is False
        thread = threading.Thread(target=lambda: waiting.append(_quick(parallel)))
        thread.start()
        time.sleep(2.0)  # let it reach the queue: both slots are taken
        assert not waiting
        refused = _quick(parallel)
        assert refused.status_code == 503
        assert refused.json() == {
            "error": "server busy, please try again.  maximum pending requests exceeded"
        }
        for stream in lines:  # still streaming
            assert json.loads(next(stream))["done"] is False
    # Closing the streams frees the slots: the waiting request runs.
    thread.join(timeout=60)
    assert waiting and waiting[0].status_code == 200
    assert waiting[0].json()["response"]


def test_ps_reports_the_context_of_a_request_and_the_memory_used(
    parallel: ServerProcess,
) -> None:
    assert _quick(parallel, options={**FAST, "num_ctx": 2048}).status_code == 200
    [entry] = httpx.get(parallel.url + "/api/ps", timeout=10).json()["models"]
    assert entry["context_length"] == 2048  # each of the 2 slots gets the num_ctx asked for
    weights = httpx.post(parallel.url + "/api/show", json={"model": DEMO}, timeout=10)
    assert weights.status_code == 200
    # The size is what llama.cpp allocated: weights, the KV cache of both slots (2 x 2048
    # tokens x 18 KiB), compute buffers.
    assert entry["size"] > 250 * 2**20 + 2 * 2048 * 18 * 1024


def test_shift_false_ends_at_the_full_context(parallel: ServerProcess) -> None:
    # A prompt that fills most of the context (truncated to 192 of its 256 tokens), so only
    # a few dozen tokens are generated before it is full.
    body = {
        "model": DEMO,
        "prompt": ", ".join(str(number) for number in range(1, 120)) + ",",
        "raw": True,
        "stream": False,
        "shift": False,
        "options": {"num_ctx": 256, "num_predict": 1000, "temperature": 0},
    }
    reply = httpx.post(parallel.url + "/api/generate", json=body, timeout=120).json()
    assert reply["done_reason"] == "length"
    assert reply["prompt_eval_count"] == 192
    assert reply["prompt_eval_count"] + reply["eval_count"] == 256
