"""The sync fast path against httpx's send chain: a small non-streaming round trip, interleaved.

``python bench_fast_path.py [--rounds R] [--requests N]`` prints one JSON document and a
summary on stderr: client CPU time per request. A request to a loopback server normally
skips httpx's send chain (auth flow, cookie jar, redirect loop) and goes straight to the
urllib3 transport; the second contender is the same client with that path turned off. It is
what keeps ollamakit's one use of a private httpx function (``_build_redirect_request``, see
docs/design.md).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

from _common import emit, ndjson_server, rotated, use_repo_source

use_repo_source()

import ollamakit  # noqa: E402

MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]


def per_request_us(client: Any, requests: int) -> float:
    """Client CPU time per request: the server runs in another process, and CPU time is what
    other work on a shared machine disturbs least (wall time is in bench_stream.py)."""
    started = time.process_time()
    for _ in range(requests):
        client.chat("llama3.2", MESSAGES)
    return (time.process_time() - started) / requests * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    with ndjson_server(max_seconds=600) as port:
        fast = ollamakit.Client(f"http://127.0.0.1:{port}")
        chain = ollamakit.Client(f"http://127.0.0.1:{port}")
        chain._http._direct = False  # what SyncHTTP does when httpx lacks the private function
        assert fast._http._direct
        contenders = {"fast path": fast, "httpx send chain": chain}
        for client in contenders.values():
            per_request_us(client, 50)  # warm up the connection and the caches
        samples: dict[str, list[float]] = {name: [] for name in contenders}
        for round_index in range(args.rounds):
            for name in rotated(list(contenders), round_index):
                samples[name].append(per_request_us(contenders[name], args.requests))
        for client in contenders.values():
            client.close()
    ratios = [c / f for c, f in zip(samples["httpx send chain"], samples["fast path"])]
    for name, values in samples.items():
        print(
            f"{name}: median {statistics.median(values):.1f} µs of CPU per request", file=sys.stderr
        )
    print(f"send chain / fast path: {statistics.median(ratios):.3f}", file=sys.stderr)
    emit({"cpu_us_per_request": samples, "chain_over_fast": statistics.median(ratios)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
