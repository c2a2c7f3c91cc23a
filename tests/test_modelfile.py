"""Modelfile parsing, rendering and create plans, checked against Ollama's behaviour.

Most parse tables are Ollama's own ``parser/parser_test.go`` cases; the rest pin down the quirks
of its state machine (comments, quoting, control characters, line numbers).
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from ollamakit._errors import ModelfileError, RequestError
from ollamakit.modelfile import (
    DEPRECATED_PARAMETERS,
    Command,
    CreatePlan,
    Modelfile,
    parse_modelfile,
)

LLAMA3_TEMPLATE = (
    "{{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n"
    "{{ .System }}<|eot_id|>{{ end }}{{ if .Prompt }}<|start_header_id|>user<|end_header_id|>\n\n"
    "{{ .Prompt }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n"
    "{{ .Response }}<|eot_id|>"
)
GGUF_BYTES = b"GGUF\x03\x00\x00\x00" + bytes(range(256)) * 2
ZIP_BYTES = b"PK\x03\x04" + bytes(16)


def commands(text: str | bytes) -> list[tuple[str, str]]:
    return [(c.name, c.args) for c in parse_modelfile(text).commands]


def write(path: Path, data: bytes | str = GGUF_BYTES) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


def plan(text: str, base: Path) -> CreatePlan:
    return parse_modelfile(text).to_create_plan(base)


# --- parsing --------------------------------------------------------------------------------

PARSE_CASES: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "ollama-file",
        "\nFROM model1\nADAPTER adapter1\nLICENSE MIT\nPARAMETER param1 value1\n"
        f'PARAMETER param2 value2\nTEMPLATE """{LLAMA3_TEMPLATE}"""    \n',
        [
            ("model", "model1"),
            ("adapter", "adapter1"),
            ("license", "MIT"),
            ("param1", "value1"),
            ("param2", "value2"),
            ("template", LLAMA3_TEMPLATE),
        ],
    ),
    (
        "ollama-trim-space",
        '\nFROM "     model 1"\nADAPTER      adapter3\nLICENSE "MIT       "\n'
        "PARAMETER param1        value1\nPARAMETER param2    value2\n"
        f'TEMPLATE """   {LLAMA3_TEMPLATE}   """    \n',
        [
            ("model", "     model 1"),
            ("adapter", "adapter3"),
            ("license", "MIT       "),
            ("param1", "value1"),
            ("param2", "value2"),
            ("template", f"   {LLAMA3_TEMPLATE}   "),
        ],
    ),
    ("from-quoted-spaces", 'FROM "FOO  BAR  "', [("model", "FOO  BAR  ")]),
    (
        "from-quoted-then-param",
        'FROM "FOO BAR"\nPARAMETER param1 value1',
        [("model", "FOO BAR"), ("param1", "value1")],
    ),
    ("from-inner-spaces", "FROM     FOOO BAR    ", [("model", "FOOO BAR")]),
    ("from-path-with-space", "FROM /what/is/the path ", [("model", "/what/is/the path")]),
    ("from-name", "FROM foo", [("model", "foo")]),
    ("from-abs-path", "FROM /path/to/model/fp16.bin", [("model", "/path/to/model/fp16.bin")]),
    ("from-tag", "FROM llama3:7b-instruct-q4_K_M", [("model", "llama3:7b-instruct-q4_K_M")]),
    (
        "parameter-before-from",
        "PARAMETER param1 value1\nFROM foo",
        [("param1", "value1"), ("model", "foo")],
    ),
    (
        "trailing-spaces-trimmed",
        "PARAMETER what the \nFROM lemons make lemonade ",
        [("what", "the"), ("model", "lemons make lemonade")],
    ),
    ("renderer", "\nFROM foo\nRENDERER renderer1\n", [("model", "foo"), ("renderer", "renderer1")]),
    ("parser", "\nFROM foo\nPARSER parser1\n", [("model", "foo"), ("parser", "parser1")]),
    ("draft", "\nFROM base\nDRAFT ./assistant\n", [("model", "base"), ("draft", "./assistant")]),
    ("requires", "FROM foo\nREQUIRES 0.14.0", [("model", "foo"), ("requires", "0.14.0")]),
    (
        "message",
        "\nFROM foo\nMESSAGE system You are a file parser. Always parse things.\n",
        [("model", "foo"), ("message", "system: You are a file parser. Always parse things.")],
    ),
    (
        "messages",
        "\nFROM foo\nMESSAGE system You are a file parser.\nMESSAGE user Hey there!\n"
        "MESSAGE assistant Hello, I want to parse all the things!\n",
        [
            ("model", "foo"),
            ("message", "system: You are a file parser."),
            ("message", "user: Hey there!"),
            ("message", "assistant: Hello, I want to parse all the things!"),
        ],
    ),
    (
        "message-multiline",
        '\nFROM foo\nMESSAGE system """\nYou are a multiline file parser.\n"""\n\t\t\t',
        [("model", "foo"), ("message", "system: \nYou are a multiline file parser.\n")],
    ),
    (
        "triple-quoted-leading-and-trailing-newline",
        '\nFROM foo\nSYSTEM """\nThis is a\nmultiline system.\n"""\n\t\t\t',
        [("model", "foo"), ("system", "\nThis is a\nmultiline system.\n")],
    ),
    (
        "triple-quoted-closing-on-last-line",
        '\nFROM foo\nSYSTEM """\nThis is a\nmultiline system."""\n\t\t\t',
        [("model", "foo"), ("system", "\nThis is a\nmultiline system.")],
    ),
    (
        "triple-quoted-from-first-line",
        '\nFROM foo\nSYSTEM """This is a\nmultiline system."""\n',
        [("model", "foo"), ("system", "This is a\nmultiline system.")],
    ),
    (
        "triple-quoted-one-line",
        '\nFROM foo\nSYSTEM """This is a multiline system."""\n',
        [("model", "foo"), ("system", "This is a multiline system.")],
    ),
    (
        "triple-quoted-inner-quotes",
        '\nFROM foo\nSYSTEM """\nThis is a multiline system with "quotes".\n"""\n',
        [("model", "foo"), ("system", '\nThis is a multiline system with "quotes".\n')],
    ),
    ("empty-triple-quotes", '\nFROM foo\nSYSTEM """"""\n', [("model", "foo"), ("system", "")]),
    ("empty-quotes", '\nFROM foo\nSYSTEM ""\n', [("model", "foo"), ("system", "")]),
    ("single-quote-is-text", '\nFROM foo\nSYSTEM "\'"\n', [("model", "foo"), ("system", "'")]),
    (
        "quote-soup",
        '\nFROM foo\nSYSTEM """\'\'"\'""\'""\'"\'\'\'\'\'""\'""\'"""\n',
        [("model", "foo"), ("system", "''\"'\"\"'\"\"'\"'''''\"\"'\"\"'")],
    ),
    (
        "template-at-eof",
        '\nFROM foo\nTEMPLATE """\n{{ .Prompt }}\n"""',
        [("model", "foo"), ("template", "\n{{ .Prompt }}\n")],
    ),
    (
        "double-quotes-span-lines",
        'FROM foo\nSYSTEM "line one\nline two"',
        [("model", "foo"), ("system", "line one\nline two")],
    ),
    (
        "text-after-closing-quote-keeps-reading",
        'FROM foo\nSYSTEM """a""" b\nc"""\n',
        [("model", "foo"), ("system", 'a""" b\nc')],
    ),
    ("no-escapes", 'FROM foo\nSYSTEM "a\\"b"', [("model", "foo"), ("system", 'a\\"b')]),
    ("comment-line", "\n# comment\nFROM foo\n\t", [("model", "foo")]),
    ("indented-comment", "  \t# comment FROM bar\nFROM foo", [("model", "foo")]),
    (
        "hash-inside-value",
        "FROM foo # not a comment\nSYSTEM hi # still text",
        [("model", "foo # not a comment"), ("system", "hi # still text")],
    ),
    (
        "case-insensitive-instructions",
        "from foo\nSyStEm hi\nparameter temperature 1\nmessage user yo",
        [("model", "foo"), ("system", "hi"), ("temperature", "1"), ("message", "user: yo")],
    ),
    (
        "parameter-name-case-kept",
        "FROM foo\nPARAMETER Temperature 1",
        [("model", "foo"), ("Temperature", "1")],
    ),
    (
        "parameter-two-spaces-empty-name",
        "FROM foo\nPARAMETER  temperature 0.5",
        [("model", "foo"), ("", "temperature 0.5")],
    ),
    ("tab-separators", "FROM\tfoo\nSYSTEM\ta\tb", [("model", "foo"), ("system", "a\tb")]),
    ("indented-instructions", "   FROM foo\n\t\tSYSTEM hi", [("model", "foo"), ("system", "hi")]),
    (
        "control-characters-dropped",
        "FROM foo\nSYSTEM a\x00b\x07c\x1bd\u200de\u00a0f\x7fg",
        [("model", "foo"), ("system", "abcdefg")],
    ),
    ("control-before-keyword-dropped", "\x01FROM foo", [("model", "foo")]),
    ("multibyte", "FROM test\n\tSYSTEM 你好👋", [("model", "test"), ("system", "你好👋")]),
    ("empty-value-before-newline", "FROM \nFROM foo", [("model", ""), ("model", "foo")]),
    ("empty-value-at-eof", "FROM foo\nSYSTEM ", [("model", "foo"), ("system", "")]),
    (
        "crlf",
        "FROM foo\r\nSYSTEM hi there\r\n\r\nPARAMETER stop </s>\r\n",
        [("model", "foo"), ("system", "hi there"), ("stop", "</s>")],
    ),
    (
        "crlf-inside-quotes-kept",
        'FROM foo\r\nSYSTEM """a\r\nb"""\r\n',
        [("model", "foo"), ("system", "a\r\nb")],
    ),
    (
        "message-role-content-kept-verbatim",
        "FROM foo\nMESSAGE user a: b: c",
        [("model", "foo"), ("message", "user: a: b: c")],
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [pytest.param(t, e, id=i) for i, t, e in PARSE_CASES]
)
def test_parse(text: str, expected: list[tuple[str, str]]) -> None:
    assert commands(text) == expected


