"""Quantize on create: a tiny F16 llama model with random weights goes through llama.cpp's
quantizer on a real server, and the result is checked tensor by tensor, in the manifest, and
by generating with it."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_support import ServerProcess
from tiny_gguf import write_tiny_llama

from ollamakit import Client
from ollamakit.server.gguf import read_gguf
from ollamakit.server.quantize import (
    QuantizeCancelledError,
    QuantizeError,
    parse_level,
    quantize_layer,
)
from ollamakit.server.store import MEDIA_MODEL, Layer, Store

pytestmark = pytest.mark.server

SUPPORTED = "supported types are F32, F16, Q4_K_S, Q4_K_M, Q8_0"


@pytest.fixture(scope="module")
def server(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    return start_server(env={"OLLAMAKIT_NUM_THREADS": "1"})


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny-f16.gguf")


@pytest.fixture(scope="module")
def digest(server: ServerProcess, tiny: Path) -> str:
    with Client(host=server.url) as client:
        return client.create_blob(tiny)


def create(server: ServerProcess, body: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    with httpx.stream("POST", server.url + "/api/create", json=body, timeout=120) as response:
        lines = [json.loads(line) for line in response.iter_lines() if line]
        return response.status_code, lines


def manifest_of(server: ServerProcess, name: str) -> dict[str, Any]:
    path = server.models / "manifests" / "registry.ollama.ai" / "library" / name / "latest"
    data: dict[str, Any] = json.loads(path.read_bytes())
    return data


def model_layer(manifest: dict[str, Any]) -> dict[str, Any]:
    layers = [layer for layer in manifest["layers"] if layer["mediaType"] == MEDIA_MODEL]
    assert len(layers) == 1
    return layers[0]


def blob(server: ServerProcess, digest: str) -> Path:
    return server.models / "blobs" / digest.replace(":", "-")


def test_quantize_from_files(server: ServerProcess, tiny: Path, digest: str) -> None:
    status, items = create(
        server, {"model": "tiny-q4", "files": {"tiny.gguf": digest}, "quantize": "q4_K_M"}
    )
    assert status == 200
    statuses = [item["status"] for item in items]
    assert statuses[0] == "parsing GGUF"
    progress = [item for item in items if item["status"] == "quantizing F16 model to Q4_K_M"]
    assert progress, statuses
    size = tiny.stat().st_size
    assert all(item["digest"] == "0000000000000000000" for item in progress)
    assert all(item["total"] == size for item in progress)
    completed = [item.get("completed", 0) for item in progress]
    assert completed == sorted(completed)
    assert completed[-1] == size
    after = statuses[statuses.index("verifying conversion") :]
    manifest = manifest_of(server, "tiny-q4")
    layer = model_layer(manifest)
    assert after[1] == f"creating new layer {layer['digest']}"
    assert after[-2:] == ["writing manifest", "success"]

    # The manifest names the new blob by its content and size; the source is untouched.
    path = blob(server, layer["digest"])
    data = path.read_bytes()
    assert layer["digest"] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert layer["size"] == len(data) < size // 3
    assert "from" not in layer
    assert blob(server, digest).stat().st_size == size

    info = read_gguf(path)
    assert info.file_type == "Q4_K_M"
    types = {tensor.name: tensor.type for tensor in info.tensors}
    assert types["blk.0.attn_q.weight"] == "Q4_K"
    assert types["output.weight"] == "Q6_K"  # Q4_K_M keeps the output layer at 6 bits
    assert {types[name] for name in types if name.endswith("norm.weight")} == {"F32"}
    assert set(types.values()) == {"Q4_K", "Q6_K", "F32"}
    assert list((server.models / ".ollamakit-tmp").iterdir()) == []

    with Client(host=server.url) as client:
        shown = client.show("tiny-q4")
        assert shown.details.quantization_level == "Q4_K_M"
        assert shown.details.family == "llama"
        reply = client.generate(
            "tiny-q4",
            "hello",
            raw=True,
            options={"num_predict": 4, "temperature": 0, "seed": 1},
            keep_alive=0,
        )
    assert reply.eval_count and reply.eval_count > 0


def test_quantize_from_model(server: ServerProcess, digest: str) -> None:
    status, items = create(server, {"model": "tiny-f16", "files": {"tiny.gguf": digest}})
    assert status == 200 and items[-1] == {"status": "success"}
    # The deprecated field name and a lower-case level, as the CLI's -q sends it.
    status, items = create(
        server, {"model": "tiny-q8", "from": "tiny-f16", "quantization": "q8_0", "stream": False}
    )
    assert status == 200 and items == [{"status": "success"}]
    layer = model_layer(manifest_of(server, "tiny-q8"))
    assert layer["digest"] != digest and "from" not in layer
    info = read_gguf(blob(server, layer["digest"]))
    assert info.file_type == "Q8_0"
    assert {tensor.type for tensor in info.tensors} == {"Q8_0", "F32"}
    with Client(host=server.url) as client:
        assert client.show("tiny-q8").details.quantization_level == "Q8_0"
        # Asking for the level the source has keeps its blob.
        client.create("tiny-same", from_="tiny-f16", quantize="f16")
    assert model_layer(manifest_of(server, "tiny-same"))["digest"] == digest


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"quantize": "q3_k_m"}, f"unsupported quantization type Q3_K_M - {SUPPORTED}"),
        ({"quantize": "q4_0"}, f"unsupported quantization type Q4_0 - {SUPPORTED}"),
        (
            {"from": "tiny-q4", "quantize": "q8_0"},
            "quantization is only supported for F16, BF16 and F32 models",
        ),
    ],
)
def test_quantize_errors(
    server: ServerProcess, digest: str, body: dict[str, Any], message: str
) -> None:
    if "from" in body:
        create(server, {"model": "tiny-q4", "files": {"tiny.gguf": digest}, "quantize": "q4_K_M"})
    else:
        body = {**body, "files": {"tiny.gguf": digest}}
    status, items = create(server, {"model": "broken", **body})
    # An error before any progress is a plain error with its status; after "parsing GGUF"
    # it ends the stream (Ollama's streamResponse).
    assert (status, items[-1]) == (500 if "from" in body else 200, {"error": message})
    response = httpx.post(
        server.url + "/api/create", json={"model": "broken", **body, "stream": False}, timeout=60
    )
    assert response.status_code == 500
    assert response.json() == {"error": message}
    assert not (server.models / "manifests" / "registry.ollama.ai" / "library" / "broken").exists()


def test_damaged_source_fails_the_request_not_the_server(server: ServerProcess, tiny: Path) -> None:
    data = tiny.read_bytes()
    with Client(host=server.url) as client:
        digest = client.create_blob(data[: len(data) - 100_000])  # the header is intact
    status, items = create(
        server, {"model": "damaged", "files": {"tiny.gguf": digest}, "quantize": "q4_K_M"}
    )
    assert status == 200
    error = items[-1]["error"]
    assert error.startswith("llama-quantize failed: ")
    assert "not within the file bounds" in error
    assert httpx.get(server.url + "/api/version").status_code == 200
    assert list((server.models / ".ollamakit-tmp").iterdir()) == []
    assert not (server.models / "manifests" / "registry.ollama.ai" / "library" / "damaged").exists()


def test_disconnect_stops_the_quantizer(server: ServerProcess, tmp_path: Path) -> None:
    big = write_tiny_llama(tmp_path / "big.gguf", layers=24)
    with Client(host=server.url) as client:
        digest = client.create_blob(big)
    blobs_before = set((server.models / "blobs").iterdir())
    body = {"model": "cut", "files": {"big.gguf": digest}, "quantize": "Q4_K_S"}
    with httpx.stream("POST", server.url + "/api/create", json=body, timeout=60) as response:
        for line in response.iter_lines():
            if line.startswith('{"status":"quantizing F16 model to Q4_K_S"'):
                break
    deadline = time.monotonic() + 10
    while _quantizers(server) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _quantizers(server) == []
    time.sleep(0.2)  # the job thread cleans up after the child is gone
    assert list((server.models / ".ollamakit-tmp").iterdir()) == []
    assert set((server.models / "blobs").iterdir()) == blobs_before
    assert not (server.models / "manifests" / "registry.ollama.ai" / "library" / "cut").exists()


def _quantizers(server: ServerProcess) -> list[int]:
    """Child processes of the server running the quantizer."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == server.process.pid and b"quantize_worker" in command:
            found.append(int(entry.name))
    return found


