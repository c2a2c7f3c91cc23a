"""Run every benchmark side by side and write ``benchmarks/RESULTS.md``.

    python benchmarks/run.py            # the full run (a few minutes)
    python benchmarks/run.py --quick    # a smoke version (about 15 s; no llama.cpp rows)

Sections, each in fresh processes, contenders interleaved round by round (A B C, B C A, ...)
so that machine drift cancels out in the ratios:

1. streaming firehose: 20,000 chat chunks, one HTTP chunk per NDJSON line, sync and async:
   ollamakit vs the official ``ollama`` package vs a raw-socket + JSON-parse floor;
2. non-streaming round trip of a small chat request on a kept-alive connection;
3. ``import ollamakit`` vs ``import ollama``, a fresh interpreter per import;
4. 200 concurrent async streams in one process: wall time, errors, peak RSS;
5. the embedded server on gemma3-270m vs llama-cpp-python driven directly (skipped in
   ``--quick`` unless ``--server``; skipped when other work keeps the CPU busy, because
   llama.cpp's speed depends on having its cores to itself).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from _common import (
    BENCH_DIR,
    REPO,
    CpuMeter,
    Summary,
    busy_cores,
    cpu_model,
    loadavg,
    memory_gib,
    ndjson_server,
    rotated,
    run_script,
    use_repo_source,
)


@dataclass(frozen=True)
class Plan:
    firehose_rounds: int
    records: int
    roundtrip_rounds: int
    requests: int
    import_runs: int
    concurrent_rounds: int
    streams: int
    stream_records: int
    llama_rounds: int
    num_predict: int


FULL = Plan(
    firehose_rounds=9,
    records=20_000,
    roundtrip_rounds=7,
    requests=2_000,
    import_runs=15,
    concurrent_rounds=5,
    streams=200,
    stream_records=1_000,
    llama_rounds=7,
    num_predict=128,
)
QUICK = Plan(
    firehose_rounds=2,
    records=20_000,
    roundtrip_rounds=2,
    requests=200,
    import_runs=3,
    concurrent_rounds=1,
    streams=200,
    stream_records=100,
    llama_rounds=1,
    num_predict=32,
)
TARGETS = {
    "sync_speedup": 4.0,
    "async_speedup": 6.0,
    "floor_ratio": 3.0,
    "import_ratio": 0.5,
    "tokens_ratio": 0.95,
    "ttft_ratio": 1.1,
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- formatting ----------------------------------------------------------------------------


def table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> list[str]:
    align = align or "l" + "r" * (len(header) - 1)
    marks = ["---:" if kind == "r" else "---" for kind in align]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(marks) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def num(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


TIMES = "\N{MULTIPLICATION SIGN}"


def times(value: float) -> str:
    return f"{value:.2f}{TIMES}"


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**NOT met**"


# -- sections ------------------------------------------------------------------------------


def summarise_rows(rows: list[dict[str, Any]], scale: float) -> dict[str, Summary]:
    return {row["name"]: Summary.of([value * scale for value in row["seconds"]]) for row in rows}


def paired(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """Median of the per-round ratios: the contenders of a round ran next to each other, so
    drift of the machine between rounds cancels out."""
    return statistics.median(a / b for a, b in zip(numerators, denominators, strict=True))


def firehose_section(result: dict[str, Any], report: Report) -> None:
    records = result["records"]
    stats = summarise_rows(result["rows"], 1000.0)
    lines = [
        "## 1. Streaming firehose",
        "",
        f"{records:,} chat chunks per stream ({result['content_chars']:,} characters of content), "
        "`Transfer-Encoding: chunked` with one HTTP chunk per NDJSON line as Ollama sends them, "
        "the whole body written with one `sendall` by a raw-socket server in its own process. "
        "Each client iterates `chat(stream=True)` and reads `.message.content`; every run "
        f"checks the chunk count and the total content length. {result['rounds']} rounds "
        "after one warm-up run each, in rotating order. *vs official*: how many times faster "
        "than the official client in the same mode; *vs floor*: time relative to the raw floor "
        "of the same mode (both: medians of the per-round ratios).",
        "",
    ]
    seconds = {row["name"]: row["seconds"] for row in result["rows"]}
    rows = []
    for kind in ("sync", "async"):
        by_role = {row["role"]: row["name"] for row in result["rows"] if row["kind"] == kind}
        official = seconds[by_role["official"]]
        floor = seconds[by_role["floor"]]
        for row in (r for r in result["rows"] if r["kind"] == kind):
            s = stats[row["name"]]
            rows.append(
                [
                    f"`{row['name']}`",
                    kind,
                    num(s.median),
                    num(s.min),
                    num(s.max),
                    f"{records / s.median * 1000:,.0f}",
                    times(paired(official, seconds[row["name"]])),
                    times(paired(seconds[row["name"]], floor)),
                ]
            )
        kit = seconds[by_role["ollamakit"]]
        speedup, to_floor = paired(official, kit), paired(kit, floor)
        speedup_goal = TARGETS[f"{kind}_speedup"]
        report.target(
            f"streaming throughput, {kind}",
            f"{times(speedup)} the official client",
            f"≥ {speedup_goal:g}{TIMES}",
            speedup >= speedup_goal,
        )
        report.target(
            f"streaming, {kind}: time vs the raw floor",
            f"{times(to_floor)} the floor",
            f"≤ {TARGETS['floor_ratio']:g}{TIMES}",
            to_floor <= TARGETS["floor_ratio"],
        )
        report.headline.append(
            [
                f"streaming, {kind} ({records:,} chunks)",
                f"{num(stats[by_role['ollamakit']].median)} ms",
                f"{num(stats[by_role['official']].median)} ms",
                times(speedup),
                f"{times(to_floor)} floor",
            ]
        )
    lines += table(
        ["client", "mode", "median ms", "min ms", "max ms", "chunks/s", "vs official", "vs floor"],
        rows,
        "llrrrrrr",
    )
    lines += [
        "",
        "The floors read the whole body from a socket, undo the chunked framing in Python and "
        "decode each line with `msgspec.json.decode` into dicts, reading the content: the "
        "least work any client must do. The two `transport=httpx...` rows are ollamakit with "
        "httpx's own transport (what it falls back to when a caller configures the transport), "
        "for reference.",
    ]
    report.sections.append(lines)


def roundtrip_section(result: dict[str, Any], report: Report) -> None:
    requests = result["requests"]
    stats = summarise_rows(result["rows"], 1e6 / requests)
    lines = [
        "## 2. Non-streaming round trip",
        "",
        f"`chat(stream=False)` with one short message, {requests:,} requests in a row on a "
        f"kept-alive connection, per-request time in µs; {result['rounds']} rounds. The answer "
        "is a complete chat response with a `Content-Length` body; each reply is checked. "
        "*vs official*: median of the per-round speed-ups. *Client CPU*: CPU time of the "
        "benchmark process per request (median), which other work on the machine barely "
        "affects.",
        "",
    ]
    seconds = {row["name"]: row["seconds"] for row in result["rows"]}
    rows = []
    for kind in ("sync", "async"):
        by_role = {row["role"]: row["name"] for row in result["rows"] if row["kind"] == kind}
        official = seconds[by_role["official"]]
        for row in (r for r in result["rows"] if r["kind"] == kind):
            s = stats[row["name"]]
            rows.append(
                [
                    f"`{row['name']}`",
                    kind,
                    num(s.median),
                    num(s.min),
                    num(s.max),
                    f"{1e6 / s.median:,.0f}",
                    times(paired(official, seconds[row["name"]])),
                    num(statistics.median(row["cpu_seconds"]) * 1e6 / requests),
                ]
            )
        kit, official_us = stats[by_role["ollamakit"]].median, stats[by_role["official"]].median
        speedup = paired(official, seconds[by_role["ollamakit"]])
        report.target(
            f"non-streaming round trip, {kind}",
            f"{num(kit)} µs vs {num(official_us)} µs ({times(speedup)})",
            "no slower than official",
            speedup >= 1.0,
        )
        report.headline.append(
            [
                f"round trip, {kind}",
                f"{num(kit)} µs",
                f"{num(official_us)} µs",
                times(speedup),
                "",
            ]
        )
    lines += table(
        [
            "client",
            "mode",
            "median µs",
            "min µs",
            "max µs",
            "requests/s",
            "vs official",
            "client CPU µs",
        ],
        rows,
        "llrrrrrr",
    )
    lines += [
        "",
        "The sync floor is a raw socket writing the request and parsing the answer by hand, "
        "for scale: almost all of a round trip is Python code in the HTTP stacks.",
    ]
    report.sections.append(lines)


def import_section(result: dict[str, Any], report: Report) -> None:
    stats = {module: Summary.of(values) for module, values in result["ms"].items()}
    kit, official = stats["ollamakit"], stats["ollama"]
    rows = [
        [
            f"`import {name}`",
            num(s.median),
            num(s.min),
            num(s.max),
            times(paired(result["ms"][name], result["ms"]["ollama"])),
        ]
        for name, s in stats.items()
    ]
    lines = [
        "## 3. Import time",
        "",
        f"A fresh interpreter per import, {result['runs']} runs each, alternating; the child "
        "times its own `import` with `perf_counter` (interpreter start-up excluded; bytecode "
        "caches warm).",
        "",
        *table(["import", "median ms", "min ms", "max ms", "vs official"], rows),
    ]
    ratio = paired(result["ms"]["ollamakit"], result["ms"]["ollama"])
    report.target(
        "`import ollamakit`",
        f"{num(kit.median)} ms vs {num(official.median)} ms ({times(ratio)})",
        f"≤ {TARGETS['import_ratio']:g}{TIMES} `import ollama`",
        ratio <= TARGETS["import_ratio"],
    )
    report.headline.append(
        [
            "`import`",
            f"{num(kit.median)} ms",
            f"{num(official.median)} ms",
            times(1 / ratio),
            "",
        ]
    )
    report.sections.append(lines)


CLIENT_LABELS = {
    "ollamakit": "`ollamakit.AsyncClient`",
    "official": "`ollama.AsyncClient` (official)",
}


def concurrent_section(runs: list[dict[str, Any]], plan: Plan, report: Report) -> None:
    rows = []
    total_records = plan.streams * plan.stream_records
    by_client: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by_client.setdefault(run["client"], []).append(run)
    for client, items in by_client.items():
        wall = Summary.of([item["seconds"] for item in items])
        errors = sum(item["errors"] for item in items)
        peak = max(item["peak_rss_mib"] for item in items)
        before = Summary.of([item["rss_before_mib"] for item in items]).median
        rows.append(
            [
                CLIENT_LABELS[client],
                num(wall.median, 2),
                num(wall.min, 2),
                num(wall.max, 2),
                f"{total_records / wall.median:,.0f}",
                str(errors),
                num(before),
                num(peak),
            ]
        )
    kit = by_client["ollamakit"]
    kit_errors = sum(item["errors"] for item in kit)
    kit_wall = Summary.of([item["seconds"] for item in kit]).median
    kit_peak = max(item["peak_rss_mib"] for item in kit)
    lines = [
        f"## 4. {plan.streams} concurrent async streams",
        "",
        f"One process, one client, {plan.streams} `chat(stream=True)` streams started together "
        f"with `asyncio.gather`, {plan.stream_records:,} chunks each ({total_records:,} in all), "
        f"every stream checked; {len(kit)} runs per client, each in a fresh process so that "
        "its peak RSS (VmHWM) is its own, clients alternating.",
        "",
        *table(
            [
                "client",
                "wall median s",
                "min s",
                "max s",
                "chunks/s",
                "errors",
                "RSS before MiB",
                "peak RSS MiB",
            ],
            rows,
        ),
        "",
        "The official client's httpx pool allows 100 connections by default, so half of its "
        "streams wait for a connection; ollamakit's aiohttp transport has no connection limit.",
    ]
    if any(item["error_samples"] for item in runs):
        lines += [
            "",
            "Errors seen: "
            + "; ".join(sample for item in runs for sample in item["error_samples"]),
        ]
    report.target(
        f"{plan.streams} concurrent async streams",
        f"{plan.streams * len(kit)} streams, {kit_errors} errors, {num(kit_wall, 2)} s, "
        f"peak RSS {num(kit_peak)} MiB",
        "all complete, no error, memory reported",
        kit_errors == 0,
    )
    report.headline.append(
        [
            f"{plan.streams} concurrent streams",
            f"{num(kit_wall, 2)} s",
            f"{num(Summary.of([i['seconds'] for i in by_client['official']]).median, 2)} s",
            times(
                paired(
                    [item["seconds"] for item in by_client["official"]],
                    [item["seconds"] for item in kit],
                )
            ),
            f"{kit_errors} errors, peak {num(kit_peak)} MiB",
        ]
    )
    report.sections.append(lines)


def llama_section(result: dict[str, Any], report: Report) -> None:
    samples = result["samples"]

    def stats(name: str, kind: str, key: str, scale: float = 1.0) -> Summary:
        return Summary.of([item[key] * scale for item in samples[name][kind]])

    tps = {name: stats(name, "cold", "tokens_per_s") for name in samples}
    ttft = {name: stats(name, "cold", "ttft_s", 1000) for name in samples}
    cached = {name: stats(name, "cached", "ttft_s", 1000) for name in samples}
    busy = max(item["busy_cores"] for name in samples for item in samples[name]["cold"])
    labels = {
        "server": "`python -m ollamakit.server` (HTTP, `Client.generate`)",
        "direct": "`llama_cpp.Llama.create_completion` (in process)",
    }
    rows = []
    for name in ("server", "direct"):
        rows.append(
            [
                labels[name],
                num(tps[name].median),
                num(tps[name].min),
                num(tps[name].max),
                num(ttft[name].median),
                f"{num(ttft[name].min)} to {num(ttft[name].max)}",
                num(cached[name].median),
            ]
        )
    inner = stats("server", "cold", "inner_prompt_s", 1000)
    inner_tps = Summary.of(
        [
            (item["tokens"] - 1) / item["inner_eval_s"]
            for item in samples["server"]["cold"]
            if item["inner_eval_s"] > 0 and item["tokens"] > 1
        ]
        or [0.0]
    )
    inner_cached = stats("server", "cached", "inner_prompt_s", 1000)

    def ratio(kind: str, key: str) -> float:
        return paired(
            [item[key] for item in samples["server"][kind]],
            [item[key] for item in samples["direct"][kind]],
        )

    token_ratio = ratio("cold", "tokens_per_s")
    ttft_ratio = ratio("cold", "ttft_s")
    cached_ratio = ratio("cached", "ttft_s")
    prompt_tokens = samples["direct"]["cold"][0]["prompt_tokens"]
    lines = [
        "## 5. Embedded server vs llama-cpp-python",
        "",
        f"gemma3-270m Q4_K_M, {result['threads']} thread (`num_thread` / `n_threads` and "
        f"`n_threads_batch`), `num_ctx` {result['num_ctx']}, greedy (`temperature` 0, `seed` 1), "
        f"{result['num_predict']} tokens per request, raw prompts of about {prompt_tokens} "
        f"tokens; {result['rounds']} rounds after a warm-up (the server loads the model there). "
        "Tokens/s is measured by the client from the first to the last token; time to first "
        "token (TTFT) from sending the request to the first text. *TTFT, new prompt*: each "
        "round's prompt is new to both, so the whole prompt is evaluated. *TTFT, cached "
        "prompt*: the same prompt again with one token to predict; llama.cpp reuses the "
        "cached prefix, so it shows the fixed overhead of each path. "
        f"Greedy outputs identical in {result['same_text_rounds']}/{result['rounds']} rounds "
        "(see docs/performance.md on why they may differ). Highest CPU use during a kept "
        f"request: {busy:.2f} cores of {os.cpu_count()}; rounds measured again because other "
        f"work pushed it over {result['busy_limit']:.1f}: {result['rounds_repeated']}.",
        "",
        *table(
            [
                "contender",
                "tokens/s median",
                "min",
                "max",
                "TTFT new prompt ms",
                "TTFT range ms",
                "TTFT cached prompt ms",
            ],
            rows,
        ),
        "",
        "Server / direct, medians of the per-round ratios: "
        f"tokens/s {token_ratio:.3f}, TTFT (new prompt) {ttft_ratio:.3f}, "
        f"TTFT (cached prompt) {cached_ratio:.3f}. The server's own `prompt_eval_duration` "
        f"(runner start to first token) has a median of {num(inner.median)} ms for a new "
        f"prompt and {num(inner_cached.median)} ms for a cached one; the rest of its TTFT "
        "is HTTP, routing, queueing and streaming the token back. Inside the runner (its "
        f"`eval_duration`) the server decoded {num(inner_tps.median)} tokens/s (median; "
        f"{num(inner_tps.min)} to {num(inner_tps.max)}). Pull of `gemma3:270m` through the "
        f"server: {result['pull_s']:.1f} s.",
    ]
    report.target(
        "server tokens/s (gemma3-270m)",
        f"{token_ratio:.1%} of llama-cpp-python",
        f"≥ {TARGETS['tokens_ratio']:.0%}",
        token_ratio >= TARGETS["tokens_ratio"],
    )
    report.target(
        "server time to first token (new prompt)",
        f"{times(ttft_ratio)} llama-cpp-python ({num(ttft['server'].median)} vs "
        f"{num(ttft['direct'].median)} ms)",
        f"≤ {TARGETS['ttft_ratio']:g}{TIMES}",
        ttft_ratio <= TARGETS["ttft_ratio"],
    )
    report.headline.append(
        [
            "server tokens/s (gemma3-270m, 1 thread)",
            num(tps["server"].median),
            f"{num(tps['direct'].median)} (llama-cpp-python)",
            f"{token_ratio:.1%}",
            "",
        ]
    )
    report.headline.append(
        [
            "server TTFT",
            f"{num(ttft['server'].median)} ms",
            f"{num(ttft['direct'].median)} ms (llama-cpp-python)",
            times(1 / ttft_ratio),
            f"TTFT {times(ttft_ratio)} llama-cpp-python's",
        ]
    )
    report.sections.append(lines)


# -- the report ----------------------------------------------------------------------------


class Report:
    def __init__(self) -> None:
        self.targets: list[list[str]] = []
        self.headline: list[list[str]] = []
        self.sections: list[list[str]] = []
        self.notes: list[str] = []

    def target(self, what: str, measured: str, goal: str, ok: bool) -> None:
        self.targets.append([what, measured, goal, verdict(ok)])

    def render(self, header: list[str]) -> str:
        lines = [*header, "", "## Targets (DESIGN.md §4)", ""]
        lines += table(["target", "measured", "goal", "result"], self.targets, "llll")
        if self.notes:
            lines += ["", *[f"- {note}" for note in self.notes]]
        lines += ["", "## Headline", ""]
        lines += table(
            [
                "benchmark",
                "ollamakit",
                "official / reference",
                "ollamakit advantage (higher is better)",
                "note",
            ],
            self.headline,
            "lrrrl",
        )
        lines += [
            "",
            "The advantage is the speed-up over the official client (median of per-round "
            "ratios); for the server rows it is relative to llama-cpp-python: its tokens/s "
            "ratio, and the inverse of its time-to-first-token ratio.",
        ]
        for section in self.sections:
            lines += ["", *section]
        return "\n".join(lines) + "\n"


def versions() -> dict[str, str]:
    use_repo_source()
    from ollamakit import __version__

    found = {"ollamakit": f"{__version__} (this checkout)"}
    for dist in (
        "ollama",
        "httpx",
        "urllib3",
        "aiohttp",
        "msgspec",
        "pydantic",
        "llama_cpp_python",
    ):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = "not installed"
    return found


def git_commit() -> str:
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return completed.stdout.strip() or "unknown"


def _own_cpu() -> float:
    """CPU seconds of this process and of the child processes it has waited for."""
    times_now = os.times()
    return times_now.user + times_now.system + times_now.children_user + times_now.children_system


def wait_until_quiet(max_busy: float, max_wait: float) -> tuple[bool, float]:
    """Wait for other work to stop using the CPU; (quiet?, last measured busy cores)."""
    deadline = time.monotonic() + max_wait
    while True:
        busy = busy_cores(3.0)
        if busy <= max_busy:
            return True, busy
        if time.monotonic() >= deadline:
            return False, busy
        log(f"  other work keeps {busy:.2f} cores busy; waiting (up to {max_wait:.0f} s in all)")
        time.sleep(min(20.0, max(0.0, deadline - time.monotonic())))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run every benchmark side by side and write benchmarks/RESULTS.md."
    )
    parser.add_argument("--quick", action="store_true", help="a small smoke version")
    parser.add_argument(
        "--server", action="store_true", help="include the llama.cpp rows in --quick"
    )
    parser.add_argument("--no-server", action="store_true", help="skip the llama.cpp rows")
    parser.add_argument(
        "--output", type=Path, default=BENCH_DIR / "RESULTS.md", help="where to write"
    )
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads (1 or 2)")
    parser.add_argument(
        "--max-busy",
        type=float,
        default=0.3,
        help="cores other work may use before the llama.cpp rows wait (default 0.3)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=None,
        help="seconds to wait for a quiet machine before the llama.cpp rows "
        "(default 300, 60 with --quick; the whole run stays under 10 minutes)",
    )
    parser.add_argument(
        "--server-anyway",
        action="store_true",
        help="run the llama.cpp rows even if the machine stays busy (noted in the results)",
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks

    plan = QUICK if args.quick else FULL
    with_llama = (args.server or not args.quick) and not args.no_server
    quiet_wait = args.quiet_wait if args.quiet_wait is not None else (60 if args.quick else 300)
    started = time.perf_counter()
    start_load = loadavg()
    report = Report()
    command = "python benchmarks/run.py" + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else "")

    def stage(name: str) -> Callable[[], None]:
        begun = time.perf_counter()
        log(f"[{time.perf_counter() - started:6.1f} s] {name}")
        return lambda: log(f"  done in {time.perf_counter() - begun:.1f} s")

    meter = CpuMeter()
    meter.start()
    own_before, clock_before = _own_cpu(), time.perf_counter()
    with ndjson_server(max_seconds=900) as port:
        done = stage("streaming firehose")
        firehose = run_script(
            "bench_stream.py",
            [
                "--port",
                str(port),
                "--section",
                "firehose",
                "--rounds",
                str(plan.firehose_rounds),
                "--records",
                str(plan.records),
            ],
            timeout=300,
            log=log,
        )
        done()
        done = stage("non-streaming round trip")
        roundtrip = run_script(
            "bench_stream.py",
            [
                "--port",
                str(port),
                "--section",
                "roundtrip",
                "--rounds",
                str(plan.roundtrip_rounds),
                "--requests",
                str(plan.requests),
            ],
            timeout=300,
            log=log,
        )
        done()
        done = stage("concurrent streams")
        concurrent = []
        for round_index in range(plan.concurrent_rounds):
            for client in rotated(["ollamakit", "official"], round_index):
                concurrent.append(
                    run_script(
                        "bench_concurrent.py",
                        [
                            "--port",
                            str(port),
                            "--client",
                            client,
                            "--streams",
                            str(plan.streams),
                            "--records",
                            str(plan.stream_records),
                        ],
                        timeout=300,
                        log=log,
                    )
                )
        done()
    done = stage("import time")
    imports = run_script("bench_import.py", ["--runs", str(plan.import_runs)], timeout=300, log=log)
    done()
    # Everything this run did so far ran in processes it has waited for, so the machine's busy
    # time minus theirs is what other work took while the client rows were measured.
    others = max(
        0.0,
        meter.stop() - (_own_cpu() - own_before) / max(1e-9, time.perf_counter() - clock_before),
    )

    firehose_section(firehose, report)
    roundtrip_section(roundtrip, report)
    import_section(imports, report)
    concurrent_section(concurrent, plan, report)

    llama_note = ""
    if with_llama:
        done = stage("embedded server vs llama-cpp-python")
        quiet, busy = wait_until_quiet(args.max_busy, quiet_wait)
        if quiet or args.server_anyway:
            if not quiet:
                report.notes.append(
                    f"The llama.cpp rows ran while other work kept {busy:.2f} cores busy "
                    "(`--server-anyway`): treat them with suspicion."
                )
            llama_note = f"other work used {busy:.2f} cores just before the llama.cpp rows"
            llama = run_script(
                "bench_llama.py",
                [
                    "--threads",
                    str(args.threads),
                    "--rounds",
                    str(plan.llama_rounds),
                    "--num-predict",
                    str(plan.num_predict),
                ],
                timeout=600,
                log=log,
            )
            llama_section(llama, report)
        else:
            report.notes.append(
                f"Embedded-server rows skipped: other work kept {busy:.2f} cores busy for "
                f"{quiet_wait:.0f} s (llama.cpp needs its cores to itself; `--server-anyway` "
                "runs them regardless)."
            )
        done()
    else:
        report.notes.append(
            "Embedded-server rows not run (`--quick` without `--server`, or `--no-server`)."
        )

    elapsed = time.perf_counter() - started
    end_load = loadavg()
    found = versions()
    header = [
        "# Benchmark results",
        "",
        f"Written by `{command}` on {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC "
        f"in {elapsed:.0f} s{' (quick mode: small and noisy)' if args.quick else ''}. "
        "Medians, with min and max, over interleaved rounds.",
        "",
        f"- Machine: {cpu_model()}, {os.cpu_count()} cores, {memory_gib():.1f} GiB RAM; "
        f"{platform.system()} {platform.release()}; "
        f"{platform.python_implementation()} {platform.python_version()}",
        "- Versions: " + ", ".join(f"{name} {version}" for name, version in found.items()),
        f"- Commit: {git_commit()}",
        f"- Load average (1/5/15 min) at start {start_load[0]:.2f}/{start_load[1]:.2f}/"
        f"{start_load[2]:.2f}, at end {end_load[0]:.2f}/{end_load[1]:.2f}/{end_load[2]:.2f}"
        + (f"; {llama_note}" if llama_note else ""),
        f"- Other work on the machine used {others:.2f} cores on average while the client "
        f"rows (sections 1 to 4) ran ({os.cpu_count()} cores in all)",
    ]
    text = report.render(header)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(text)
    log(f"wrote {args.output} in {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
