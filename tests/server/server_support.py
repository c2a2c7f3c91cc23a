"""Helpers for the embedded-server tests: launching ``python -m ollamakit.server`` and
building clients. Fixtures live in ``conftest.py``."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

import ollamakit

DEMO = "gemma3:270m"
# Small, deterministic generations keep the suite fast on a 2-core machine.
FAST = {"num_predict": 8, "temperature": 0, "seed": 42}

# A Go template that uses ``.Tools``, which gives a model built on the demo weights the tools
# capability: Modelfile-built tool models in the tests use it (fixture ``tools_model``).
TOOLS_TEMPLATE = (
    "{{- if .Tools }}Tools: {{ .Tools }}\n{{ end }}"
    "{{- range .Messages }}{{ .Role }}: {{ .Content }}\n{{ end }}assistant: "
)
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
# A schema that makes the model answer with a call in the ``{"<tool>": {...}}`` form, which
# the template's tool-call parser (tag ``{``) reads, so a real call comes back.
FORCED_CALL: dict[str, Any] = {
    "type": "object",
    "properties": {
        "get_weather": {
            "type": "object",
            "properties": {"city": {"enum": ["Paris"]}},
            "required": ["city"],
            "additionalProperties": False,
        }
    },
    "required": ["get_weather"],
    "additionalProperties": False,
}

# A thinking model: the template shows ``.Thinking`` as ``<think>…</think>`` inside ``range
# .Messages`` (so the tags are inferred and the model has the thinking capability) and ends the
# prompt with ``<think>`` when thinking; the history (as the Modelfile's MESSAGE lines) teaches
# the base model to close the tag and answer.
THINK_TEMPLATE = (
    '{{ if and .Think (ne .ThinkLevel "medium") }}effort: {{ .ThinkLevel }}\n{{ end }}'
    "{{ range .Messages }}{{ .Role }}:\n"
    "{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}{{ .Content }}\n"
    "{{ end }}assistant:\n{{ if .Think }}<think>{{ end }}"
)
THINK_HISTORY = [
    message
    for a, b in ((2, 3), (4, 1), (5, 2))
    for message in (
        {"role": "user", "content": f"{a}+{b}?"},
        {"role": "assistant", "thinking": f"add {a} and {b}", "content": str(a + b)},
    )
]


def _src_dir() -> str:
    return str(Path(ollamakit.__file__).resolve().parent.parent)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """A running ``python -m ollamakit.server``."""

    process: subprocess.Popen[bytes]
    url: str
    models: Path
    log: Path
    home: Path

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)

    def kill(self) -> None:
        """SIGKILL: no cleanup, as in a power cut."""
        self.stop(signal.SIGKILL)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def launch(
    models: Path, log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> ServerProcess:
    port = free_port()
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OLLAMA_", "OLLAMAKIT_"))
    }
    environment["PYTHONPATH"] = os.pathsep.join(
        item for item in (_src_dir(), environment.get("PYTHONPATH", "")) if item
    )
    # Tests never reach a real registry: a pull of anything but the demo model or a local
    # fake registry fails at once instead of going to registry.ollama.ai.
    environment["OLLAMAKIT_OFFLINE"] = "1"
    # A home of its own: the Ollama key (~/.ollama/id_ed25519) a server creates on first need
    # must never be the developer's.
    home = log.parent / "home"
    home.mkdir(exist_ok=True)
    environment["HOME"] = str(home)
    environment.update(env or {})
    handle = open(log, "ab")  # noqa: SIM115 - the child owns it; closed below
    try:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ollamakit.server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--models",
                str(models),
            ],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=cwd,
        )
    finally:
        handle.close()
    server = ServerProcess(
        process, f"http://127.0.0.1:{port}", models, log, Path(environment["HOME"])
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.log_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.url + "/", timeout=1).text == "Ollama is running":
                return server
        time.sleep(0.1)
    server.kill()
    raise RuntimeError(f"server did not start:\n{server.log_text()}")


CLIENTS = ["ollama", "ollamakit"]


def make_client(kind: str, url: str) -> object:
    if kind == "ollama":
        import ollama

        return ollama.Client(host=url)
    return ollamakit.Client(host=url)


def run_example(script: str, url: str) -> subprocess.CompletedProcess[str]:
    """``examples/<script>`` run against the server at ``url``, as a user would run it."""
    examples = Path(__file__).resolve().parents[2] / "examples"
    env = {
        **os.environ,
        "OLLAMA_HOST": url,
        "PYTHONPATH": os.pathsep.join([str(examples.parent / "src"), str(examples)]),
    }
    return subprocess.run(
        [sys.executable, str(examples / script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def load_stress_script(name: str) -> ModuleType:
    """``tests/stress/<name>.py`` as a module (the CI-sized tests reuse the stress scripts)."""
    path = Path(__file__).resolve().parent.parent / "stress" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"ollamakit_stress_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module