PARAMETER_LINES = {
    "numa true": ("numa", "true"),
    "num_ctx 1": ("num_ctx", "1"),
    "num_gqa 1": ("num_gqa", "1"),
    "use_mmap true": ("use_mmap", "true"),
    "top_p 1.0": ("top_p", "1.0"),
    "min_p 0.05": ("min_p", "0.05"),
    "penalize_newline true": ("penalize_newline", "true"),
    "stop ### User:": ("stop", "### User:"),
    "stop ### User: ": ("stop", "### User:"),
    'stop "### User:"': ("stop", "### User:"),
    'stop "### User: "': ("stop", "### User: "),
    'stop """### User:"""': ("stop", "### User:"),
    'stop """### User:\n"""': ("stop", "### User:\n"),
    "stop <|endoftext|>": ("stop", "<|endoftext|>"),
    "stop <|eot_id|>": ("stop", "<|eot_id|>"),
    "stop </s>": ("stop", "</s>"),
}


@pytest.mark.parametrize(("line", "expected"), PARAMETER_LINES.items(), ids=list(PARAMETER_LINES))
def test_parse_parameter_lines(line: str, expected: tuple[str, str]) -> None:
    assert commands(f"FROM foo\nPARAMETER {line}\n") == [("model", "foo"), expected]


COMMAND_ERROR = (
    'command must be one of "from", "license", "template", "system", "adapter", "draft", '
    '"renderer", "parser", "parameter", "message", or "requires"'
)
ROLE_ERROR = 'message role must be one of "system", "user", or "assistant"'

