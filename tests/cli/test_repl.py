"""The interactive chat on a real pseudo-terminal (pexpect), against the fake server."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path
from typing import Any

import pytest
from cli_support import bodies, show_body

from ollamakit.testing import FakeOllama, Reply, chat_stream, generate_stream

pexpect = pytest.importorskip("pexpect")

PROMPT = ">>> "


def _loaded(fake: FakeOllama, capabilities: tuple[str, ...] = ("completion",)) -> None:
    """What ``run`` asks before the first prompt: the model's details, then a preload."""
    fake.expect("POST", "/api/show", Reply.json(show_body(capabilities)))
    fake.expect("POST", "/api/generate", Reply.json({"model": "m", "done": True, "response": ""}))


def _answer(*tokens: str, **kwargs: Any) -> Reply:
    return Reply.ndjson(chat_stream(list(tokens), model="m", **kwargs))


def _say(child: Any, line: str) -> str:
    """Send one line; return what was printed until the next prompt (echo excluded)."""
    child.sendline(line)
    child.expect_exact(PROMPT)
    text = str(child.before).replace("\r\n", "\n")
    echoed = line + "\n"
    return text[len(echoed) :] if text.startswith(echoed) else text


def _start(spawn: Any, fake: FakeOllama, *args: str, **kwargs: Any) -> Any:
    child = spawn("--host", fake.url, "run", "m", *args, **kwargs)
    child.expect_exact(PROMPT)
    return child


def _bye(child: Any) -> None:
    child.sendline("/bye")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_chat_keeps_the_conversation(spawn: Any, fake: FakeOllama) -> None:
    _loaded(fake)
    fake.expect(
        "POST",
        "/api/chat",
        _answer("Hi", " there"),
        _answer("Two", " lines"),
        _answer("Brief."),
        _answer("Fresh."),
    )
    child = _start(spawn, fake, "--nowordwrap")
    assert _say(child, "hello") == "Hi there\n\n"
    child.sendline('"""')
    child.expect_exact("... ")
    child.sendline("line one")
    child.expect_exact("... ")
    child.sendline('line two"""')
    child.expect_exact(PROMPT)
    assert "Two lines\n" in str(child.before).replace("\r\n", "\n")
    assert _say(child, "/set parameter temperature 0.5") == (
        "Set parameter 'temperature' to '0.5'\n"
    )
    assert _say(child, "/set parameter stop <a> <b>") == "Set parameter 'stop' to '<a>, <b>'\n"
    assert _say(child, "/set parameter top_k lots") == (
        "Couldn't set parameter: invalid int value [lots]\n"
    )
    assert _say(child, "/set parameter nonsense 1") == (
        "Couldn't set parameter: unknown parameter 'nonsense'\n"
    )
    assert _say(child, "/set system Be   brief.") == "Set system message.\n"
    assert _say(child, "next") == "Brief.\n\n"
    assert _say(child, "/clear") == "Cleared session context\n"
    assert _say(child, "again") == "Fresh.\n\n"
    _bye(child)

    assert [r.path for r in fake.requests] == [
        "/api/version",
        "/api/show",
        "/api/generate",
        *["/api/chat"] * 4,
    ]
    assert bodies(fake, "/api/generate") == [{"model": "m", "stream": False}]
    chats = bodies(fake, "/api/chat")
    assert chats[0] == {"model": "m", "messages": [{"role": "user", "content": "hello"}],
                        "tools": [], "stream": True}  # fmt: skip
    assert chats[1]["messages"] == [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "Hi there"},
        {"role": "user", "content": "line one\nline two"},
    ]
    assert "options" not in chats[1]
    assert chats[2]["messages"][-2:] == [
        {"role": "system", "content": "Be   brief."},
        {"role": "user", "content": "next"},
    ]
    assert chats[2]["options"] == {"temperature": 0.5, "stop": ["<a>", "<b>"]}
    assert chats[3]["messages"] == [
        {"role": "system", "content": "Be   brief."},
        {"role": "user", "content": "again"},
    ]


