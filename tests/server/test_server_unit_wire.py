"""Pure helpers: keep_alive and Go durations, Go formatting, request decoding, bind address."""

from __future__ import annotations

import pytest

from ollamakit.server import parse_bind
from ollamakit.server.validate import (
    CHAT,
    GENERATE,
    BadRequest,
    decode_body,
    env_keep_alive_ns,
    keep_alive_ns,
    think_value,
)
from ollamakit.server.wire import (
    DurationError,
    go_json,
    go_value,
    parse_duration,
    rfc3339,
)

S = 1_000_000_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("5m", 300 * S),
        ("1h30m", 5400 * S),
        ("1.5s", 1_500_000_000),
        ("-1m", -60 * S),
        ("300ms", 300_000_000),
        ("2h45m30.5s", (2 * 3600 + 45 * 60 + 30) * S + S // 2),
        ("10us", 10_000),
        ("10µs", 10_000),
        ("7ns", 7),
        ("+3s", 3 * S),
    ],
)
def test_parse_duration(text: str, expected: int) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10", 'time: missing unit in duration "10"'),
        ("", 'time: invalid duration ""'),
        ("5x", 'time: unknown unit "x" in duration "5x"'),
        ("m", 'time: invalid duration "m"'),
        ("1h-5m", 'time: invalid duration "1h-5m"'),
    ],
)
def test_parse_duration_errors(text: str, message: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (0, 0),
        (10, 10 * S),
        (1.5, 1_500_000_000),
        (-1, -1),
        (-0.5, -1),
        ("5m", 300 * S),
        ("0", 0),
        ("-1s", -1),
        ("-10m", -1),
    ],
)
def test_keep_alive(value: object, expected: int | None) -> None:
    assert keep_alive_ns(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("10", 'time: missing unit in duration "10"'),
        (True, "Unsupported type: 'bool'"),
        ([1], "Unsupported type: '[]interface {}'"),
    ],
)
def test_keep_alive_errors(value: object, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        keep_alive_ns(value)
    assert caught.value.message == message
    assert caught.value.status == 400


def test_env_keep_alive() -> None:
    assert env_keep_alive_ns("") == 300 * S
    assert env_keep_alive_ns("10") == 10 * S  # the env var accepts bare seconds
    assert env_keep_alive_ns('"1h"') == 3600 * S
    assert env_keep_alive_ns("-1") == -1


def test_think_value() -> None:
    assert think_value(None) is None
    assert think_value(True) is True
    assert think_value("high") == "high"
    with pytest.raises(BadRequest):
        think_value("extreme")
    with pytest.raises(BadRequest):
        think_value(1)


def test_go_formatting() -> None:
    assert go_value(1.0, sharp=True) == "1"
    assert go_value(0.95, sharp=True) == "0.95"
    assert go_value(64, sharp=True) == "64"
    assert go_value("<end_of_turn>", sharp=True) == '"<end_of_turn>"'
    assert go_value('say "hi"\n', sharp=True) == '"say \\"hi\\"\\n"'
    assert go_value("plain", sharp=False) == "plain"
    assert go_value(True, sharp=True) == "true"
    assert go_value(1e-7, sharp=True) == "1e-07"
    assert go_json({"b": 1.0, "a": "<&>"}) == b'{"a":"\\u003c\\u0026\\u003e","b":1}\n'


def test_rfc3339() -> None:
    assert rfc3339(1_700_000_000_000_000_000, utc=True) == "2023-11-14T22:13:20Z"
    assert rfc3339(1_700_000_000_097_767_123, utc=True) == "2023-11-14T22:13:20.097767123Z"
    assert rfc3339(1_700_000_000_100_000_000, utc=True) == "2023-11-14T22:13:20.1Z"


def test_decode_body_go_errors() -> None:
    with pytest.raises(BadRequest, match=r"^missing request body$"):
        decode_body(b"  ", GENERATE)
    assert decode_body(b"null", GENERATE) == {}
    assert decode_body(b'{"model":"m","unknown":1,"prompt":null}', GENERATE) == {"model": "m"}
    cases = [
        (
            b'{"model": 1}',
            "json: cannot unmarshal number into Go struct field "
            "GenerateRequest.model of type string",
        ),
        (
            b'{"stream": "yes"}',
            "json: cannot unmarshal string into Go struct field "
            "GenerateRequest.stream of type bool",
        ),
        (
            b'{"context": [1, 2.5]}',
            "json: cannot unmarshal number 2.5 into Go struct field "
            "GenerateRequest.context of type int",
        ),
        (
            b'{"context": [1, 9223372036854775808]}',
            "json: cannot unmarshal number 9223372036854775808 into Go struct field "
            "GenerateRequest.context of type int",
        ),
        (
            b'{"context": [-9223372036854775809]}',
            "json: cannot unmarshal number -9223372036854775809 into Go struct field "
            "GenerateRequest.context of type int",
        ),
        (
            b'{"options": []}',
            "json: cannot unmarshal array into Go struct field "
            "GenerateRequest.options of type map[string]interface {}",
        ),
        (b'"text"', "json: cannot unmarshal string into Go value of type api.GenerateRequest"),
        (b'{"model": "m"', "unexpected EOF"),
        (b'{"model": "m"} x', "invalid character 'x' after top-level value"),
    ]
    for raw, message in cases:
        with pytest.raises(BadRequest) as caught:
            decode_body(raw, GENERATE)
        assert caught.value.message == message, raw
    # The ends of Go's 64-bit int are in range.
    extremes = b'{"context": [-9223372036854775808, 9223372036854775807]}'
    assert decode_body(extremes, GENERATE)["context"] == [-(2**63), 2**63 - 1]
    chat = decode_body(b'{"messages":[{"role":"USER","content":"hi"}]}', CHAT)
    assert chat["messages"] == [{"role": "user", "content": "hi"}]
    with pytest.raises(BadRequest) as caught:
        decode_body(b'{"messages":["hi"]}', CHAT)
    assert caught.value.message == (
        "json: cannot unmarshal string into Go struct field ChatRequest.messages "
        "of type api.Message"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ("127.0.0.1", 11434)),
        ("", ("127.0.0.1", 11434)),
        ("0.0.0.0", ("0.0.0.0", 11434)),
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        (":1234", ("0.0.0.0", 1234)),
        ("http://example.com", ("example.com", 80)),
        ("https://example.com", ("example.com", 443)),
        ("http://10.0.0.1:5000/path", ("10.0.0.1", 5000)),
        ("::1", ("::1", 11434)),
        ("[::1]:9000", ("::1", 9000)),
        ("localhost:99999", ("localhost", 11434)),
        (' "127.0.0.2:7000" ', ("127.0.0.2", 7000)),
    ],
)
def test_parse_bind(value: str | None, expected: tuple[str, int]) -> None:
    assert parse_bind(value) == expected
