"""Every script in examples/ runs against the fake server and exits cleanly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ollamakit.testing import FakeOllama, RecordedRequest, Reply, chat_stream, generate_stream

EXAMPLES = Path(__file__).parent.parent / "examples"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))
COUNTRY = {"name": "Canada", "capital": "Ottawa", "languages": ["English", "French"]}
MODEL = {
    "name": "gemma3:270m",
    "model": "gemma3:270m",
    "size": 253_000_000,
    "digest": "ab" * 32,
    "modified_at": "2026-11-22T04:15:00.123456789Z",
    "details": {"format": "gguf", "family": "gemma3", "parameter_size": "268.10M"},
}


def _chat(request: RecordedRequest) -> Reply:
    body = request.json()
    messages = body.get("messages") or []
    message: dict[str, Any] = {"role": "assistant", "content": "Ottawa is the capital."}
    if body.get("tools") and (not messages or messages[-1]["role"] != "tool"):
        name = body["tools"][0]["function"]["name"]
        call = {"id": "call_1a2b3c4d", "function": {"index": 0, "name": name,
                                                    "arguments": {"a": 2, "b": 3}}}  # fmt: skip
        message = {"role": "assistant", "content": "", "tool_calls": [call]}
    elif body.get("tools"):
        message["content"] = f"The answer is {messages[-1]['content']}."
    elif isinstance(body.get("format"), dict):
        message["content"] = json.dumps(COUNTRY)
    if body.get("stream", True):
        records = chat_stream(message["content"].split(" "))
        if message.get("tool_calls"):
            records = chat_stream([], tool_calls=message["tool_calls"])
        return Reply.ndjson(records)
    return Reply.json({"model": body["model"], "message": message, "done": True,
                       "done_reason": "stop", "eval_count": 5, "eval_duration": 10**8})  # fmt: skip


def _generate(request: RecordedRequest) -> Reply:
    body = request.json()
    if body.get("stream", True):
        return Reply.ndjson(generate_stream(["Paris", "."]))
    return Reply.json({"model": body["model"], "response": "Paris.", "done": True,
                       "done_reason": "stop"})  # fmt: skip


def _progress(request: RecordedRequest) -> Reply:
    layer = {"status": "pulling a5fd3b62230a", "digest": "sha256:a5", "total": 10, "completed": 10}
    records = [{"status": "pulling manifest"}, layer, {"status": "success"}]
    if request.json().get("stream", True):
        return Reply.ndjson(records)
    return Reply.json(records[-1])


def _messages(request: RecordedRequest) -> Reply:
    """Anthropic's Messages API: a message, or its events when streamed."""
    body = request.json()
    stop = "\n" if body.get("stop_sequences") else None
    usage = {"input_tokens": 14, "output_tokens": 3}
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": body["model"],
               "content": [{"type": "text", "text": "Red, yellow, blue."}],
               "stop_reason": "stop_sequence" if stop else "end_turn", "stop_sequence": stop,
               "usage": usage}  # fmt: skip
    if not body.get("stream"):
        return Reply.json(message)
    events = [
        {"type": "message_start", "message": {**message, "content": [], "stop_reason": None}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "Red, yellow, blue."},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": usage,
        },
        {"type": "message_stop"},
    ]
    frames = [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events]
    return Reply.sse(frames)


def _responses(request: RecordedRequest) -> Reply:
    """OpenAI's Responses API: a function call when tools are offered and no result came
    back yet, else a message; streamed as the response.* events when asked."""
    body = request.json()
    history = body["input"] if isinstance(body["input"], list) else []
    answered = any(item.get("type") == "function_call_output" for item in history)
    text = {"type": "output_text", "text": "The answer is 5.", "annotations": [], "logprobs": []}
    item: dict[str, Any] = {"id": "msg_1", "type": "message", "status": "completed",
                            "role": "assistant", "content": [text]}  # fmt: skip
    if body.get("tools") and not answered:
        item = {"id": "fc_1", "type": "function_call", "status": "completed",
                "call_id": "call_1", "name": "add", "arguments": '{"a":2,"b":3}'}  # fmt: skip
    response = {"id": "resp_1", "object": "response", "created_at": 1, "status": "completed",
                "model": body["model"], "output": [item], "tools": [], "tool_choice": "auto",
                "parallel_tool_calls": False,
                "usage": {"input_tokens": 9, "output_tokens": 5, "total_tokens": 14,
                          "input_tokens_details": {"cached_tokens": 0},
                          "output_tokens_details": {"reasoning_tokens": 0}}}  # fmt: skip
    if not body.get("stream"):
        return Reply.json(response)
    events = [
        {"type": "response.created", "sequence_number": 0,
         "response": {**response, "status": "in_progress", "output": [], "usage": None}},
        {"type": "response.output_text.delta", "sequence_number": 1, "item_id": "msg_1",
         "output_index": 0, "content_index": 0, "delta": "The answer is 5.", "logprobs": []},
        {"type": "response.completed", "sequence_number": 2, "response": response},
    ]  # fmt: skip
    frames = [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events]
    return Reply.sse(frames)


def _script(server: FakeOllama) -> None:
    server.expect("POST", "/v1/responses", _responses)
    server.expect("POST", "/v1/messages", _messages)
    server.expect("POST", "/v1/messages/count_tokens", Reply.json({"input_tokens": 14}))
    server.expect("POST", "/api/chat", _chat)
    server.expect("POST", "/api/generate", _generate)
    server.expect("POST", "/api/pull", _progress)
    server.expect("POST", "/api/create", _progress)
    server.expect("GET", "/api/tags", Reply.json({"models": [MODEL]}))
    server.expect("GET", "/api/ps", Reply.json({"models": []}))
    server.expect("POST", "/api/copy", Reply.empty())
    server.expect("DELETE", "/api/delete", Reply.empty())
    server.expect("POST", "/api/show", Reply.json({"modelfile": "FROM x", "system": "Arr.",
                                                   "capabilities": ["completion"]}))  # fmt: skip
    server.expect("POST", "/api/web_search",
                  Reply.json({"results": [{"title": "Ollama", "url": "https://ollama.com",
                                           "content": "Get up and running"}]}))  # fmt: skip
    server.expect("POST", "/api/web_fetch", Reply.json({"title": "Ollama", "content": "text"}))


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs(script: str) -> None:
    with FakeOllama() as server:
        _script(server)
        env = {
            **os.environ,
            "OLLAMA_HOST": server.url,
            "OLLAMAKIT_WEB_URL": server.url,
            "OLLAMA_API_KEY": "test-key",
            "PYTHONPATH": os.pathsep.join([str(EXAMPLES.parent / "src"), str(EXAMPLES)]),
        }
        result = subprocess.run(
            [sys.executable, str(EXAMPLES / script)],
            capture_output=True, text=True, env=env, timeout=60, cwd=EXAMPLES,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), "an example should print what it did"
    assert "Traceback" not in result.stderr
