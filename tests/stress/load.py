"""Load test for ``ollamakit serve``: many concurrent streaming clients against the demo model.

    python tests/stress/load.py --clients 50

Starts a server of its own (temporary store, loopback, no network) unless ``--url`` is
given, installs gemma3:270m, then makes two runs of ``--clients`` simultaneous streaming
``raw`` generations:

1. with the default queue (``OLLAMA_MAX_QUEUE`` 512): every request must complete;
2. with ``OLLAMA_MAX_QUEUE=--queue`` (10): the requests beyond the queue must get 503
   ``server busy, please try again.  maximum pending requests exceeded`` and all the others
   must complete.

Every client sends its own prompt, with its own token count. A calibration pass first asks
for each prompt alone; under load, each stream must then be well-formed NDJSON (only
``done: false`` records, then one ``done: true`` record with a ``done_reason``), contain no
``error`` record, have the ``prompt_eval_count`` of its own prompt and the exact text the
calibration produced (temperature 0): a response delivered to the wrong client, or mixed
with another, cannot pass. The server must still be alive and its log free of tracebacks.

Prints, per run: completed, 503s, errors, mismatches, p50/p95/max latency, wall time.
Exits 0 when every check passes. Bounded: each run fails after ``--timeout`` seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

_HERE = Path(__file__).resolve().parent
if str(_HERE.parent / "server") not in sys.path:
    sys.path.insert(0, str(_HERE.parent / "server"))

from server_support import DEMO, ServerProcess, launch  # noqa: E402

BUSY = "server busy, please try again.  maximum pending requests exceeded"


def prompt_for(index: int) -> str:
    """Client ``index``'s prompt: one more " go" than the previous client, so every client's
    prompt has a different token count."""
    return f"Request {index:03d} says" + " go" * (index + 1) + "."


@dataclass(frozen=True)
class Expected:
    text: str
    prompt_eval_count: int


@dataclass
class Outcome:
    index: int
    status: int = 0
    latency: float = 0.0
    first_byte: float = 0.0
    problem: str = ""
    busy: bool = False
    completed: bool = False


@dataclass
class Report:
    label: str
    clients: int
    wall: float
    outcomes: list[Outcome] = field(default_factory=list)
    server_alive: bool = True
    log_tracebacks: int = 0

    @property
    def completed(self) -> int:
        return sum(outcome.completed for outcome in self.outcomes)

    @property
    def busy(self) -> int:
        return sum(outcome.busy for outcome in self.outcomes)

    @property
    def errors(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.problem and not o.problem.startswith("mismatch")]

    @property
    def mismatches(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.problem.startswith("mismatch")]

    def latencies(self) -> list[float]:
        return sorted(outcome.latency for outcome in self.outcomes if outcome.completed)

    def summary(self) -> str:
        latencies = self.latencies()
        refused = [outcome.latency for outcome in self.outcomes if outcome.busy]

        def pick(fraction: float) -> str:
            if not latencies:
                return "-"
            return f"{latencies[min(len(latencies) - 1, int(fraction * len(latencies)))]:.2f}s"

        lines = [
            f"{self.label}: {self.clients} clients",
            f"  completed {self.completed}, 503s {self.busy}, errors {len(self.errors)}, "
            f"mismatches {len(self.mismatches)}",
            f"  latency of completed p50 {pick(0.5)}, p95 {pick(0.95)}, max {pick(1.0)}"
            + (f", mean {statistics.fmean(latencies):.2f}s" if latencies else ""),
            f"  503s answered within {max(refused):.2f}s" if refused else "  no 503s",
            f"  wall time {self.wall:.2f}s, server alive: {self.server_alive}, "
            f"tracebacks in log: {self.log_tracebacks}",
        ]
        for outcome in (self.errors + self.mismatches)[:10]:
            lines.append(f"  client {outcome.index}: {outcome.problem}")
        return "\n".join(lines)


def _body(index: int, num_predict: int, stream: bool = True) -> dict[str, Any]:
    return {
        "model": DEMO,
        "prompt": prompt_for(index),
        "raw": True,
        "stream": stream,
        "options": {"num_predict": num_predict, "temperature": 0, "seed": 42},
    }


def calibrate(url: str, clients: int, num_predict: int) -> list[Expected]:
    """Each prompt alone, one after the other: the answer and token count to expect."""
    expected = []
    with httpx.Client(base_url=url, timeout=120) as session:
        for index in range(clients):
            reply = session.post("/api/generate", json=_body(index, num_predict, stream=False))
            reply.raise_for_status()
            data = reply.json()
            expected.append(Expected(data["response"], data["prompt_eval_count"]))
    counts = [item.prompt_eval_count for item in expected]
    if len(set(counts)) != len(counts):
        raise RuntimeError(f"prompts do not have distinct token counts: {counts}")
    return expected


def _check_stream(lines: list[str], expected: Expected, num_predict: int) -> str:
    """The problem with one client's stream, or ""."""
    if not lines:
        return "empty stream"
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            return f"not JSON: {line[:80]!r}"
        if not isinstance(record, dict):
            return f"not an object: {line[:80]!r}"
        if "error" in record:
            return f"error record: {record['error']}"
        records.append(record)
    *chunks, final = records
    if any(record.get("done") is not False for record in chunks):
        return "a record before the last has done != false"
    if final.get("done") is not True or final.get("done_reason") not in ("stop", "length"):
        return f"bad final record: {final}"
    if any(record.get("model") != DEMO for record in records):
        return "wrong model in a record"
    text = "".join(str(record.get("response", "")) for record in records)
    if final.get("prompt_eval_count") != expected.prompt_eval_count:
        return (
            f"mismatch: prompt_eval_count {final.get('prompt_eval_count')}, "
            f"expected {expected.prompt_eval_count}"
        )
    if text != expected.text:
        return f"mismatch: text {text!r}, expected {expected.text!r}"
    if final.get("eval_count", 0) > num_predict:
        return f"eval_count {final.get('eval_count')} > num_predict {num_predict}"
    return ""


