"""Ray Data batch jobs over one Ollama host against two, on this machine.

``python benchmarks/bench_ray.py [--rows 48] [--texts 512] [--rounds 3] [--quick]`` starts two
embedded servers (``python -m ollamakit.server``, gemma3:270m, one llama.cpp thread each, on
free 127.0.0.1 ports) and a local Ray instance (2 CPUs, loopback only, no dashboard), then
runs the same two jobs with ``hosts=[A]`` and with ``hosts=[A, B]``, alternating the order
round by round (1 2, 2 1, ...) so that drift of the machine cancels out:

- generate: ``rows`` prompts, greedy, ``num_predict`` 16, two actors, 4 requests in flight each;
- embed: ``texts`` short texts, 16 per request, two actors.

Every row is checked (no error, a non-empty answer, a 640-value embedding). It prints a
Markdown table and, on its last line, one JSON document (rows/s per job and host count, and
the ratio). On 2 cores, a second host gives the model a second core, but Ray, the actors and
the first server share them too: the point here is the mechanism, not the scaling (see
docs/ray.md for what to expect on a cluster).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import emit, loadavg, rotated, use_repo_source

use_repo_source()

MODEL = "gemma3:270m"
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


def run_generate(ray: Any, hosts: list[str], rows: int) -> float:
    from ollamakit.ray import generate

    items = [{"topic": TOPICS[i % len(TOPICS)], "i": i} for i in range(rows)]
    dataset = generate(
        ray.data.from_items(items, override_num_blocks=8), MODEL,
        prompt="Row {i}. Three facts about {topic}:",
        options={"temperature": 0, "num_predict": 16}, hosts=hosts, concurrency=2,
        max_in_flight=4, batch_size=rows // 8,
    )  # fmt: skip
    started = time.perf_counter()
    tables = ray.get(dataset.to_arrow_refs())
    elapsed = time.perf_counter() - started
    done = [row for part in tables for row in part.to_pylist()]
    assert len(done) == rows, len(done)
    assert all(row["error"] is None and row["response"] for row in done), done[:3]
    return rows / elapsed


def run_embed(ray: Any, hosts: list[str], texts: int) -> float:
    from ollamakit.ray import embed

    items = [{"text": f"Note {i} about {TOPICS[i % len(TOPICS)]}."} for i in range(texts)]
    dataset = embed(
        ray.data.from_items(items, override_num_blocks=8), MODEL, hosts=hosts, concurrency=2,
        inputs_per_request=16, batch_size=texts // 8,
    )  # fmt: skip
    started = time.perf_counter()
    tables = ray.get(dataset.to_arrow_refs())
    elapsed = time.perf_counter() - started
    assert sum(part.num_rows for part in tables) == texts
    for part in tables:
        assert part["error"].null_count == part.num_rows
        assert part.schema.field("embedding").type.list_size == 640
    return texts / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=48, help="generate rows per job")
    parser.add_argument("--texts", type=int, default=512, help="embed rows per job")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 round, 16 rows, 64 texts")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.texts, args.rounds = 16, 64, 1
    results: dict[str, dict[int, list[float]]] = {
        job: {1: [], 2: []} for job in ("generate", "embed")
    }
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        base = Path(tmp)
        servers = start_servers(base)
        try:
            ray = start_ray(base)
            try:
                urls = [server.url for server in servers]
                run_generate(ray, urls, 8)  # warm-up: actors' imports, first connections
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
    print("| job | 1 host (rows/s) | 2 hosts (rows/s) | 2 hosts / 1 host |")
    print("|---|---|---|---|")
    for job, by_count in results.items():
        one = statistics.median(by_count[1])
        two = statistics.median(by_count[2])
        summary[job] = {"one_host": one, "two_hosts": two, "ratio": two / one}
        size = f"{args.rows} prompts, 16 tokens" if job == "generate" else f"{args.texts} texts"
        print(f"| {job} ({size}) | {one:.2f} | {two:.2f} | {two / one:.2f}x |")
    summary["loadavg"] = loadavg()
    print(f"load average at the end: {summary['loadavg']}")
    emit(summary)


if __name__ == "__main__":
    main()
