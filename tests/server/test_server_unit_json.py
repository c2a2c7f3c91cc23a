"""Request bodies decode as Go's ``encoding/json`` does, whichever msgspec is installed.

msgspec changed how it reports invalid UTF-8 (``UnicodeDecodeError`` up to 0.22,
``DecodeError`` since 0.23); these tests run in both CI environments (locked and lowest).
"""

from __future__ import annotations

import pytest

from ollamakit.server.validate import BadRequest, decode_body

SPEC = ("GenerateRequest", {"model": "string", "prompt": "string", "stream": "bool"})


@pytest.mark.parametrize(
    ("raw", "prompt"),
    [
        (b'{"prompt": "caf\xe9 \xff"}', "caf\ufffd \ufffd"),
        # A truncated three-byte sequence: one U+FFFD per byte, as Go's decoder writes.
        (b'{"prompt": "a\xe2\x82b"}', "a\ufffd\ufffdb"),
        (b'{"prompt": "\xed\xa0\x80"}', "\ufffd\ufffd\ufffd"),  # an encoded surrogate
        (b'{"prompt": "ok \xe2\x82\xac"}', "ok \u20ac"),  # valid input is untouched
    ],
)
def test_invalid_utf8_in_strings_becomes_replacement_characters(raw: bytes, prompt: str) -> None:
    assert decode_body(raw, SPEC) == {"prompt": prompt}


def test_invalid_utf8_outside_strings_is_still_a_syntax_error() -> None:
    with pytest.raises(BadRequest, match="invalid character"):
        decode_body(b'{"prompt": "x"} \xff', SPEC)


def test_malformed_json_with_invalid_utf8_keeps_gos_message() -> None:
    with pytest.raises(BadRequest, match="unexpected EOF"):
        decode_body(b'{"prompt": "caf\xe9', SPEC)


def test_replacement_applies_to_keys_and_nested_values() -> None:
    spec = ("ChatRequest", {"messages": "[]api.Message"})
    body = decode_body(b'{"messages": [{"role": "user", "content": "\xff"}], "\xff": 1}', spec)
    assert body["messages"][0]["content"] == "\ufffd"
