"""Blobs, Modelfile create, stream callbacks, web search, load helpers, images, System One."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
from pathlib import Path
from typing import Any

import pytest

import ollamakit
from ollamakit import ProgressResponse, RequestError
from ollamakit.testing import FakeOllama, Reply, chat_stream
from support import Api

pytestmark = pytest.mark.anyio

SUCCESS = [{"status": "using existing layer sha256:abc"}, {"status": "success"}]


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


async def test_create_blob_from_path_bytes_and_file(
    api: Api, server: FakeOllama, tmp_path: Path
) -> None:
    data = b"GGUF" + bytes(range(256)) * 8192  # 2 MiB: several upload pieces
    path = tmp_path / "model.gguf"
    path.write_bytes(data)
    digest = _digest(data)
    server.expect("HEAD", f"/api/blobs/{digest}", Reply.empty(404))
    server.expect("POST", f"/api/blobs/{digest}", Reply.empty(201))
    for source in (path, str(path), data, io.BytesIO(data)):
        assert await api("create_blob", source) == digest
    uploads = [r for r in server.requests if r.method == "POST"]
    assert len(uploads) == 4
    assert all(r.body == data for r in uploads)
    assert uploads[0].headers["content-length"] == str(len(data))


async def test_create_blob_skips_an_existing_blob(api: Api, server: FakeOllama) -> None:
    digest = _digest(b"abc")
    server.expect("HEAD", f"/api/blobs/{digest}", Reply.empty(200))
    assert await api("create_blob", b"abc") == digest
    assert [r.method for r in server.requests] == ["HEAD"]
    assert await api("blob_exists", digest)
    with pytest.raises(RequestError, match="invalid digest"):
        await api("blob_exists", "sha256:xyz")


async def test_create_blob_missing_file(api: Api, tmp_path: Path) -> None:
    with pytest.raises(RequestError, match="not found"):
        await api("create_blob", tmp_path / "nope.gguf")


async def test_create_from_modelfile_uploads_and_merges(
    api: Api, server: FakeOllama, tmp_path: Path
) -> None:
    weights = b"GGUF fake weights"
    (tmp_path / "m.gguf").write_bytes(weights)
    modelfile = tmp_path / "Modelfile"
    modelfile.write_text(
        'FROM ./m.gguf\nPARAMETER temperature 0.5\nPARAMETER stop "<|eot|>"\n'
        "SYSTEM You are Mario.\nMESSAGE user Hi\n"
    )
    digest = _digest(weights)
    server.expect("HEAD", f"/api/blobs/{digest}", Reply.empty(404))
    server.expect("POST", f"/api/blobs/{digest}", Reply.empty(201))
    server.expect("POST", "/api/create", Reply.ndjson(SUCCESS))
    progress: list[ProgressResponse] = []
    result = await api(
        "create", "mario", modelfile=modelfile, template="{{ .Prompt }}", on_chunk=progress.append
    )
    assert result.status == "success"
    body = server.requests[-1].json()
    assert body == {
        "model": "mario",
        "stream": True,
        "files": {"m.gguf": digest},
        "parameters": {"temperature": 0.5, "stop": ["<|eot|>"]},
        "system": "You are Mario.",
        "messages": [{"role": "user", "content": "Hi"}],
        "template": "{{ .Prompt }}",
    }
    statuses = [p.status for p in progress]
    assert statuses[:2] == ["uploading m.gguf", "uploading m.gguf"]
    assert progress[1].completed == len(weights)
    assert statuses[-1] == "success"


async def test_create_from_modelfile_text(api: Api, server: FakeOllama) -> None:
    server.expect("POST", "/api/create", Reply.json({"status": "success"}))
    result = await api("create", "terse", modelfile="FROM llama3.2\nSYSTEM Be terse.\n")
    assert result.status == "success"
    assert server.requests[-1].json() == {
        "model": "terse",
        "stream": False,
        "from": "llama3.2",
        "system": "Be terse.",
    }


async def test_create_with_a_bad_modelfile(api: Api, server: FakeOllama) -> None:
    with pytest.raises(ollamakit.ModelfileError, match="line 2"):
        await api("create", "x", modelfile="FROM llama3.2\nBOGUS thing\n")
    assert server.requests == []


async def test_on_chunk_receives_every_chunk_and_returns_the_final(
    api: Api, server: FakeOllama
) -> None:
    server.expect("POST", "/api/chat", Reply.ndjson(chat_stream(["a", "b", "c"])))
    seen: list[str] = []
    final = await api("chat", "m", [], on_chunk=lambda c: seen.append(c.message.content))
    assert seen == ["a", "b", "c", ""]
    assert final.message.content == "abc"
    assert server.requests[-1].json()["stream"] is True


async def test_on_chunk_coroutine_for_async(server: FakeOllama) -> None:
    server.expect("POST", "/api/generate", Reply.ndjson([
        {"response": "x", "done": False}, {"response": "y", "done": True, "done_reason": "stop"},
    ]))  # fmt: skip
    client = ollamakit.AsyncClient(server.url)
    seen: list[str] = []

    async def collect(chunk: Any) -> None:
        await asyncio.sleep(0)
        seen.append(chunk.response)

    final = await client.generate("m", "p", on_chunk=collect)
    assert seen == ["x", "y"]
    assert final.response == "xy"
    await client.close()


async def test_a_raising_callback_cancels_the_stream(api: Api, server: FakeOllama) -> None:
    server.expect("POST", "/api/chat", Reply.ndjson(chat_stream(["t"] * 200), delay=0.01))

    def stop(chunk: Any) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await api("chat", "m", [], on_chunk=stop)
    for _ in range(100):
        if not server.open_connections:
            break
        await asyncio.sleep(0.02)
    assert server.open_connections == 0


async def test_cancelling_the_task_closes_the_stream(server: FakeOllama) -> None:
    server.expect("POST", "/api/chat", Reply.ndjson(chat_stream(["t"] * 500), delay=0.01))
    client = ollamakit.AsyncClient(server.url)
    started = asyncio.Event()

    def mark(chunk: Any) -> None:
        started.set()

    task = asyncio.create_task(client.chat("m", [], on_chunk=mark))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):
        if not server.open_connections:
            break
        await asyncio.sleep(0.02)
    assert server.open_connections == 0
    await client.close()


async def test_stream_true_with_on_chunk_returns_a_hooked_stream(
    api: Api, server: FakeOllama
) -> None:
    server.expect("POST", "/api/pull", Reply.ndjson([{"status": "pulling manifest"},
                                                     {"status": "success"}]))  # fmt: skip
    seen: list[str] = []
    stream = await api("pull", "m", stream=True, on_chunk=lambda p: seen.append(p.status))
    statuses = [p.status for p in await api.collect(stream)]
    assert statuses == seen == ["pulling manifest", "success"]


async def test_preload_unload_exists(api: Api, server: FakeOllama) -> None:
    loaded = {"model": "m", "response": "", "done": True, "done_reason": "load"}
    unloaded = {"model": "m", "response": "", "done": True, "done_reason": "unload"}
    server.expect("POST", "/api/generate", Reply.json(loaded), Reply.json(unloaded))
    assert (await api("preload", "m", keep_alive="10m")).done_reason == "load"
    assert server.requests[-1].json() == {"model": "m", "stream": False, "keep_alive": "10m"}
    assert (await api("unload", "m")).done_reason == "unload"
    assert server.requests[-1].json() == {"model": "m", "stream": False, "keep_alive": 0}
    server.expect("POST", "/api/show", Reply.json({"modelfile": "FROM m"}))
    assert await api("exists", "m")
    server.expect("POST", "/api/show", Reply.error("model 'z' not found", 404))
    assert not await api("exists", "z")


async def test_web_search_and_fetch(mode: str, server: FakeOllama) -> None:
    results = {"results": [{"title": "Ollama", "url": "https://ollama.com", "content": "Run"}]}
    server.expect("POST", "/api/web_search", Reply.json(results))
    server.expect("POST", "/api/web_fetch", Reply.json({"title": "T", "content": "C", "links": []}))
    api = Api(mode, "http://127.0.0.1:9", web_url=server.url, headers={"Authorization": "Bearer k"})
    found = await api("web_search", "what is ollama", max_results=2)
    assert found.results[0].title == "Ollama"
    assert server.requests[-1].json() == {"query": "what is ollama", "max_results": 2}
    assert server.requests[-1].headers["authorization"] == "Bearer k"
    page = await api("web_fetch", "https://ollama.com")
    assert page.content == "C"
    await api.aclose()


async def test_web_search_needs_a_key_sync_and_async(
    mode: str, server: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    api = Api(mode, server.url, web_url=server.url)
    for call in (("web_search", "q"), ("web_fetch", "https://example.com")):
        with pytest.raises(RequestError, match="OLLAMA_API_KEY"):
            await api(*call)
    assert server.requests == []
    await api.aclose()


async def test_every_image_form(api: Api, server: FakeOllama, tmp_path: Path) -> None:
    raw = b"\x89PNG\r\n\x1a\n fake"
    encoded = base64.b64encode(raw).decode()
    path = tmp_path / "x.png"
    path.write_bytes(raw)
    server.expect("POST", "/api/chat", Reply.json({"message": {"role": "assistant", "content": ""},
                                                   "done": True}))  # fmt: skip
    forms: list[Any] = [
        str(path), path, raw, encoded, f"data:image/png;base64,{encoded}", io.BytesIO(raw),
        ollamakit.Image(value=raw),
    ]  # fmt: skip
    await api("chat", "llava", [{"role": "user", "content": "?", "images": forms}])
    assert server.requests[-1].json()["messages"][0]["images"] == [encoded] * len(forms)
    await api("chat", "llava", [{"role": "user", "content": "?", "images": raw}])
    assert server.requests[-1].json()["messages"][0]["images"] == [encoded]


async def test_systemone(api: Api, server: FakeOllama) -> None:
    answer = {
        "model": "s1",
        "answers": {
            "q1": {"type": "choice", "choice": "a", "probabilities": {"a": 0.9, "b": 0.1},
                   "confidence": 0.8},
            "q2": {"type": "noul", "noul": 0.25},
        },
        "usage": {"input_tokens": 10, "output_tokens": 2},
    }  # fmt: skip
    server.expect("POST", "/v1/systemone", Reply.json(answer))
    question = ollamakit.SystemOneChoiceQuestion(
        instructions="pick", criteria={"a": None, "b": "B"}
    )
    questions = {"q1": question, "q2": {"type": "noul", "instructions": "?"}}
    response = await api("systemone", "s1", "state", questions)
    assert isinstance(response.answers["q1"], ollamakit.SystemOneChoiceAnswer)
    assert response.answers["q1"].choice == "a"
    assert response.answers["q2"].noul == 0.25
    assert response.usage.output_tokens == 2
    sent = server.requests[-1].json()
    assert sent["questions"]["q1"] == {"instructions": "pick", "criteria": {"a": None, "b": "B"},
                                       "type": "choice"}  # fmt: skip


def test_web_search_and_fetch_work_as_tools() -> None:
    client = ollamakit.Client("http://127.0.0.1:9")
    search = ollamakit.tool_schema(client.web_search)["function"]
    assert search["name"] == "web_search"
    assert search["parameters"]["required"] == ["query"]
    assert search["parameters"]["properties"]["max_results"]["type"] == "integer"
    assert "timeout" not in search["parameters"]["properties"]
    fetch = ollamakit.tool_schema(client.web_fetch)["function"]
    assert fetch["parameters"]["required"] == ["url"]
    client.close()


async def test_create_blob_reports_progress(api: Api, server: FakeOllama) -> None:
    data = b"x" * (3 * 1024 * 1024 + 5)
    digest = _digest(data)
    server.expect("HEAD", f"/api/blobs/{digest}", Reply.empty(404), Reply.empty(200))
    server.expect("POST", f"/api/blobs/{digest}", Reply.empty(201))
    seen: list[tuple[int, int]] = []
    await api("create_blob", data, progress=lambda sent, total: seen.append((sent, total)))
    assert seen == [(len(data), len(data))]  # bytes go out in one piece
    seen.clear()
    await api("create_blob", data, progress=lambda sent, total: seen.append((sent, total)))
    assert seen == [(len(data), len(data))]  # already there: reported complete at once


async def test_create_blob_with_a_known_digest_reads_the_file_once(
    api: Api, server: FakeOllama, tmp_path: Path
) -> None:
    path = tmp_path / "weights.gguf"
    path.write_bytes(b"GGUF weights")
    digest = _digest(b"GGUF weights")
    server.expect("HEAD", f"/api/blobs/{digest}", Reply.empty(404))
    server.expect("POST", f"/api/blobs/{digest}", Reply.empty(201))
    seen: list[tuple[int, int]] = []
    given = digest.replace("sha256:", "sha256-")  # both spellings are accepted
    progress = lambda sent, total: seen.append((sent, total))  # noqa: E731
    assert await api("create_blob", path, digest=given, progress=progress) == digest
    assert [(r.method, r.path) for r in server.requests] == [
        ("HEAD", f"/api/blobs/{digest}"),
        ("POST", f"/api/blobs/{digest}"),
    ]
    assert server.requests[-1].body == b"GGUF weights"
    assert seen == [(12, 12)]
    with pytest.raises(RequestError, match="invalid digest"):
        await api("create_blob", path, digest="sha256:xyz")
