"""The model store, in Ollama's on-disk layout.

::

    <root>/manifests/<host>/<namespace>/<model>/<tag>     one JSON manifest per tag
    <root>/blobs/sha256-<64 hex>                          content-addressed layers
    <root>/.ollamakit-tmp/                                 our temporary files (same filesystem)

Every write goes to a temporary file that is fsynced and then renamed into place, so a crash
(even SIGKILL mid-upload) leaves either the old state or the new one, never a half-written blob
or manifest. Temporary files live outside ``blobs/`` so an Ollama sharing the store never sees
them; files left by a dead process are removed at startup. A blob's name is its content's
sha256, checked while it is written.

The store is safe to use from several threads: mutations of manifests (write, delete, copy)
hold one lock so pruning never races a manifest that is about to reference a blob.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from ..names import ModelName
from .gguf import GGUFError, GGUFInfo, read_gguf
from .settings import default_models_dir, prune_unused_blobs
from .wire import go_json

__all__ = [
    "MEDIA_ADAPTER",
    "MEDIA_CONFIG",
    "MEDIA_LICENSE",
    "MEDIA_MANIFEST",
    "MEDIA_MESSAGES",
    "MEDIA_MODEL",
    "MEDIA_PARAMS",
    "MEDIA_PROJECTOR",
    "MEDIA_SYSTEM",
    "MEDIA_TEMPLATE",
    "BlobWriter",
    "DigestError",
    "Layer",
    "Manifest",
    "ModelEntry",
    "NameTooLongError",
    "Pins",
    "Store",
    "StoredModel",
    "default_models_dir",
    "human_number",
    "parse_digest",
]

log = logging.getLogger("ollamakit.server")

MEDIA_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_CONFIG = "application/vnd.docker.container.image.v1+json"
MEDIA_MODEL = "application/vnd.ollama.image.model"
MEDIA_PROJECTOR = "application/vnd.ollama.image.projector"
MEDIA_ADAPTER = "application/vnd.ollama.image.adapter"
MEDIA_TEMPLATE = "application/vnd.ollama.image.template"
MEDIA_PROMPT_LEGACY = "application/vnd.ollama.image.prompt"
MEDIA_SYSTEM = "application/vnd.ollama.image.system"
MEDIA_PARAMS = "application/vnd.ollama.image.params"
MEDIA_MESSAGES = "application/vnd.ollama.image.messages"
MEDIA_LICENSE = "application/vnd.ollama.image.license"
MEDIA_EMBED_LEGACY = "application/vnd.ollama.image.embed"

_DIGEST = re.compile(r"^sha256[:-]([0-9a-fA-F]{64})$")
_BLOB_NAME = re.compile(r"^sha256-[0-9a-f]{64}$")
_TMP_DIR = ".ollamakit-tmp"
_CHUNK = 1 << 20
# Blobs younger than this survive startup pruning: a client may have uploaded them for a
# create request that has not arrived yet (Ollama uses the same grace period).
_PRUNE_GRACE_SECONDS = 3600


class DigestError(ValueError):
    """A digest that is malformed, or content that does not hash to its digest."""


class NameTooLongError(ValueError):
    """A valid model name with a part longer than a file name may be here (a host may have
    350 characters; most filesystems allow 255 bytes). No such model can exist."""


def parse_digest(text: str) -> str:
    """``sha256:<hex>`` or ``sha256-<hex>`` -> lower-case hex; :class:`DigestError` otherwise."""
    match = _DIGEST.match(text)
    if match is None:
        raise DigestError("invalid digest format")
    return match.group(1).lower()


def human_number(count: int) -> str:
    """Ollama's ``format.HumanNumber``: ``268098176`` -> ``268.10M``, ``8030261248`` -> ``8.0B``."""
    if count >= 1_000_000_000:
        value = count / 1_000_000_000
        return f"{value:.0f}B" if value.is_integer() else f"{value:.1f}B"
    if count >= 1_000_000:
        value = count / 1_000_000
        return f"{value:.0f}M" if value.is_integer() else f"{value:.2f}M"
    if count >= 1_000:
        return f"{count / 1_000:.0f}K"
    return str(count)


