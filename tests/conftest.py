"""Shared fixtures: a fake Ollama server per test, and one API surface for sync and async."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from ollamakit.testing import FakeOllama
from support import Api


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server() -> Iterator[FakeOllama]:
    with FakeOllama() as fake:
        yield fake


@pytest.fixture(params=["sync", "async"])
async def api(request: pytest.FixtureRequest, server: FakeOllama) -> AsyncIterator[Api]:
    both = Api(request.param, server.url)
    yield both
    await both.aclose()


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)
