"""Store safety: a damaged manifest never breaks the others and can be deleted; the store never
follows a link out of itself when writing or deleting; temporary files of a dead process go
whatever became of its PID; abandoned downloads do not stay forever."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ollamakit.names import ModelName
from ollamakit.server.create import check_create_request, create_model
from ollamakit.server.show import list_models
from ollamakit.server.store import (
    MEDIA_MODEL,
    PARTIAL_MAX_AGE_SECONDS,
    DamagedModelError,
    Layer,
    Manifest,
    Store,
)

HOST = "registry.ollama.ai"


def _model(store: Store, name: str, weights: bytes = b"weights") -> Manifest:
    digest = store.write_blob(weights)
    config, _ = store.config_layer({"model_format": "gguf"})
    manifest = Manifest(config=config, layers=[Layer(MEDIA_MODEL, digest, len(weights))])
    return store.write_manifest(ModelName.parse(name), manifest)


def _names(store: Store) -> list[str]:
    return sorted(entry.name.display_shortest() for entry in store.entries())


def _manifest_file(store: Store, model: str) -> Path:
    return store.manifests_dir / HOST / "library" / model / "latest"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "models")


# -- damaged manifests --------------------------------------------------------------------


def _damage(store: Store, model: str, raw: bytes) -> Path:
    path = _manifest_file(store, model)
    path.parent.mkdir(parents=True)
    path.write_bytes(raw)
    return path


DAMAGES = {
    "md5-digest": json.dumps(
        {
            "schemaVersion": 2,
            "config": {"mediaType": "c", "digest": "md5:0123", "size": 1},
            "layers": [{"mediaType": MEDIA_MODEL, "digest": "md5:abcd", "size": 1}],
        }
    ).encode(),
    "truncated": b'{"schemaVersion":2,"config":{"mediaType":"c","dig',
    "not-a-manifest": b"[1, 2, 3]",
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_manifest_is_skipped_reported_and_deletable(
    store: Store, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    _model(store, "good")
    path = _damage(store, "bad", DAMAGES[damage])
    assert _names(store) == ["good:latest"]
    assert [item["name"] for item in list_models(store)] == ["good:latest"]
    assert "skipping unreadable manifest" in caplog.text
    bad = ModelName.parse("bad")
    with pytest.raises(DamagedModelError, match="'bad:latest' has a damaged manifest") as info:
        store.load(bad)
    assert info.value.status == 500
    assert info.value.message.endswith("delete it, then pull or create it again")
    with pytest.raises(DamagedModelError):
        store.copy(bad, ModelName.parse("spread"))
    assert not _manifest_file(store, "spread").exists()
    assert store.delete(bad)
    assert not path.exists() and not path.parent.exists()
    assert store.load(bad) is None and not store.delete(bad)
    assert store.load(ModelName.parse("good")) is not None


def test_a_damaged_manifest_is_replaced_by_a_create(store: Store) -> None:
    _model(store, "base")
    path = _damage(store, "again", DAMAGES["truncated"])
    body = {"model": "again", "from": "base", "system": "fixed"}
    create_model(store, check_create_request(body), lambda item: None)
    again = store.load(ModelName.parse("again"))
    assert again is not None and again.system == "fixed"
    assert path.read_bytes() == again.manifest.raw


def test_a_missing_blob_is_named(store: Store) -> None:
    manifest = _model(store, "partial")
    store.blob_path(manifest.layers[0].digest).unlink()
    name = ModelName.parse("partial")
    assert store.load(name) is not None  # enough to show or delete it
    with pytest.raises(DamagedModelError, match=r"is incomplete: blob sha256:\w+ \(application/"):
        store.load(name, complete=True)
    assert store.delete(name)


# -- links out of the store ---------------------------------------------------------------


def test_a_linked_temp_directory_is_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    victims = [outside / "notes.txt", outside / "blob-1-0123456789abcdef.tmp"]
    for victim in victims:
        victim.write_text("keep me")
    models = tmp_path / "models"
    models.mkdir()
    (models / ".ollamakit-tmp").symlink_to(outside)
    (models / ".ollamakit-partial").symlink_to(outside)
    store = Store(models)
    assert all(victim.read_text() == "keep me" for victim in victims)
    for directory in (store.tmp_dir, store.partial_dir):
        assert directory.is_dir() and not directory.is_symlink()
    _model(store, "m")
    assert sorted(path.name for path in outside.iterdir()) == sorted(v.name for v in victims)


def test_a_linked_namespace_is_not_part_of_the_store(store: Store, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "m").mkdir(parents=True)
    elsewhere = outside / "m" / "latest"
    _model(store, "real")
    elsewhere.write_bytes(_manifest_file(store, "real").read_bytes())
    namespace = store.manifests_dir / HOST / "evil"
    namespace.symlink_to(outside)
    assert _names(store) == ["real:latest"]
    evil = ModelName.parse("evil/m")
    assert store.load(evil) is None
    assert not store.delete(evil)
    assert elsewhere.exists()
    # Nothing is written through the link either.
    with pytest.raises(DamagedModelError, match="not a directory of the store"):
        _model(store, "evil/other")
    assert sorted(path.name for path in outside.iterdir()) == ["m"]
    with pytest.raises(DamagedModelError):
        store.copy(ModelName.parse("real"), ModelName.parse("evil/copy"))
    assert not (outside / "copy").exists()


def test_a_linked_manifest_file_is_ignored(store: Store, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("not a manifest")
    link = _manifest_file(store, "link")
    link.parent.mkdir(parents=True)
    link.symlink_to(secret)
    assert _names(store) == [] and store.load(ModelName.parse("link")) is None
    assert not store.delete(ModelName.parse("link"))
    assert secret.read_text() == "not a manifest"


# -- temporary files and partial downloads ------------------------------------------------


def _writer_script(models: Path, ready: str) -> str:
    return (
        "import sys, time\n"
        "from ollamakit.server.store import Store\n"
        f"path, handle = Store({str(models)!r}).open_temp('blob')\n"
        "handle.write(b'half'); handle.flush()\n"
        f"print(path, flush=True)\n"
        f"open({ready!r}, 'w').close()\n"
        "time.sleep(float(sys.argv[1]))\n"
    )


def _start_writer(
    models: Path, tmp_path: Path, seconds: float
) -> tuple[subprocess.Popen[str], Path]:
    ready = tmp_path / f"ready-{seconds}"
    process = subprocess.Popen(
        [sys.executable, "-c", _writer_script(models, str(ready)), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    with process.stdout:
        path = Path(process.stdout.readline().strip())
    deadline = time.monotonic() + 30
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return process, path


def test_temp_files_of_a_live_writer_stay(tmp_path: Path) -> None:
    models = tmp_path / "models"
    Store(models)
    process, path = _start_writer(models, tmp_path, 60)
    try:
        Store(models)
        assert path.exists()
    finally:
        process.kill()
        process.wait()
    Store(models)
    assert not path.exists()


def test_temp_files_of_a_zombie_go(tmp_path: Path) -> None:
    """The writer exits but is never reaped: its PID still answers ``kill(pid, 0)``."""
    models = tmp_path / "models"
    Store(models)
    process, path = _start_writer(models, tmp_path, 0)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with open(f"/proc/{process.pid}/stat") as stat:
            if stat.read().split()[2] == "Z":
                break
        time.sleep(0.02)
    os.kill(process.pid, 0)  # the PID lingers
    Store(models)
    assert not path.exists()
    process.wait()


def test_temp_files_under_a_reused_pid_go(tmp_path: Path) -> None:
    """A temp file named after a live process that is not its writer (a reused PID)."""
    store = Store(tmp_path / "models")
    reused = store.tmp_dir / f"blob-{os.getppid()}-0123456789abcdef.tmp"
    reused.write_bytes(b"left by a process whose PID was reused")
    unrelated = store.tmp_dir / "notes.txt"
    unrelated.write_text("not ours")
    Store(tmp_path / "models")
    assert not reused.exists()
    assert unrelated.exists()  # only our own names are touched


def test_abandoned_partial_downloads_go(store: Store) -> None:
    old = store.partial_dir / ("sha256-" + "a" * 64 + "-partial")
    fresh = store.partial_dir / ("sha256-" + "b" * 64 + "-partial")
    for path in (old, fresh, old.with_name(old.name + "-0")):
        path.write_bytes(b"part")
    stale = time.time() - PARTIAL_MAX_AGE_SECONDS - 60
    for path in (old, old.with_name(old.name + "-0")):
        os.utime(path, (stale, stale))
    Store(store.root)
    assert sorted(path.name for path in store.partial_dir.iterdir()) == [fresh.name]