PARSE_ERRORS: list[tuple[str, str, str, int | None]] = [
    ("unknown-instruction", "\nFROM foo\nBADCOMMAND param1 value1\n", COMMAND_ERROR, 3),
    ("keyword-then-newline", "FROM\n", COMMAND_ERROR, 2),
    ("keyword-then-newline-later", "FROM foo\nSYSTEM\nhello", COMMAND_ERROR, 3),
    ("hash-after-keyword", "FROM# foo", COMMAND_ERROR, 1),
    ("digit-in-keyword", "FROM1 foo", COMMAND_ERROR, 1),
    ("leading-digit", "1FROM foo", COMMAND_ERROR, 1),
    ("crlf-counts-twice", "FROM foo\r\nSYSTEM x\r\nBAD y", COMMAND_ERROR, 5),
    ("keyword-at-eof", "FROM foo\nSYSTEM", "unexpected EOF", None),
    ("unknown-keyword-at-eof", "FROM foo\nBAD", "unexpected EOF", None),
    ("parameter-without-value", "\nFROM foo\nPARAMETER param1\n", "unexpected EOF: param1", None),
    ("parameter-name-with-dash", "FROM foo\nPARAMETER top-k 1", "unexpected EOF: top", None),
    ("parameter-name-at-eof", "FROM foo\nPARAMETER temperature", "unexpected EOF", None),
    ("parameter-keyword-at-eof", "FROM foo\nPARAMETER ", "unexpected EOF", None),
    ("bad-role", "\nFROM foo\nMESSAGE badguy I'm a bad guy!\n", ROLE_ERROR, 3),
    ("tool-role", "FROM foo\nMESSAGE tool result", ROLE_ERROR, 2),
    ("role-is-case-sensitive", "FROM foo\nMESSAGE User hi", ROLE_ERROR, 2),
    ("role-two-spaces", "FROM foo\nMESSAGE  user hi", ROLE_ERROR, 2),
    ("role-then-newline", "\nFROM foo\nMESSAGE system\n", "unexpected EOF: system", None),
    ("role-with-colon", "FROM foo\nMESSAGE user: hi", "unexpected EOF: user", None),
    ("role-at-eof", "\nFROM foo\nMESSAGE system", "unexpected EOF", None),
    (
        "unclosed-triple",
        '\nFROM foo\nSYSTEM """This is a multiline system.""\n\t\t\t',
        "unexpected EOF",
        None,
    ),
    ("unclosed-double", '\nFROM foo\nSYSTEM "\n\t\t\t', "unexpected EOF", None),
    ("lone-triple", 'FROM foo\nSYSTEM """', "unexpected EOF", None),
    ("four-quotes", 'FROM foo\nSYSTEM """"', "unexpected EOF", None),
    ("five-quotes", 'FROM foo\nSYSTEM """""', "unexpected EOF", None),
    ("empty", "", "no FROM line", None),
    ("only-comments", "# FROM foo\n\n", "no FROM line", None),
    ("no-from", "PARAMETER param1 value1", "no FROM line", None),
]


@pytest.mark.parametrize(
    ("text", "reason", "line"), [pytest.param(t, r, n, id=i) for i, t, r, n in PARSE_ERRORS]
)
def test_parse_errors(text: str, reason: str, line: int | None) -> None:
    with pytest.raises(ModelfileError) as info:
        parse_modelfile(text)
    assert info.value.reason == reason
    assert info.value.line == line
    assert str(info.value) == (reason if line is None else f"(line {line}): {reason}")
    assert isinstance(info.value, RequestError)
    assert isinstance(info.value, ValueError)


UTF16_TEXT = "FROM bob\nPARAMETER param1 1\nPARAMETER param2 4096\nSYSTEM You are a utf16 file.\n"
UTF16_COMMANDS = [
    ("model", "bob"),
    ("param1", "1"),
    ("param2", "4096"),
    ("system", "You are a utf16 file."),
]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\xff\xfe" + UTF16_TEXT.encode("utf-16-le"), id="utf16-le"),
        pytest.param(b"\xfe\xff" + UTF16_TEXT.encode("utf-16-be"), id="utf16-be"),
        pytest.param(b"\xef\xbb\xbf" + UTF16_TEXT.encode(), id="utf8-bom"),
        pytest.param(UTF16_TEXT.encode(), id="utf8"),
        pytest.param(bytearray(UTF16_TEXT.encode()), id="bytearray"),
        pytest.param("\ufeff" + UTF16_TEXT, id="str-with-bom"),
    ],
)
def test_parse_encodings(data: str | bytes) -> None:
    assert commands(data) == UTF16_COMMANDS


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"], ids=["utf8", "utf16-with-bom"])
def test_parse_multibyte_encodings(encoding: str) -> None:
    data = "FROM test\n\tSYSTEM 你好👋".encode(encoding)
    assert commands(data) == [("model", "test"), ("system", "你好👋")]


def test_parse_invalid_utf8_gives_one_replacement_per_byte() -> None:
    assert commands(b"FROM foo\nSYSTEM a\xe2\x82b\xffc\n") == [
        ("model", "foo"),
        ("system", "a\ufffd\ufffdb\ufffdc"),
    ]


def test_parse_long_multiline_value() -> None:
    body = "\n".join(f"line {i} with some words" for i in range(20000))
    result = commands(f'FROM foo\nLICENSE """{body}"""\n')
    assert result == [("model", "foo"), ("license", body)]


# --- rendering ------------------------------------------------------------------------------

RENDER_CASES: list[tuple[Command, str]] = [
    (Command("model", "foo"), "FROM foo"),
    (Command("model", " /path with space "), "FROM  /path with space "),
    (Command("system", "hi"), "SYSTEM hi"),
    (Command("system", " hi"), 'SYSTEM " hi"'),
    (Command("system", "hi "), 'SYSTEM "hi "'),
    (Command("system", "a\nb"), 'SYSTEM "a\nb"'),
    (Command("system", 'say "hi"\nnow'), 'SYSTEM """say "hi"\nnow"""'),
    (Command("system", 'say "hi"'), 'SYSTEM say "hi"'),
    (Command("system", ""), "SYSTEM "),
    (Command("template", "{{ .Prompt }}"), "TEMPLATE {{ .Prompt }}"),
    (Command("license", "MIT\nline two"), 'LICENSE "MIT\nline two"'),
    (Command("adapter", "./lora.gguf"), "ADAPTER ./lora.gguf"),
    (Command("draft", "./assistant"), "DRAFT ./assistant"),
    (Command("renderer", "qwen3"), "RENDERER qwen3"),
    (Command("parser", "qwen3"), "PARSER qwen3"),
    (Command("requires", "0.14.0"), "REQUIRES 0.14.0"),
    (Command("message", "user: Hey there!"), "MESSAGE user Hey there!"),
    (Command("message", "system: \nmulti\n"), 'MESSAGE system "\nmulti\n"'),
    (Command("temperature", "0.5"), "PARAMETER temperature 0.5"),
    (Command("stop", "### User: "), 'PARAMETER stop "### User: "'),
    (Command("", "temperature 0.5"), "PARAMETER  temperature 0.5"),
]


