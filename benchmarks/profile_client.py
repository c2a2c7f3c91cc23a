"""Where a client spends its time: one firehose stream (or a batch of round trips) under
cProfile, summarised by package and by function.

    python benchmarks/profile_client.py --case sync|async|official-sync|official-async|roundtrip|...

It starts its own ``ndjson_server.py`` and kills it afterwards. cProfile slows Python code
down a lot, so compare shares, not absolute times, with ``run.py``'s figures.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import time
from collections import defaultdict
from typing import Any

from _common import ndjson_server, use_repo_source

use_repo_source()

MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]
PACKAGES = (
    ("ollamakit/", "ollamakit"),
    ("/httpx/", "httpx"),
    ("/httpcore/", "httpcore"),
    ("/h11/", "h11"),
    ("/urllib3/", "urllib3"),
    ("/aiohttp/", "aiohttp"),
    ("/ollama/", "ollama (official)"),
    ("/pydantic", "pydantic"),
    ("/http/client.py", "http.client"),
    ("/asyncio/", "asyncio"),
    ("/json/", "json (stdlib)"),
    ("/email/", "email (header parsing)"),
)


def package_of(filename: str, function: str) -> str:
    for marker, name in PACKAGES:
        if marker in filename:
            return name
    if filename == "~":
        if "msgspec" in function:
            return "msgspec (C)"
        if "socket" in function or "recv" in function or "send" in function:
            return "socket I/O (C)"
        return "builtins (C)"
    return "other"


def summarise(profile: cProfile.Profile, top: int, cumulative: bool) -> str:
    stats = pstats.Stats(profile)
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in table.values())
    by_package: dict[str, float] = defaultdict(float)
    rows = []
    for (filename, line, function), (_, calls, tottime, cumtime, _) in table.items():
        by_package[package_of(filename, function)] += tottime
        shown = cumtime if cumulative else tottime
        rows.append((shown, calls, f"{_short(filename)}:{line}({function})"))
    out = [f"total profiled time {total * 1000:.1f} ms", "", "by package (own time):"]
    for name, seconds in sorted(by_package.items(), key=lambda item: -item[1]):
        out.append(f"  {seconds / total:6.1%}  {name}")
    kind = "time including callees" if cumulative else "own time"
    out += ["", f"top {top} functions by {kind}:"]
    for seconds, calls, where in sorted(rows, reverse=True)[:top]:
        out.append(f"  {seconds / total:6.1%}  {calls:>7}  {where}")
    return "\n".join(out)


def _short(filename: str) -> str:
    for marker in ("site-packages/", "src/", "lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1].lstrip("/")
    return filename


def run_case(case: str, port: int, requests: int) -> cProfile.Profile:
    import ollama

    import ollamakit

    host = f"http://127.0.0.1:{port}"
    profile = cProfile.Profile()
    if case in ("sync", "official-sync", "roundtrip", "official-roundtrip"):
        official = case.startswith("official")
        client: Any = ollama.Client(host) if official else ollamakit.Client(host)

        def once() -> int:
            if case.endswith("roundtrip"):
                for _ in range(requests):
                    client.chat(model="llama3.2", messages=MESSAGES, stream=False)
                return requests
            count = 0
            for chunk in client.chat(model="bench-20000", messages=MESSAGES, stream=True):
                count += len(chunk.message.content) >= 0
            return count

        once()
        profile.enable()
        once()
        profile.disable()
        return profile

    client = ollamakit.AsyncClient(host) if case == "async" else ollama.AsyncClient(host)

    async def stream_once() -> int:
        count = 0
        async for chunk in await client.chat(model="bench-20000", messages=MESSAGES, stream=True):
            count += len(chunk.message.content) >= 0
        return count

    async def main() -> None:
        await stream_once()
        profile.enable()
        await stream_once()
        profile.disable()

    asyncio.run(main())
    return profile


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--case",
        choices=(
            "sync",
            "async",
            "official-sync",
            "official-async",
            "roundtrip",
            "official-roundtrip",
        ),
        required=True,
    )
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument(
        "--cumulative", action="store_true", help="rank functions by time including callees"
    )
    args = parser.parse_args()
    with ndjson_server(max_seconds=120) as port:
        started = time.perf_counter()
        profile = run_case(args.case, port, args.requests)
        print(f"case {args.case} ({time.perf_counter() - started:.1f} s with warm-up)")
    print(summarise(profile, args.top, args.cumulative))
    return 0


if __name__ == "__main__":
    sys.exit(main())
