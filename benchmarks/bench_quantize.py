"""Quantize on create: the server's path vs llama.cpp's quantizer called directly, interleaved.

``python benchmarks/bench_quantize.py [--runs N] [--layers 2,24] [--level Q4_K_M]`` prints one
JSON document. The input is the tests' tiny llama-architecture model with random F16 weights
(``tests/server/tiny_gguf.py``), at each layer count. Contenders, one thread each:

* ``server``: ``ollamakit.server.quantize.quantize_layer``, what ``/api/create`` runs: a child
  process (start-up and ``import llama_cpp`` included), progress parsing, the result checked,
  hashed and renamed into a store;
* ``direct``: ``llama_cpp.llama_model_quantize`` in this process, already imported: the floor.

The difference is the price of a quantization that can be cancelled at once and cannot take
the server down; it is fixed (about the child's start-up), so it fades on real models.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import REPO, emit, rotated, use_repo_source

use_repo_source()
sys.path.insert(0, str(REPO / "tests" / "server"))

LEVELS = {"Q4_K_M": 15, "Q4_K_S": 14, "Q8_0": 7}


def via_server(store: Any, layer: Any, level: str) -> int:
    """What ``/api/create`` runs; returns the result's size (the blob is removed again)."""
    from ollamakit.server.quantize import quantize_layer

    with store.pinned() as pins:
        new, _ = quantize_layer(store, layer, "F16", level, report=lambda _: None, pins=pins)
    store.blob_path(new.digest).unlink()
    return int(new.size)


def direct(source: Path, target: Path, level: str) -> int:
    """``llama_model_quantize`` in this process, one thread; returns the result's size."""
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.nthread = 1
    params.ftype = LEVELS[level]
    status = llama_cpp.llama_model_quantize(
        str(source).encode(), str(target).encode(), ctypes.byref(params)
    )
    if status != 0:
        raise RuntimeError(f"llama_model_quantize failed ({status})")
    size = target.stat().st_size
    target.unlink()
    return size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--layers", default="2,24")
    parser.add_argument("--level", default="Q4_K_M", choices=sorted(LEVELS))
    args = parser.parse_args()

    import llama_cpp
    from tiny_gguf import write_tiny_llama

    from ollamakit.server.store import MEDIA_MODEL, Layer, Store

    # llama.cpp logs every tensor; the direct contender must not pay for printing them. The
    # callback object must outlive every call into llama.cpp (ctypes does not keep it alive).
    silent = llama_cpp.llama_log_callback(lambda *_: None)
    llama_cpp.llama_log_set(silent, ctypes.c_void_p(0))
    results = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        store = Store(root / "models")
        for layers in (int(item) for item in args.layers.split(",")):
            source = write_tiny_llama(root / f"tiny-{layers}.gguf", layers=layers)
            layer = Layer(MEDIA_MODEL, store.write_blob(source.read_bytes()), source.stat().st_size)
            contenders: dict[str, Callable[[], int]] = {
                "server": functools.partial(via_server, store, layer, args.level),
                "direct": functools.partial(direct, source, root / "direct.gguf", args.level),
            }
            times: dict[str, list[float]] = {name: [] for name in contenders}
            sizes: dict[str, int] = {}
            for round_index in range(args.runs):
                for name in rotated(list(contenders), round_index):
                    started = time.perf_counter()
                    sizes[name] = contenders[name]()
                    times[name].append(time.perf_counter() - started)
            if sizes["server"] != sizes["direct"]:
                raise RuntimeError(f"sizes differ: {sizes}")
            results.append(
                {
                    "layers": layers,
                    "level": args.level,
                    "source_bytes": layer.size,
                    "result_bytes": sizes["server"],
                    "server_s": statistics.median(times["server"]),
                    "direct_s": statistics.median(times["direct"]),
                }
            )
    emit({"quantize": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
