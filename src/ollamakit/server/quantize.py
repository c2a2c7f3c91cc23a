"""Quantizing a model layer during create, as Ollama does (``quantize`` in ``/api/create``).

Ollama accepts the levels of its ``ParseFileType`` (upper-cased): ``Q4_K_M`` (alias
``Q4_K``), ``Q4_K_S``, ``Q8_0``, ``F16``, ``F32`` and ``BF16``; anything else fails with
``unsupported quantization type X - supported types are F32, F16, Q4_K_S, Q4_K_M, Q8_0``.
Only F16, BF16 and F32 sources can be quantized (``quantization is only supported for F16,
BF16 and F32 models``); a source already at the requested level is kept as it is.

The work is llama.cpp's own quantizer (``llama_model_quantize``, what ``llama-quantize``
runs), in a child process (:mod:`.quantize_worker`): the server's event loop never waits on
it, a client that goes away stops it at once, and a damaged file that makes llama.cpp abort
fails the request instead of the server. Progress is Ollama's: ``quantizing F16 model to
Q4_K_M`` with ``digest`` ``0000000000000000000``, ``total`` the source size and
``completed`` advancing per tensor, then ``verifying conversion``. The result is written
under the store's temporary directory, checked to be a GGUF of the requested type, then
renamed into ``blobs/``: an interrupted quantization leaves nothing in the store.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .gguf import GGUFError, read_gguf
from .store import Layer, Pins, Store

__all__ = [
    "QuantizeError",
    "QuantizeCancelledError",
    "check_source",
    "parse_level",
    "quantize_layer",
]

Report = Callable[[dict[str, Any]], None]

# Ollama's level names -> llama.cpp's llama_ftype.
_LEVELS = {
    "F32": 0,
    "F16": 1,
    "Q8_0": 7,
    "Q4_K_S": 14,
    "Q4_K_M": 15,
    "Q4_K": 15,
    "BF16": 32,
}
_CANONICAL = {"Q4_K": "Q4_K_M"}
_SUPPORTED = "F32, F16, Q4_K_S, Q4_K_M, Q8_0"
_SOURCES = ("F16", "BF16", "F32")
_PROGRESS_DIGEST = "0000000000000000000"
_POLL_SECONDS = 0.1


class QuantizeError(Exception):
    """Quantization cannot be done or failed; ``str()`` is the message for the client."""


class QuantizeCancelledError(QuantizeError):
    """The client went away; the child process was stopped."""


def parse_level(text: str) -> str:
    """The canonical level name for a request's ``quantize`` (case-insensitive)."""
    level = text.upper()
    if level not in _LEVELS:
        raise QuantizeError(
            f"unsupported quantization type {level} - supported types are {_SUPPORTED}"
        )
    return _CANONICAL.get(level, level)


def check_source(file_type: str) -> None:
    """Refuse a source that is already quantized, with Ollama's message."""
    if file_type not in _SOURCES:
        raise QuantizeError("quantization is only supported for F16, BF16 and F32 models")


def quantize_layer(
    store: Store,
    layer: Layer,
    source_type: str,
    level: str,
    *,
    report: Report,
    pins: Pins,
    cancel: threading.Event | None = None,
    threads: int = 1,
) -> tuple[Layer, bool]:
    """Quantize the GGUF blob of ``layer`` to ``level``; returns the new layer (pinned) and
    whether its blob is new to the store."""
    status = f"quantizing {source_type} model to {level}"
    source_size = layer.size

    def progress(done: int, total: int) -> None:
        # Ollama's measure: the source's size, completed in proportion to tensors done.
        completed = source_size * done // total if total else 0
        item: dict[str, Any] = {
            "status": status,
            "digest": _PROGRESS_DIGEST,
            "total": source_size,
        }
        if completed:
            item["completed"] = completed
        report(item)

    # Created and locked here, so no starting server takes the worker's output for debris.
    output, hold = store.open_temp("quantize")
    try:
        _run_worker(store, layer, output, _LEVELS[level], threads, progress, cancel)
        report({"status": "verifying conversion"})
        try:
            result = read_gguf(output, max_array=0, tensors=False).file_type
        except GGUFError as exc:
            raise QuantizeError(f"quantized model is not a valid GGUF: {exc}") from None
        if result != level:
            raise QuantizeError(f"quantization produced {result} instead of {level}")
        size = output.stat().st_size
        digest, new = store.adopt_blob(output, pins)
    finally:
        output.unlink(missing_ok=True)
        hold.close()
    return Layer(layer.media_type, digest, size), new


def _run_worker(
    store: Store,
    layer: Layer,
    output: Path,
    ftype: int,
    threads: int,
    progress: Callable[[int, int], None],
    cancel: threading.Event | None,
) -> None:
    command = [
        sys.executable,
        "-m",
        "ollamakit.server.quantize_worker",
        str(store.blob_path(layer.digest)),
        str(output),
        str(ftype),
        str(max(1, threads)),
    ]
    # The child imports this package from wherever the server did, installed or not.
    package_root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(item for item in (package_root, os.environ.get("PYTHONPATH")) if item)
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": path},
    )
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(_POLL_SECONDS):
            if cancel is not None and cancel.is_set():
                process.kill()
                return

    watcher = threading.Thread(target=watch, name="ollamakit-quantize-watch", daemon=True)
    watcher.start()
    errors: list[str] = []  # llama.cpp's error log lines
    other: collections.deque[str] = collections.deque(maxlen=1)  # e.g. GGML_ASSERT on a crash
    try:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.decode(errors="replace").strip()
            kind, _, rest = line.partition(" ")
            if kind == "progress":
                done, _, total = rest.partition(" ")
                if done.isdigit() and total.isdigit():
                    progress(int(done), int(total))
            elif kind == "error":
                errors.append(rest)
            elif line:
                other.append(line)
        code = process.wait()
    finally:
        stop.set()
        watcher.join()
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdin is not None:
            process.stdin.close()
        if process.stdout is not None:
            process.stdout.close()
    if cancel is not None and cancel.is_set():
        raise QuantizeCancelledError("quantization cancelled")
    if code != 0:
        # The first error names the cause; later ones only say that quantization failed.
        detail = errors[0] if errors else other[0] if other else f"exit status {code}"
        raise QuantizeError(f"llama-quantize failed: {detail}")
