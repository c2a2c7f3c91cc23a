"""NDJSON stream decoding, independent of any network: chunk boundaries, errors, merging."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ollamakit import (
    ChatResponse,
    GenerateResponse,
    IncompleteStreamError,
    ProgressResponse,
    ProtocolError,
    StreamError,
)
from ollamakit._stream import RecordDecoder, _Text
from ollamakit.testing import chat_stream, generate_stream

TOKENS = ["Hel", "lo", " wörld", " \u2028 sep", " \u0085 nel", " 🎉", "\n", "\r\n", ""]


def _body(records: list[dict[str, object]]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in records)


def _decode_in_pieces(body: bytes, cuts: list[int]) -> tuple[list[ChatResponse], ChatResponse]:
    decoder = RecordDecoder(ChatResponse)
    items: list[ChatResponse] = []
    start = 0
    for cut in sorted(set(cuts)):
        items += decoder.feed(body[start:cut])
        start = cut
    items += decoder.feed(body[start:])
    items += decoder.finish()
    return items, decoder.final()


def test_one_record_per_chunk() -> None:
    body = _body(chat_stream(TOKENS))
    decoder = RecordDecoder(ChatResponse)
    items = [item for line in body.splitlines(keepends=True) for item in decoder.feed(line)]
    assert [i.message.content for i in items[:-1]] == TOKENS
    assert decoder.finished


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2000), max_size=40))
def test_any_chunk_boundaries_give_the_same_records(cuts: list[int]) -> None:
    body = _body(chat_stream(TOKENS))
    items, final = _decode_in_pieces(body, [c % (len(body) + 1) for c in cuts])
    assert [i.message.content for i in items[:-1]] == TOKENS
    assert final.message.content == "".join(TOKENS)
    assert final.done and final.eval_count == len(TOKENS)


def test_separators_inside_strings_do_not_split_records() -> None:
    body = _body(chat_stream(["a\u2028b", "c\u0085d", "e\u2029f"]))
    items, final = _decode_in_pieces(body, [])
    assert len(items) == 4
    assert final.message.content == "a\u2028bc\u0085de\u2029f"


def test_blank_lines_and_crlf_are_skipped() -> None:
    records = chat_stream(["x", "y"])
    body = b"\n\r\n  \n".join(json.dumps(r).encode() for r in records) + b"\r\n\n"
    items, final = _decode_in_pieces(body, [])
    assert [i.message.content for i in items] == ["x", "y", ""]
    assert final.message.content == "xy"


def test_last_line_without_newline_is_flushed() -> None:
    body = _body(chat_stream(["x"])).rstrip(b"\n")
    items, final = _decode_in_pieces(body, [5])
    assert final.done
    assert len(items) == 2


def test_error_record_raises_stream_error() -> None:
    body = _body(chat_stream(["x"])[:1]) + b'{"error":"model runner has unexpectedly stopped"}\n'
    decoder = RecordDecoder(ChatResponse)
    assert len(decoder.feed(body)) == 1
    with pytest.raises(StreamError, match="unexpectedly stopped") as info:
        decoder.feed(b"")
    assert info.value.status_code == -1
    with pytest.raises(StreamError):
        RecordDecoder(ChatResponse).feed(b'{"error":"at once"}\n')


def test_the_word_error_inside_content_is_not_an_error() -> None:
    records = chat_stream(['"error"', "error"])
    _items, final = _decode_in_pieces(_body(records), [])
    assert final.message.content == '"error"error'


def test_missing_done_raises() -> None:
    decoder = RecordDecoder(ChatResponse)
    decoder.feed(_body(chat_stream(["x"])[:-1]))
    with pytest.raises(IncompleteStreamError):
        decoder.finish()


def test_malformed_line_raises_protocol_error() -> None:
    decoder = RecordDecoder(ChatResponse)
    with pytest.raises(ProtocolError, match="malformed"):
        decoder.feed(b'{"model": "m", "message": {"ro\n')


def test_generate_merge_keeps_context_and_metrics() -> None:
    decoder = RecordDecoder(GenerateResponse)
    decoder.feed(_body(generate_stream(["a", "b", "c"])))
    decoder.finish()
    final = decoder.final()
    assert final.response == "abc"
    assert final.context == [1, 2, 3]
    assert final.done_reason == "stop"


def test_chat_merge_collects_thinking_tool_calls_and_logprobs() -> None:
    call = {"id": "call_ab12cd34", "function": {"index": 0, "name": "add", "arguments": {"a": 1}}}
    records = chat_stream(["4"], thinking=["Let me ", "think"], tool_calls=[call])
    records[-2]["logprobs"] = [{"token": "4", "logprob": -0.1}]
    decoder = RecordDecoder(ChatResponse)
    decoder.feed(_body(records))
    decoder.finish()
    final = decoder.final()
    assert final.message.thinking == "Let me think"
    assert final.message.content == "4"
    assert final.message.tool_calls is not None
    assert final.message.tool_calls[0].function.name == "add"
    assert final.message.tool_calls[0].id == "call_ab12cd34"
    assert final.logprobs is not None and final.logprobs[0].token == "4"


def test_progress_stream_ends_with_success() -> None:
    decoder = RecordDecoder(ProgressResponse)
    decoder.feed(
        b'{"status":"pulling manifest"}\n{"status":"pulling abc","total":10,"completed":5}\n'
    )
    assert not decoder.finished
    decoder.feed(b'{"status":"success"}\n')
    assert decoder.finished
    assert decoder.final().status == "success"


def test_records_before_an_error_in_the_same_read_are_delivered_first() -> None:
    decoder = RecordDecoder(ProgressResponse)
    body = b'{"status":"pulling manifest"}\n{"error":"pull model manifest: file does not exist"}\n'
    items = decoder.feed(body)
    assert [item.status for item in items] == ["pulling manifest"]
    with pytest.raises(StreamError, match="file does not exist"):
        decoder.finish()


def test_merged_text_is_the_pieces_joined_however_many() -> None:
    rng = random.Random(7)
    for count in (0, 1, 255, 256, 257, 70_000):
        pieces = ["".join(rng.choices("aé€\U0001f600", k=rng.randint(1, 4))) for _ in range(count)]
        text = _Text()
        for piece in pieces:
            text.add(piece)
        assert text.value() == ("".join(pieces) if pieces else None)
