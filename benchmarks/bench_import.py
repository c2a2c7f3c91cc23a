"""Import time of ``ollamakit`` and ``ollama``, each in a fresh interpreter, interleaved.

``python bench_import.py [--runs N]`` prints one JSON document. Each run starts a new
``python`` that times its own ``import`` with ``perf_counter`` (interpreter start-up is the
same for both and is left out); the bytecode caches are warmed first.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from _common import child_env, emit, rotated

MODULES = ("ollamakit", "ollama")
PROBE = (
    "import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
)


def import_ms(module: str) -> float:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=60,
        check=True,
    )
    return float(completed.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    for module in MODULES:  # warm the bytecode caches
        import_ms(module)
    samples: dict[str, list[float]] = {module: [] for module in MODULES}
    for run in range(args.runs):
        for module in rotated(MODULES, run):
            samples[module].append(import_ms(module))
    emit({"runs": args.runs, "ms": samples})
    return 0


if __name__ == "__main__":
    sys.exit(main())