def run_load(
    url: str,
    clients: int,
    *,
    num_predict: int = 8,
    timeout: float = 300,
    label: str = "run",
    expected: Sequence[Expected] | None = None,
) -> Report:
    """``clients`` simultaneous streaming generations; every outcome is checked."""
    if expected is None:
        expected = calibrate(url, clients, num_predict)
    outcomes = [Outcome(index) for index in range(clients)]
    barrier = threading.Barrier(clients)
    deadline = time.monotonic() + timeout

    def client(outcome: Outcome) -> None:
        limits = httpx.Timeout(timeout, connect=30)
        with httpx.Client(base_url=url, timeout=limits) as session:
            session.get("/")  # connect before the start, so all requests leave together
            barrier.wait(timeout=60)
            started = time.monotonic()
            try:
                body = _body(outcome.index, num_predict)
                with session.stream("POST", "/api/generate", json=body) as response:
                    outcome.status = response.status_code
                    outcome.first_byte = time.monotonic() - started
                    if response.status_code == 503:
                        data = json.loads(response.read())
                        outcome.busy = data == {"error": BUSY}
                        if not outcome.busy:
                            outcome.problem = f"503 with body {data}"
                        return
                    if response.status_code != 200:
                        outcome.problem = (
                            f"status {response.status_code}: {response.read()[:200]!r}"
                        )
                        return
                    lines = []
                    for line in response.iter_lines():
                        if line:
                            lines.append(line)
                        if time.monotonic() > deadline:
                            outcome.problem = "timed out"
                            return
                outcome.problem = _check_stream(lines, expected[outcome.index], num_predict)
                outcome.completed = not outcome.problem
            except (httpx.HTTPError, ValueError) as exc:
                outcome.problem = f"{type(exc).__name__}: {exc}"
            finally:
                outcome.latency = time.monotonic() - started

    threads = [threading.Thread(target=client, args=(outcome,)) for outcome in outcomes]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(1.0, deadline - time.monotonic() + 30))
    wall = time.monotonic() - started
    for thread, outcome in zip(threads, outcomes):
        if thread.is_alive() and not outcome.problem:
            outcome.problem = "client did not finish in time"
    report = Report(label, clients, wall, outcomes)
    try:
        report.server_alive = httpx.get(url + "/", timeout=10).text == "Ollama is running"
    except httpx.HTTPError:
        report.server_alive = False
    return report


def start_server(base: Path, queue: int | None) -> ServerProcess:
    env = {"OLLAMAKIT_OFFLINE": "1"}
    if queue is not None:
        env["OLLAMA_MAX_QUEUE"] = str(queue)
    base.mkdir(parents=True, exist_ok=True)
    server = launch(base / "models", base / "server.log", env)
    reply = httpx.post(server.url + "/api/pull", json={"model": DEMO, "stream": False}, timeout=300)
    if reply.json() != {"status": "success"}:
        server.stop()
        raise RuntimeError(f"could not install {DEMO}: {reply.text}")
    return server


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--queue", type=int, default=10, help="OLLAMA_MAX_QUEUE of run 2")
    parser.add_argument("--num-predict", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=300, help="seconds per run")
    parser.add_argument("--url", help="use this running server (one run, its own queue)")
    args = parser.parse_args(argv)

    if args.url:
        report = run_load(
            args.url, args.clients, num_predict=args.num_predict, timeout=args.timeout
        )
        print(report.summary())
        return 0 if not report.errors and not report.mismatches and report.server_alive else 1

    ok = True
    with tempfile.TemporaryDirectory(prefix="ollamakit-load-") as temp:
        runs: list[tuple[str, int | None]] = [
            ("run 1, default queue (512)", None),
            (f"run 2, OLLAMA_MAX_QUEUE={args.queue}", args.queue),
        ]
        for number, (label, queue) in enumerate(runs, 1):
            server = start_server(Path(temp) / f"run{number}", queue)
            try:
                report = run_load(
                    server.url,
                    args.clients,
                    num_predict=args.num_predict,
                    timeout=args.timeout,
                    label=label,
                )
                report.server_alive = report.server_alive and server.process.poll() is None
                report.log_tracebacks = server.log_text().count("Traceback")
            finally:
                server.stop()
            print(report.summary(), flush=True)
            good = (
                not report.errors
                and not report.mismatches
                and report.server_alive
                and not report.log_tracebacks
                and report.completed + report.busy == args.clients
            )
            if queue is None:
                good = good and report.completed == args.clients
            elif args.clients > queue + 1:
                good = good and report.busy > 0 and report.completed > 0
            print("  ->", "PASS" if good else "FAIL", flush=True)
            ok = ok and good
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
