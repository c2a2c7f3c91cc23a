"""Tool-call extraction from model output."""

from __future__ import annotations

import re

from ollamakit.server.output import OutputShaper
from ollamakit.server.toolcalls import ToolCallParser, tool_names

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {}}},
    {"type": "function", "function": {"name": "add", "parameters": {}}},
]


def _run(parser: ToolCallParser, pieces: list[str]) -> tuple[str, list[dict[str, object]]]:
    content = "".join(parser.feed(piece) for piece in pieces)
    held, calls = parser.finish()
    return content + held, calls


def test_tool_names() -> None:
    assert tool_names(TOOLS) == ["get_weather", "add"]
    assert tool_names(None) == []
    assert tool_names([{"type": "function"}]) == []


def test_tagged_calls_split_across_pieces() -> None:
    parser = ToolCallParser("<tool_call>", tool_names(TOOLS))
    content, calls = _run(
        parser,
        [
            "Let me check. <tool",
            '_call>{"name": "get_weather", ',
            '"arguments": {"city": "Paris"}}',
            '<tool_call>{"name": "add", "parameters": "{\\"a\\": 1}"}',
        ],
    )
    assert content == "Let me check. "
    assert [call["function"] for call in calls] == [
        {"index": 0, "name": "get_weather", "arguments": {"city": "Paris"}},
        {"index": 1, "name": "add", "arguments": {"a": 1}},
    ]
    assert all(re.fullmatch(r"call_[a-z0-9]{8}", str(call["id"])) for call in calls)


def test_bare_json_only_at_the_start() -> None:
    parser = ToolCallParser("{", tool_names(TOOLS))
    assert _run(parser, ["  ", '{"get_weather": {"city": "Oslo"}}'])[1][0]["function"] == {
        "index": 0,
        "name": "get_weather",
        "arguments": {"city": "Oslo"},
    }
    late = ToolCallParser("{", tool_names(TOOLS))
    assert _run(late, ["Sure: ", '{"name": "add", "arguments": {}}']) == (
        'Sure: {"name": "add", "arguments": {}}',
        [],
    )


def test_unparseable_output_is_kept_as_content() -> None:
    parser = ToolCallParser("<tool_call>", tool_names(TOOLS))
    text = '<tool_call>{"name": "unknown_tool", "arguments": {}}'
    assert _run(parser, [text]) == (text, [])
    broken = ToolCallParser("<tool_call>", tool_names(TOOLS))
    assert _run(broken, ['<tool_call>{"name": "add", "arguments": {']) == (
        '<tool_call>{"name": "add", "arguments": {',
        [],
    )
    braces = ToolCallParser("{", tool_names(TOOLS))
    content, calls = _run(braces, ['{"name": "add", "arguments": {"s": "a } b"}}'])
    assert content == "" and calls[0]["function"]["arguments"] == {"s": "a } b"}


def test_shaper_combines_thinking_and_tools() -> None:
    shaper = OutputShaper(("<think>", "</think>"), ToolCallParser("<tool_call>", ["add"]))
    assert not shaper.passthrough
    pieces = [
        shaper.feed(text)
        for text in ["<think>sum", "s</think>", "Ok<tool_call>", '{"name":"add","arguments":{}}']
    ]
    end = shaper.finish()
    assert "".join(piece.thinking for piece in pieces) == "sums"
    assert "".join(piece.content for piece in pieces) + end.content == "Ok"
    # As in Ollama, the call is sent in the chunk that completes it, not held to the end.
    assert [call["function"]["name"] for call in pieces[-1].tool_calls] == ["add"]
    assert end.tool_calls == []
    assert OutputShaper().passthrough