def _fsync_dir(path: Path) -> None:
    # Directory fsync makes the rename itself durable; some filesystems refuse it, which is
    # harmless for correctness (the rename is still atomic).
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass(frozen=True)
class Layer:
    media_type: str
    digest: str
    size: int
    source: str | None = None
    name: str | None = None

    @property
    def hex(self) -> str:
        return self.digest.split(":", 1)[-1]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.source:
            out["from"] = self.source
        if self.name:
            out["name"] = self.name
        return out

    @classmethod
    def from_json(cls, data: Any) -> Layer:
        if not isinstance(data, dict):
            raise ValueError("layer is not an object")
        digest = data.get("digest")
        media_type = data.get("mediaType")
        size = data.get("size", 0)
        if not isinstance(digest, str) or not isinstance(media_type, str):
            raise ValueError("layer lacks digest or mediaType")
        source = data.get("from")
        name = data.get("name")
        return cls(
            media_type=media_type,
            digest=digest,
            size=size if isinstance(size, int) else 0,
            source=source if isinstance(source, str) and source else None,
            name=name if isinstance(name, str) and name else None,
        )


@dataclass
class Manifest:
    config: Layer
    layers: list[Layer]
    raw: bytes = b""

    @property
    def digest(self) -> str:
        """Hex sha256 of the manifest file bytes (``digest`` in ``/api/tags``)."""
        return hashlib.sha256(self.raw).hexdigest()

    @property
    def size(self) -> int:
        return self.config.size + sum(layer.size for layer in self.layers)

    def all_layers(self) -> list[Layer]:
        return [self.config, *self.layers]

    def encode(self) -> bytes:
        return msgspec.json.encode(
            {
                "schemaVersion": 2,
                "mediaType": MEDIA_MANIFEST,
                "config": self.config.to_json(),
                "layers": [layer.to_json() for layer in self.layers],
            }
        )

    @classmethod
    def decode(cls, raw: bytes) -> Manifest:
        data = msgspec.json.decode(raw)
        if not isinstance(data, dict):
            raise ValueError("manifest is not an object")
        layers = data.get("layers") or []
        if not isinstance(layers, list):
            raise ValueError("manifest layers is not a list")
        return cls(
            config=Layer.from_json(data.get("config")),
            layers=[Layer.from_json(item) for item in layers],
            raw=raw,
        )


@dataclass
class ModelEntry:
    """One manifest found in the store."""

    name: ModelName
    manifest: Manifest
    modified_ns: int
    path: Path


@dataclass
class StoredModel:
    """Everything the server needs about a model, read from its manifest and small layers."""

    name: ModelName
    manifest: Manifest
    modified_ns: int
    config: dict[str, Any]
    model_path: Path | None = None
    model_layer: Layer | None = None
    parent_model: str = ""
    projector_paths: list[Path] = field(default_factory=list)
    adapter_paths: list[Path] = field(default_factory=list)
    template: str | None = None
    system: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    licenses: list[str] = field(default_factory=list)

    @property
    def short_name(self) -> str:
        return self.name.display_shortest()

    @property
    def digest(self) -> str:
        return self.manifest.digest

    def details(self) -> dict[str, Any]:
        families = self.config.get("model_families")
        return {
            "parent_model": self.parent_model,
            "format": self.config.get("model_format") or "",
            "family": self.config.get("model_family") or "",
            "families": families if isinstance(families, list) else None,
            "parameter_size": self.config.get("model_type") or "",
            "quantization_level": self.config.get("file_type") or "",
        }


class BlobWriter:
    """Writes one blob: bytes go to a temporary file while being hashed; :meth:`commit`
    checks the digest, fsyncs and renames into ``blobs/``. Nothing appears in ``blobs/``
    unless the content matched."""

    def __init__(self, store: Store, expected_hex: str | None) -> None:
        self._store = store
        self._expected = expected_hex
        self._hash = hashlib.sha256()
        self.size = 0
        self._committed = False
        self._path = store.temp_path("blob")
        self._file: BinaryIO | None = open(self._path, "wb")  # noqa: SIM115 - closed in commit/abort

    def write(self, chunk: bytes) -> None:
        if self._file is None:
            raise ValueError("blob writer is closed")
        self._file.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    @property
    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def commit(self) -> str:
        """Verify, fsync and publish; returns the hex digest. Raises :class:`DigestError`."""
        handle = self._file
        if handle is None:
            raise ValueError("blob writer is closed")
        actual = self._hash.hexdigest()
        if self._expected is not None and actual != self._expected:
            self.abort()
            raise DigestError(
                f'digest mismatch, expected "sha256:{self._expected}", got "sha256:{actual}"'
            )
        try:
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            handle.close()
            self._file = None
        target = self._store.blob_path(actual)
        if target.exists():
            # Same content already published (a concurrent upload won); keep the old file.
            self._discard()
        else:
            try:
                os.chmod(self._path, 0o644)
                os.replace(self._path, target)
            except BaseException:
                self._discard()
                raise
            _fsync_dir(target.parent)
        self._committed = True
        return actual

    def abort(self) -> None:
        """Throw the temporary file away; a no-op after :meth:`commit`."""
        if self._committed:
            return
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        self._discard()

    def _discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path)

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()


