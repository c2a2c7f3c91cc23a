"""Ray Data batch jobs over one Ollama host against two, on this machine.

``python benchmarks/bench_ray.py [--rows 48] [--texts 512] [--rounds 3] [--quick]`` starts two
embedded servers (``python -m ollamakit.server``, gemma3:270m, one llama.cpp thread each, on
free 127.0.0.1 ports) and a local Ray instance (2 CPUs, loopback only, no dashboard), then
runs the same two jobs with ``hosts=[A]`` and with ``hosts=[A, B]``, alternating the order
round by round (1 2, 2 1, ...) so that drift of the machine cancels out:

- generate: ``rows`` prompts, greedy, ``num_predict`` 16;
- embed: ``texts`` short texts, 16 per request;

each on two actors with 4 requests in flight and ``retries=2``.

Every row is checked (no error, a non-empty answer, a 640-value embedding). Each job's wall
time includes starting its actors (seconds on a busy machine); the rate is measured from the
first output block to the last, once the actors are up. It prints a Markdown table (medians)
and, on its last line, one JSON document. On 2 cores, a second host gives the model a second
core, but Ray, the actors and the first server share them too: the point here is the
mechanism, not the scaling (see docs/ray.md for what to expect on a cluster).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import emit, loadavg, rotated, use_repo_source

use_repo_source()

MODEL = "gemma3:270m"
BLOCKS = 8
# As a job should run: a request that meets a connection the server has just closed is sent
# again (the retries made are counted and printed).
ACTORS: dict[str, Any] = {
    "concurrency": 2, "max_in_flight": 4, "retries": 2, "attempts_column": "attempts"
}  # fmt: skip
TOPICS = ("rivers", "bread", "trains", "violins", "glaciers", "chess", "owls", "copper")


def start_servers(base: Path) -> list[Any]:
    from ollamakit.testing.live import LiveOllama

    env = {k: v for k, v in os.environ.items() if not k.startswith(("OLLAMA_", "OLLAMAKIT_"))}
    env.update(OLLAMAKIT_NUM_THREADS="1", OLLAMAKIT_OFFLINE="1", HOME=str(base))
    servers = []
    for name in ("a", "b"):
        server = LiveOllama.start(base / name, cache=base / "models", env=env)
        servers.append(server)
        with server.client() as client:  # load the model before anything is timed
            client.generate(MODEL, "Hi", options={"num_predict": 1})
            client.embed(MODEL, "Hi")
    return servers


def start_ray(base: Path) -> Any:
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # every Ray process on 127.0.0.1
    import ray

    one = dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"), "1")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _temp_dir=str(base / "ray"),
        log_to_driver=False,
        runtime_env={"env_vars": one},
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
    return ray


@dataclass
class Run:
    """One job: its wall time, and its rate once the actors were up (rows after the first
    output block, over the time from that block to the last)."""

    seconds: float
    steady_rows_per_second: float
    retried: int


def timed(dataset: Any, check: Callable[[Any], None]) -> Run:
    started = time.perf_counter()
    first_at = 0.0
    rows = after_first = retried = 0
    for block in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
        check(block)
        rows += block.num_rows
        retried += sum(attempts - 1 for attempts in block["attempts"].to_pylist())
        if not first_at:
            first_at = time.perf_counter()
        else:
            after_first += block.num_rows
    ended = time.perf_counter()
    return Run(ended - started, after_first / (ended - first_at), retried)


def check_generate(block: Any) -> None:
    assert block["error"].null_count == block.num_rows, block["error"].to_pylist()
    assert all(block["response"].to_pylist())


def check_embed(block: Any) -> None:
    assert block["error"].null_count == block.num_rows, block["error"].to_pylist()
    assert block.schema.field("embedding").type.list_size == 640


def run_generate(ray: Any, hosts: list[str], rows: int) -> Run:
    from ollamakit.ray import generate

    items = [{"topic": TOPICS[i % len(TOPICS)], "i": i} for i in range(rows)]
    dataset = generate(
        ray.data.from_items(items, override_num_blocks=BLOCKS), MODEL,
        prompt="Row {i}. Three facts about {topic}:",
        options={"temperature": 0, "num_predict": 16}, batch_size=rows // BLOCKS, **ACTORS,
        hosts=hosts,
    )  # fmt: skip
    return timed(dataset, check_generate)


def run_embed(ray: Any, hosts: list[str], texts: int) -> Run:
    from ollamakit.ray import embed

    items = [{"text": f"Note {i} about {TOPICS[i % len(TOPICS)]}."} for i in range(texts)]
    dataset = embed(
        ray.data.from_items(items, override_num_blocks=BLOCKS), MODEL, hosts=hosts,
        inputs_per_request=16, batch_size=texts // BLOCKS, **ACTORS,
    )  # fmt: skip
    return timed(dataset, check_embed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=48, help="generate rows per job")
    parser.add_argument("--texts", type=int, default=512, help="embed rows per job")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 round, 16 rows, 64 texts")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.texts, args.rounds = 16, 64, 1
    results: dict[str, dict[int, list[Run]]] = {
        job: {1: [], 2: []} for job in ("generate", "embed")
    }
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        base = Path(tmp)
        servers = start_servers(base)
        try:
            ray = start_ray(base)
            try:
                urls = [server.url for server in servers]
                run_generate(ray, urls, BLOCKS)  # warm-up: first connections, Ray's own actors
                for round_index in range(args.rounds):
                    for count in rotated([1, 2], round_index):
                        hosts = urls[:count]
                        results["generate"][count].append(run_generate(ray, hosts, args.rows))
                        results["embed"][count].append(run_embed(ray, hosts, args.texts))
                        print(f"round {round_index + 1}, {count} host(s) done", file=sys.stderr)
            finally:
                ray.shutdown()
        finally:
            for server in servers:
                server.stop()
    summary: dict[str, Any] = {"rows": args.rows, "texts": args.texts, "rounds": args.rounds}
    print("| job | hosts | job wall time (s) | rows/s once the actors are up | vs 1 host |")
    print("|---|---:|---:|---:|---:|")
    for job, by_count in results.items():
        size = f"{args.rows} prompts x 16 tokens" if job == "generate" else f"{args.texts} texts"
        medians = {
            count: (
                statistics.median(run.seconds for run in runs),
                statistics.median(run.steady_rows_per_second for run in runs),
            )
            for count, runs in by_count.items()
        }
        summary[job] = {str(count): {"seconds": wall, "steady_rows_per_second": rate}
                        for count, (wall, rate) in medians.items()}  # fmt: skip
        summary[job]["retried"] = sum(run.retried for runs in by_count.values() for run in runs)
        for count, (wall, rate) in medians.items():
            ratio = rate / medians[1][1]
            print(f"| {job} ({size}) | {count} | {wall:.1f} | {rate:.2f} | {ratio:.2f}x |")
    retried = {job: summary[job]["retried"] for job in results}
    print(f"requests sent again (retries, all runs): {retried}")
    summary["loadavg"] = loadavg()
    print(f"load average at the end: {summary['loadavg']}")
    emit(summary)


if __name__ == "__main__":
    main()