@pytest.mark.parametrize(("command", "expected"), RENDER_CASES, ids=[e for _, e in RENDER_CASES])
def test_render_command(command: Command, expected: str) -> None:
    assert command.render() == expected
    assert str(command) == expected


def test_render_modelfile_one_line_per_command() -> None:
    modelfile = parse_modelfile("FROM foo\nPARAMETER stop a\nPARAMETER stop b\nSYSTEM hi")
    assert modelfile.render() == "FROM foo\nPARAMETER stop a\nPARAMETER stop b\nSYSTEM hi\n"
    assert str(modelfile) == modelfile.render()
    assert Modelfile().render() == ""


ROUND_TRIPS = [
    "\nFROM foo\nADAPTER adapter1\nLICENSE MIT\nPARAMETER param1 value1\nPARAMETER param2 value2\n"
    "TEMPLATE template1\nMESSAGE system You are a file parser. Always parse things.\n"
    "MESSAGE user Hey there!\nMESSAGE assistant Hello, I want to parse all the things!\n",
    "\nFROM foo\nADAPTER adapter1\nLICENSE MIT\nPARAMETER param1 value1\nPARAMETER param2 value2\n"
    'TEMPLATE template1\nMESSAGE system """\nYou are a store greeter. Always respond with '
    '"Hello!".\n"""\nMESSAGE user Hey there!\nMESSAGE assistant Hello, I want to parse all the '
    "things!\n",
    '\nFROM foo\nADAPTER adapter1\nLICENSE """\nVery long and boring legal text.\nBlah blah blah.\n'
    '"Oh look, a quote!"\n"""\n\nPARAMETER param1 value1\nPARAMETER param2 value2\n'
    'TEMPLATE template1\nMESSAGE system """\nYou are a store greeter. Always respond with '
    '"Hello!".\n"""\nMESSAGE user Hey there!\nMESSAGE assistant Hello, I want to parse all the '
    "things!\n",
    '\nFROM foo\nSYSTEM ""\n',
    f'FROM llama3.2\nTEMPLATE """{LLAMA3_TEMPLATE}"""\nPARAMETER stop "<|eot_id|> "\n'
    'DRAFT ./d\nREQUIRES 0.14.0\nRENDERER r\nPARSER p\nSYSTEM "  padded  "\n',
]


@pytest.mark.parametrize("text", ROUND_TRIPS)
def test_render_round_trip(text: str) -> None:
    first = parse_modelfile(text)
    second = parse_modelfile(first.render())
    assert second == first
    assert second.render() == first.render()


# --- create plan: request body --------------------------------------------------------------


CREATE_CASES: list[tuple[str, str, dict[str, object]]] = [
    ("from-only", "FROM test", {"from": "test"}),
    (
        "template",
        "FROM test\nTEMPLATE some template\n",
        {"from": "test", "template": "some template"},
    ),
    (
        "license-parameter-message",
        "FROM test\nLICENSE single license\nPARAMETER temperature 0.5\nMESSAGE user Hello\n",
        {
            "from": "test",
            "license": ["single license"],
            "parameters": {"temperature": 0.5},
            "messages": [{"role": "user", "content": "Hello"}],
        },
    ),
    (
        "everything",
        "FROM test\nPARAMETER temperature 0.5\nPARAMETER top_k 1\nSYSTEM You are a bot.\n"
        "LICENSE license1\nLICENSE license2\nMESSAGE user Hello there!\n"
        "MESSAGE assistant Hi! How are you?\nRENDERER qwen3\nPARSER qwen3\nREQUIRES v0.14.0\n",
        {
            "from": "test",
            "license": ["license1", "license2"],
            "system": "You are a bot.",
            "parameters": {"temperature": 0.5, "top_k": 1},
            "messages": [
                {"role": "user", "content": "Hello there!"},
                {"role": "assistant", "content": "Hi! How are you?"},
            ],
            "renderer": "qwen3",
            "parser": "qwen3",
            "requires": "0.14.0",
        },
    ),
    ("empty-strings-omitted", 'FROM test\nSYSTEM ""\nTEMPLATE """"""', {"from": "test"}),
    (
        "last-value-wins",
        "FROM a\nFROM b\nSYSTEM one\nSYSTEM two\nPARAMETER temperature 0.1\n"
        "PARAMETER temperature 0.2",
        {"from": "b", "system": "two", "parameters": {"temperature": 0.2}},
    ),
    (
        "message-split-at-first-colon-space",
        "FROM a\nMESSAGE user key: value: more",
        {"from": "a", "messages": [{"role": "user", "content": "key: value: more"}]},
    ),
    (
        "stop-accumulates",
        'FROM a\nPARAMETER stop <|eot|>\nPARAMETER top_k 5\nPARAMETER stop "### User: "\n'
        "PARAMETER stop </s>",
        {"from": "a", "parameters": {"stop": ["<|eot|>", "### User: ", "</s>"], "top_k": 5}},
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [pytest.param(t, e, id=i) for i, t, e in CREATE_CASES]
)
def test_create_plan_request(text: str, expected: dict[str, object], tmp_path: Path) -> None:
    result = plan(text, tmp_path)
    assert result.request == expected
    assert result.files == {} and result.adapters == {} and result.draft_files == {}
    assert result.warnings == []


PARAMETER_VALUES: list[tuple[str, str, object]] = [
    ("num_keep", "4", 4),
    ("seed", "-1", -1),
    ("num_predict", "+5", 5),
    ("top_k", "007", 7),
    ("repeat_last_n", "-0", 0),
    ("num_ctx", "9223372036854775807", 9223372036854775807),
    ("num_batch", "512", 512),
    ("num_gpu", "-1", -1),
    ("main_gpu", "1", 1),
    ("num_thread", "8", 8),
    ("draft_num_predict", "4", 4),
    ("top_p", "0.9", 0.9),
    ("min_p", "0.05", 0.05),
    ("typical_p", "1", 1.0),
    ("temperature", ".5", 0.5),
    ("temperature", "5.", 5.0),
    ("temperature", "1e-3", 0.001),
    ("temperature", "1E+2", 100.0),
    ("temperature", "1_000.5", 1000.5),
    ("temperature", "0x1p-2", 0.25),
    ("temperature", "0X1.8P1", 3.0),
    ("temperature", "-0", -0.0),
    ("temperature", "1e-50", 0.0),
    ("repeat_penalty", "0.123456789", 0.12345679),
    ("presence_penalty", "3.4028235e38", 3.4028235e38),
    ("frequency_penalty", "16777217", 16777216.0),
    ("use_mmap", "true", True),
    ("use_mmap", "T", True),
    ("use_mmap", "1", True),
    ("use_mmap", "TRUE", True),
    ("use_mmap", "False", False),
    ("use_mmap", "f", False),
    ("use_mmap", "0", False),
    ("stop", "<|im_end|>", ["<|im_end|>"]),
    ("stop", '""', [""]),
]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    PARAMETER_VALUES,
    ids=[f"{n}={v}" for n, v, _ in PARAMETER_VALUES],
)
def test_parameter_types(name: str, value: str, expected: object, tmp_path: Path) -> None:
    parameters = plan(f"FROM x\nPARAMETER {name} {value}", tmp_path).request["parameters"]
    assert parameters == {name: expected}
    assert type(parameters[name]) is type(expected)


