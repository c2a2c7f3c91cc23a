"""The model store, in Ollama's on-disk layout.

::

    <root>/manifests/<host>/<namespace>/<model>/<tag>     one JSON manifest per tag
    <root>/blobs/sha256-<64 hex>                          content-addressed layers
    <root>/.ollamakit-tmp/                                 our temporary files (same filesystem)

Every write goes to a temporary file that is fsynced and then renamed into place, so a crash
(even SIGKILL mid-upload) leaves either the old state or the new one, never a half-written blob
or manifest. Temporary files live outside ``blobs/`` so an Ollama sharing the store never sees
them. Each is locked (``flock``) by its writer while it exists, so at startup the files no
live writer holds are removed, whatever became of the process that made them (a lingering
zombie or a reused PID does not keep them). Unfinished downloads in ``.ollamakit-partial/``
not touched for :data:`PARTIAL_MAX_AGE_SECONDS` are removed at startup too. A blob's name is
its content's sha256, checked while it is written.

The store never follows a symbolic link out of itself when writing or deleting: the private
directories are replaced by real ones if they are links, and a manifest reached through a
linked directory is not part of the store (not listed, not found, never written through).
A manifest that cannot be read (truncated, not a manifest, a digest that is not sha256) is
skipped when listing, with a warning; using that model says so, and deleting it works.

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
from .validate import BadRequest
from .wire import go_json

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: temp files are matched to live PIDs instead
    fcntl = None  # type: ignore[assignment]

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
    "DamagedModelError",
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
_PARTIAL_DIR = ".ollamakit-partial"
_TEMP_NAME = re.compile(r"^[a-z]+-(\d+)-[0-9a-f]{16}\.tmp$")
#: Unfinished downloads untouched for this long are removed at startup (a day: long enough to
#: resume an interrupted pull after a restart, short enough that abandoned ones do not pile up).
PARTIAL_MAX_AGE_SECONDS = 24 * 3600
_CHUNK = 1 << 20
# Blobs younger than this survive startup pruning: a client may have uploaded them for a
# create request that has not arrived yet (Ollama uses the same grace period).
_PRUNE_GRACE_SECONDS = 3600


class DigestError(ValueError):
    """A digest that is malformed, or content that does not hash to its digest."""


class DamagedModelError(BadRequest):
    """A model whose manifest cannot be read or whose blobs are missing (HTTP 500)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 500)


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
        parse_digest(digest)  # a digest that is not sha256 makes the manifest unreadable
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
        path, handle = store.open_temp("blob")
        self._path = path
        self._file: BinaryIO | None = handle

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
        # Published before it is closed: the file stays locked until it has its final name.
        self._file = None
        with handle:
            try:
                handle.flush()
                os.fsync(handle.fileno())
                target = self._store.blob_path(actual)
                if target.exists():
                    # Same content already published (a concurrent upload won); keep it.
                    self._discard()
                else:
                    os.chmod(self._path, 0o644)
                    os.replace(self._path, target)
            except BaseException:
                self._discard()
                raise
        if not target.exists():  # pragma: no cover - a concurrent delete removed it
            raise FileNotFoundError(f"blob {actual} vanished while it was published")
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
        self.partial_dir = self.root / _PARTIAL_DIR
        for directory in (self.manifests_dir, self.blobs_dir):
            directory.mkdir(parents=True, exist_ok=True)
        for directory in (self.tmp_dir, self.partial_dir):
            _private_directory(directory)
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
        self._clean_partials()
        self._fix_legacy_blob_names()
        if prune:
            self.prune_unreferenced(grace_seconds=_PRUNE_GRACE_SECONDS)

    # -- temporary files ------------------------------------------------------------------

    def temp_path(self, kind: str) -> Path:
        return self.tmp_dir / f"{kind}-{os.getpid()}-{secrets.token_hex(8)}.tmp"

    def open_temp(self, kind: str) -> tuple[Path, BinaryIO]:
        """A new temporary file, open for writing and locked for as long as it is open: a
        file no one holds is one a startup may remove."""
        while True:
            path = self.temp_path(kind)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            handle = os.fdopen(os.open(path, flags | getattr(os, "O_CLOEXEC", 0), 0o600), "wb")
            if fcntl is None:
                return path, handle
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            # A starting process may have taken the lock first and removed the file.
            with contextlib.suppress(OSError):
                if os.lstat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                    return path, handle
            handle.close()

    def _clean_temp(self) -> None:
        """Remove the temporary files no live writer holds. Only our own names are touched,
        and a link is removed as a link."""
        for entry in os.scandir(self.tmp_dir):
            match = _TEMP_NAME.match(entry.name)
            if match is None or entry.is_dir(follow_symlinks=False):
                continue
            if not entry.is_symlink() and _held(entry.path, int(match.group(1))):
                continue
            with contextlib.suppress(OSError):
                os.unlink(entry.path)

    def _clean_partials(self) -> None:
        """Remove unfinished downloads not touched for :data:`PARTIAL_MAX_AGE_SECONDS`."""
        cutoff = time.time() - PARTIAL_MAX_AGE_SECONDS
        for entry in os.scandir(self.partial_dir):
            with contextlib.suppress(OSError):
                if not entry.is_dir(follow_symlinks=False) and (
                    entry.stat(follow_symlinks=False).st_mtime < cutoff
                ):
                    os.unlink(entry.path)

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
        """Publish a finished file from :meth:`open_temp` as a blob without copying it:
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
        for path in _files_at_depth(self.manifests_dir, 4):
            if not path.is_file() or self._linked(path):
                continue
            host, namespace, model = path.parts[-4:-1]
            name = ModelName(host=host, namespace=namespace, model=model, tag=path.name)
            if name.is_valid:
                yield name, path

    def _linked(self, path: Path) -> bool:
        """Whether ``path`` (under ``manifests/``) or a directory on the way is a link: what
        is reached through one is outside the store."""
        while path != self.manifests_dir and self.manifests_dir in path.parents:
            if path.is_symlink():
                log.warning("ignoring %s: a link out of the store", path)
                return True
            path = path.parent
        return False

    def _locate(self, name: ModelName) -> list[tuple[ModelName, Path]]:
        """Manifest files for ``name`` (exact casing first, else any casing, as Ollama
        matches), readable or not."""
        try:
            path = self.manifest_path(name)
        except NameTooLongError:
            return []
        if path.is_file() and not self._linked(path):
            return [(name, path)]
        key = name.key()
        return [item for item in self._iter_manifest_paths() if item[0].key() == key]

    def find(self, name: ModelName) -> ModelEntry | None:
        """The manifest for ``name``, matching case-insensitively as Ollama does; None when
        there is none or it cannot be read."""
        for found, found_path in self._locate(name):
            entry = self._read_entry(found, found_path)
            if entry is not None:
                return entry
        return None

    def _damaged(self, name: ModelName) -> DamagedModelError | None:
        """The error for ``name`` when its manifest exists but cannot be read."""
        for _, path in self._locate(name):
            try:
                Manifest.decode(path.read_bytes())
            except FileNotFoundError:
                continue  # deleted since it was found (a concurrent delete): not damaged
            except (OSError, ValueError, msgspec.DecodeError) as exc:
                return DamagedModelError(
                    f"model '{name.display_shortest()}' has a damaged manifest ({exc}); "
                    "delete it, then pull or create it again"
                )
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
        self._write_file_atomic(self._existing_case_path(name), raw)
        if existing is not None and self.prune_enabled and existing.manifest.raw != raw:
            self._delete_unused(existing.manifest.all_layers())

    def _existing_case_path(self, name: ModelName) -> Path:
        # Ollama's getExistingName: reuse the casing of an existing manifest with the same
        # name (readable or damaged), so `Foo` and `foo` never become two files on a
        # case-sensitive filesystem.
        existing = self.find(name)
        if existing is not None:
            return existing.path
        located = self._locate(name)
        return located[0][1] if located else self.manifest_path(name)

    def _write_file_atomic(self, target: Path, data: bytes) -> None:
        self._make_manifest_dirs(target.parent)
        temp, handle = self.open_temp("manifest")
        try:
            with handle:
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

    def _make_manifest_dirs(self, directory: Path) -> None:
        """Create ``directory`` under ``manifests/`` without going through a link."""
        parts = directory.relative_to(self.manifests_dir).parts
        current = self.manifests_dir
        for part in parts:
            current = current / part
            try:
                os.mkdir(current)
            except FileExistsError:
                if current.is_symlink() or not current.is_dir():
                    raise DamagedModelError(
                        f"{current} is not a directory of the store (a link or a file); "
                        "nothing is written through it"
                    ) from None

    def copy(self, source: ModelName, destination: ModelName) -> bool:
        """Copy the manifest file; blobs are shared. False when the source does not exist."""
        with self._lock:
            entry = self.find(source)
            if entry is None:
                damaged = self._damaged(source)
                if damaged is not None:
                    raise damaged
                return False
            self._replace_manifest(destination, entry.manifest.raw)
            return True

    def delete(self, name: ModelName) -> bool:
        """Remove a manifest, empty directories and blobs no other manifest uses. A damaged
        manifest is removed too (its blobs then go at the next startup's pruning)."""
        with self._lock:
            entry = self.find(name)
            if entry is not None:
                path = entry.path
            else:
                located = self._locate(name)
                if not located:
                    return False
                path = located[0][1]
            path.unlink()
            self._remove_empty_dirs(path.parent)
            if entry is not None and self.prune_enabled:
                self._delete_unused(entry.manifest.all_layers())
            return True

    def _remove_empty_dirs(self, directory: Path) -> None:
        while directory != self.manifests_dir and self.manifests_dir in directory.parents:
            if directory.is_symlink():
                return
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

    def load(self, name: ModelName, *, complete: bool = False) -> StoredModel | None:
        """Read a model's manifest and small layers; None when it does not exist.

        :class:`DamagedModelError` when its manifest cannot be read, or, with ``complete``,
        when a blob it references is missing (what using the model needs).
        """
        entry = self.find(name)
        if entry is None:
            damaged = self._damaged(name)
            if damaged is not None:
                raise damaged
            return None
        model = self.load_entry(entry)
        if complete:
            for layer in entry.manifest.all_layers():
                if not self.has_blob(layer.digest):
                    raise DamagedModelError(
                        f"model '{name.display_shortest()}' is incomplete: blob {layer.digest} "
                        f"({layer.media_type}) is missing from the store; pull or create it again"
                    )
        return model

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


def _files_at_depth(directory: Path, depth: int) -> Iterator[Path]:
    """The entries ``depth`` levels below ``directory`` (``glob("*/*/*/*")`` for 4), read
    without the store's lock: a directory a concurrent delete removes is skipped, where
    pathlib's glob raises ``FileNotFoundError`` (before Python 3.13)."""
    try:
        with os.scandir(directory) as entries:
            names = [entry.name for entry in entries]
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return
    for name in names:
        path = directory / name
        if depth == 1:
            yield path
        else:
            yield from _files_at_depth(path, depth - 1)


def _private_directory(path: Path) -> None:
    """Make ``path`` a real directory of the store: a link there (to anywhere) is removed,
    so nothing is ever written or deleted through it."""
    if path.is_symlink():
        log.warning("replacing the link %s by a directory", path)
        path.unlink()
    path.mkdir(parents=True, exist_ok=True)


def _held(path: str, pid: int) -> bool:
    """Whether a live writer holds the temporary file at ``path`` (written by ``pid``)."""
    if fcntl is None:  # pragma: no cover - Windows
        return pid == os.getpid() or _pid_alive(pid)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


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
