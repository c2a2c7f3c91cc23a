"""The server's one copy of Go's formatting, against outputs of Go itself.

The expected strings are Go's: most rows are the tables of Go's own tests
(``strconv/quote_test.go``, ``encoding/json/encode_test.go``), the rest are what the Go
functions named in each test return. Every caller (templates, wire, validation, the OpenAI
routes) goes through these functions; the last tests check that they do.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from ollamakit.server import validate, wire
from ollamakit.server.gofmt import (
    OrderedObject,
    UnsupportedValueError,
    can_backquote,
    decoded_json,
    format_float,
    json_char,
    marshal,
    quote,
    quote_rune,
    type_name,
)
from ollamakit.server.templates import Template, go_json

# (input, strconv.Quote, strconv.QuoteToASCII): Go's quotetests, plus control characters,
# non-BMP runes, U+2028/U+2029, HTML characters and invalid UTF-8.
QUOTES: list[tuple[str | bytes, str, str]] = [
    ("\a\b\f\r\n\t\v", '"\\a\\b\\f\\r\\n\\t\\v"', '"\\a\\b\\f\\r\\n\\t\\v"'),
    ("\\", '"\\\\"', '"\\\\"'),
    (b"abc\xffdef", '"abc\\xffdef"', '"abc\\xffdef"'),
    ("\u263a", '"\u263a"', '"\\u263a"'),
    ("\U0010ffff", '"\\U0010ffff"', '"\\U0010ffff"'),
    ("\x04", '"\\x04"', '"\\x04"'),
    ("!\u00a0!\u2000!\u3000!", '"!\\u00a0!\\u2000!\\u3000!"', '"!\\u00a0!\\u2000!\\u3000!"'),
    ("a\x07b", '"a\\ab"', '"a\\ab"'),
    ("\x00\x1b\x7f", '"\\x00\\x1b\\x7f"', '"\\x00\\x1b\\x7f"'),
    ('say "hi"', '"say \\"hi\\""', '"say \\"hi\\""'),
    ("<a href='x'>&</a>", "\"<a href='x'>&</a>\"", "\"<a href='x'>&</a>\""),
    ("\u2028\u2029", '"\\u2028\\u2029"', '"\\u2028\\u2029"'),
    ("\U0001f600", '"\U0001f600"', '"\\U0001f600"'),
    ("\U000e0001", '"\\U000e0001"', '"\\U000e0001"'),
    ("\ufeff\u00ad", '"\\ufeff\\u00ad"', '"\\ufeff\\u00ad"'),
    ("\ufffd", '"\ufffd"', '"\\ufffd"'),
    (b"\xe2\x82", '"\\xe2\\x82"', '"\\xe2\\x82"'),
    (b"\xed\xa0\x80", '"\\xed\\xa0\\x80"', '"\\xed\\xa0\\x80"'),
    (b"\xf0\x9f\x98\x80", '"\U0001f600"', '"\\U0001f600"'),
    # Invalid UTF-8 held in a Python string: an escaped byte, and a lone surrogate.
    ("a\udcffb", '"a\\xffb"', '"a\\xffb"'),
    ("\ud800", '"\\xed\\xa0\\x80"', '"\\xed\\xa0\\x80"'),
]


@pytest.mark.parametrize(("text", "go", "go_ascii"), QUOTES)
def test_quote_is_strconv_quote(text: str | bytes, go: str, go_ascii: str) -> None:
    assert quote(text) == go
    assert quote(text, ascii_only=True) == go_ascii


@pytest.mark.parametrize(
    ("code", "go", "go_ascii"),
    [
        (ord("a"), "'a'", "'a'"),
        (7, "'\\a'", "'\\a'"),
        (ord("\\"), "'\\\\'", "'\\\\'"),
        (0xFF, "'\u00ff'", "'\\u00ff'"),
        (0x263A, "'\u263a'", "'\\u263a'"),
        (0xFFFD, "'\ufffd'", "'\\ufffd'"),
        (0x10FFFF, "'\\U0010ffff'", "'\\U0010ffff'"),
        (0x10FFFF + 1, "'\ufffd'", "'\\ufffd'"),
        (0x04, "'\\x04'", "'\\x04'"),
        (0xA0, "'\\u00a0'", "'\\u00a0'"),
        (0x2028, "'\\u2028'", "'\\u2028'"),
        (ord("'"), "'\\''", "'\\''"),
        (ord('"'), "'\"'", "'\"'"),
        (0xD800, "'\ufffd'", "'\\ufffd'"),
        (-1, "'\ufffd'", "'\\ufffd'"),
    ],
)
def test_quote_rune_is_strconv_quote_rune(code: int, go: str, go_ascii: str) -> None:
    assert quote_rune(code) == go
    assert quote_rune(code, ascii_only=True) == go_ascii


@pytest.mark.parametrize(
    ("text", "go"),
    [
        *((chr(c), c == 9) for c in range(32)),
        ("`", False),
        ("\x7f", False),
        ("' !\"#$%&'()*+,-./:;<=>?@[\\]^_{|}~", True),
        ("0123456789", True),
        ("\u263a", True),
        (b"\x80", False),
        (b"a\xe0\xa0z", False),
        ("\ufeffabc", False),
        ("a\ufeffz", False),
        ("\u00a0\u2028", True),
    ],
)
def test_can_backquote_is_strconv_can_backquote(text: str | bytes, go: bool) -> None:
    assert can_backquote(text) is go


# encoding/json's encodeStringTests (Go 1.22 and later write \b and \f), TestHTMLEscape and
# more: U+2028/U+2029, non-BMP runes, DEL, invalid UTF-8.
JSON_STRINGS = [
    *((chr(c), f'"\\u00{c:02x}"') for c in range(32) if chr(c) not in "\b\t\n\f\r"),
    ("\b\t\n\f\r", '"\\b\\t\\n\\f\\r"'),
    ("", '""'),
    ("\\", '"\\\\"'),
    ("\u272d", '"\u272d"'),
    ("foo\udcc2\x7fbar", '"foo\\ufffd\x7fbar"'),
    ('"a', '"\\"a"'),
    (
        "<html>foo &\u2028 \u2029</html>",
        '"\\u003chtml\\u003efoo \\u0026\\u2028 \\u2029\\u003c/html\\u003e"',
    ),
    ("\U0001f600", '"\U0001f600"'),
]


@pytest.mark.parametrize(("text", "go"), JSON_STRINGS)
def test_marshal_strings_as_encoding_json(text: str, go: str) -> None:
    assert marshal(text) == go


@pytest.mark.parametrize(
    ("value", "go"),
    [
        (1.0, "1"),
        (-0.0, "-0"),
        (0.5, "0.5"),
        (1e-7, "1e-7"),
        (0.000001, "0.000001"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1.5e300, "1.5e+300"),
        (float(2**60), "1152921504606847000"),
        (3, "3"),
        (True, "true"),
        (None, "null"),
        (b"hi", '"aGk="'),
        ({"b": [1, "x"], "a": {}}, '{"a":{},"b":[1,"x"]}'),
        (OrderedObject(b=1, a=2), '{"b":1,"a":2}'),
        ({2: "x", 10: "y"}, '{"10":"y","2":"x"}'),
    ],
)
def test_marshal_values_as_encoding_json(value: Any, go: str) -> None:
    assert marshal(value) == go


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, print, {1.5: 1}, {None: 1}])
def test_marshal_refuses_what_go_refuses(value: Any) -> None:
    with pytest.raises(UnsupportedValueError):
        marshal(value)


def test_decoded_json_numbers_are_float64() -> None:
    assert decoded_json({"n": [1, 2.5, True, None]}) == {"n": [1.0, 2.5, True, None]}
    assert marshal(decoded_json(2**63 + 1)) == "9223372036854776000"
    # Beyond float64 Go refuses to decode; the digits are kept rather than failing here.
    assert decoded_json(10**400) == 10**400


@pytest.mark.parametrize(
    ("value", "g", "e", "f"),
    [
        (1.0, "1", "1e+00", "1"),
        (1e6, "1e+06", "1e+06", "1000000"),
        (123456.0, "123456", "1.23456e+05", "123456"),
        (1234567.5, "1.2345675e+06", "1.2345675e+06", "1234567.5"),
        (0.0001, "0.0001", "1e-04", "0.0001"),
        (0.00001, "1e-05", "1e-05", "0.00001"),
        (1e23, "1e+23", "1e+23", "100000000000000000000000"),
        (-0.0, "-0", "-0e+00", "-0"),
        (math.inf, "+Inf", "+Inf", "+Inf"),
        (-math.inf, "-Inf", "-Inf", "-Inf"),
        (math.nan, "NaN", "NaN", "NaN"),
    ],
)
def test_format_float_is_strconv_format_float(value: float, g: str, e: str, f: str) -> None:
    assert format_float(value) == g
    assert format_float(value, "e") == e
    assert format_float(value, "f") == f


class _Named:
    go_type = "api.Thing"


@pytest.mark.parametrize(
    ("value", "go", "go_decoded"),
    [
        (None, "<nil>", "<nil>"),
        (True, "bool", "bool"),
        (3, "int", "float64"),
        (2.5, "float64", "float64"),
        ("s", "string", "string"),
        ({}, "map[string]interface {}", "map[string]interface {}"),
        ([], "[]interface {}", "[]interface {}"),
        (b"", "[]uint8", "[]uint8"),
        (_Named(), "api.Thing", "api.Thing"),
    ],
)
def test_type_name_is_fmt_percent_t(value: Any, go: str, go_decoded: str) -> None:
    assert type_name(value) == go
    assert type_name(value, decoded_json=True) == go_decoded


@pytest.mark.parametrize(
    ("char", "go"),
    [("'", "'\\''"), ('"', "'\"'"), ("\n", "'\\n'"), ("\x01", "'\\x01'"), ("q", "'q'")],
)
def test_json_char_is_encoding_json_quote_char(char: str, go: str) -> None:
    assert json_char(char) == go


# -- every caller uses the one implementation --------------------------------------------

SAMPLES = ["a\x07b", "\x00\x7f", "\u2028<&>", "\U0001f600\U000e0001", "x\udcffy", "tab\tq\"'"]


@pytest.mark.parametrize("text", SAMPLES)
def test_every_percent_q_is_strconv_quote(text: str) -> None:
    assert wire.go_value(text, sharp=True) == quote(text)
    assert Template('{{ printf "%q" .S }}').execute({"S": text, "Response": ""}) == quote(text)
    assert Template('{{ printf "%+q" .S }}').execute({"S": text, "Response": ""}) == quote(
        text, ascii_only=True
    )


def test_template_percent_q_of_a_rune_and_percent_hash_q() -> None:
    assert (
        Template('{{ printf "%q %q %q" 39 34 55296 }}').execute({"Response": ""})
        == "'\\'' '\"' '\ufffd'"
    )
    assert (
        Template('{{ printf "%#q" .S }}').execute({"S": "a\u00a0b", "Response": ""}) == "`a\u00a0b`"
    )
    assert Template('{{ printf "%#q" .S }}').execute({"S": "a`b", "Response": ""}) == '"a`b"'


@pytest.mark.parametrize("value", [{"b": 1.5e-6, "a": "<\u2028>"}, [1, 2.5, None, "\x07"]])
def test_every_json_is_encoding_json(value: Any) -> None:
    assert go_json(value) == marshal(value)
    assert wire.go_json(value) == marshal(decoded_json(value)).encode() + b"\n"


def test_stored_json_writes_floats_as_go() -> None:
    assert wire.go_json({"min_p": 0.000001, "x": 1e21, "n": 2}) == (
        b'{"min_p":0.000001,"n":2,"x":1e+21}\n'
    )


def test_json_syntax_errors_quote_characters_as_go() -> None:
    with pytest.raises(validate.BadRequest) as caught:
        validate.decode_body(b'{"model": "a\x07b"}', validate.GENERATE)
    assert caught.value.message == "invalid character '\\a' in string literal"