PARAMETER_ERRORS: list[tuple[str, str]] = [
    ("num_ctx 1.5", "invalid int value [1.5]"),
    ("num_ctx 1_000", "invalid int value [1_000]"),
    ("num_ctx 0x10", "invalid int value [0x10]"),
    ("seed 9223372036854775808", "invalid int value [9223372036854775808]"),
    ("top_k \u0661\u0662", "invalid int value [\u0661\u0662]"),
    ('top_k ""', "invalid int value []"),
    ("temperature abc", "invalid float value [abc]"),
    ("temperature 1e39", "invalid float value [1e39]"),
    ("temperature 1e400", "invalid float value [1e400]"),
    ("temperature 0x1.8", "invalid float value [0x1.8]"),
    ("temperature 1__0", "invalid float value [1__0]"),
    ("temperature _1", "invalid float value [_1]"),
    ("temperature 1,5", "invalid float value [1,5]"),
    ("temperature +nan", "invalid float value [+nan]"),
    ("temperature infin", "invalid float value [infin]"),
    ("temperature \u0661", "invalid float value [\u0661]"),
    ('temperature ""', "invalid float value []"),
    ("temperature inf", "json: unsupported value: +Inf"),
    ("temperature -Infinity", "json: unsupported value: -Inf"),
    ("temperature NaN", "json: unsupported value: NaN"),
    ("use_mmap yes", "invalid bool value [yes]"),
    ("use_mmap tRUE", "invalid bool value [tRUE]"),
    ("numa true", "unknown parameter 'numa'"),
    ("tfs_z 1", "unknown parameter 'tfs_z'"),
    ("num_gqa 8", "unknown parameter 'num_gqa'"),
    ("rope_frequency_base 1e4", "unknown parameter 'rope_frequency_base'"),
    ("rope_frequency_scale 1", "unknown parameter 'rope_frequency_scale'"),
    ("Temperature 1", "unknown parameter 'Temperature'"),
    ("param1 value1", "unknown parameter 'param1'"),
    (" temperature 0.5", "unknown parameter ''"),
]


@pytest.mark.parametrize(("line", "reason"), PARAMETER_ERRORS, ids=[p[0] for p in PARAMETER_ERRORS])
def test_parameter_errors(line: str, reason: str, tmp_path: Path) -> None:
    modelfile = parse_modelfile(f"FROM x\nPARAMETER {line}")
    with pytest.raises(ModelfileError) as info:
        modelfile.to_create_plan(tmp_path)
    assert str(info.value) == reason
    assert info.value.line is None


@pytest.mark.parametrize("name", sorted(DEPRECATED_PARAMETERS))
def test_deprecated_parameters_dropped_with_warning(name: str, tmp_path: Path) -> None:
    result = plan(f"FROM x\nPARAMETER {name} whatever\nPARAMETER top_k 3", tmp_path)
    assert result.request["parameters"] == {"top_k": 3}
    assert result.warnings == [f"parameter {name} is deprecated"]


def test_deprecated_parameters_only(tmp_path: Path) -> None:
    result = plan("FROM x\nPARAMETER mirostat 1\nPARAMETER mirostat 2", tmp_path)
    assert "parameters" not in result.request
    assert result.warnings == ["parameter mirostat is deprecated"] * 2


REQUIRES_VALID = [
    ("0.14.0", "0.14.0"),
    ("v0.14.0", "0.14.0"),
    ("1", "1"),
    ("1.2", "1.2"),
    ("1.2.3-rc.1+build.5", "1.2.3-rc.1+build.5"),
    ("0.0.0-0", "0.0.0-0"),
    ("1.2.3-alpha-1.x", "1.2.3-alpha-1.x"),
    ("1.2.3+001", "1.2.3+001"),
]
REQUIRES_INVALID = [
    "01.2.3",
    "1.02.3",
    "1.2.3.4",
    "latest",
    "1.2.3-01",
    "1.2-rc1",
    "1.2.3-",
    "1.2.3+",
    "1.2.3-a..b",
    "1.2.3+a..b",
    "vv1",
    "V1.2.3",
    '""',
    '"1.2.3 "',
    "1.2.x",
]


@pytest.mark.parametrize(("version", "expected"), REQUIRES_VALID)
def test_requires_valid(version: str, expected: str, tmp_path: Path) -> None:
    assert plan(f"FROM x\nREQUIRES {version}", tmp_path).request["requires"] == expected


