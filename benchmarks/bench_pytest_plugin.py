"""What the pytest plugin costs: start-up of a test run that does not use it, and how soon
``ollama_server`` is ready.

    python benchmarks/bench_pytest_plugin.py             # 5 rounds
    python benchmarks/bench_pytest_plugin.py --rounds 9

1. ``pytest`` on a one-test file, with the plugin and with ``-p no:ollamakit``, rounds
   interleaved, fresh processes: the plugin's share of start-up (the median of per-round
   differences, noisy on a busy machine), and the import of the plugin module alone.
2. ``ollama_server`` set-up, as pytest runs it: once with an empty models cache (the demo
   model is installed into it) and then each round with the cache filled: the time until the
   server answers with the model installed, and the first request after that (a one-token
   generation, which loads the model into llama.cpp), and the server's memory after it
   (Linux: ``/proc/<pid>/status``), which is what each pytest-xdist worker's server costs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import loadavg

# langsmith and hypothesis register slow plugins that have nothing to do with this; they are
# off on both sides so that the difference is ollamakit's alone.
QUIET = ["-q", "-p", "no:cacheprovider", "-p", "no:langsmith_plugin", "-p", "no:hypothesispytest"]

PLAIN_TEST = "def test_nothing():\n    assert True\n"
SERVER_TEST = """
import json
import os
import time
from pathlib import Path


def test_ready(ollama_server):
    started = time.perf_counter()
    with ollama_server.client() as client:
        client.generate(ollama_server.model, "Hi", options={"num_predict": 1})
    first_request = time.perf_counter() - started
    status = Path(f"/proc/{ollama_server.pid}/status").read_text()
    rss_kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    facts = {
        "ready": ollama_server.startup_seconds,
        "first_request": first_request,
        "rss_mib": rss_kib / 1024,
        "source": ollama_server.model_source,
    }
    Path(os.environ["BENCH_RESULT"]).write_text(json.dumps(facts))
"""


def pytest_seconds(folder: Path, *options: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", *QUIET, *options, "test_plain.py"],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def plugin_import_ms() -> float:
    """The plugin module's own import, pytest already loaded (``-X importtime``'s cumulative
    figure for it, in a fresh interpreter)."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import pytest; import pytest_ollamakit"],
        check=True,
        capture_output=True,
        text=True,
    )
    line = next(row for row in run.stderr.splitlines() if row.endswith("| pytest_ollamakit"))
    return int(line.split("|")[1]) / 1000


def server_round(folder: Path, cache: Path) -> dict[str, float | str]:
    result = folder / "result.json"
    environment = {
        **os.environ,
        "OLLAMAKIT_PYTEST_CACHE": str(cache),
        "OLLAMAKIT_OFFLINE": "1",
        "BENCH_RESULT": str(result),
    }
    environment.pop("OLLAMAKIT_PYTEST_HOST", None)
    subprocess.run(
        [sys.executable, "-m", "pytest", *QUIET, "test_server.py"],
        cwd=folder,
        env=environment,
        check=True,
        capture_output=True,
    )
    facts: dict[str, float | str] = json.loads(result.read_text())
    return facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"load average before: {loadavg()}")
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        (folder / "test_plain.py").write_text(PLAIN_TEST)
        (folder / "test_server.py").write_text(SERVER_TEST)
        pytest_seconds(folder)  # warm the file system cache and the .pyc files
        with_plugin, without, differences = [], [], []
        for round_number in range(args.rounds):
            pair = ["with", "without"] if round_number % 2 == 0 else ["without", "with"]
            times = {
                side: pytest_seconds(folder, *(["-p", "no:ollamakit"] if side == "without" else []))
                for side in pair
            }
            with_plugin.append(times["with"])
            without.append(times["without"])
            differences.append(times["with"] - times["without"])
        imports = [plugin_import_ms() for _ in range(args.rounds)]
        cache = folder / "cache"
        cold = server_round(folder, cache)
        warm = [server_round(folder, cache) for _ in range(args.rounds)]
    ready = [float(facts["ready"]) for facts in warm]
    first = [float(facts["first_request"]) for facts in warm]
    print()
    print("| measure | median | min | max |")
    print("|---|---:|---:|---:|")
    rows = [
        ("pytest start-up, plugin loaded (s)", with_plugin),
        ("pytest start-up, -p no:ollamakit (s)", without),
        ("difference per round (ms)", [value * 1000 for value in differences]),
        ("import of the plugin module, after pytest (ms)", imports),
        ("ollama_server ready, model cached (s)", ready),
        ("first request after that, 1 token (s)", first),
        ("server memory after it, RSS (MiB)", [float(facts["rss_mib"]) for facts in warm]),
    ]
    for label, values in rows:
        print(
            f"| {label} | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} |"
        )
    print()
    print(
        f"ollama_server with an empty cache: ready in {float(cold['ready']):.2f} s "
        f"({cold['source']}); first request {float(cold['first_request']):.2f} s"
    )
    print(f"warm rounds: {warm[0]['source']}")
    print(f"load average after: {loadavg()}")


if __name__ == "__main__":
    main()
