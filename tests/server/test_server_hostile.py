"""The attacks of ``tests/stress/hostile.py`` against a real server: each gets its expected
answer while a concurrent ``/api/version`` probe keeps being answered within a second (a
generous bound: the point is that nothing blocks the event loop, not a latency target), and
the server's memory stays bounded."""

from __future__ import annotations

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