@pytest.mark.parametrize("version", REQUIRES_INVALID)
def test_requires_invalid(version: str, tmp_path: Path) -> None:
    with pytest.raises(
        ModelfileError, match=r"^requires must be a valid semver \(e\.g\. 0\.14\.0\)$"
    ):
        plan(f"FROM x\nREQUIRES {version}", tmp_path)


# --- create plan: local files ---------------------------------------------------------------


def test_from_file_relative_to_base_dir(tmp_path: Path) -> None:
    model = write(tmp_path / "m.gguf")
    result = plan(
        "FROM ./m.gguf\nPARAMETER temperature 0.5\nPARAMETER stop <|eot|>\nSYSTEM You are Mario.",
        tmp_path,
    )
    assert result.request == {
        "system": "You are Mario.",
        "parameters": {"temperature": 0.5, "stop": ["<|eot|>"]},
    }
    assert result.files == {"m.gguf": model}
    assert result.local_paths() == [model]
    assert result.request_with_digests({model: "sha256:" + "a" * 64}) == {
        **result.request,
        "files": {"m.gguf": "sha256:" + "a" * 64},
    }


def test_from_absolute_path_ignores_base_dir(tmp_path: Path) -> None:
    model = write(tmp_path / "models" / "m.gguf")
    result = plan(f"FROM {model}", tmp_path / "elsewhere")
    assert result.files == {"m.gguf": model}
    assert "from" not in result.request


@pytest.mark.parametrize(
    "reference",
    ["llama3.2", "llama3.2:latest", "./missing.gguf", "hf.co/org/repo:Q4_K_M", "model-*.gguf"],
)
def test_from_missing_path_is_model_name(reference: str, tmp_path: Path) -> None:
    result = plan(f"FROM {reference}", tmp_path)
    assert result.request == {"from": reference}
    assert result.files == {}


def test_from_name_and_file_together(tmp_path: Path) -> None:
    projector = write(tmp_path / "mmproj.gguf")
    result = plan("FROM llava\nFROM ./mmproj.gguf", tmp_path)
    assert result.request == {"from": "llava"}
    assert result.files == {"mmproj.gguf": projector}


def test_from_home_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    model = write(tmp_path / "models" / "m.gguf")
    assert plan("FROM ~/models/m.gguf", tmp_path / "x").files == {"m.gguf": model}


def test_from_named_user_home(tmp_path: Path) -> None:
    user = pwd.getpwuid(os.getuid())
    result = plan(f"FROM ~{user.pw_name}/surely-not-here.gguf", tmp_path)
    assert result.request == {"from": f"~{user.pw_name}/surely-not-here.gguf"}


def test_from_unknown_user(tmp_path: Path) -> None:
    with pytest.raises(ModelfileError) as info:
        plan("FROM ~no_such_user_xyz/m.gguf", tmp_path)
    assert str(info.value) == (
        "failed to find user 'no_such_user_xyz': user: unknown user no_such_user_xyz"
    )


def test_from_below_a_file_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "m.gguf")
    with pytest.raises(ModelfileError) as info:
        plan("FROM ./m.gguf/inner", tmp_path)
    assert str(info.value) == f"stat {tmp_path / 'm.gguf' / 'inner'}: not a directory"


def test_from_empty_string_means_base_dir(tmp_path: Path) -> None:
    model = write(tmp_path / "model.gguf")
    assert plan('FROM ""', tmp_path).files == {"model.gguf": model}


def test_default_base_dir_is_modelfile_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = write(tmp_path / "sub" / "m.gguf")
    modelfile_path = write(tmp_path / "sub" / "Modelfile", "FROM ./m.gguf\n")
    monkeypatch.chdir(tmp_path)
    modelfile = Modelfile.from_path(modelfile_path)
    assert modelfile.path == modelfile_path
    assert modelfile.to_create_plan().files == {"m.gguf": model}


def test_default_base_dir_is_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = write(tmp_path / "m.gguf")
    monkeypatch.chdir(tmp_path)
    assert parse_modelfile("FROM ./m.gguf").to_create_plan().files == {"m.gguf": model}


def test_several_files_named_relative_to_common_parent(tmp_path: Path) -> None:
    model = write(tmp_path / "a" / "model.gguf")
    projector = write(tmp_path / "b" / "c" / "proj.gguf")
    result = plan("FROM ./a/model.gguf\nFROM ./b/c/proj.gguf", tmp_path)
    assert result.files == {"a/model.gguf": model, "b/c/proj.gguf": projector}


def test_several_files_in_one_directory_keep_base_names(tmp_path: Path) -> None:
    first = write(tmp_path / "first.gguf")
    second = write(tmp_path / "second.gguf")
    result = plan(f"FROM {first}\nFROM {second}", tmp_path)
    assert result.files == {"first.gguf": first, "second.gguf": second}


