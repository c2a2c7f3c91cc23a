"""Every command but ``run`` against the fake server: the requests it sends, what it prints."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cli_support import DIGEST, PARAMETERS, Cli, ago, bodies, rfc3339, show_body

import ollamakit
from ollamakit.testing import FakeOllama, Reply

# -- list / ps --------------------------------------------------------------------------------


def _tags() -> dict[str, Any]:
    return {
        "models": [
            {
                "name": "gemma3:270m",
                "model": "gemma3:270m",
                "modified_at": ago(150),
                "size": 291_554_930,
                "digest": DIGEST,
                "details": {"family": "gemma3", "parameter_size": "268.10M"},
            },
            {
                "name": "llama3.2:latest",
                "model": "llama3.2:latest",
                "modified_at": ago(15 * 86400),
                "size": 2_019_393_189,
                "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
                "details": {"family": "llama"},
            },
        ]
    }


def test_list_prints_ollamas_table(cli: Cli, fake: FakeOllama) -> None:
    fake.expect("GET", "/api/tags", Reply.json(_tags()))
    result = cli("list")
    assert result.exit_code == 0
    assert result.stdout == (
        "NAME               ID              SIZE      MODIFIED\n"
        "gemma3:270m        e7d36fb2c3b3    291 MB    2 minutes ago\n"
        "llama3.2:latest    a80c4f17acd5    2.0 GB    2 weeks ago\n"
    )
    assert [(r.method, r.path) for r in fake.requests] == [("GET", "/api/tags")]


def test_ls_is_list_and_filters_by_prefix(cli: Cli, fake: FakeOllama) -> None:
    fake.expect("GET", "/api/tags", Reply.json(_tags()))
    result = cli("ls", "LLAMA")
    assert result.stdout.splitlines() == [
        "NAME               ID              SIZE      MODIFIED",
        "llama3.2:latest    a80c4f17acd5    2.0 GB    2 weeks ago",
    ]


def test_list_json(cli: Cli, fake: FakeOllama) -> None:
    fake.expect("GET", "/api/tags", Reply.json(_tags()))
    data = json.loads(cli("list", "--json").stdout)
    assert [model["name"] for model in data["models"]] == ["gemma3:270m", "llama3.2:latest"]
    assert data["models"][0]["digest"] == DIGEST
    assert data["models"][0]["size"] == 291_554_930
    filtered = json.loads(cli("list", "gemma", "--json").stdout)
    assert [model["name"] for model in filtered["models"]] == ["gemma3:270m"]


def test_list_empty(cli: Cli, fake: FakeOllama) -> None:
    fake.expect("GET", "/api/tags", Reply.json({"models": []}))
    assert cli("list").stdout == "NAME    ID    SIZE    MODIFIED\n"


def test_ps(cli: Cli, fake: FakeOllama) -> None:
    now = datetime.now(timezone.utc)
    fake.expect(
        "GET",
        "/api/ps",
        Reply.json(
            {
                "models": [
                    {
                        "name": "gemma3:270m",
                        "model": "gemma3:270m",
                        "size": 536_000_000,
                        "size_vram": 0,
                        "digest": DIGEST,
                        "expires_at": rfc3339(now + timedelta(seconds=290)),
                        "context_length": 4096,
                    },
                    {
                        "name": "big:latest",
                        "model": "big:latest",
                        "size": 10_000_000_000,
                        "size_vram": 6_000_000_000,
                        "digest": "0123456789abcdef",
                        "expires_at": "2318-01-01T00:00:00Z",
                        "context_length": 8192,
                    },
                ]
            }
        ),
    )
    result = cli("ps")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "NAME           ID              SIZE      PROCESSOR          CONTEXT    UNTIL",
        "gemma3:270m    e7d36fb2c3b3    536 MB    100% CPU           4096       4 minutes from now",
        "big:latest     0123456789ab    10 GB     40%/60% CPU/GPU    8192       Forever",
    ]
    data = json.loads(cli("ps", "--json").stdout)
    assert data["models"][0]["context_length"] == 4096


# -- show -------------------------------------------------------------------------------------


SHOW_INFO = """\
  Model
    architecture        gemma3
    parameters          268.10M
    context length      32768
    embedding length    640
    quantization        Q4_K_M

  Capabilities
    completion

  Parameters
    stop           "<end_of_turn>"
    temperature    1

  System
    You are terse.

  License
    Gemma Terms of Use
    See https://ai.google.dev/gemma/terms
    ...