def test_ctrl_c_stops_the_answer_not_the_session(spawn: Any, fake: FakeOllama) -> None:
    _loaded(fake)
    slow = chat_stream([f"t{i} " for i in range(80)], model="m")
    fake.expect("POST", "/api/chat", Reply.ndjson(slow, delay=0.05), _answer("ok"))
    child = _start(spawn, fake, "--nowordwrap")
    child.sendline("count")
    child.expect_exact("t2 ")
    child.sendintr()
    started = time.monotonic()
    child.expect_exact(PROMPT)
    assert time.monotonic() - started < 2  # the rest of the stream takes 4 s
    interrupted = str(child.before)
    assert "t79" not in interrupted
    # Closing the stream closes its connection: that is how Ollama learns to stop.
    deadline = time.monotonic() + 5
    while fake.open_connections and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake.open_connections == 0

    assert _say(child, "go on") == "ok\n\n"
    _, second = bodies(fake, "/api/chat")
    partial = second["messages"][1]
    assert partial["role"] == "assistant"
    assert partial["content"].startswith("t0 t1 t2 ")
    assert "t79" not in partial["content"]
    assert second["messages"][2] == {"role": "user", "content": "go on"}

    # Ctrl-C during a slow command returns to the prompt too.
    fake.expect("POST", "/api/show", Reply.json(show_body()).after(5))
    child.sendline("/show info")
    time.sleep(0.5)
    child.sendintr()
    started = time.monotonic()
    child.expect_exact(PROMPT)
    assert time.monotonic() - started < 2

    # Ctrl-C at an empty prompt only says how to leave; Ctrl-D leaves.
    child.sendintr()
    child.expect_exact("Use Ctrl + d or /bye to exit.")
    child.expect_exact(PROMPT)
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_ctrl_c_cancels_a_multiline_message(spawn: Any, fake: FakeOllama) -> None:
    _loaded(fake)
    child = _start(spawn, fake)
    child.sendline('"""')
    child.expect_exact("... ")
    child.sendline("never sent")
    child.expect_exact("... ")
    child.sendintr()
    child.expect_exact(PROMPT)
    _bye(child)
    assert bodies(fake, "/api/chat") == []


def test_help_and_settings(spawn: Any, fake: FakeOllama) -> None:
    _loaded(fake)
    thinking = chat_stream(["4"], model="m", thinking=["2+2", " is 4"])
    fake.expect("POST", "/api/chat", _answer('{"a":1}'), Reply.ndjson(thinking), _answer("x"))
    child = _start(spawn, fake, "--nowordwrap")
    assert _say(child, "/?").startswith("Available Commands:\n  /set            Set session")
    assert 'Use """ to begin a multi-line message.' in _say(child, "/help")
    assert "Ctrl + c            Stop the model from responding" in _say(child, "/? shortcuts")
    assert _say(child, "/set").startswith("Available Commands:\n  /set parameter ...")
    assert _say(child, "/set parameter").startswith("Available Parameters:")
    assert _say(child, "/set format yaml") == (
        "Invalid or missing format. For 'json' mode use '/set format json'\n"
    )
    assert _say(child, "/set format json") == "Set format to 'json' mode.\n"
    assert _say(child, "give json") == '{"a":1}\n\n'
    assert _say(child, "/set noformat") == "Disabled format.\n"
    assert _say(child, "/set think high") == "Set 'think' mode to 'high'.\n"
    assert _say(child, "/set verbose") == "Set 'verbose' mode.\n"
    out = _say(child, "2+2?")
    assert out.startswith("Thinking...\n2+2 is 4\n...done thinking.\n\n4\n\n")
    assert "eval count:           1 token(s)\n" in out
    assert _say(child, "/set quiet") == "Set 'quiet' mode.\n"
    assert _say(child, "/set nothink") == "Set 'nothink' mode.\n"
    assert _say(child, "plain") == "x\n\n"
    assert _say(child, "/set wordwrap") == "Set 'wordwrap' mode.\n"
    assert _say(child, "/set bogus") == "Unknown command '/set bogus'. Type /? for help\n"
    assert _say(child, "/nonsense") == "Unknown command '/nonsense'. Type /? for help\n"
    _bye(child)
    chats = bodies(fake, "/api/chat")
    assert chats[0]["format"] == "json"
    assert chats[1]["think"] == "high"
    assert "format" not in chats[1]
    assert chats[2]["think"] is False


