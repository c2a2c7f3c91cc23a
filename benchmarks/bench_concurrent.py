"""Many concurrent async streams in one process: wall time, errors and peak memory.

``python bench_concurrent.py --port P --client ollamakit|official [--streams 200]
[--records 1000]`` runs ONE contender in this (fresh) process, so that its peak RSS is its
own, and prints one JSON document. ``run.py`` alternates the contenders across processes.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from _common import current_rss_mib, emit, peak_rss_mib, use_repo_source
from ndjson_server import stream_body

use_repo_source()

MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]


async def one_stream(client: Any, model: str) -> tuple[int, int]:
    count = chars = 0
    async for chunk in await client.chat(model=model, messages=MESSAGES, stream=True):
        chars += len(chunk.message.content)
        count += 1
    return count, chars


async def run(client_name: str, port: int, streams: int, records: int) -> dict[str, Any]:
    host = f"http://127.0.0.1:{port}"
    if client_name == "ollamakit":
        import ollamakit

        client: Any = ollamakit.AsyncClient(host)
    else:
        import ollama

        client = ollama.AsyncClient(host=host)
    expected = stream_body(records)
    model = f"bench-{records}"
    try:
        await one_stream(client, model)  # warm-up: imports done, first connection made
        rss_before = current_rss_mib()
        started = time.perf_counter()
        results = await asyncio.wait_for(
            asyncio.gather(
                *(one_stream(client, model) for _ in range(streams)), return_exceptions=True
            ),
            timeout=300,
        )
        elapsed = time.perf_counter() - started
    finally:
        if client_name == "ollamakit":
            await client.close()
        else:
            await client._client.aclose()
    errors = [repr(item) for item in results if isinstance(item, BaseException)]
    wrong = [
        item
        for item in results
        if not isinstance(item, BaseException)
        and item != (expected.records, expected.content_chars)
    ]
    return {
        "client": client_name,
        "streams": streams,
        "records": records,
        "seconds": elapsed,
        "errors": len(errors) + len(wrong),
        "error_samples": (errors + [repr(item) for item in wrong])[:3],
        "rss_before_mib": rss_before,
        "peak_rss_mib": peak_rss_mib(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client", choices=("ollamakit", "official"), required=True)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--records", type=int, default=1_000)
    args = parser.parse_args()
    emit(asyncio.run(run(args.client, args.port, args.streams, args.records)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
