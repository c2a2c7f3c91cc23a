"""What real clients and real stores throw at the server: null options (langchain,
llama-index), a version compared with Ollama's, images for a model without vision, names that
cannot reach a registry, damaged manifests and links out of the store — each through HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from server_support import DEMO, ServerProcess

from ollamakit._version import OLLAMA_VERSION, __version__

pytestmark = pytest.mark.server

JSON_TYPE = "application/json; charset=utf-8"
NO_VISION = (
    "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj"
)
IMAGE = (  # a 1x1 PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
# Every option, most of them null: what langchain-ollama's OllamaEmbeddings and ChatOllama send.
NULL_OPTIONS: dict[str, Any] = {
    "mirostat": None,
    "mirostat_eta": None,
    "mirostat_tau": None,
    "num_ctx": None,
    "num_gpu": None,
    "num_thread": None,
    "num_predict": 2,
    "repeat_last_n": None,
    "repeat_penalty": None,
    "temperature": None,
    "seed": 7,
    "stop": None,
    "tfs_z": None,
    "top_k": None,
    "top_p": None,
    "use_mmap": None,
    "main_gpu": None,
}


@pytest.fixture
def http(embedded: ServerProcess, demo_model: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=embedded.url, timeout=300) as session:
        yield session


def expect(response: httpx.Response, status: int, message: str) -> None:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"] == JSON_TYPE
    assert response.json() == {"error": message}


# -- null options -------------------------------------------------------------------------


def test_null_options_are_skipped_on_every_native_route(http: httpx.Client) -> None:
    options = NULL_OPTIONS
    generated = http.post(
        "/api/generate",
        json={"model": DEMO, "prompt": "Hi", "stream": False, "options": options},
    )
    assert generated.status_code == 200 and generated.json()["eval_count"] <= 2
    chatted = http.post(
        "/api/chat",
        json={
            "model": DEMO,
            "stream": False,
            "messages": [{"role": "user", "content": "Hi"}],
            "options": options,
        },
    )
    assert chatted.status_code == 200 and chatted.json()["done"] is True
    embedded = http.post("/api/embed", json={"model": DEMO, "input": "Hi", "options": options})
    assert embedded.status_code == 200 and len(embedded.json()["embeddings"][0]) == 640
    legacy = http.post("/api/embeddings", json={"model": DEMO, "prompt": "Hi", "options": options})
    assert legacy.status_code == 200 and len(legacy.json()["embedding"]) == 640
    # A wrong type is still refused, as Ollama does.
    expect(
        http.post("/api/generate", json={"model": DEMO, "prompt": "Hi", "options": {"top_k": "5"}}),
        500,
        'option "top_k" must be of type integer',
    )


def test_null_options_through_the_clients(client: Any, demo_model: str) -> None:
    """llama-index sends ``temperature: None`` by default; both clients pass an options dict
    through as it is."""
    reply = client.chat(
        model=DEMO,
        messages=[{"role": "user", "content": "Hi"}],
        options={"temperature": None, "num_ctx": None, "num_predict": 2},
    )
    assert reply.done is True
    vectors = client.embed(model=DEMO, input=["a", "b"], options={"num_ctx": None})
    assert len(vectors.embeddings) == 2


def test_null_fields_on_the_openai_routes(embedded: ServerProcess, demo_model: str) -> None:
    nulls = {
        "temperature": None,
        "top_p": None,
        "frequency_penalty": None,
        "presence_penalty": None,
        "seed": None,
        "stop": None,
    }
    with httpx.Client(base_url=embedded.url + "/v1", timeout=300) as session:
        chat = session.post(
            "/chat/completions",
            json={
                "model": DEMO,
                "messages": [{"role": "user", "content": "Hi"}],
                "max_tokens": 2,
                "response_format": None,
                "stream_options": None,
                "tools": None,
                **nulls,
            },
        )
        assert chat.status_code == 200, chat.text
        completion = session.post(
            "/completions",
            json={"model": DEMO, "prompt": "Hi", "max_tokens": 2, "suffix": None, **nulls},
        )
        assert completion.status_code == 200, completion.text
        vectors = session.post(
            "/embeddings", json={"model": DEMO, "input": "Hi", "dimensions": None}
        )
        assert vectors.status_code == 200, vectors.text


# -- stop strings -------------------------------------------------------------------------


def test_stop_strings_are_bounded_in_number_not_length(
    http: httpx.Client, embedded: ServerProcess
) -> None:
    """Every token is checked against every distinct stop string on the thread that decodes
    all slots: their number is capped; long ones and repeats cost nothing more."""
    too_many = [f"<stop {index}>" for index in range(1001)]
    refusal = 'option "stop" has 1001 strings, more than the 1000 allowed'
    expect(
        http.post(
            "/api/generate",
            json={"model": DEMO, "prompt": "Hi", "options": {"stop": too_many}},
        ),
        400,
        refusal,
    )
    openai_reply = httpx.post(
        embedded.url + "/v1/chat/completions",
        json={"model": DEMO, "messages": [{"role": "user", "content": "Hi"}], "stop": too_many},
        timeout=60,
    )
    assert openai_reply.status_code == 400
    assert openai_reply.json()["error"]["message"] == refusal
    anthropic_reply = httpx.post(
        embedded.url + "/v1/messages",
        json={
            "model": DEMO,
            "max_tokens": 4,
            "messages": [{"role": "user", "content": "Hi"}],
            "stop_sequences": too_many,
        },
        timeout=60,
    )
    assert anthropic_reply.status_code == 400
    assert anthropic_reply.json()["error"] == {
        "type": "invalid_request_error",
        "message": refusal,
    }
    # 999 short distinct ones, each twice, and a long one: 1000 distinct.
    allowed = [*too_many[:999], *too_many[:999], "x" * 100_000]
    reply = http.post(
        "/api/generate",
        json={
            "model": DEMO,
            "prompt": "Hi",
            "stream": False,
            "options": {"stop": allowed, "num_predict": 4, "temperature": 0},
        },
    )
    assert reply.status_code == 200, reply.text[:300]
    assert reply.json()["done"] is True


# -- version ------------------------------------------------------------------------------


def test_version_is_ollamas_with_ours_beside_it(http: httpx.Client) -> None:
    answer = http.get("/api/version")
    assert answer.json() == {"version": OLLAMA_VERSION, "ollamakit": __version__}
    assert answer.headers["x-ollamakit-version"] == __version__
    major, minor, _ = (int(part) for part in OLLAMA_VERSION.split("."))
    assert (major, minor) >= (0, 33)


# -- images -------------------------------------------------------------------------------


def test_images_for_a_model_without_vision_are_refused(
    http: httpx.Client, embedded: ServerProcess
) -> None:
    assert "vision" not in http.post("/api/show", json={"model": DEMO}).json()["capabilities"]
    image_prompt = {"model": DEMO, "prompt": "What is this?", "images": [IMAGE]}
    expect(http.post("/api/generate", json={**image_prompt, "stream": False}), 500, NO_VISION)
    expect(http.post("/api/generate", json=image_prompt), 500, NO_VISION)
    message = {"role": "user", "content": "What is this?", "images": [IMAGE]}
    expect(http.post("/api/chat", json={"model": DEMO, "messages": [message]}), 500, NO_VISION)
    # An image anywhere in the chat, not only in the last message.
    history = [
        message,
        {"role": "assistant", "content": "A pixel."},
        {"role": "user", "content": "Hi"},
    ]
    expect(http.post("/api/chat", json={"model": DEMO, "messages": history}), 500, NO_VISION)
    client = openai.OpenAI(base_url=embedded.url + "/v1", api_key="unused")
    with pytest.raises(openai.InternalServerError, match="image input is not supported"):
        client.chat.completions.create(
            model=DEMO,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {
                            "type": "image_url",
                            "image_url": {"url": "data:image/png;base64," + IMAGE},
                        },
                    ],
                }
            ],
        )


# -- names that cannot reach a registry ---------------------------------------------------


@pytest.mark.parametrize("name", ["a:../ns/m", "host:99999/ns/m", "host:x/ns/m:tag", ":80/ns/m"])
def test_a_host_with_an_impossible_port_is_an_invalid_name(http: httpx.Client, name: str) -> None:
    for path in ("/api/pull", "/api/push"):
        expect(http.post(path, json={"model": name, "stream": False}), 400, "invalid model name")
        expect(http.post(path, json={"model": name}), 400, "invalid model name")


# -- damaged manifests and links ----------------------------------------------------------


def _manifest_path(models: Path, model: str, namespace: str = "library") -> Path:
    return models / "manifests" / "registry.ollama.ai" / namespace / model / "latest"


def _demo_manifest(models: Path) -> dict[str, Any]:
    path = models / "manifests" / "registry.ollama.ai" / "library" / "gemma3" / "270m"
    data: dict[str, Any] = json.loads(path.read_bytes())
    return data


@pytest.mark.parametrize("damage", ["md5", "truncated"])
def test_a_damaged_manifest_breaks_nothing_else(
    http: httpx.Client, embedded: ServerProcess, damage: str
) -> None:
    path = _manifest_path(embedded.models, f"damaged-{damage}")
    path.parent.mkdir(parents=True)
    manifest = _demo_manifest(embedded.models)
    if damage == "md5":
        manifest["layers"][0]["digest"] = "md5:0123456789abcdef"
        path.write_text(json.dumps(manifest))
    else:
        path.write_text(json.dumps(manifest)[:80])
    name = f"damaged-{damage}"
    try:
        listed = http.get("/api/tags")
        assert listed.status_code == 200
        assert DEMO in [item["name"] for item in listed.json()["models"]]
        assert f"{name}:latest" not in [item["name"] for item in listed.json()["models"]]
        shown = http.post("/api/show", json={"model": name})
        assert shown.status_code == 500
        assert shown.json()["error"].startswith(f"model '{name}:latest' has a damaged manifest")
        copied = http.post("/api/copy", json={"source": name, "destination": "spread"})
        assert copied.status_code == 500 and "damaged manifest" in copied.json()["error"]
        assert http.post("/api/show", json={"model": "spread"}).status_code == 404
        generated = http.post("/api/generate", json={"model": name, "prompt": "Hi"})
        assert generated.status_code == 500 and "damaged manifest" in generated.json()["error"]
        deleted = http.request("DELETE", "/api/delete", json={"model": name})
        assert (deleted.status_code, deleted.content) == (200, b"")
        assert not path.exists()
    finally:
        path.unlink(missing_ok=True)


def test_a_missing_blob_is_named(http: httpx.Client, embedded: ServerProcess) -> None:
    path = _manifest_path(embedded.models, "no-weights")
    path.parent.mkdir(parents=True)
    manifest = _demo_manifest(embedded.models)
    model_layer = next(
        layer for layer in manifest["layers"] if layer["mediaType"].endswith(".model")
    )
    model_layer["digest"] = "sha256:" + "0" * 64
    path.write_text(json.dumps(manifest))
    try:
        for route, body in [
            ("/api/generate", {"model": "no-weights", "prompt": "Hi"}),
            ("/api/chat", {"model": "no-weights", "messages": [{"role": "user", "content": "Hi"}]}),
            ("/api/embed", {"model": "no-weights", "input": "Hi"}),
        ]:
            expect(
                http.post(route, json=body),
                500,
                f"model 'no-weights:latest' is incomplete: blob sha256:{'0' * 64} "
                "(application/vnd.ollama.image.model) is missing from the store; "
                "pull or create it again",
            )
        assert (
            http.request("DELETE", "/api/delete", json={"model": "no-weights"}).status_code == 200
        )
    finally:
        path.unlink(missing_ok=True)


def test_create_never_writes_through_a_link(
    http: httpx.Client, embedded: ServerProcess, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    link = embedded.models / "manifests" / "registry.ollama.ai" / "evil"
    link.symlink_to(outside)
    try:
        created = http.post(
            "/api/create", json={"model": "evil/m", "from": DEMO, "system": "x", "stream": False}
        )
        assert (
            created.status_code == 500 and "not a directory of the store" in created.json()["error"]
        )
        assert list(outside.iterdir()) == []
        expect(
            http.request("DELETE", "/api/delete", json={"model": "evil/m"}),
            404,
            "model 'evil/m' not found",
        )
    finally:
        link.unlink()
    assert list(outside.iterdir()) == []
