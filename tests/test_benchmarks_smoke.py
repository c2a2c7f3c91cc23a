"""The benchmark suite still runs: ``benchmarks/run.py --quick`` end to end.

The benchmarks check their own results (every stream's chunk count and content length, every
reply), so a run that completes means every client path worked. Speed targets are not
asserted here: a shared CI machine is too noisy for that.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ollama", reason="the official client is the baseline")

REPO = Path(__file__).resolve().parent.parent
CLIENT_ROWS = (
    "| `ollamakit.Client` | sync |",
    "| `ollama.Client (official)` | sync |",
    "| `floor: raw socket + msgspec.json.decode` | sync |",
    "| `ollamakit.AsyncClient` | async |",
    "| `ollama.AsyncClient (official)` | async |",
    "| `floor: asyncio socket + msgspec.json.decode` | async |",
    "| `import ollamakit` |",
    "| `import ollama` |",
    "| `ollamakit.AsyncClient` | ",
    "| `ollama.AsyncClient` (official) |",
)


@pytest.mark.timeout(300)
def test_quick_benchmark_run_writes_every_row(tmp_path: Path) -> None:
    output = tmp_path / "RESULTS.md"
    completed = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--quick", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    text = output.read_text(encoding="utf-8")
    for section in (
        "## Targets",
        "## 1. Streaming firehose",
        "## 2. Non-streaming round trip",
        "## 3. Import time",
        "## 4. 200 concurrent async streams",
    ):
        assert section in text
    for row in CLIENT_ROWS:
        assert row in text, f"missing row {row!r}"
    assert "20,000 chat chunks per stream" in text
    concurrent = next(line for line in text.splitlines() if "| 200 concurrent async" in line)
    assert "0 errors" in concurrent and "**met**" in concurrent
