"""Status codes, headers and exact error bodies of the embedded server, over raw HTTP."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator

import httpx
import pytest
from server_support import DEMO, FAST, ServerProcess

pytestmark = pytest.mark.server

CREATED_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


@pytest.fixture(scope="module")
def http(embedded: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=embedded.url, timeout=60) as session:
        yield session


def test_heartbeat_and_version(http: httpx.Client) -> None:
    response = http.get("/")
    assert response.status_code == 200
    assert response.text == "Ollama is running"
    assert http.head("/").status_code == 200
    version = http.get("/api/version")
    assert version.headers["content-type"] == "application/json; charset=utf-8"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", version.json()["version"])


def test_unknown_route_and_method(http: httpx.Client) -> None:
    missing = http.get("/api/nothing")
    assert (missing.status_code, missing.text) == (404, "404 page not found")
    wrong = http.get("/api/generate")
    assert (wrong.status_code, wrong.text) == (405, "405 method not allowed")


@pytest.mark.parametrize(
    "path",
    [
        "/api/generate",
        "/api/chat",
        "/api/embed",
        "/api/embeddings",
        "/api/show",
        "/api/create",
        "/api/copy",
        "/api/pull",
    ],
)
def test_empty_body(http: httpx.Client, path: str) -> None:
    response = http.post(path, content=b"")
    assert response.status_code == 400
    assert response.json() == {"error": "missing request body"}


def test_malformed_and_mistyped_bodies(http: httpx.Client) -> None:
    broken = http.post("/api/generate", content=b'{"model": ')
    assert broken.status_code == 400
    assert broken.json() == {"error": "unexpected EOF"}
    garbage = http.post("/api/generate", content=b"hello")
    assert garbage.status_code == 400
    assert garbage.json()["error"].startswith("invalid character 'h'")
    mistyped = http.post("/api/generate", json={"model": DEMO, "prompt": 1})
    assert mistyped.status_code == 400
    assert mistyped.json() == {
        "error": "json: cannot unmarshal number into Go struct field "
        "GenerateRequest.prompt of type string"
    }
    wrong_messages = http.post("/api/chat", json={"model": DEMO, "messages": [{"content": 3}]})
    assert wrong_messages.status_code == 400
    assert "ChatRequest.messages.content of type string" in wrong_messages.json()["error"]
    not_object = http.post("/api/chat", json=[1])
    assert not_object.status_code == 400
    assert not_object.json()["error"] == (
        "json: cannot unmarshal array into Go value of type api.ChatRequest"
    )


def test_model_name_errors(http: httpx.Client, demo_model: str) -> None:
    cases = [
        ("/api/generate", {"model": ""}, 404, "model '' not found"),
        ("/api/embed", {"model": ""}, 404, "model '' not found"),
        ("/api/chat", {"model": ""}, 400, "model is required"),
        ("/api/embeddings", {"model": ""}, 400, "model is required"),
        ("/api/show", {"model": ""}, 400, "model is required"),
        ("/api/generate", {"model": "bad name!"}, 400, "invalid model name"),
        ("/api/generate", {"model": "absent"}, 404, "model 'absent' not found"),
        ("/api/chat", {"model": "absent:1b"}, 404, "model 'absent:1b' not found"),
        ("/api/show", {"model": "absent"}, 404, "model 'absent' not found"),
    ]
    for path, body, status, message in cases:
        response = http.post(path, json=body)
        assert (response.status_code, response.json()) == (status, {"error": message}), path


def test_capability_and_option_errors(http: httpx.Client, demo_model: str) -> None:
    cases = [
        (
            "/api/generate",
            {"model": DEMO, "prompt": "x", "options": {"temperature": "hot"}},
            500,
            'option "temperature" must be of type float32',
        ),
        (
            "/api/generate",
            {"model": DEMO, "prompt": "x", "options": {"stop": "x"}},
            500,
            'option "stop" must be of type array',
        ),
        (
            "/api/generate",
            {"model": DEMO, "prompt": "x", "raw": True, "system": "s"},
            400,
            "raw mode does not support template, system, or context",
        ),
        (
            "/api/generate",
            {"model": DEMO, "prompt": "x", "think": True},
            400,
            f'"{DEMO}" does not support thinking',
        ),
        (
            "/api/generate",
            {"model": DEMO, "prompt": "x", "suffix": "y"},
            400,
            "registry.ollama.ai/library/gemma3:270m does not support insert",
        ),
        (
            "/api/chat",
            {
                "model": DEMO,
                "messages": [{"role": "user", "content": "x"}],
                "tools": [{"type": "function", "function": {"name": "f"}}],
            },
            400,
            "registry.ollama.ai/library/gemma3:270m does not support tools",
        ),
        (
            "/api/generate",
            {"model": DEMO, "prompt": "x", "keep_alive": "10"},
            400,
            'time: missing unit in duration "10"',
        ),
        (
            "/api/generate",
            {"model": DEMO, "prompt": "x", "think": "extreme"},
            400,
            'think must be a boolean or string ("high", "medium", "low", true, or false)',
        ),
        (
            "/api/chat",
            {"model": DEMO, "messages": [{"role": "user", "content": "x"}], "top_logprobs": 21},
            400,
            "top_logprobs must be between 0 and 20",
        ),
        ("/api/embed", {"model": DEMO, "input": 3}, 400, "invalid input type"),
        ("/api/embed", {"model": DEMO, "input": [1, 2]}, 400, "invalid input type"),
    ]
    for path, body, status, message in cases:
        response = http.post(path, json=body)
        assert (response.status_code, response.json()) == (status, {"error": message}), body


def test_stream_wire_format(http: httpx.Client, demo_model: str) -> None:
    body = {"model": DEMO, "prompt": "Hello", "options": FAST}
    with http.stream("POST", "/api/generate", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-ndjson"
        assert response.headers.get("transfer-encoding") == "chunked"
        raw = b"".join(response.iter_bytes())
    assert raw.endswith(b"\n")
    lines = raw.split(b"\n")[:-1]
    records = [json.loads(line) for line in lines]
    assert all(b": " not in line and b", " not in line[:40] for line in lines)  # compact
    for record in records[:-1]:
        assert list(record) == ["model", "created_at", "response", "done"]
        assert CREATED_AT.match(record["created_at"])
        assert record["done"] is False
    final = records[-1]
    assert final["done"] is True and final["response"] == ""
    assert final["done_reason"] in ("stop", "length")
    for key in ("total_duration", "prompt_eval_count", "eval_count", "eval_duration"):
        assert isinstance(final[key], int) and final[key] > 0
    whole = http.post("/api/generate", json={**body, "stream": False})
    assert whole.headers["content-type"] == "application/json; charset=utf-8"
    assert whole.json()["response"] == "".join(record["response"] for record in records)
    # A warm model reports no load time: zero metrics are omitted, not sent as 0.
    assert "load_duration" not in whole.json()


def test_chat_wire_format(http: httpx.Client, demo_model: str) -> None:
    body = {"model": DEMO, "messages": [{"role": "USER", "content": "Hi"}], "options": FAST}
    with http.stream("POST", "/api/chat", json=body) as response:
        records = [json.loads(line) for line in response.iter_lines() if line]
    for record in records[:-1]:
        assert list(record) == ["model", "created_at", "message", "done"]
        assert record["message"]["role"] == "assistant"
    assert records[-1]["done"] is True
    assert records[-1]["message"] == {"role": "assistant", "content": ""}
    assert "context" not in records[-1]


def test_load_response_shape(http: httpx.Client, demo_model: str) -> None:
    loaded = http.post("/api/generate", json={"model": DEMO}).json()
    assert set(loaded) == {"model", "created_at", "response", "done", "done_reason"}
    assert (loaded["response"], loaded["done"], loaded["done_reason"]) == ("", True, "load")
    chat = http.post("/api/chat", json={"model": DEMO, "messages": []}).json()
    assert chat["message"] == {"role": "assistant", "content": ""}
    assert chat["done_reason"] == "load"
    empty = http.post("/api/embed", json={"model": DEMO, "input": []}).json()
    assert empty == {"model": DEMO, "embeddings": []}
    legacy = http.post("/api/embeddings", json={"model": DEMO, "prompt": ""}).json()
    assert legacy == {"embedding": []}


def test_tags_and_ps_shapes(http: httpx.Client, demo_model: str, embedded: ServerProcess) -> None:
    tags = http.get("/api/tags").json()
    [entry] = [item for item in tags["models"] if item["name"] == DEMO]
    assert entry["model"] == DEMO
    assert set(entry["details"]) >= {
        "parent_model",
        "format",
        "family",
        "families",
        "parameter_size",
        "quantization_level",
    }
    manifest = (embedded.models / "manifests/registry.ollama.ai/library/gemma3/270m").read_bytes()
    assert entry["digest"] == hashlib.sha256(manifest).hexdigest()
    assert http.head("/api/tags").status_code == 200
    http.post("/api/generate", json={"model": DEMO, "keep_alive": "5m"})
    ps = http.get("/api/ps").json()
    [running] = [item for item in ps["models"] if item["name"] == DEMO]
    assert set(running) == {
        "name",
        "model",
        "size",
        "digest",
        "details",
        "expires_at",
        "size_vram",
        "context_length",
    }


def test_show_verbose_and_errors(http: httpx.Client, demo_model: str) -> None:
    verbose = http.post("/api/show", json={"model": DEMO, "verbose": True}).json()
    assert len(verbose["model_info"]["tokenizer.ggml.tokens"]) == 262144
    plain = http.post("/api/show", json={"name": DEMO}).json()  # deprecated alias
    assert plain["model_info"]["tokenizer.ggml.tokens"] == []
    assert plain["tensors"][0].keys() == {"name", "type", "shape"}
    assert len(plain["tensors"]) == 236
    assert plain["modified_at"]
    with_system = http.post("/api/show", json={"model": DEMO, "system": "Be brief."}).json()
    assert with_system["system"] == "Be brief."


def test_blob_endpoints(http: httpx.Client) -> None:
    data = b"ollamakit blob test\n"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    bad = http.head("/api/blobs/sha256:xyz")
    assert bad.status_code == 400
    assert http.post("/api/blobs/md5:00", content=data).json() == {"error": "invalid digest format"}
    assert http.head(f"/api/blobs/{digest}").status_code == 404
    wrong = "sha256:" + "0" * 64
    mismatch = http.post(f"/api/blobs/{wrong}", content=data)
    assert mismatch.status_code == 400
    assert mismatch.json() == {
        "error": f'digest mismatch, expected "{wrong}", got "{digest}"',
    }
    created = http.post(f"/api/blobs/{digest}", content=data)
    assert (created.status_code, created.content) == (201, b"")
    assert http.head(f"/api/blobs/{digest}").status_code == 200
    assert http.head(f"/api/blobs/{digest.replace(':', '-')}").status_code == 200
    again = http.post(f"/api/blobs/{digest}", content=b"not even read")
    assert again.status_code == 200


def test_create_errors(http: httpx.Client, demo_model: str) -> None:
    cases = [
        ({"model": "x"}, 400, "neither 'from' or 'files' was specified"),
        ({"model": "bad name!", "from": DEMO}, 400, "invalid model name"),
        (
            {"model": "x", "files": {"/abs.gguf": "sha256:" + "0" * 64}},
            400,
            "file path must be relative",
        ),
        (
            {"model": "x", "files": {"../up.gguf": "sha256:" + "0" * 64}},
            400,
            "file path must be relative",
        ),
        ({"model": "x", "files": {"m.gguf": ""}}, 400, "invalid digest format"),
        ({"model": "x", "from": DEMO, "template": "{{ .Prompt"}, 400, None),
    ]
    for body, status, message in cases:
        response = http.post("/api/create", json=body)
        assert response.status_code == status, body
        if message is not None:
            assert response.json() == {"error": message}
        else:
            assert response.json()["error"].startswith("template error: ")
    missing = http.post("/api/create", json={"model": "x", "from": "absent", "stream": False})
    assert missing.status_code == 404
    assert missing.json() == {"error": "pull model manifest: file does not exist"}
    streamed = http.post("/api/create", json={"model": "x", "from": "absent"})
    assert streamed.status_code == 404


def test_create_non_stream_returns_last_status(http: httpx.Client, demo_model: str) -> None:
    response = http.post(
        "/api/create", json={"model": "quiet", "from": DEMO, "system": "Hi", "stream": False}
    )
    assert response.status_code == 200
    assert response.json() == {"status": "success"}
    assert http.request("DELETE", "/api/delete", json={"model": "quiet"}).status_code == 200


def test_copy_and_delete_errors(http: httpx.Client, demo_model: str) -> None:
    missing = http.post("/api/copy", json={"source": "absent", "destination": "y"})
    assert (missing.status_code, missing.json()) == (404, {"error": 'model "absent" not found'})
    invalid = http.post("/api/copy", json={"source": "bad name!", "destination": "y"})
    assert (invalid.status_code, invalid.json()) == (
        400,
        {"error": 'source "bad name!" is invalid'},
    )
    bad_dest = http.post("/api/copy", json={"source": DEMO, "destination": "a/b/c/d"})
    assert bad_dest.status_code == 400
    assert bad_dest.json() == {"error": 'destination "a/b/c/d" is invalid'}
    ok = http.post("/api/copy", json={"source": DEMO, "destination": "Copy-Case"})
    assert (ok.status_code, ok.content) == (200, b"")
    # Names match case-insensitively, as in Ollama.
    deleted = http.request("DELETE", "/api/delete", json={"model": "copy-case"})
    assert (deleted.status_code, deleted.content) == (200, b"")
    gone = http.request("DELETE", "/api/delete", json={"model": "copy-case"})
    assert (gone.status_code, gone.json()) == (404, {"error": "model 'copy-case' not found"})


def test_host_header_guard(http: httpx.Client) -> None:
    assert http.get("/api/version", headers={"Host": "evil.example.com"}).status_code == 403
    assert http.get("/api/version", headers={"Host": "localhost:11434"}).status_code == 200
    cors = http.get("/api/version", headers={"Origin": "http://localhost:3000"})
    assert cors.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert http.get("/api/version", headers={"Origin": "https://evil.example"}).status_code == 403


def test_same_request_same_answer_whatever_ran_before(http: httpx.Client, demo_model: str) -> None:
    """llama.cpp's numbers depend on how a prompt is batched; the server keeps the KV-cache
    reuse aligned so a greedy answer does not depend on the previous request."""
    body = {"model": DEMO, "prompt": "Hi there", "stream": False, "options": FAST}
    first = http.post("/api/generate", json=body).json()["response"]
    assert http.post("/api/generate", json=body).json()["response"] == first
    other = {
        **body,
        "prompt": "Tell me about the moon and the sun",
        "options": {**FAST, "num_predict": 30},
    }
    http.post("/api/generate", json=other)
    assert http.post("/api/generate", json=body).json()["response"] == first
    http.post("/api/generate", json={**body, "prompt": "x", "raw": True})
    assert http.post("/api/generate", json=body).json()["response"] == first


def test_logprobs(http: httpx.Client, demo_model: str) -> None:
    body = {
        "model": DEMO,
        "prompt": "Hello",
        "stream": False,
        "logprobs": True,
        "top_logprobs": 3,
        "options": FAST,
    }
    whole = http.post("/api/generate", json=body).json()
    items = whole["logprobs"]
    assert len(items) == whole["eval_count"]
    assert "".join(item["token"] for item in items) == whole["response"]
    for item in items:
        assert item["logprob"] <= 0
        assert bytes(item["bytes"]).decode() == item["token"]
        top = item["top_logprobs"]
        assert len(top) == 3
        assert [entry["logprob"] for entry in top] == sorted(
            (entry["logprob"] for entry in top), reverse=True
        )
        # Greedy decoding picks the most likely token.
        assert top[0]["token"] == item["token"]
        assert top[0]["logprob"] == pytest.approx(item["logprob"])
    with http.stream("POST", "/api/generate", json={**body, "stream": True}) as response:
        records = [json.loads(line) for line in response.iter_lines() if line]
    streamed = [item for record in records for item in record.get("logprobs", [])]
    assert [item["token"] for item in streamed] == [item["token"] for item in items]
    plain = http.post("/api/generate", json={**body, "logprobs": False}).json()
    assert "logprobs" not in plain