def test_show_commands(spawn: Any, fake: FakeOllama) -> None:
    _loaded(fake)
    child = _start(spawn, fake)
    assert _say(child, "/show").startswith("Available Commands:\n  /show info")
    info = _say(child, "/show info")
    assert info.startswith("  Model\n    architecture        gemma3\n")
    assert "  Capabilities\n    completion\n" in info
    assert _say(child, "/show template") == "{{ .Prompt }}\n"
    assert _say(child, "/show modelfile").startswith('# Modelfile generated by "ollama show"')
    assert _say(child, "/show license").startswith("Gemma Terms of Use\n")
    assert _say(child, "/show system") == "No system message was specified for this model.\n"
    assert _say(child, "/show parameters") == (
        "Model defined parameters:\n"
        'stop                           "<end_of_turn>"\ntemperature                    1\n'
    )
    _say(child, "/set parameter seed 42")
    _say(child, "/set system Be kind.")
    assert _say(child, "/show parameters").startswith(
        "User defined parameters:\nseed                           42\n\nModel defined parameters:\n"
    )
    assert _say(child, "/show system") == "Be kind.\n\n"
    _bye(child)
    assert bodies(fake, "/api/show")[1:] == [{"model": "m"}] * 8


def test_load_and_save(spawn: Any, fake: FakeOllama) -> None:
    fake.expect(
        "POST",
        "/api/show",
        Reply.json(show_body()),
        Reply.error("model 'nope' not found", 404),
        Reply.json(show_body()),
    )
    fake.expect("POST", "/api/generate", Reply.json({"model": "m", "done": True, "response": ""}))
    fake.expect("POST", "/api/chat", _answer("hello"))
    fake.expect("POST", "/api/create", Reply.json({"status": "success"}))
    child = _start(spawn, fake)
    assert _say(child, "/load nope") == "Loading model 'nope'\nerror: model 'nope' not found\n"
    assert _say(child, "/load other") == "Loading model 'other'\n"
    _say(child, "/set parameter temperature 0")
    _say(child, "/set system Terse.")
    _say(child, "hi")
    assert _say(child, "/save mine") == "Created new model 'mine'\n"
    assert _say(child, "/save") == "Usage:\n  /save <modelname>\n"
    _bye(child)
    assert bodies(fake, "/api/show") == [{"model": "m"}, {"model": "nope"}, {"model": "other"}]
    assert bodies(fake, "/api/generate") == [
        {"model": "m", "stream": False},
        {"model": "other", "stream": False},
    ]
    assert bodies(fake, "/api/chat")[0]["model"] == "other"
    assert bodies(fake, "/api/create") == [
        {
            "model": "mine",
            "stream": False,
            "from": "other",
            "system": "Terse.",
            "parameters": {"temperature": 0.0},
            "messages": [
                {"role": "system", "content": "Terse."},
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello"},
            ],
        }
    ]


def test_server_error_keeps_the_session(spawn: Any, fake: FakeOllama) -> None:
    _loaded(fake)
    fake.expect("POST", "/api/chat", Reply.error("model is busy", 500), _answer("fine"))
    child = _start(spawn, fake)
    assert _say(child, "first") == "Error: model is busy\n\n"
    assert _say(child, "second") == "fine\n\n"
    _bye(child)
    assert bodies(fake, "/api/chat")[1]["messages"] == [{"role": "user", "content": "second"}]


def test_images_for_vision_models(spawn: Any, fake: FakeOllama, tmp_path: Path) -> None:
    image = tmp_path / "cat.png"
    image.write_bytes(b"\x89PNG fake")
    _loaded(fake, ("completion", "vision"))
    fake.expect("POST", "/api/chat", _answer("A cat."))
    child = _start(spawn, fake)
    assert "Use /path/to/file to include .jpg, .png, or .webp images." in _say(child, "/?")
    # A line that starts with a path is a prompt, not a command.
    assert _say(child, f"{image} what is this?") == f"Added image '{image}'\nA cat.\n\n"
    _bye(child)
    [message] = bodies(fake, "/api/chat")[0]["messages"]
    assert message == {
        "role": "user",
        "content": "what is this?",
        "images": [base64.b64encode(b"\x89PNG fake").decode()],
    }


