"""Fixtures for the command-line tests.

``cli`` runs ``ollamakit`` in-process (click's CliRunner) against the fake server; ``spawn``
starts it as a real process on a pseudo-terminal (pexpect) for the interactive chat. The
embedded-server fixtures (``embedded``, ``demo_model``) are those of ``tests/server``, loaded
from its conftest so that both suites start the server the same way.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import Cli

import ollamakit
from ollamakit.testing import FakeOllama

SRC = str(Path(ollamakit.__file__).resolve().parent.parent)


def _server_fixtures() -> Any:
    path = Path(__file__).resolve().parent.parent / "server" / "conftest.py"
    spec = importlib.util.spec_from_file_location("_cli_server_fixtures", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


_server = _server_fixtures()
start_server = _server.start_server
embedded = _server.embedded
demo_model = _server.demo_model


@pytest.fixture
def fake(server: FakeOllama) -> FakeOllama:
    """The fake Ollama of ``tests/conftest.py``, under a name that says what it is."""
    return server


@pytest.fixture
def cli(fake: FakeOllama, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    return Cli(fake.url)


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a CLI subprocess: our sources, a private HOME, no OLLAMA_ settings."""
    home = tmp_path / "home"
    home.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        # COLUMNS/LINES (set in pytest-xdist workers) would override the pty's own size.
        if not key.startswith(("OLLAMA_", "OLLAMAKIT_", "NO_COLOR"))
        and key not in ("COLUMNS", "LINES")
    }
    env["PYTHONPATH"] = os.pathsep.join(item for item in (SRC, env.get("PYTHONPATH", "")) if item)
    env["HOME"] = str(home)
    env["TERM"] = "dumb"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def spawn(cli_env: dict[str, str]) -> Iterator[Any]:
    """Start ``python -m ollamakit ARGS`` on a pseudo-terminal; all are closed afterwards."""
    pexpect = pytest.importorskip("pexpect")
    children: list[Any] = []

    def start(
        *args: str,
        env: dict[str, str] | None = None,
        timeout: float = 15,
        dimensions: tuple[int, int] = (24, 200),
    ) -> Any:
        child = pexpect.spawn(
            sys.executable,
            ["-m", "ollamakit", *args],
            env={**cli_env, **(env or {})},
            encoding="utf-8",
            timeout=timeout,
            dimensions=dimensions,
        )
        children.append(child)
        return child

    yield start
    for child in children:
        if child.isalive():
            child.terminate(force=True)
        child.close()
