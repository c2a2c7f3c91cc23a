"""The attacks of ``tests/stress/hostile.py`` against a real server: each gets its expected
answer while a concurrent ``/api/version`` probe keeps being answered within a second (a
generous bound: the point is that nothing blocks the event loop, not a latency target), and
the server's memory stays bounded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from server_support import ServerProcess, load_stress_script

pytestmark = pytest.mark.server

PROBE_BOUND = 1.0


hostile = load_stress_script("hostile")


def attack(server: ServerProcess, name: str, *, scale: float = 1.0, rss_growth: float = 200) -> Any:
    """Run one attack with its probe; returns its measure."""
    measure = hostile.run_attack(server.url, server.process.pid, name, hostile.ATTACKS[name], scale)
    assert measure.ok, measure.row()
    assert measure.probes >= 1, measure.row()
    assert measure.stall < PROBE_BOUND, measure.row()
    assert measure.rss_peak - measure.rss_before < rss_growth, measure.row()
    assert server.process.poll() is None
    return measure


@pytest.mark.parametrize("name", [name for name in hostile.ATTACKS if name.startswith("template:")])
def test_template_attacks(embedded: ServerProcess, demo_model: str, name: str) -> None:
    attack(embedded, name)
    assert "Traceback" not in embedded.log_text()


@pytest.fixture
def warm(embedded: ServerProcess, demo_model: str) -> ServerProcess:
    """The demo model loaded with the small context the generating attacks use, so that
    loading it is not counted as their memory."""
    hostile._tiny_generation(embedded.url)
    return embedded


@pytest.mark.parametrize(
    ("name", "scale"),
    [
        ("chat: 1,500 messages to truncate", 1.0),
        ("generate: client leaves during a slow render", 1.0),
        ("chat: _debug_render_only of 100,000 messages", 0.5),
        ("generate: 1,000 stop strings of 16 KB", 1.0),
    ],
)
def test_long_chats_departed_clients_and_stop_strings(
    warm: ServerProcess, name: str, scale: float
) -> None:
    attack(warm, name, scale=scale)


def test_huge_body(warm: ServerProcess) -> None:
    """A quarter of the reviewed 60 MB body (450,000 messages, 16 MB): decoded piecewise in a
    worker, truncated from the end."""
    measure = attack(warm, "chat: 60 MB body, 1.8 million messages", scale=0.25, rss_growth=400)
    assert "200" in measure.outcome


def test_huge_responses_body(embedded: ServerProcess, demo_model: str) -> None:
    """A quarter of the 60 MB Responses body (450,000 input items): decoded and translated in
    a worker, in one pass, before the unknown last item is refused."""
    name = "responses: 60 MB body, 1.8 million input items"
    measure = attack(embedded, name, scale=0.25, rss_growth=400)
    assert measure.outcome.startswith("400")


@pytest.fixture(scope="module")
def impatient(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    """A server that gives clients one second to send headers, or a body chunk."""
    return start_server(env={"OLLAMAKIT_HEADER_TIMEOUT": "1", "OLLAMAKIT_BODY_TIMEOUT": "1"})


def test_slow_clients_are_timed_out(
    impatient: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hostile, "HEADER_TIMEOUT", 1.0)
    monkeypatch.setattr(hostile, "BODY_TIMEOUT", 1.0)
    attack(impatient, "connections: silent, trickling and stalled clients")
