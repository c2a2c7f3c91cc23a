"""Memory of a loaded model per server setting: what ``/api/ps`` reports and what the server
process really holds.

``python bench_memory.py [--num-ctx 4096]`` prints one JSON document (and a Markdown table on
stderr). For each combination of ``OLLAMA_NUM_PARALLEL``, ``OLLAMA_KV_CACHE_TYPE`` and
``OLLAMA_FLASH_ATTENTION``, it starts ``python -m ollamakit.server`` with those variables,
installs gemma3:270m, answers one short prompt, and records ``/api/ps``'s ``size`` (the buffers
llama.cpp allocated: weights, KV cache of every slot, compute and output buffers) next to the
growth of the server's resident memory (VmRSS after the request minus before loading).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from _common import (
    emit,
    start_ollamakit,
    stop,
    stop_children_on_sigterm,
    use_repo_source,
    wait_ready,
)

use_repo_source()

MODEL = "gemma3:270m"
SETTINGS = [
    {"OLLAMA_NUM_PARALLEL": "1", "OLLAMA_KV_CACHE_TYPE": "f16"},
    {"OLLAMA_NUM_PARALLEL": "4", "OLLAMA_KV_CACHE_TYPE": "f16"},
    {"OLLAMA_NUM_PARALLEL": "4", "OLLAMA_KV_CACHE_TYPE": "q8_0"},
    {"OLLAMA_NUM_PARALLEL": "4", "OLLAMA_KV_CACHE_TYPE": "q4_0"},
    {"OLLAMA_NUM_PARALLEL": "4", "OLLAMA_KV_CACHE_TYPE": "f16", "OLLAMA_FLASH_ATTENTION": "0"},
    {"OLLAMA_NUM_PARALLEL": "4", "OLLAMA_KV_CACHE_TYPE": "q8_0", "OLLAMA_FLASH_ATTENTION": "0"},
]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def measure_one(settings: dict[str, str], workdir: Path, num_ctx: int) -> dict[str, Any]:
    process, url, log_path = start_ollamakit(
        workdir, {"OLLAMA_NUM_PARALLEL": "1", "OLLAMAKIT_NUM_THREADS": "1", **settings}
    )
    try:
        wait_ready(process, url, "/api/version", log_path)
        pulled = httpx.post(url + "/api/pull", json={"model": MODEL, "stream": False}, timeout=300)
        pulled.raise_for_status()
        before = rss_bytes(process.pid)
        body = {
            "model": MODEL,
            "prompt": "Hi",
            "stream": False,
            "options": {"num_predict": 4, "num_ctx": num_ctx, "temperature": 0},
        }
        httpx.post(url + "/api/generate", json=body, timeout=300).raise_for_status()
        [entry] = httpx.get(url + "/api/ps", timeout=10).json()["models"]
        after = rss_bytes(process.pid)
        return {
            "settings": settings,
            "ps_size": entry["size"],
            "context_length": entry["context_length"],
            "rss_growth": after - before,
        }
    finally:
        stop(process)


def main() -> int:
    stop_children_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-ctx", type=int, default=4096)
    args = parser.parse_args()
    rows = []
    for settings in SETTINGS:
        workdir = Path(tempfile.mkdtemp(prefix="ollamakit-bench-memory-"))
        try:
            rows.append(measure_one(settings, workdir, args.num_ctx))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        row = rows[-1]
        log(
            f"  {settings}: ps size {row['ps_size'] / 2**20:.0f} MiB, "
            f"RSS growth {row['rss_growth'] / 2**20:.0f} MiB"
        )
    log("| NUM_PARALLEL | KV_CACHE_TYPE | FLASH_ATTENTION | ps size MiB | RSS growth MiB |")
    log("|---:|---|---|---:|---:|")
    for row in rows:
        settings = row["settings"]
        log(
            f"| {settings['OLLAMA_NUM_PARALLEL']} | {settings['OLLAMA_KV_CACHE_TYPE']} | "
            f"{settings.get('OLLAMA_FLASH_ATTENTION', 'auto')} | {row['ps_size'] / 2**20:.0f} | "
            f"{row['rss_growth'] / 2**20:.0f} |"
        )
    emit({"num_ctx": args.num_ctx, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
