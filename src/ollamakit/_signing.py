"""Ollama's ed25519 keys and request signatures, exactly as Ollama's ``auth`` package makes
them. Pure: no files, no network, no environment (the server and the command line each have
one module that reads the key file and hands the bytes here).

A key is an ed25519 private key in OpenSSH format (``~/.ollama/id_ed25519``). A signature
token is ``<public key>:<signature>``: the base64 part of the public key's
``authorized_keys`` line, a colon, and the standard base64 of the raw 64-byte ed25519
signature. It is sent as the whole ``Authorization`` header, without a scheme. What is
signed depends on the request:

* a registry token request: ``GET,<token URL>,<base64 of the hex sha256 of the empty body>``
  (``server/auth.go``);
* a call to ollama.com's API: ``<METHOD>,<path>?ts=<unix seconds>``, the same ``ts`` being
  added to the URL's query (``api/client.go``).

Needs the ``cryptography`` package (extras ``[cli]`` and ``[server]``).
"""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import quote

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "CONNECT_URL",
    "KeyFormatError",
    "OllamaKey",
    "api_challenge",
    "connect_url",
    "encode_public_key",
    "token_challenge",
]

CONNECT_URL = "https://ollama.com/connect"
# base64(hex(sha256(""))): the body digest of a request without a body, as Ollama writes it.
_EMPTY_BODY = base64.b64encode(hashlib.sha256(b"").hexdigest().encode()).decode()


class KeyFormatError(ValueError):
    """The key file is not an unencrypted ed25519 private key in OpenSSH format."""


class OllamaKey:
    """An ed25519 key as Ollama uses it."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private

    def __repr__(self) -> str:
        # Never the private part, whatever prints this object.
        return f"OllamaKey({self.public_key!r})"

    @classmethod
    def generate(cls) -> OllamaKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_openssh(cls, data: bytes) -> OllamaKey:
        """Parse an ``OPENSSH PRIVATE KEY`` PEM (what Ollama and ``ssh-keygen`` write)."""
        try:
            private = serialization.load_ssh_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFormatError(f"ssh: {exc}") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise KeyFormatError(f"ssh: not an ed25519 key ({type(private).__name__})")
        return cls(private)

    def to_openssh(self) -> bytes:
        """The private key as an ``OPENSSH PRIVATE KEY`` PEM, unencrypted, as Ollama writes it."""
        return self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )

    @property
    def public_key(self) -> str:
        """The ``authorized_keys`` line without a comment: ``ssh-ed25519 AAAA…``."""
        return (
            self._private.public_key()
            .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
            .decode()
        )

    def sign(self, data: bytes) -> str:
        """The ``Authorization`` value for ``data``: ``<public key base64>:<signature>``."""
        signature = base64.b64encode(self._private.sign(data)).decode()
        return f"{self.public_key.split(' ')[1]}:{signature}"


def token_challenge(url: str) -> bytes:
    """What Ollama signs when it asks a registry's realm for a token (a GET without body)."""
    return f"GET,{url},{_EMPTY_BODY}".encode()


def api_challenge(method: str, path: str, timestamp: int) -> bytes:
    """What Ollama signs for a call to ollama.com's API; the URL gets ``?ts=<timestamp>``."""
    return f"{method},{path}?ts={timestamp}".encode()


def encode_public_key(public_key: str) -> str:
    """The public key line in unpadded base64url, as ollama.com's URLs carry it."""
    return base64.urlsafe_b64encode(public_key.encode()).rstrip(b"=").decode()


def connect_url(public_key: str, hostname: str) -> str:
    """The page where a user connects this machine's key to their ollama.com account."""
    name = quote(hostname, safe="$&+,;=:@")  # Go's url.PathEscape
    return f"{CONNECT_URL}?name={name}&key={encode_public_key(public_key)}"