DIRECTORY_CASES: list[tuple[str, dict[str, bytes | str], set[str]]] = [
    (
        "safetensors",
        {
            "model-00001-of-00002.safetensors": "x",
            "model-00002-of-00002.safetensors": "x",
            "config.json": "{}",
            "tokenizer.json": "{}",
            "chat_template.jinja": "{{ messages }}",
            "README.md": "read me",
        },
        {
            "model-00001-of-00002.safetensors",
            "model-00002-of-00002.safetensors",
            "config.json",
            "tokenizer.json",
            "chat_template.jinja",
        },
    ),
    (
        "safetensors-with-tokenizer-model",
        {
            "model-00001-of-00001.safetensors": "x",
            "config.json": "{}",
            "tokenizer.json": "{}",
            "tokenizer.model": bytes(range(256)),
        },
        {"model-00001-of-00001.safetensors", "config.json", "tokenizer.json", "tokenizer.model"},
    ),
    (
        "sentence-transformers-nested",
        {
            "model.safetensors": "x",
            "config.json": "{}",
            "modules.json": "[]",
            "2_Dense/config.json": "{}",
            "2_Dense/model.safetensors": "x",
            "3_Dense/config.json": "{}",
            "3_Dense/model.safetensors": "x",
        },
        {
            "model.safetensors",
            "config.json",
            "modules.json",
            "2_Dense/config.json",
            "2_Dense/model.safetensors",
            "3_Dense/config.json",
            "3_Dense/model.safetensors",
        },
    ),
    (
        "model-safetensors-preferred-over-consolidated",
        {
            "model-00001-of-00001.safetensors": "x",
            "consolidated.safetensors": "x",
            "config.json": "{}",
        },
        {"model-00001-of-00001.safetensors", "config.json"},
    ),
    (
        "consolidated-safetensors",
        {"consolidated.safetensors": "x", "config.json": "{}"},
        {"consolidated.safetensors", "config.json"},
    ),
    (
        "pytorch",
        {
            "pytorch_model-00001-of-00002.bin": ZIP_BYTES,
            "pytorch_model-00002-of-00002.bin": ZIP_BYTES,
            "config.json": '{"config": true}',
        },
        {"pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin", "config.json"},
    ),
    (
        "consolidated-pth",
        {
            "consolidated.00.pth": ZIP_BYTES,
            "consolidated.01.pth": ZIP_BYTES,
            "config.json": '{"config": true}',
        },
        {"consolidated.00.pth", "consolidated.01.pth", "config.json"},
    ),
    (
        "gguf",
        {"model.gguf": GGUF_BYTES, "config.json": '{"config": true}'},
        {"model.gguf", "config.json"},
    ),
    (
        "bin-as-gguf",
        {"model.bin": GGUF_BYTES, "config.json": '{"config": true}'},
        {"model.bin", "config.json"},
    ),
    (
        "git-lfs-pointer-gguf-skipped",
        {"model.gguf": "version https://git-lfs.github.com/spec/v1\n", "weights.bin": GGUF_BYTES},
        {"weights.bin"},
    ),
    (
        "hidden-json-included",
        {"model.gguf": GGUF_BYTES, ".extra.json": "{}"},
        {"model.gguf", ".extra.json"},
    ),
    (
        "nested-tokenizer-model-must-be-text",
        {"model.safetensors": "x", "original/tokenizer.model": "text tokenizer"},
        {"model.safetensors", "original/tokenizer.model"},
    ),
    (
        "single-file-directory",
        {"only.gguf": GGUF_BYTES},
        {"only.gguf"},
    ),
]


@pytest.mark.parametrize(
    ("layout", "expected"), [pytest.param(lay, exp, id=i) for i, lay, exp in DIRECTORY_CASES]
)
def test_from_directory(layout: dict[str, bytes | str], expected: set[str], tmp_path: Path) -> None:
    model_dir = tmp_path / "model dir"
    for name, data in layout.items():
        write(model_dir / name, data)
    result = plan('FROM "./model dir"', tmp_path)
    assert set(result.files) == expected
    for name, path in result.files.items():
        assert path == (model_dir / name).resolve()
    assert "from" not in result.request


DIRECTORY_ERRORS: list[tuple[str, dict[str, bytes | str], str]] = [
    ("empty", {}, "no Modelfile or safetensors files found"),
    (
        "no-weights",
        {"README.md": "content", "config.json": "content"},
        "no Modelfile or safetensors files found",
    ),
    (
        "pytorch-that-is-text",
        {"pytorch_model.bin": "plain text content", "config.json": "plain text content"},
        "no Modelfile or safetensors files found",
    ),
    (
        "binary-config",
        {"model.gguf": GGUF_BYTES, "config.json": GGUF_BYTES},
        "invalid content type: expected text/plain but got application/octet-stream for "
        "{dir}/config.json",
    ),
    (
        "html-chat-template",
        {"model.gguf": GGUF_BYTES, "chat_template.jinja": "<html> nope"},
        "invalid content type: expected text/plain but got text/html for {dir}/chat_template.jinja",
    ),
]


