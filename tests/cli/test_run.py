"""``ollamakit run MODEL PROMPT`` and piped input: one-shot generation against the fake server."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from cli_support import Cli, bodies, show_body

from ollamakit.testing import FakeOllama, Reply, generate_stream


def _script(fake: FakeOllama, tokens: list[str], **show: object) -> None:
    fake.expect("POST", "/api/show", Reply.json(show_body(**show)))  # type: ignore[arg-type]
    fake.expect("POST", "/api/generate", Reply.ndjson(generate_stream(tokens, model="m")))


def test_run_with_a_prompt(cli: Cli, fake: FakeOllama) -> None:
    _script(fake, ["The sky", " is blue", "."])
    result = cli("run", "m", "Why", "is", "the sky blue?")
    assert result.exit_code == 0
    assert result.stdout == "The sky is blue.\n"
    assert result.stderr == ""
    assert [(r.method, r.path) for r in fake.requests] == [
        ("GET", "/api/version"),  # is a server running? (else the embedded one is started)
        ("POST", "/api/show"),
        ("POST", "/api/generate"),
    ]
    assert bodies(fake, "/api/show") == [{"model": "m"}]
    assert bodies(fake, "/api/generate") == [
        {"model": "m", "prompt": "Why is the sky blue?", "stream": True}
    ]


def test_run_with_piped_input(cli: Cli, fake: FakeOllama) -> None:
    _script(fake, ["A summary."])
    result = cli("run", "m", "Summarise this:", input="Some long text.\n")
    assert result.stdout == "A summary.\n"
    assert bodies(fake, "/api/generate")[0]["prompt"] == "Some long text.\n Summarise this:"


def test_run_piped_input_alone(cli: Cli, fake: FakeOllama) -> None:
    _script(fake, ["ok"])
    assert cli("run", "m", input="hello").stdout == "ok\n"
    assert bodies(fake, "/api/generate")[0]["prompt"] == "hello"


def test_run_flags_go_into_the_request(cli: Cli, fake: FakeOllama) -> None:
    _script(fake, ['{"a": 1}'])
    result = cli("run", "m", "give json", "--format", "json", "--keepalive", "10m", "--think=high")
    assert result.exit_code == 0
    assert bodies(fake, "/api/generate") == [
        {
            "model": "m",
            "prompt": "give json",
            "stream": True,
            "think": "high",
            "format": "json",
            "keep_alive": "10m",
        }
    ]


def test_run_format_schema_and_numeric_keepalive(cli: Cli, fake: FakeOllama) -> None:
    _script(fake, ["{}"])
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    cli("run", "m", "x", "--format", json.dumps(schema), "--keepalive", "0")
    body = bodies(fake, "/api/generate")[0]
    assert body["format"] == schema
    assert body["keep_alive"] == 0


@pytest.mark.parametrize(
    ("args", "think"),
    [
        (["--think", "m", "hi"], True),  # --think alone does not swallow the model name
        (["m", "hi", "--think"], True),
        (["m", "hi", "--think=false"], False),
        (["m", "hi", "--think=LOW"], "low"),
    ],
)
def test_run_think_values(cli: Cli, fake: FakeOllama, args: list[str], think: object) -> None:
    _script(fake, ["ok"])
    assert cli("run", *args).exit_code == 0
    body = bodies(fake, "/api/generate")[0]
    assert body["model"] == "m"
    assert body["prompt"] == "hi"
    assert body["think"] == think


def test_run_rejects_bad_flag_values(cli: Cli, fake: FakeOllama) -> None:
    bad_think = cli("run", "m", "hi", "--think=loud")
    assert bad_think.exit_code == 2
    assert "--think" in bad_think.stderr
    bad_format = cli("run", "m", "hi", "--format", "yaml")
    assert bad_format.exit_code == 2
    assert "--format" in bad_format.stderr
    assert fake.requests == []


def _thinking_stream() -> list[dict[str, object]]:
    records = generate_stream(["The answer", " is 4."], model="m")
    thinking = [
        {"model": "m", "created_at": "2025-01-01T00:00:00Z", "response": "", "thinking": piece,
         "done": False}
        for piece in ("2 plus 2", " makes 4")
    ]  # fmt: skip
    return thinking + records


def test_run_shows_thinking_apart_from_the_answer(cli: Cli, fake: FakeOllama) -> None:
    fake.expect("POST", "/api/show", Reply.json(show_body(("completion", "thinking"))))
    fake.expect("POST", "/api/generate", Reply.ndjson(_thinking_stream()))
    result = cli("run", "m", "2+2?", "--think")
    assert result.stdout == (
        "Thinking...\n2 plus 2 makes 4\n...done thinking.\n\nThe answer is 4.\n"
    )


def test_run_hidethinking(cli: Cli, fake: FakeOllama) -> None:
    fake.expect("POST", "/api/show", Reply.json(show_body(("completion", "thinking"))))
    fake.expect("POST", "/api/generate", Reply.ndjson(_thinking_stream()))
    result = cli("run", "m", "2+2?", "--think", "--hidethinking")
    assert result.stdout == "The answer is 4.\n"
    assert bodies(fake, "/api/generate")[0]["think"] is True


def test_run_verbose_prints_ollamas_statistics(cli: Cli, fake: FakeOllama) -> None:
    _script(fake, ["a", "b", "c"])
    result = cli("run", "m", "hi", "--verbose")
    assert result.stdout == "abc\n"
    # The fake's metrics: 26 prompt tokens in 342.546 ms, 3 tokens in 4.535599 s.
    assert result.stderr == (
        "total duration:       4.883583458s\n"
        "load duration:        1.334875ms\n"
        "prompt eval count:    26 token(s)\n"
        "prompt eval duration: 342.546ms\n"
        "prompt eval rate:     75.90 tokens/s\n"
        "eval count:           3 token(s)\n"
        "eval duration:        4.535599s\n"
        "eval rate:            0.66 tokens/s\n"
    )


def test_run_attaches_images_for_vision_models(cli: Cli, fake: FakeOllama, tmp_path: Path) -> None:
    image = tmp_path / "cat.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    _script(fake, ["A cat."], capabilities=("completion", "vision"))
    result = cli("run", "m", f"What is in {image} ?")
    assert result.stdout == "A cat.\n"
    assert result.stderr == f"Added image '{image}'\n"
    body = bodies(fake, "/api/generate")[0]
    assert body["prompt"] == "What is in  ?"
    assert body["images"] == [base64.b64encode(image.read_bytes()).decode()]


def test_run_leaves_paths_alone_for_text_models(cli: Cli, fake: FakeOllama, tmp_path: Path) -> None:
    image = tmp_path / "cat.png"
    image.write_bytes(b"png")
    _script(fake, ["ok"])
    cli("run", "m", f"describe {image}")
    body = bodies(fake, "/api/generate")[0]
    assert body["prompt"] == f"describe {image}"
    assert "images" not in body


def test_run_pulls_a_missing_model_first(cli: Cli, fake: FakeOllama) -> None:
    fake.expect(
        "POST",
        "/api/show",
        Reply.error("model 'm' not found", 404),
        Reply.json(show_body()),
    )
    fake.expect(
        "POST",
        "/api/pull",
        Reply.ndjson([{"status": "pulling manifest"}, {"status": "success"}]),
    )
    fake.expect("POST", "/api/generate", Reply.ndjson(generate_stream(["hi"], model="m")))
    result = cli("run", "m", "hello")
    assert result.exit_code == 0
    assert result.stdout == "hi\n"
    assert result.stderr == "pulling manifest\nsuccess\n"
    assert [r.path for r in fake.requests] == [
        "/api/version",
        "/api/show",
        "/api/pull",
        "/api/show",
        "/api/generate",
    ]


def test_run_error_mid_stream(cli: Cli, fake: FakeOllama) -> None:
    fake.expect("POST", "/api/show", Reply.json(show_body()))
    records = [generate_stream(["partial"], model="m")[0], {"error": "llama runner crashed"}]
    fake.expect("POST", "/api/generate", Reply.ndjson(records, delay=0.05))
    result = cli("run", "m", "hi")
    assert result.exit_code == 1
    assert result.stdout == "partial\n"
    assert result.stderr == "Error: llama runner crashed\n"


def test_run_cut_stream(cli: Cli, fake: FakeOllama) -> None:
    fake.expect("POST", "/api/show", Reply.json(show_body()))
    records = generate_stream(["partial", "more"], model="m")[:2]
    fake.expect("POST", "/api/generate", Reply.ndjson(records, complete=False))
    result = cli("run", "m", "hi")
    assert result.exit_code == 1
    assert result.stdout == "partialmore\n"
    assert result.stderr.startswith("Error: ")
    assert "Traceback" not in result.output


def test_run_embedding_model_prints_the_vector(cli: Cli, fake: FakeOllama) -> None:
    fake.expect("POST", "/api/show", Reply.json(show_body(("embedding",))))
    fake.expect("POST", "/api/embed", Reply.json({"embeddings": [[0.5, 0.25]]}))
    result = cli("run", "all-minilm", "some text")
    assert result.stdout == "[0.5, 0.25]\n"
    assert bodies(fake, "/api/embed") == [{"model": "all-minilm", "input": "some text"}]


@pytest.mark.server
@pytest.mark.timeout(180)
def test_run_starts_the_embedded_server_when_none_is_running(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    import re
    import signal
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**cli_env, "OLLAMAKIT_MODELS": str(tmp_path / "models"), "OLLAMAKIT_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "ollamakit", "--host", f"http://127.0.0.1:{port}",
               "run", "gemma3:270m", "Why is the sky blue?"]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=170)
    except subprocess.TimeoutExpired as exc:
        # The server it started outlives it: stop that one too.
        stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else exc.stderr or ""
        if (leaked := re.search(r"pid (\d+)", stderr)) is not None:
            os.kill(int(leaked.group(1)), signal.SIGTERM)
        raise
    started = re.search(r"pid (\d+)", result.stderr)
    try:
        assert result.returncode == 0, result.stderr
        assert started is not None, result.stderr
        assert result.stdout.strip(), "the model's answer is printed"
        assert (tmp_path / "models" / "manifests").is_dir(), "the demo model was installed"
    finally:
        if started is not None:
            os.kill(int(started.group(1)), signal.SIGTERM)