class Store:
    """A models directory. Creating one prepares the layout and cleans up after crashes."""

    def __init__(self, root: str | os.PathLike[str], *, prune: bool | None = None) -> None:
        self.root = Path(root).expanduser().absolute()
        self.manifests_dir = self.root / "manifests"
        self.blobs_dir = self.root / "blobs"
        self.tmp_dir = self.root / _TMP_DIR
        for directory in (self.manifests_dir, self.blobs_dir, self.tmp_dir):
            directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._name_max = int(os.pathconf(self.manifests_dir, "PC_NAME_MAX"))
        except (OSError, ValueError, AttributeError):
            self._name_max = 255
        # Blobs a create in progress is about to reference: deleting a model must not remove
        # them in the meantime, although no manifest uses them yet.
        self._pins: Counter[str] = Counter()
        # Unused blobs a delete had to keep because they were pinned; reconsidered when the
        # last pin goes (the create may have failed, or its manifest been replaced already).
        self._deferred: set[str] = set()
        self._gguf_cache: dict[tuple[str, bool], GGUFInfo] = {}
        self._gguf_lock = threading.Lock()
        if prune is None:
            prune = prune_unused_blobs()
        self.prune_enabled = prune
        self._clean_temp()
        self._fix_legacy_blob_names()
        if prune:
            self.prune_unreferenced(grace_seconds=_PRUNE_GRACE_SECONDS)

    # -- temporary files ------------------------------------------------------------------

    def temp_path(self, kind: str) -> Path:
        return self.tmp_dir / f"{kind}-{os.getpid()}-{secrets.token_hex(8)}.tmp"

    def _clean_temp(self) -> None:
        """Remove temporary files whose writer process no longer exists."""
        for entry in self.tmp_dir.iterdir():
            parts = entry.name.split("-")
            pid = int(parts[1]) if len(parts) >= 3 and parts[1].isdigit() else None
            if pid is not None and pid != os.getpid() and _pid_alive(pid):
                continue
            if pid == os.getpid():
                continue
            with contextlib.suppress(OSError):
                entry.unlink()

    def _fix_legacy_blob_names(self) -> None:
        # Old Ollama versions named blobs `sha256:<hex>`; Ollama renames them at startup too.
        for entry in self.blobs_dir.glob("sha256:*"):
            target = self.blobs_dir / entry.name.replace(":", "-", 1)
            with contextlib.suppress(OSError):
                if target.exists():
                    entry.unlink()
                else:
                    os.replace(entry, target)

    # -- blobs ----------------------------------------------------------------------------

    def blob_path(self, digest: str) -> Path:
        """Path of a blob given ``sha256:<hex>``, ``sha256-<hex>`` or bare hex."""
        hexdigest = digest.lower() if re.fullmatch(r"[0-9a-fA-F]{64}", digest) else None
        if hexdigest is None:
            hexdigest = parse_digest(digest)
        return self.blobs_dir / f"sha256-{hexdigest}"

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def blob_writer(self, expected_digest: str | None = None) -> BlobWriter:
        expected = parse_digest(expected_digest) if expected_digest is not None else None
        return BlobWriter(self, expected)

    def write_blob(self, data: bytes | Iterable[bytes], expected_digest: str | None = None) -> str:
        """Store bytes (or an iterable of chunks); returns ``sha256:<hex>``."""
        with self.blob_writer(expected_digest) as writer:
            if isinstance(data, bytes):
                writer.write(data)
            else:
                for chunk in data:
                    writer.write(chunk)
            return "sha256:" + writer.commit()

    def adopt_blob(self, path: Path, pins: Pins | None = None) -> tuple[str, bool]:
        """Publish a finished file from :meth:`temp_path` as a blob without copying it:
        hash, fsync, rename into ``blobs/``. Returns ``sha256:<hex>`` and whether the blob
        is new. The file is gone afterwards either way (moved, or deleted when the same
        content already exists). With ``pins`` the digest is pinned before the blob is
        looked for, as in :meth:`blob_layer`."""
        try:
            hasher = hashlib.sha256()
            with open(path, "rb") as handle:
                while chunk := handle.read(_CHUNK):
                    hasher.update(chunk)
                os.fsync(handle.fileno())
            hexdigest = hasher.hexdigest()
            if pins is not None:
                pins.add(hexdigest)
            target = self.blob_path(hexdigest)
            new = not target.exists()
            if new:
                os.chmod(path, 0o644)
                os.replace(path, target)
                _fsync_dir(target.parent)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        return f"sha256:{hexdigest}", new

    def read_blob(self, digest: str) -> bytes:
        return self.blob_path(digest).read_bytes()

    def blob_layer(
        self, data: bytes, media_type: str, pins: Pins | None = None
    ) -> tuple[Layer, bool]:
        """Store a small layer; returns it and whether the blob was new. With ``pins`` the
        blob is pinned before it is looked for, so no concurrent delete can remove it."""
        hexdigest = hashlib.sha256(data).hexdigest()
        if pins is not None:
            pins.add(hexdigest)
        existed = self.has_blob(hexdigest)
        if not existed:
            self.write_blob(data, f"sha256:{hexdigest}")
        return Layer(media_type, f"sha256:{hexdigest}", len(data)), not existed

    def gguf_info(self, digest: str, *, verbose: bool = False) -> GGUFInfo:
        """The GGUF header of a blob, cached per digest (blobs never change)."""
        key = (digest, verbose)
        with self._gguf_lock:
            cached = self._gguf_cache.get(key)
        if cached is not None:
            return cached
        info = read_gguf(self.blob_path(digest), max_array=None if verbose else 5)
        with self._gguf_lock:
            if not verbose:
                self._gguf_cache[key] = info
        return info

    @contextlib.contextmanager
    def pinned(self) -> Iterator[Pins]:
        """Pins released on exit; see :class:`Pins`."""
        pins = Pins(self)
        try:
            yield pins
        finally:
            pins.release()

    # -- manifests ------------------------------------------------------------------------

    def manifest_path(self, name: ModelName) -> Path:
        host, namespace, model, tag = name.path_parts()
        for part in (host, namespace, model, tag):
            if not part or part in (".", "..") or "/" in part or "\\" in part:
                raise ValueError(f"invalid model name {name}")
            if len(os.fsencode(part)) > self._name_max:
                raise NameTooLongError(
                    f"file name too long: a part of model name {str(name)!r} has "
                    f"{len(os.fsencode(part))} bytes, more than the {self._name_max} "
                    "this filesystem allows"
                )
        return self.manifests_dir / host / namespace / model / tag

    def _iter_manifest_paths(self) -> Iterator[tuple[ModelName, Path]]:
        if not self.manifests_dir.is_dir():
            return
        for path in self.manifests_dir.glob("*/*/*/*"):
            if not path.is_file():
                continue
            host, namespace, model = path.parts[-4:-1]
            name = ModelName(host=host, namespace=namespace, model=model, tag=path.name)
            if name.is_valid:
                yield name, path

    def find(self, name: ModelName) -> ModelEntry | None:
        """The manifest for ``name``, matching case-insensitively as Ollama does."""
        try:
            path = self.manifest_path(name)
        except NameTooLongError:
            return None
        candidates: list[tuple[ModelName, Path]] = []
        if path.is_file():
            candidates.append((name, path))
        else:
            key = name.key()
            candidates = [item for item in self._iter_manifest_paths() if item[0].key() == key]
        for found, found_path in candidates:
            entry = self._read_entry(found, found_path)
            if entry is not None:
                return entry
        return None

    def _read_entry(self, name: ModelName, path: Path) -> ModelEntry | None:
        try:
            raw = path.read_bytes()
            stat = path.stat()
            manifest = Manifest.decode(raw)
        except (OSError, ValueError, msgspec.DecodeError) as exc:
            log.warning("skipping unreadable manifest %s: %s", path, exc)
            return None
        return ModelEntry(name=name, manifest=manifest, modified_ns=stat.st_mtime_ns, path=path)

    def entries(self) -> list[ModelEntry]:
        """Every readable manifest, newest first."""
        entries = []
        for name, path in self._iter_manifest_paths():
            entry = self._read_entry(name, path)
            if entry is not None:
                entries.append(entry)
        entries.sort(key=lambda entry: entry.modified_ns, reverse=True)
        return entries

    def write_manifest(self, name: ModelName, manifest: Manifest) -> Manifest:
        """Atomically write ``name``'s manifest; every layer must already be stored."""
        raw = manifest.encode()
        with self._lock:
            # Checked under the lock: a concurrent delete removes unused blobs under it too.
            for layer in manifest.all_layers():
                if not self.has_blob(layer.digest):
                    raise FileNotFoundError(f"layer {layer.digest} is missing from the store")
            self._replace_manifest(name, raw)
        return Manifest(config=manifest.config, layers=list(manifest.layers), raw=raw)

    def _replace_manifest(self, name: ModelName, raw: bytes) -> None:
        """Write ``name``'s manifest; when it replaces another, the blobs only the old one
        used are removed (as Ollama does after a create), so re-creating a model with a new
        SYSTEM does not leave the old one behind. Call with the lock held."""
        existing = self.find(name)
        self._write_file_atomic(
            existing.path if existing is not None else self.manifest_path(name), raw
        )
        if existing is not None and self.prune_enabled and existing.manifest.raw != raw:
            self._delete_unused(existing.manifest.all_layers())

    def _existing_case_path(self, name: ModelName) -> Path:
        # Ollama's getExistingName: reuse the casing of an existing manifest with the same
        # name, so `Foo` and `foo` never become two files on a case-sensitive filesystem.
        existing = self.find(name)
        return existing.path if existing is not None else self.manifest_path(name)

    def _write_file_atomic(self, target: Path, data: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = self.temp_path("manifest")
        try:
            with open(temp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, 0o644)
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        _fsync_dir(target.parent)

    def copy(self, source: ModelName, destination: ModelName) -> bool:
        """Copy the manifest file; blobs are shared. False when the source does not exist."""
        with self._lock:
            entry = self.find(source)
            if entry is None:
                return False
            self._replace_manifest(destination, entry.manifest.raw)
            return True

    def delete(self, name: ModelName) -> bool:
        """Remove a manifest, empty directories and blobs no other manifest uses."""
        with self._lock:
            entry = self.find(name)
            if entry is None:
                return False
            entry.path.unlink()
            self._remove_empty_dirs(entry.path.parent)
            if self.prune_enabled:
                self._delete_unused(entry.manifest.all_layers())
            return True

    def _remove_empty_dirs(self, directory: Path) -> None:
        while directory != self.manifests_dir and self.manifests_dir in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    def referenced_digests(self) -> set[str]:
        digests: set[str] = set()
        for entry in self.entries():
            for layer in entry.manifest.all_layers():
                with contextlib.suppress(DigestError):
                    digests.add(parse_digest(layer.digest))
        return digests

    def _delete_unused(self, layers: list[Layer]) -> None:
        used = self.referenced_digests()
        for layer in layers:
            try:
                hexdigest = parse_digest(layer.digest)
            except DigestError:
                continue
            if hexdigest in used:
                continue
            if hexdigest in self._pins:
                self._deferred.add(hexdigest)
                continue
            with contextlib.suppress(FileNotFoundError):
                self.blob_path(hexdigest).unlink()
                self._drop_cache(hexdigest)

    def _drop_cache(self, hexdigest: str) -> None:
        with self._gguf_lock:
            for key in [key for key in self._gguf_cache if parse_digest_safe(key[0]) == hexdigest]:
                del self._gguf_cache[key]

    def prune_unreferenced(self, *, grace_seconds: float = 0) -> list[str]:
        """Delete blobs no manifest references (older than ``grace_seconds``)."""
        removed = []
        with self._lock:
            used = self.referenced_digests()
            cutoff = time.time() - grace_seconds
            for entry in self.blobs_dir.iterdir():
                if not _BLOB_NAME.match(entry.name):
                    continue
                hexdigest = entry.name[len("sha256-") :]
                if hexdigest in used or hexdigest in self._pins:
                    continue
                try:
                    if entry.stat().st_mtime > cutoff:
                        continue
                    entry.unlink()
                except OSError:
                    continue
                removed.append(hexdigest)
        return removed

    # -- models ---------------------------------------------------------------------------

    def load(self, name: ModelName) -> StoredModel | None:
        """Read a model's manifest and small layers; None when it does not exist."""
        entry = self.find(name)
        if entry is None:
            return None
        return self.load_entry(entry)

    def load_entry(self, entry: ModelEntry) -> StoredModel:
        manifest = entry.manifest
        config: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError, msgspec.DecodeError):
            decoded = msgspec.json.decode(self.read_blob(manifest.config.digest))
            if isinstance(decoded, dict):
                config = decoded
        model = StoredModel(
            name=entry.name, manifest=manifest, modified_ns=entry.modified_ns, config=config
        )
        for layer in manifest.layers:
            media = layer.media_type
            if media == MEDIA_MODEL:
                model.model_path = self.blob_path(layer.digest)
                model.model_layer = layer
                model.parent_model = layer.source or ""
            elif media == MEDIA_PROJECTOR:
                model.projector_paths.append(self.blob_path(layer.digest))
            elif media == MEDIA_ADAPTER:
                model.adapter_paths.append(self.blob_path(layer.digest))
            elif media in (MEDIA_TEMPLATE, MEDIA_PROMPT_LEGACY):
                model.template = self._read_text(layer)
            elif media == MEDIA_SYSTEM:
                model.system = self._read_text(layer)
            elif media == MEDIA_LICENSE:
                model.licenses.append(self._read_text(layer))
            elif media == MEDIA_PARAMS:
                params = self.read_json_layer(layer)
                if isinstance(params, dict):
                    model.params = params
            elif media == MEDIA_MESSAGES:
                messages = self.read_json_layer(layer)
                if isinstance(messages, list):
                    model.messages = [item for item in messages if isinstance(item, dict)]
        return model

    def _read_text(self, layer: Layer) -> str:
        try:
            return self.read_blob(layer.digest).decode("utf-8", errors="replace")
        except (OSError, DigestError):
            return ""

    def read_json_layer(self, layer: Layer) -> Any:
        """A small JSON layer (params, messages), or None when unreadable."""
        try:
            return msgspec.json.decode(self.read_blob(layer.digest))
        except (OSError, DigestError, msgspec.DecodeError):
            return None

    def model_gguf(self, model: StoredModel, *, verbose: bool = False) -> GGUFInfo | None:
        if model.model_layer is None:
            return None
        try:
            return self.gguf_info(model.model_layer.digest, verbose=verbose)
        except (OSError, GGUFError, DigestError):
            return None

    # -- creating -------------------------------------------------------------------------

    def config_layer(self, config: dict[str, Any], pins: Pins | None = None) -> tuple[Layer, bool]:
        data = msgspec.json.encode(config)
        layer, new = self.blob_layer(data, MEDIA_CONFIG, pins)
        return layer, new

    def json_layer(
        self, value: Any, media_type: str, pins: Pins | None = None
    ) -> tuple[Layer, bool]:
        return self.blob_layer(go_json(value), media_type, pins)