def test_history_file(spawn: Any, fake: FakeOllama, cli_env: dict[str, str]) -> None:
    _loaded(fake)
    fake.expect("POST", "/api/chat", _answer("ok"))
    child = _start(spawn, fake)
    _say(child, "remember me")
    _bye(child)
    history = Path(cli_env["HOME"]) / ".ollamakit" / "history"
    assert history.read_text().splitlines()[-2:] == ["remember me", "/bye"]

    # Up-arrow recalls the previous session's line.
    child = _start(spawn, fake)
    child.send("\x1b[A\x1b[A")
    child.sendline("")
    child.expect_exact(PROMPT)
    assert "ok" in str(child.before)
    _bye(child)
    assert bodies(fake, "/api/chat")[-1]["messages"] == [{"role": "user", "content": "remember me"}]


def test_nohistory(spawn: Any, fake: FakeOllama, cli_env: dict[str, str]) -> None:
    _loaded(fake)
    fake.expect("POST", "/api/chat", _answer("ok"))
    child = _start(spawn, fake, env={"OLLAMA_NOHISTORY": "1"})
    _say(child, "secret")
    _bye(child)
    assert not (Path(cli_env["HOME"]) / ".ollamakit" / "history").exists()


def test_thinking_is_dim_on_a_color_terminal(spawn: Any, fake: FakeOllama) -> None:
    _loaded(fake)
    fake.expect("POST", "/api/chat", Reply.ndjson(chat_stream(["4"], model="m", thinking=["hmm"])))
    child = _start(spawn, fake, "--think", "--nowordwrap", env={"TERM": "xterm"})
    child.sendline("2+2?")
    child.expect_exact(PROMPT)
    shown = str(child.before)
    _bye(child)
    # "Thinking..." dim, the thinking dim and italic, then the answer in plain text.
    assert (
        "\x1b[2mThinking...\x1b[0m\r\n\x1b[2;3mhmm\x1b[0m\r\n"
        "\x1b[2m...done thinking.\x1b[0m\r\n\r\n4"
    ) in shown
    assert bodies(fake, "/api/chat")[0]["think"] is True


def _as_displayed(text: str) -> str:
    """Apply the word wrapper's take-back sequences (cursor left n, erase to end of line)."""
    out = ""
    for index, piece in enumerate(re.split(r"(\x1b\[\d+D\x1b\[K)", text)):
        if index % 2:
            out = out[: -int(piece[2:-4])]
        else:
            out += piece
    return out


def test_word_wrap_on_a_terminal(spawn: Any, fake: FakeOllama) -> None:
    _loaded(fake)
    words = [f"word{i:02d} " for i in range(40)]
    fake.expect("POST", "/api/chat", _answer(*words))
    # Born 45 columns wide: a resize after start-up could arrive after the first width read.
    child = spawn("--host", fake.url, "run", "m", dimensions=(24, 45))
    child.expect_exact(PROMPT)
    text = _say(child, "talk")
    _bye(child)
    # 45 columns less Ollama's margin of 5: every printed line fits in 40 columns.
    lines = [line for line in _as_displayed(text).split("\n") if line]
    assert len(lines) > 5
    assert all(len(line.rstrip()) <= 40 for line in lines), lines
    assert "".join(lines).replace(" ", "") == "".join(words).replace(" ", "")


def test_ctrl_c_ends_a_one_shot_answer(spawn: Any, fake: FakeOllama) -> None:
    fake.expect("POST", "/api/show", Reply.json(show_body()))
    slow = generate_stream([f"t{i} " for i in range(80)], model="m")
    fake.expect("POST", "/api/generate", Reply.ndjson(slow, delay=0.05))
    child = spawn("--host", fake.url, "run", "m", "count")
    child.expect_exact("t2 ")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert "t79" not in str(child.before)
    assert "Traceback" not in str(child.before)
    deadline = time.monotonic() + 5
    while fake.open_connections and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake.open_connections == 0
