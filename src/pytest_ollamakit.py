"""ollamakit's pytest plugin (extra ``[pytest]``): Ollama in tests, with nothing to run or mock
by hand.

Fixtures:

- ``ollama_fake``: a :class:`~ollamakit.testing.FakeOllama` for one test, a scriptable fake
  on a real socket (``ollama_fake.chat("Hi")``, faults, ``ollama_fake.last("chat")``).
- ``ollama_server``: a :class:`~ollamakit.testing.live.LiveOllama` for the session, the
  embedded server on a free loopback port with a private store and the demo model
  (needs ``[server]``), or the Ollama named by ``--ollama-host``.

While a fixture is active, ``OLLAMA_HOST`` points at it and ollamakit's module-level
functions (``ollamakit.chat``) follow. Options, each with an environment variable:

==============================  ===========================================================
``--ollama-host URL``           ``OLLAMAKIT_PYTEST_HOST``: use this Ollama for
                                ``ollama_server`` instead of starting the embedded server
``--ollama-model NAME``         ``OLLAMAKIT_PYTEST_MODEL``: the model ``ollama_server``
                                provides (``gemma3:270m``, the offline demo model)
``--ollama-cache DIR``          ``OLLAMAKIT_PYTEST_CACHE``: models kept between runs for
                                the embedded server (``~/.cache/ollamakit/models``)
==============================  ===========================================================

With pytest-xdist each worker starts its own embedded server, with the llama.cpp threads
divided between the workers; see the README for why.

This module stands outside the ``ollamakit`` package on purpose: loading it imports pytest
and the standard library only, not even ``ollamakit``; the fake, the client and the server are
imported by the fixture that uses them, so a run that uses neither fixture is unaffected.
``-p no:ollamakit`` turns the plugin off; with plugin autoloading disabled
(``PYTEST_DISABLE_PLUGIN_AUTOLOAD``), ``-p pytest_ollamakit`` turns it on.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

import pytest

if TYPE_CHECKING:
    from ollamakit.testing import FakeOllama
    from ollamakit.testing.live import LiveOllama

__all__ = ["ollama_fake", "ollama_server"]

_SETTINGS = (
    # option, environment variable, help
    ("--ollama-host", "OLLAMAKIT_PYTEST_HOST", "use the Ollama at URL for ollama_server "
     "instead of starting the embedded server"),
    ("--ollama-model", "OLLAMAKIT_PYTEST_MODEL", "the model ollama_server provides "
     "(default gemma3:270m, the demo model, installed without network)"),
    ("--ollama-cache", "OLLAMAKIT_PYTEST_CACHE", "models kept between runs for the embedded "
     "server (default ~/.cache/ollamakit/models)"),
)  # fmt: skip
_METAVARS = {"--ollama-host": "URL", "--ollama-model": "NAME", "--ollama-cache": "DIR"}


@dataclass
class _RunState:
    """What one pytest run knows about the server. Kept in a table keyed by the run's config
    rather than in ``config.stash``, which pytest 6 lacks: the plugin loads in every run of
    any pytest that ollamakit is installed next to, so it must not break an older one."""

    server: LiveOllama | None = None
    summary: str | None = None
    log_offsets: dict[str, int] = field(default_factory=dict)


_RUNS: WeakKeyDictionary[pytest.Config, _RunState] = WeakKeyDictionary()


def _run(config: pytest.Config) -> _RunState:
    return _RUNS.setdefault(config, _RunState())


_SECTION_LIMIT = 20_000


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ollamakit", "Ollama in tests (ollamakit)")
    for option, variable, text in _SETTINGS:
        group.addoption(
            option, metavar=_METAVARS[option], default=None, help=f"{text}; env {variable}"
        )


def _setting(config: pytest.Config, option: str) -> str | None:
    """The command line wins over the environment variable; empty means unset."""
    variable = next(env for name, env, _ in _SETTINGS if name == option)
    value = config.getoption(option) or os.environ.get(variable, "")
    return value.strip() or None


def _default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ollamakit" / "models"


def _reset_default_client() -> None:
    """Drop ollamakit's module-level client so that the next ``ollamakit.chat()`` reads
    ``OLLAMA_HOST`` again (it is otherwise created once per process)."""
    import ollamakit

    with ollamakit._default_lock:
        client, ollamakit._default_client = ollamakit._default_client, None
    if client is not None:
        client.close()


@contextlib.contextmanager
def _ollama_host(value: str) -> Iterator[None]:
    previous = os.environ.get("OLLAMA_HOST")
    os.environ["OLLAMA_HOST"] = value
    _reset_default_client()
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("OLLAMA_HOST", None)
        else:
            os.environ["OLLAMA_HOST"] = previous
        _reset_default_client()


def _server_env() -> dict[str, str] | None:
    """Under pytest-xdist, each worker's server gets its share of the cores: llama.cpp with
    more threads than cores runs many times slower. A value the user set is kept."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "") or 0)
    if workers <= 1 or os.environ.get("OLLAMAKIT_NUM_THREADS"):
        return None
    from ollamakit.server.engine import default_threads

    return {**os.environ, "OLLAMAKIT_NUM_THREADS": str(max(1, default_threads() // workers))}


@pytest.fixture
def ollama_fake() -> Iterator[FakeOllama]:
    """A scriptable fake Ollama on a real socket for this test; ``OLLAMA_HOST`` points at it."""
    from ollamakit.testing import FakeOllama

    with FakeOllama() as fake, _ollama_host(fake.url):
        yield fake


@pytest.fixture(scope="session")
def ollama_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveOllama]:
    """A real Ollama-compatible server for the session; ``OLLAMA_HOST`` points at it."""
    from ollamakit.testing.live import DEMO_MODEL, LiveOllama, LiveOllamaError

    config = request.config
    host = _setting(config, "--ollama-host")
    model = _setting(config, "--ollama-model") or DEMO_MODEL
    try:
        if host is not None:
            server = LiveOllama.connect(host, model=model)
        else:
            cache = Path(_setting(config, "--ollama-cache") or _default_cache()).expanduser()
            workdir = tmp_path_factory.mktemp("ollama_server")
            server = LiveOllama.start(workdir, model=model, cache=cache, env=_server_env())
    except LiveOllamaError as error:
        pytest.fail(f"ollama_server: {error}", pytrace=False)
    kind = "Ollama" if server.external else f"embedded server (log: {server.log_path})"
    run = _run(config)
    run.summary = (
        f"ollama_server: {kind} at {server.url}, ready in {server.startup_seconds:.1f} s; "
        f"model {server.model} {server.model_source}"
    )
    run.server = server
    try:
        with _ollama_host(server.host):
            yield server
    finally:
        run.server = None
        server.stop()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    run = _run(item.config)
    if run.server is not None:
        run.log_offsets[item.nodeid] = run.server.log_size()


# An old-style wrapper: it works with every pytest and pluggy, so that the plugin cannot
# break a project that has ollamakit installed but an older pytest.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """A failing test that used a fixture gets what the server saw: the embedded server's
    log during the test, or the requests the fake received."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    run = _run(item.config)
    offset = run.log_offsets.get(item.nodeid, 0)
    if report.when == "teardown":
        run.log_offsets.pop(item.nodeid, None)
    if not report.failed:
        return
    if run.server is not None and "ollama_server" in getattr(item, "fixturenames", ()):
        log = run.server.log_text(offset)
        if log:
            report.sections.append((f"ollama_server log ({report.when})", _clip(log)))
    fake = (getattr(item, "funcargs", None) or {}).get("ollama_fake")
    if fake is not None and fake.requests:
        lines = [_describe(request) for request in fake.requests]
        report.sections.append((f"ollama_fake requests ({report.when})", "\n".join(lines)))


def _clip(text: str) -> str:
    if len(text) <= _SECTION_LIMIT:
        return text
    return "[... earlier lines left out ...]\n" + text[-_SECTION_LIMIT:]


def _describe(request: Any) -> str:
    body = request.body.decode("utf-8", "replace")
    if len(body) > 500:
        body = body[:500] + f"... ({len(request.body)} bytes)"
    return f"{request.method} {request.path} {body}".rstrip()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    summary = _run(config).summary
    if summary is not None:
        terminalreporter.write_line(summary)