@pytest.mark.parametrize(
    ("layout", "reason"), [pytest.param(lay, r, id=i) for i, lay, r in DIRECTORY_ERRORS]
)
def test_from_directory_errors(layout: dict[str, bytes | str], reason: str, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    for name, data in layout.items():
        write(model_dir / name, data)
    with pytest.raises(ModelfileError) as info:
        plan("FROM ./model", tmp_path)
    assert str(info.value) == reason.format(dir=model_dir)


def test_from_directory_symlink_escaping_is_insecure(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside" / "real.gguf")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.gguf").symlink_to(outside)
    with pytest.raises(ModelfileError) as info:
        plan("FROM ./model", tmp_path)
    assert str(info.value) == "insecure path: ../outside/real.gguf"


def test_from_directory_symlink_into_cache_has_hint(tmp_path: Path) -> None:
    blob = write(tmp_path / ".cache" / "blobs" / "abc")
    (tmp_path / "snapshot").mkdir()
    (tmp_path / "snapshot" / "model.gguf").symlink_to(blob)
    with pytest.raises(ModelfileError) as info:
        plan("FROM ./snapshot", tmp_path)
    assert str(info.value) == (
        "insecure path: ../.cache/blobs/abc\n\n"
        "Use --local-dir <dir> when downloading model to disable caching"
    )


def test_from_directory_symlink_inside_resolves(tmp_path: Path) -> None:
    target = write(tmp_path / "model" / "blobs" / "weights.gguf")
    (tmp_path / "model" / "model.gguf").symlink_to(target)
    write(tmp_path / "model" / "config.json", "{}")
    result = plan("FROM ./model", tmp_path)
    assert result.files == {
        "blobs/weights.gguf": target,
        "config.json": tmp_path / "model" / "config.json",
    }


def test_from_directory_through_symlinked_parent(tmp_path: Path) -> None:
    write(tmp_path / "real" / "model.gguf")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert set(plan("FROM ./link", tmp_path).files) == {"model.gguf"}


def test_from_directory_with_glob_characters_in_its_name(tmp_path: Path) -> None:
    write(tmp_path / "m[1]" / "model.gguf")
    assert set(plan("FROM ./m[1]", tmp_path).files) == {"model.gguf"}


def test_from_glob(tmp_path: Path) -> None:
    first = write(tmp_path / "model-00001-of-00002.gguf")
    second = write(tmp_path / "model-00002-of-00002.gguf")
    write(tmp_path / "projector.gguf")
    result = plan("FROM ./model-*.gguf\n", tmp_path)
    assert result.files == {
        "model-00001-of-00002.gguf": first,
        "model-00002-of-00002.gguf": second,
    }


def test_from_glob_bad_pattern(tmp_path: Path) -> None:
    with pytest.raises(ModelfileError, match=r"^syntax error in pattern$"):
        plan("FROM [\n", tmp_path)


def test_adapter(tmp_path: Path) -> None:
    write(tmp_path / "first.gguf")
    second = write(tmp_path / "lora" / "second.gguf")
    result = plan("FROM base\nADAPTER ./first.gguf\nADAPTER ./lora/second.gguf", tmp_path)
    assert result.request == {"from": "base"}
    assert result.adapters == {"second.gguf": second}
    assert result.request_with_digests({second: "sha256:1"})["adapters"] == {
        "second.gguf": "sha256:1"
    }


def test_adapter_directory(tmp_path: Path) -> None:
    write(tmp_path / "lora" / "adapter_model.safetensors", "x")
    write(tmp_path / "lora" / "model.safetensors", "x")
    write(tmp_path / "lora" / "adapter_config.json", "{}")
    result = plan("FROM base\nADAPTER ./lora", tmp_path)
    assert set(result.adapters) == {"model.safetensors", "adapter_config.json"}


@pytest.mark.parametrize("keyword", ["ADAPTER", "DRAFT"])
def test_adapter_and_draft_must_exist(keyword: str, tmp_path: Path) -> None:
    with pytest.raises(ModelfileError) as info:
        plan(f"FROM base\n{keyword} ./missing.gguf", tmp_path)
    assert str(info.value) == f"stat {tmp_path / 'missing.gguf'}: no such file or directory"


def test_draft_files(tmp_path: Path) -> None:
    draft = write(tmp_path / "draft.gguf")
    result = plan("\nFROM base\nDRAFT ./draft.gguf\n", tmp_path)
    assert result.draft_files == {"draft.gguf": draft}
    assert result.request == {"from": "base"}


def test_draft_glob(tmp_path: Path) -> None:
    first = write(tmp_path / "draft-00001-of-00002.gguf")
    second = write(tmp_path / "draft-00002-of-00002.gguf")
    result = plan("FROM base\nDRAFT ./draft-*.gguf\n", tmp_path)
    assert result.draft_files == {
        "draft-00001-of-00002.gguf": first,
        "draft-00002-of-00002.gguf": second,
    }


@pytest.mark.parametrize(
    ("text", "culprit"),
    [
        ("FROM ./model.gguf\nDRAFT ./model.gguf", "model.gguf"),
        ("FROM ./model.gguf\nDRAFT ./sub/../model.gguf", "model.gguf"),
        ("FROM ./model.gguf\nDRAFT ./alias.gguf", "alias.gguf"),
        ("DRAFT ./model.gguf\nFROM ./model.gguf", "model.gguf"),
        ("FROM .\nDRAFT .", ""),
    ],
    ids=["same-file", "same-file-other-spelling", "symlink", "draft-first", "same-directory"],
)
def test_draft_must_differ_from_from(text: str, culprit: str, tmp_path: Path) -> None:
    write(tmp_path / "model.gguf")
    (tmp_path / "sub").mkdir()
    (tmp_path / "alias.gguf").symlink_to(tmp_path / "model.gguf")
    with pytest.raises(ModelfileError) as info:
        plan(text, tmp_path)
    path = os.path.join(tmp_path, culprit) if culprit else str(tmp_path)
    assert str(info.value) == f"DRAFT must not reference the same local path as FROM: {path}"


def test_plan_with_everything(tmp_path: Path) -> None:
    model = write(tmp_path / "weights" / "model.gguf")
    projector = write(tmp_path / "weights" / "mmproj.gguf")
    adapter = write(tmp_path / "lora.gguf")
    draft = write(tmp_path / "draft.gguf")
    result = plan(
        "FROM ./weights/model.gguf\nFROM ./weights/mmproj.gguf\nADAPTER ./lora.gguf\n"
        "DRAFT ./draft.gguf\nPARAMETER penalize_newline true\nPARAMETER num_ctx 8192",
        tmp_path,
    )
    assert result.files == {"model.gguf": model, "mmproj.gguf": projector}
    assert result.adapters == {"lora.gguf": adapter}
    assert result.draft_files == {"draft.gguf": draft}
    assert result.warnings == ["parameter penalize_newline is deprecated"]
    assert result.local_paths() == [model, projector, adapter, draft]
    digests = {path: f"sha256:{i}" for i, path in enumerate(result.local_paths())}
    assert result.request_with_digests(digests) == {
        "parameters": {"num_ctx": 8192},
        "files": {"model.gguf": "sha256:0", "mmproj.gguf": "sha256:1"},
        "adapters": {"lora.gguf": "sha256:2"},
        "draft_files": {"draft.gguf": "sha256:3"},
    }
    assert "files" not in result.request


# --- files on disk --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\xff\xfe" + UTF16_TEXT.encode("utf-16-le"), id="utf16-le"),
        pytest.param(b"\xef\xbb\xbf" + UTF16_TEXT.encode(), id="utf8-bom"),
        pytest.param(UTF16_TEXT.replace("\n", "\r\n").encode(), id="crlf"),
    ],
)
def test_from_path(data: bytes, tmp_path: Path) -> None:
    path = write(tmp_path / "Modelfile", data)
    modelfile = Modelfile.from_path(str(path))
    assert [(c.name, c.args) for c in modelfile.commands] == UTF16_COMMANDS
    assert modelfile.path == path


def test_from_path_missing(tmp_path: Path) -> None:
    with pytest.raises(ModelfileError) as info:
        Modelfile.from_path(tmp_path / "Modelfile")
    assert str(info.value) == f"open {tmp_path / 'Modelfile'}: no such file or directory"


def test_from_path_parse_error_has_line(tmp_path: Path) -> None:
    path = write(tmp_path / "Modelfile", "FROM x\nMESSAGE robot hi\n")
    with pytest.raises(ModelfileError) as info:
        Modelfile.from_path(path)
    assert (info.value.line, info.value.reason) == (2, ROLE_ERROR)


def test_modelfile_parse_alias() -> None:
    assert Modelfile.parse("FROM x") == Modelfile([Command("model", "x")])