"""


def test_show_prints_the_sections(cli: Cli, fake: FakeOllama) -> None:
    fake.expect("POST", "/api/show", Reply.json(show_body(system="You are terse.")))
    result = cli("show", "gemma3:270m")
    assert result.exit_code == 0
    assert result.stdout == SHOW_INFO
    assert bodies(fake, "/api/show") == [{"model": "gemma3:270m"}]


def test_show_verbose_adds_metadata_and_tensors(cli: Cli, fake: FakeOllama) -> None:
    body = show_body()
    body["model_info"]["tokenizer.ggml.tokens"] = ["<pad>", "<eos>", "<bos>", "a", "b"]
    body["tensors"] = [{"name": "token_embd.weight", "type": "Q8_0", "shape": [640, 262144]}]
    fake.expect("POST", "/api/show", Reply.json(body))
    result = cli("show", "-v", "gemma3:270m")
    assert bodies(fake, "/api/show") == [{"model": "gemma3:270m", "verbose": True}]
    assert (
        "  Metadata\n"
        "    gemma3.context_length      32768\n"
        "    gemma3.embedding_length    640\n"
        "    general.architecture       gemma3\n"
        "    general.parameter_count    268098176\n"
        "    tokenizer.ggml.tokens      [<pad> ...+4 more]\n"
        "\n"
        "  Tensors\n"
        "    token_embd.weight    Q8_0    [640 262144]\n"
    ) in result.stdout


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("--modelfile", '# Modelfile generated by "ollama show"\nFROM gemma3:270m\n\n'),
        ("--parameters", PARAMETERS + "\n"),
        ("--template", "{{ .Prompt }}\n"),
        ("--system", "\n"),
        ("--license", "Gemma Terms of Use\n\nSee https://ai.google.dev/gemma/terms\nMore text.\n"),
    ],
)
def test_show_one_field(cli: Cli, fake: FakeOllama, flag: str, expected: str) -> None:
    fake.expect("POST", "/api/show", Reply.json(show_body()))
    result = cli("show", "gemma3:270m", flag)
    assert result.exit_code == 0
    assert result.stdout == expected


def test_show_rejects_two_fields(cli: Cli, fake: FakeOllama) -> None:
    result = cli("show", "m", "--license", "--template")
    assert result.exit_code == 2
    assert "only one of '--license', '--modelfile'" in result.stderr
    assert fake.requests == []


def test_show_json(cli: Cli, fake: FakeOllama) -> None:
    fake.expect("POST", "/api/show", Reply.json(show_body(("completion", "vision"))))
    data = json.loads(cli("show", "gemma3:270m", "--json").stdout)
    assert data["capabilities"] == ["completion", "vision"]
    assert data["model_info"]["general.architecture"] == "gemma3"
    assert data["details"]["quantization_level"] == "Q4_K_M"


# -- errors and the host ----------------------------------------------------------------------


def test_server_error_prints_its_message(cli: Cli, fake: FakeOllama) -> None:
    fake.expect("POST", "/api/show", Reply.error("model 'nope' not found", 404))
    result = cli("show", "nope")
    assert result.exit_code == 1
    assert result.stderr == "Error: model 'nope' not found\n"
    assert result.stdout == ""


def test_unreachable_server_prints_the_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    result = Cli(f"http://127.0.0.1:{_closed_port()}")("list")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: Failed to connect to Ollama. Please check that Ollama is downloaded, running and "
        "accessible. https://ollama.com/download - nothing answered at http://127.0.0.1:"
    )
    assert "`ollamakit serve`" in result.stderr
    assert "Traceback" not in result.output


def test_invalid_model_name_is_refused_before_sending(cli: Cli, fake: FakeOllama) -> None:
    result = cli("show", "not a name!")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert fake.requests == []


def test_ollama_host_is_honoured(fake: FakeOllama, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from ollamakit.cli.commands import cli as group

    fake.expect("GET", "/api/tags", Reply.json({"models": []}))
    result = CliRunner().invoke(group, ["list"], env={"OLLAMA_HOST": fake.url})
    assert result.exit_code == 0, result.output
    assert [(r.method, r.path) for r in fake.requests] == [("GET", "/api/tags")]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- pull / push ------------------------------------------------------------------------------


def _pull_records(verb: str = "pulling") -> list[dict[str, Any]]:
    layer = "sha256:" + DIGEST
    return [
        {"status": "pulling manifest"} if verb == "pulling" else {"status": "retrieving manifest"},
        {"status": f"{verb} {DIGEST[:12]}", "digest": layer, "total": 2_500_000},
        {
            "status": f"{verb} {DIGEST[:12]}",
            "digest": layer,
            "total": 2_500_000,
            "completed": 1_000_000,
        },
        {
            "status": f"{verb} {DIGEST[:12]}",
            "digest": layer,
            "total": 2_500_000,
            "completed": 2_500_000,
        },
        {"status": "verifying sha256 digest"},
        {"status": "writing manifest"},
        {"status": "success"},
    ]


def test_pull_prints_each_step_once_without_a_terminal(cli: Cli, fake: FakeOllama) -> None:
    fake.expect("POST", "/api/pull", Reply.ndjson(_pull_records()))
    result = cli("pull", "gemma3:270m")
    assert result.exit_code == 0
    assert bodies(fake, "/api/pull") == [
        {"model": "gemma3:270m", "stream": True, "insecure": False}
    ]
    assert result.stderr == (
        "pulling manifest\n"
        "pulling e7d36fb2c3b3 (2.5 MB)\n"
        "verifying sha256 digest\n"
        "writing manifest\n"
        "success\n"
    )


def test_pull_insecure(cli: Cli, fake: FakeOllama) -> None:
    fake.expect("POST", "/api/pull", Reply.ndjson([{"status": "success"}]))
    assert cli("pull", "--insecure", "me/m").exit_code == 0
    assert bodies(fake, "/api/pull") == [{"model": "me/m", "insecure": True, "stream": True}]


def test_pull_error_mid_stream(cli: Cli, fake: FakeOllama) -> None:
    records = [
        {"status": "pulling manifest"},
        {"error": "pull model manifest: file does not exist"},
    ]
    # Spaced out: the client drops records that share a read with a later error line.
    fake.expect("POST", "/api/pull", Reply.ndjson(records, delay=0.05))
    result = cli("pull", "nope")
    assert result.exit_code == 1
    assert result.stderr == "pulling manifest\nError: pull model manifest: file does not exist\n"


def test_push(cli: Cli, fake: FakeOllama) -> None:
    fake.expect("POST", "/api/push", Reply.ndjson(_pull_records("pushing")))
    result = cli("push", "me/mine")
    assert result.exit_code == 0
    assert bodies(fake, "/api/push") == [{"model": "me/mine", "stream": True, "insecure": False}]
    assert "pushing e7d36fb2c3b3 (2.5 MB)\n" in result.stderr
    assert result.stderr.endswith("success\n")


def test_progress_view_draws_rich_bars() -> None:
    import io

    from ollamakit.cli._progress import ProgressView, follow
    from ollamakit.testing import FakeOllama as _Fake

    stream = io.StringIO()
    with _Fake() as fake:
        fake.expect("POST", "/api/pull", Reply.ndjson(_pull_records()))
        client = ollamakit.Client(fake.url)
        with ProgressView(stream, rich=True) as view, client.pull("m", stream=True) as records:
            assert view.live
            follow(records, view)
    text = stream.getvalue()
    assert "pulling manifest" in text
    assert "pulling e7d36fb2c3b3" in text
    assert "100%" in text
    assert "2.5/2.5 MB" in text
    assert "success" in text


# -- create -----------------------------------------------------------------------------------


def _modelfile(tmp_path: Path, text: str, weights: bytes = b"GGUF fake weights") -> Path:
    (tmp_path / "model.gguf").write_bytes(weights)
    path = tmp_path / "Modelfile"
    path.write_text(text)
    return path


def _create_records() -> list[dict[str, Any]]:
    return [
        {"status": "parsing GGUF"},
        {"status": "using existing layer sha256:" + DIGEST},
        {"status": "writing manifest"},
        {"status": "success"},
    ]


def test_create_uploads_the_weights_then_creates(
    cli: Cli, fake: FakeOllama, tmp_path: Path
) -> None:
    weights = b"GGUF fake weights" * 1000
    digest = "sha256:" + hashlib.sha256(weights).hexdigest()
    path = _modelfile(
        tmp_path,
        "FROM ./model.gguf\nPARAMETER temperature 0\nPARAMETER stop <end>\nSYSTEM You are terse.\n",
        weights,
    )
    fake.expect("HEAD", f"/api/blobs/{digest}", Reply.empty(404))
    fake.expect("POST", f"/api/blobs/{digest}", Reply.empty(201))
    fake.expect("POST", "/api/create", Reply.ndjson(_create_records()))
    result = cli("create", "mine", "-f", str(path))
    assert result.exit_code == 0, result.output
    assert [(r.method, r.path) for r in fake.requests] == [
        ("HEAD", f"/api/blobs/{digest}"),  # to say "using existing blob" when it is there
        ("HEAD", f"/api/blobs/{digest}"),  # create_blob's own check
        ("POST", f"/api/blobs/{digest}"),
        ("POST", "/api/create"),
    ]
    assert fake.requests[2].body == weights
    assert bodies(fake, "/api/create") == [
        {
            "model": "mine",
            "stream": True,
            "files": {"model.gguf": digest},
            "system": "You are terse.",
            "parameters": {"temperature": 0.0, "stop": ["<end>"]},
        }
    ]
    assert result.stderr == (
        "gathering model components\n"
        "hashing model.gguf (17 KB)\n"
        f"copying file {digest[:19]} (17 KB)\n"
        "parsing GGUF\n"
        f"using existing layer sha256:{DIGEST}\n"
        "writing manifest\n"
        "success\n"
    )


def test_create_skips_a_blob_the_server_has(
    cli: Cli, fake: FakeOllama, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = "sha256:" + hashlib.sha256(b"GGUF fake weights").hexdigest()
    _modelfile(tmp_path, "FROM model.gguf\n")
    monkeypatch.chdir(tmp_path)  # -f defaults to ./Modelfile
    fake.expect("HEAD", f"/api/blobs/{digest}", Reply.empty(200))
    fake.expect("POST", "/api/create", Reply.ndjson(_create_records()))
    result = cli("create", "mine", "-q", "q4_K_M")
    assert result.exit_code == 0, result.output
    assert [(r.method, r.path) for r in fake.requests] == [
        ("HEAD", f"/api/blobs/{digest}"),
        ("POST", "/api/create"),
    ]
    assert bodies(fake, "/api/create") == [
        {"model": "mine", "stream": True, "quantize": "q4_K_M", "files": {"model.gguf": digest}}
    ]
    assert f"using existing blob {digest[:19]}\n" in result.stderr


def test_create_from_a_model_sends_no_blobs(cli: Cli, fake: FakeOllama, tmp_path: Path) -> None:
    path = tmp_path / "Modelfile"
    path.write_text(
        'FROM gemma3:270m\nTEMPLATE """{{ .Prompt }}"""\nLICENSE MIT\nMESSAGE user hi\n'
        "MESSAGE assistant hello\n"
    )
    fake.expect("POST", "/api/create", Reply.ndjson(_create_records()))
    assert cli("create", "mine", "--file", str(path)).exit_code == 0
    assert bodies(fake, "/api/create") == [
        {
            "model": "mine",
            "stream": True,
            "from": "gemma3:270m",
            "template": "{{ .Prompt }}",
            "license": ["MIT"],
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello"},
            ],
        }
    ]


def test_create_sends_fields_that_create_has_no_parameter_for(
    cli: Cli, fake: FakeOllama, tmp_path: Path
) -> None:
    path = tmp_path / "Modelfile"
    path.write_text("FROM gemma3:270m\nRENDERER gemma3\nPARSER gemma3\nREQUIRES 0.12.0\n")
    fake.expect("POST", "/api/create", Reply.ndjson(_create_records()))
    assert cli("create", "mine", "-f", str(path)).exit_code == 0
    assert bodies(fake, "/api/create") == [
        {
            "model": "mine",
            "stream": True,
            "from": "gemma3:270m",
            "renderer": "gemma3",
            "parser": "gemma3",
            "requires": "0.12.0",
        }
    ]


def test_create_warns_about_deprecated_parameters(
    cli: Cli, fake: FakeOllama, tmp_path: Path
) -> None:
    path = tmp_path / "Modelfile"
    path.write_text("FROM gemma3:270m\nPARAMETER penalize_newline true\n")
    fake.expect("POST", "/api/create", Reply.ndjson(_create_records()))
    result = cli("create", "mine", "-f", str(path))
    assert result.exit_code == 0
    assert result.stderr.startswith("Warning: parameter penalize_newline is deprecated\n")


def test_create_reports_modelfile_errors(cli: Cli, fake: FakeOllama, tmp_path: Path) -> None:
    path = tmp_path / "Modelfile"
    path.write_text("FROM gemma3:270m\nPARAMETER nonsense 1\n")
    result = cli("create", "mine", "-f", str(path))
    assert result.exit_code == 1
    assert result.stderr == "Error: unknown parameter 'nonsense'\n"
    missing = cli("create", "mine", "-f", str(tmp_path / "nope"))
    assert missing.exit_code == 1
    assert missing.stderr.startswith("Error: open ")
    assert fake.requests == []


def test_create_server_error(cli: Cli, fake: FakeOllama, tmp_path: Path) -> None:
    path = tmp_path / "Modelfile"
    path.write_text("FROM nope\n")
    fake.expect(
        "POST", "/api/create", Reply.ndjson([{"error": "pull model manifest: file does not exist"}])
    )
    result = cli("create", "mine", "-f", str(path))
    assert result.exit_code == 1
    assert result.stderr.endswith("Error: pull model manifest: file does not exist\n")


# -- cp / rm / stop ---------------------------------------------------------------------------


def test_cp(cli: Cli, fake: FakeOllama) -> None:
    fake.expect("POST", "/api/copy", Reply.empty())
    result = cli("cp", "gemma3:270m", "mine:v1")
    assert result.stdout == "copied 'gemma3:270m' to 'mine:v1'\n"
    assert bodies(fake, "/api/copy") == [{"source": "gemma3:270m", "destination": "mine:v1"}]


def test_rm_several_continues_after_a_failure(cli: Cli, fake: FakeOllama) -> None:
    fake.expect(
        "DELETE",
        "/api/delete",
        Reply.empty(),
        Reply.error("model 'b' not found", 404),
        Reply.empty(),
    )
    result = cli("rm", "a", "b", "c")
    assert result.exit_code == 1
    assert result.stdout == "deleted 'a'\ndeleted 'c'\n"
    assert result.stderr == "Error: model 'b' not found\n"
    assert bodies(fake, "/api/delete") == [{"model": "a"}, {"model": "b"}, {"model": "c"}]
    assert [r.method for r in fake.requests] == ["DELETE"] * 3


def test_rm_needs_a_name(cli: Cli) -> None:
    assert cli("rm").exit_code == 2


def test_stop_unloads(cli: Cli, fake: FakeOllama) -> None:
    fake.expect("POST", "/api/generate", Reply.json({"model": "m", "done": True, "response": ""}))
    result = cli("stop", "m")
    assert result.exit_code == 0
    assert result.output == ""
    assert bodies(fake, "/api/generate") == [{"model": "m", "stream": False, "keep_alive": 0}]


def test_stop_unknown_model(cli: Cli, fake: FakeOllama) -> None:
    fake.expect("POST", "/api/generate", Reply.error("model 'm' not found", 404))
    result = cli("stop", "m")
    assert result.exit_code == 1
    assert result.stderr == 'Error: couldn\'t find model "m" to stop\n'


# -- embed / version --------------------------------------------------------------------------


def test_embed_prints_one_vector_per_line(cli: Cli, fake: FakeOllama) -> None:
    reply = {"model": "all-minilm", "embeddings": [[0.1, -0.2], [0.3, 0.4]], "total_duration": 5}
    fake.expect("POST", "/api/embed", Reply.json(reply))
    result = cli("embed", "all-minilm", "first text", "second text", "--dimensions", "2")
    assert result.exit_code == 0
    assert result.stdout == "[0.1, -0.2]\n[0.3, 0.4]\n"
    assert bodies(fake, "/api/embed") == [
        {"model": "all-minilm", "input": ["first text", "second text"], "dimensions": 2}
    ]
    data = json.loads(cli("embed", "all-minilm", "x", "--json", "--keepalive", "1m").stdout)
    assert data["embeddings"] == [[0.1, -0.2], [0.3, 0.4]]
    assert bodies(fake, "/api/embed")[-1] == {
        "model": "all-minilm",
        "input": ["x"],
        "keep_alive": "1m",
    }


def test_embed_reads_lines_from_stdin(cli: Cli, fake: FakeOllama) -> None:
    fake.expect("POST", "/api/embed", Reply.json({"embeddings": [[1.0], [2.0]]}))
    result = cli("embed", "all-minilm", input="one\n\ntwo\n")
    assert result.exit_code == 0
    assert bodies(fake, "/api/embed")[0]["input"] == ["one", "two"]
    assert cli("embed", "all-minilm").exit_code == 2


def test_version(cli: Cli, fake: FakeOllama) -> None:
    result = cli("version")
    assert result.exit_code == 0
    assert result.stdout == (
        f"ollama version is 0.33.0\nollamakit version is {ollamakit.__version__}\n"
    )
    assert cli("-v").stdout == result.stdout
    assert cli("--version").stdout == result.stdout


def test_version_without_a_server_exits_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    url = f"http://127.0.0.1:{_closed_port()}"
    result = Cli(url)("version")
    assert result.exit_code == 0
    assert result.stdout == (
        f"Warning: could not connect to a running Ollama instance at {url}\n"
        f"ollamakit version is {ollamakit.__version__}\n"
    )


# -- serve ------------------------------------------------------------------------------------


def test_serve_passes_its_flags_to_the_embedded_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from ollamakit import server

    calls: list[list[str]] = []
    monkeypatch.setattr("importlib.util.find_spec", lambda name: object())
    monkeypatch.setattr(server, "main", lambda argv: calls.append(list(argv)) or 0)
    from click.testing import CliRunner

    from ollamakit.cli.commands import cli as group

    runner = CliRunner()
    result = runner.invoke(group, ["serve", "--port", "12345", "--models", str(tmp_path)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(group, ["--host", "127.0.0.1:23456", "serve"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(group, ["serve"], env={"OLLAMA_HOST": "127.0.0.1:34567"})
    assert calls == [
        ["--port", "12345", "--models", str(tmp_path)],
        ["--host", "127.0.0.1", "--port", "23456"],
        [],  # the server reads OLLAMA_HOST itself
    ]


def test_serve_without_the_server_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        "importlib.util.find_spec", lambda name: None if name == "llama_cpp" else real(name)
    )
    from click.testing import CliRunner

    from ollamakit.cli.commands import cli as group

    result = CliRunner().invoke(group, ["serve"])
    assert result.exit_code == 1
    assert "pip install 'ollamakit[server]'" in result.stderr
    assert "llama_cpp" in result.stderr


# -- the program itself -----------------------------------------------------------------------


def test_help_lists_the_commands_in_ollamas_order(cli: Cli) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    commands = [line.split()[0] for line in result.stdout.split("Commands:\n")[1].splitlines()]
    assert commands == [
        "serve", "create", "show", "run", "stop", "pull", "push", "signin", "signout", "list",
        "ps", "cp", "rm", "embed", "version",
    ]  # fmt: skip
    assert cli().stdout == result.stdout  # no command: the help


def test_help_imports_neither_rich_nor_the_http_stack(cli_env: dict[str, str]) -> None:
    code = (
        "import sys\n"
        "from ollamakit.cli import main\n"
        "code = main(['--help'])\n"
        "heavy = ('rich', 'httpx', 'urllib3', 'aiohttp', 'readline', 'ollamakit.modelfile')\n"
        "print(code, sorted(name for name in heavy if name in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=cli_env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.splitlines()[-1] == "0 []", result.stderr


def test_python_dash_m_ollamakit(cli_env: dict[str, str], fake: FakeOllama) -> None:
    fake.expect("GET", "/api/tags", Reply.json(_tags()))
    result = subprocess.run(
        [sys.executable, "-m", "ollamakit", "--host", fake.url, "ls"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("NAME               ID              SIZE      MODIFIED\n")
    failed = subprocess.run(
        [sys.executable, "-m", "ollamakit", "--host", fake.url, "show", "x"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert failed.returncode == 1
    assert failed.stderr == "Error: no reply scripted for POST /api/show\n"
