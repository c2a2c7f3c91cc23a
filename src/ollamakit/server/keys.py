"""The server's Ollama key: ``~/.ollama/id_ed25519``, the file Ollama uses, read or created.

Ollama creates the key when ``ollama serve`` starts; here it is created on first need (the
first registry token request, ``/api/me``), so a server that never talks to a registry
leaves the home directory alone. Creation is Ollama's: an unencrypted ed25519 key in
OpenSSH format, mode 0600, with ``id_ed25519.pub`` (the ``authorized_keys`` line, 0644)
beside it, in a ``~/.ollama`` made with 0755, and the public key logged. The private key is
never logged or sent anywhere; only signatures made with it are.

Two requests needing a key at the same moment, in this process or in two servers sharing the
home directory, end up with the same key: the file is written under a temporary name and
linked into place only if no key exists yet.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
from pathlib import Path

from .._signing import KeyFormatError, OllamaKey

__all__ = ["KeyFileError", "key_path", "load_key", "load_or_create_key"]

log = logging.getLogger("ollamakit.server")

_lock = threading.Lock()


class KeyFileError(Exception):
    """The key exists but cannot be read or parsed; ``str()`` says why, as Go would."""


def key_path() -> Path:
    """``~/.ollama/id_ed25519`` (the home directory from ``HOME``, as Go's os.UserHomeDir)."""
    return Path.home() / ".ollama" / "id_ed25519"


def load_key() -> OllamaKey | None:
    """The key, or ``None`` when there is none; :class:`KeyFileError` when it is unusable."""
    path = key_path()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise KeyFileError(f"open {path}: {exc.strerror or exc}") from None
    try:
        return OllamaKey.from_openssh(data)
    except KeyFormatError as exc:
        raise KeyFileError(str(exc)) from None


def load_or_create_key() -> OllamaKey:
    """The key, created first if there is none."""
    key = load_key()
    if key is not None:
        return key
    with _lock:
        key = load_key()
        if key is None:
            key = _create(key_path())
    return key


def _create(path: Path) -> OllamaKey:
    log.info("Couldn't find '%s'. Generating new private key.", path)
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    key = OllamaKey.generate()
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(key.to_openssh())
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, path)  # fails if another process created the key meanwhile
        except FileExistsError:
            existing = load_key()
            if existing is None:
                raise
            return existing
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    public = path.with_name(path.name + ".pub")
    public_temp = public.with_name(f".{public.name}.{secrets.token_hex(8)}.tmp")
    public_temp.write_text(key.public_key + "\n")
    os.chmod(public_temp, 0o644)
    os.replace(public_temp, public)
    log.info("Your new public key is: \n\n%s\n", key.public_key)
    return key
