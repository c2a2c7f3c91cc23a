"""The client side's Ollama key: ``~/.ollama/id_ed25519``, read (never created) to sign
requests as Ollama's Go client does when talking to ollama.com or when ``OLLAMA_AUTH`` is set.

The only client module that reads the home directory. Signing needs the ``cryptography``
package (installed with the ``[server]`` extra); without it, or without a key, requests go
unsigned as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._signing import OllamaKey

__all__ = ["load_signing_key"]


def load_signing_key() -> OllamaKey | None:
    """The key to sign with, or ``None`` when there is no usable one."""
    try:
        data = (Path.home() / ".ollama" / "id_ed25519").read_bytes()
    except (OSError, RuntimeError):  # no file, no permission, no home directory
        return None
    try:
        from ._signing import KeyFormatError, OllamaKey
    except ImportError:
        return None
    try:
        return OllamaKey.from_openssh(data)
    except KeyFormatError:
        return None
