"""Prompt paths end to end: GGUF Jinja chat templates, tools, thinking, ``format`` and
``_debug_render_only``."""

from __future__ import annotations

import math
import mmap
import struct
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_support import DEMO, FAST, WEATHER_TOOL, ServerProcess, make_client

from ollamakit.server.gguf import _U32, _U64, _Reader

pytestmark = pytest.mark.server

JINJA = (
    "{{ bos_token }}{% for message in messages %}"
    "<start_of_turn>{{ 'model' if message['role'] == 'assistant' else message['role'] }}\n"
    "{{ message['content'] | trim }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)

TOOLS_TEMPLATE = (
    "{{- if .Tools }}Tools: {{ .Tools }}\n{{ end }}"
    "{{- range .Messages }}{{ .Role }}: {{ .Content }}\n{{ end }}assistant: "
)

THINKING_TEMPLATE = (
    "{{- range .Messages }}{{ .Role }}: "
    "{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}{{ .Content }}\n{{ end }}"
    "assistant: {{ if .Think }}<think>{{ end }}"
)


def _gguf_with_chat_template(source: Path, target: Path, template: str) -> None:
    """Copy a GGUF, adding ``tokenizer.chat_template`` to its metadata."""

    def string(text: str) -> bytes:
        raw = text.encode()
        return struct.pack("<Q", len(raw)) + raw

    with open(source, "rb") as handle:
        data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        reader = _Reader(data)
        reader.offset = 4
        version = reader.take(_U32)
        tensors = reader.take(_U64)
        kv_count = reader.take(_U64)
        for _ in range(kv_count):
            reader.string()
            reader.value(reader.take(_U32), 0)
        kv_end = reader.offset
        for _ in range(tensors):
            reader.string()
            for _ in range(reader.take(_U32)):
                reader.take(_U64)
            reader.take(_U32)
            reader.take(_U64)
        infos_end = reader.offset
        data_start = math.ceil(infos_end / 32) * 32
        header = b"GGUF" + struct.pack("<IQQ", version, tensors, kv_count + 1)
        header += data[24:kv_end] + string("tokenizer.chat_template")
        header += struct.pack("<I", 8) + string(template) + data[kv_end:infos_end]
        header += b"\0" * (math.ceil(len(header) / 32) * 32 - len(header))
        with open(target, "wb") as out:
            out.write(header)
            for start in range(data_start, len(data), 1 << 24):
                out.write(data[start : start + (1 << 24)])
        data.close()


@pytest.fixture(scope="module")
def jinja_model(
    embedded: ServerProcess, demo_model: str, tmp_path_factory: pytest.TempPathFactory
) -> str:
    source = embedded.models / "blobs"
    [weights] = [path for path in source.iterdir() if path.stat().st_size > 100_000_000]
    target = tmp_path_factory.mktemp("jinja") / "gemma-jinja.gguf"
    _gguf_with_chat_template(weights, target, JINJA)
    client: Any = make_client("ollama", embedded.url)
    with client:
        digest = client.create_blob(target)
        client.create("gemma-jinja", files={"gemma-jinja.gguf": digest})
    return "gemma-jinja:latest"


def test_gguf_jinja_template(client: Any, base_url: str, jinja_model: str) -> None:
    shown = client.show(jinja_model)
    assert shown.template == JINJA  # no TEMPLATE layer: the GGUF's own chat template
    assert "TEMPLATE" not in shown.modelfile
    assert shown.capabilities == ["completion"]
    messages = [{"role": "user", "content": "Hi there"}]
    debug = httpx.post(
        base_url + "/api/chat",
        json={"model": jinja_model, "messages": messages, "_debug_render_only": True},
    ).json()
    assert debug["_debug_info"]["rendered_template"] == (
        "<bos><start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\n"
    )
    reply = client.chat(jinja_model, messages=messages, options=FAST, keep_alive=0)
    reference = client.chat(DEMO, messages=messages, options=FAST)
    assert reply.message.content
    # Same prompt as the Go template, with exactly one BOS (the rendered `<bos>` is not
    # doubled by the tokenizer), so the same greedy answer.
    assert reply.prompt_eval_count == reference.prompt_eval_count
    assert reply.message.content == reference.message.content


@pytest.fixture(scope="module")
def tools_model(embedded: ServerProcess, demo_model: str) -> str:
    response = httpx.post(
        embedded.url + "/api/create",
        json={"model": "gemma-tools", "from": DEMO, "template": TOOLS_TEMPLATE, "stream": False},
        timeout=60,
    )
    assert response.json() == {"status": "success"}
    return "gemma-tools:latest"


def test_tools_are_rendered_and_parsed(client: Any, base_url: str, tools_model: str) -> None:
    assert "tools" in client.show(tools_model).capabilities
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    debug = httpx.post(
        base_url + "/api/chat",
        json={
            "model": tools_model,
            "messages": messages,
            "tools": [WEATHER_TOOL],
            "_debug_render_only": True,
        },
    ).json()
    rendered = debug["_debug_info"]["rendered_template"]
    assert rendered.startswith('Tools: [{"type":"function","function":{"name":"get_weather"')
    assert rendered.endswith("user: Weather in Paris?\nassistant: ")
    # A grammar makes the model answer with a call; the server turns it into tool_calls.
    schema = {
        "type": "object",
        "properties": {
            "name": {"const": "get_weather"},
            "arguments": {
                "type": "object",
                "properties": {"city": {"const": "Paris"}},
                "required": ["city"],
            },
        },
        "required": ["name", "arguments"],
    }
    options = {"num_predict": 40, "temperature": 0}
    reply = client.chat(
        tools_model, messages=messages, tools=[WEATHER_TOOL], format=schema, options=options
    )
    [call] = reply.message.tool_calls
    assert call.function.name == "get_weather"
    assert call.function.arguments == {"city": "Paris"}
    assert reply.message.content == ""
    parts = list(
        client.chat(
            tools_model,
            messages=messages,
            tools=[WEATHER_TOOL],
            format=schema,
            options=options,
            stream=True,
        )
    )
    calls = [call for part in parts for call in (part.message.tool_calls or [])]
    assert [call.function.name for call in calls] == ["get_weather"]
    assert parts[-1].done


def test_format_json_constrains_output(client: Any, base_url: str, demo_model: str) -> None:
    reply = client.generate(
        demo_model, "Describe a cat.", format="json", options={"num_predict": 6, "temperature": 0}
    )
    assert reply.response.lstrip().startswith("{")
    bad = httpx.post(
        base_url + "/api/generate",
        json={"model": DEMO, "prompt": "x", "format": "yaml"},
    )
    assert bad.status_code == 500
    assert bad.json() == {
        "error": 'invalid format: "\\"yaml\\""; expected "json" or a valid JSON Schema object'
    }


def test_thinking_template(base_url: str, demo_model: str) -> None:
    created = httpx.post(
        base_url + "/api/create",
        json={"model": "gemma-think", "from": DEMO, "template": THINKING_TEMPLATE, "stream": False},
        timeout=60,
    )
    assert created.json() == {"status": "success"}
    shown = httpx.post(base_url + "/api/show", json={"model": "gemma-think"}).json()
    assert "thinking" in shown["capabilities"]
    debug = httpx.post(
        base_url + "/api/generate",
        json={"model": "gemma-think", "prompt": "Hi", "think": True, "_debug_render_only": True},
    ).json()
    assert debug["_debug_info"]["rendered_template"] == "user: Hi\nassistant: <think>"
    # The prompt opens the thinking block, so the output starts as thinking.
    reply = httpx.post(
        base_url + "/api/generate",
        json={
            "model": "gemma-think",
            "prompt": "Hi",
            "think": True,
            "stream": False,
            "keep_alive": 0,
            "options": FAST,
        },
        timeout=60,
    ).json()
    assert reply["thinking"]
    assert (
        httpx.request("DELETE", base_url + "/api/delete", json={"model": "gemma-think"}).status_code
        == 200
    )


def test_generate_template_override_and_suffix(base_url: str, demo_model: str) -> None:
    debug = httpx.post(
        base_url + "/api/generate",
        json={
            "model": DEMO,
            "prompt": "Hi",
            "system": "Be nice.",
            "template": "{{ .System }}|{{ .Prompt }}|",
            "_debug_render_only": True,
        },
    ).json()
    assert debug["_debug_info"]["rendered_template"] == "Be nice.|Hi|"
    bad = httpx.post(
        base_url + "/api/generate",
        json={"model": DEMO, "prompt": "Hi", "template": "{{ .Prompt"},
    )
    assert bad.status_code == 400
    assert bad.json()["error"].startswith("template: ")
    created = httpx.post(
        base_url + "/api/create",
        json={
            "model": "gemma-fim",
            "from": DEMO,
            "template": "<PRE>{{ .Prompt }}<SUF>{{ .Suffix }}<MID>",
            "stream": False,
        },
    )
    assert created.status_code == 200
    fim = httpx.post(
        base_url + "/api/generate",
        json={"model": "gemma-fim", "prompt": "def f(", "suffix": "):", "_debug_render_only": True},
    ).json()
    assert fim["_debug_info"]["rendered_template"] == "<PRE>def f(<SUF>):<MID>"


def test_thinking_is_on_by_default_for_thinking_models(base_url: str, demo_model: str) -> None:
    created = httpx.post(
        base_url + "/api/create",
        json={
            "model": "gemma-think2",
            "from": DEMO,
            "template": THINKING_TEMPLATE,
            "stream": False,
        },
        timeout=60,
    )
    assert created.status_code == 200
    try:
        rendered = httpx.post(
            base_url + "/api/generate",
            json={"model": "gemma-think2", "prompt": "Hi", "_debug_render_only": True},
        ).json()["_debug_info"]["rendered_template"]
        assert rendered.endswith("<think>")
        off = httpx.post(
            base_url + "/api/generate",
            json={
                "model": "gemma-think2",
                "prompt": "Hi",
                "think": False,
                "_debug_render_only": True,
            },
        ).json()["_debug_info"]["rendered_template"]
        assert off == "user: Hi\nassistant: "
    finally:
        httpx.request("DELETE", base_url + "/api/delete", json={"model": "gemma-think2"})
