"""The command line against the embedded server and real gemma3:270m output (kept to 8 tokens).

Generation happens through ``cli-tiny``, a model this module creates with ``ollamakit create``
from a Modelfile that caps ``num_predict``, since ``run`` has no option for it (nor has Ollama's).
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_support import Cli

pytestmark = pytest.mark.server

TINY = "cli-tiny"
MODELFILE = (
    "FROM gemma3:270m\n"
    "PARAMETER num_predict 8\n"
    "PARAMETER temperature 0\n"
    "PARAMETER seed 42\n"
    "SYSTEM You answer in one short sentence.\n"
)


@pytest.fixture(scope="module")
def cli(embedded: Any) -> Cli:
    return Cli(embedded.url)


@pytest.fixture(scope="module")
def tiny(cli: Cli, demo_model: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("modelfile") / "Modelfile"
    path.write_text(MODELFILE)
    result = cli("create", TINY, "-f", str(path))
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("gathering model components\n")
    assert result.stderr.endswith("writing manifest\nsuccess\n")
    return TINY


def test_pull_list_show(cli: Cli, demo_model: str) -> None:
    pulled = cli("pull", demo_model)
    assert pulled.exit_code == 0, pulled.output
    assert pulled.stderr.startswith("pulling manifest\npulling ")
    assert pulled.stderr.endswith("verifying sha256 digest\nwriting manifest\nsuccess\n")

    listed = cli("list", "gemma3")
    assert listed.exit_code == 0
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["NAME", "ID", "SIZE", "MODIFIED"]
    assert any(
        re.fullmatch(r"gemma3:270m\s{4,}[0-9a-f]{12}\s{4,}\d+ MB\s{4,}.+ ago", row) for row in rows
    ), rows

    shown = cli("show", demo_model)
    assert shown.exit_code == 0
    assert "    architecture        gemma3\n" in shown.stdout
    assert "    parameters          268.10M\n" in shown.stdout
    assert "    quantization        Q4_K_M\n" in shown.stdout
    parameters = '  Parameters\n    num_predict    256\n    stop           "<end_of_turn>"\n'
    assert parameters in shown.stdout
    assert "  License\n    Gemma Terms of Use\n" in shown.stdout
    assert cli("show", demo_model, "--template").stdout.startswith("{{")
    data = json.loads(cli("show", demo_model, "--json").stdout)
    assert data["details"]["family"] == "gemma3"


def test_run_ps_stop(cli: Cli, tiny: str) -> None:
    result = cli("run", tiny, "The capital of France is", "--verbose")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip()
    count = re.search(r"^eval count:\s+(\d+) token\(s\)$", result.stderr, re.MULTILINE)
    assert count is not None, result.stderr
    assert 0 < int(count.group(1)) <= 8
    assert re.search(r"^eval rate:\s+\d+\.\d\d tokens/s$", result.stderr, re.MULTILINE)

    loaded = cli("ps")
    row = rf"^{TINY}:latest\s+[0-9a-f]{{12}}\s+\d+(\.\d)? [MG]B\s+100% CPU"
    assert re.search(row, loaded.stdout, re.MULTILINE), loaded.stdout
    assert cli("stop", tiny).exit_code == 0
    deadline = time.monotonic() + 10
    while TINY in cli("ps").stdout and time.monotonic() < deadline:
        time.sleep(0.2)
    assert TINY not in cli("ps").stdout


def test_run_with_piped_input(cli: Cli, tiny: str) -> None:
    result = cli("run", tiny, input="Say hello.")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip()


def test_cp_rm(cli: Cli, tiny: str) -> None:
    assert cli("cp", tiny, "cli-copy").stdout == f"copied '{tiny}' to 'cli-copy'\n"
    assert "cli-copy:latest" in cli("list").stdout
    assert cli("rm", "cli-copy").stdout == "deleted 'cli-copy'\n"
    again = cli("rm", "cli-copy")
    assert again.exit_code == 1
    assert again.stderr == "Error: model 'cli-copy' not found\n"


def test_embed(cli: Cli, demo_model: str) -> None:
    result = cli("embed", demo_model, "The sky is blue.", "--dimensions", "8")
    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    vector = json.loads(line)
    assert len(vector) == 8
    assert all(isinstance(value, float) for value in vector)


def test_errors_and_version(cli: Cli, embedded: Any) -> None:
    missing = cli("show", "no-such-model")
    assert missing.exit_code == 1
    assert missing.stderr == "Error: model 'no-such-model' not found\n"
    version = cli("version").stdout.splitlines()
    assert re.fullmatch(r"ollama version is \S+", version[0])


def test_chat_on_a_terminal(spawn: Any, embedded: Any, tiny: str) -> None:
    child = spawn("--host", embedded.url, "run", tiny, timeout=120)
    child.expect_exact(">>> ")
    child.sendline("/set parameter num_predict 6")
    child.expect_exact(">>> ")
    child.sendline("Hello!")
    child.expect_exact(">>> ")
    answer = str(child.before).replace("\r\n", "\n").removeprefix("Hello!\n")
    assert answer.strip()
    child.sendline("/bye")
    child.expect_exact(__import__("pexpect").EOF)
    child.close()
    assert child.exitstatus == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("how", ["flags", "OLLAMA_HOST"])
def test_serve(how: str, cli_env: dict[str, str], tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    port = _free_port()
    env = dict(cli_env)
    args = [sys.executable, "-m", "ollamakit", "serve", "--models", str(tmp_path / "models")]
    if how == "flags":
        args += ["--host", "127.0.0.1", "--port", str(port)]
    else:
        env["OLLAMA_HOST"] = f"127.0.0.1:{port}"
    process = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()[0]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).text == "Ollama is running":
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        assert Cli(f"http://127.0.0.1:{port}")("list").stdout == "NAME    ID    SIZE    MODIFIED\n"
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "Traceback" not in output