# -- in-process ---------------------------------------------------------------------------


@pytest.fixture
def store_with_tiny(tmp_path: Path) -> Iterator[tuple[Store, Layer]]:
    store = Store(tmp_path / "models")
    source = write_tiny_llama(tmp_path / "tiny.gguf", layers=8)
    digest = store.write_blob(source.read_bytes())
    yield store, Layer(MEDIA_MODEL, digest, source.stat().st_size)


def test_cancel_during_quantization(store_with_tiny: tuple[Store, Layer]) -> None:
    store, layer = store_with_tiny
    cancel = threading.Event()
    reports: list[dict[str, Any]] = []

    def report(item: dict[str, Any]) -> None:
        reports.append(item)
        cancel.set()

    with store.pinned() as pins, pytest.raises(QuantizeCancelledError):
        quantize_layer(store, layer, "F16", "Q8_0", report=report, pins=pins, cancel=cancel)
    assert reports
    assert list(store.tmp_dir.iterdir()) == []
    assert [path.name for path in store.blobs_dir.iterdir()] == [f"sha256-{layer.hex}"]


@pytest.mark.parametrize("level", ["F16", "BF16", "Q4_K_S"])  # Q4_K_M, Q8_0: end to end
def test_every_level_from_f32(tmp_path: Path, level: str) -> None:
    store = Store(tmp_path / "models")
    source = write_tiny_llama(tmp_path / "tiny-f32.gguf", file_type="F32")
    layer = Layer(MEDIA_MODEL, store.write_blob(source.read_bytes()), source.stat().st_size)
    with store.pinned() as pins:
        new, created = quantize_layer(store, layer, "F32", level, report=lambda _: None, pins=pins)
    assert created
    info = read_gguf(store.blob_path(new.digest))
    assert info.file_type == level
    assert new.size == store.blob_path(new.digest).stat().st_size < layer.size


def test_levels() -> None:
    assert parse_level("q4_k") == "Q4_K_M"
    assert parse_level("bf16") == "BF16"
    with pytest.raises(QuantizeError, match="unsupported quantization type IQ2_XS"):
        parse_level("iq2_xs")