class Pins:
    """Blobs held for a manifest about to be written: deletes and pruning leave them alone.

    Pin a digest *before* checking that its blob exists; since deletes check pins under the
    store lock, a blob found after pinning stays until :meth:`release`. A blob a delete
    kept only because of a pin is deleted at release if nothing references it by then.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._held: list[str] = []

    def add(self, digest: str) -> None:
        hexdigest = digest.lower() if re.fullmatch(r"[0-9a-fA-F]{64}", digest) else None
        if hexdigest is None:
            hexdigest = parse_digest(digest)
        with self._store._lock:
            self._store._pins[hexdigest] += 1
        self._held.append(hexdigest)

    def release(self) -> None:
        store = self._store
        with store._lock:
            freed = []
            for hexdigest in self._held:
                store._pins[hexdigest] -= 1
                if store._pins[hexdigest] <= 0:
                    del store._pins[hexdigest]
                    if hexdigest in store._deferred:
                        store._deferred.discard(hexdigest)
                        freed.append(Layer("", f"sha256:{hexdigest}", 0))
            self._held.clear()
            if freed:
                # Best effort, as deletes are: startup pruning catches what this misses.
                with contextlib.suppress(OSError):
                    store._delete_unused(freed)


def parse_digest_safe(text: str) -> str | None:
    try:
        return parse_digest(text)
    except DigestError:
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError as exc:
        return exc.errno != errno.ESRCH
    return True
