"""Registry pull and push against a protocol-faithful fake registry (``fake_registry.py``).

End to end: ``python -m ollamakit.server`` in a subprocess, driven by ollamakit's client and by
the official ``ollama`` package. In process: part splitting, upload chaining and redirects,
shared downloads, cancellation and offline mode, with part sizes shrunk so that small blobs
need many parts. No model is ever loaded, so nothing here is marked ``server``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import ollama
import pytest
from fake_registry import MANIFEST_TYPE, FakeRegistry, Model, digest_of
from server_support import ServerProcess

import ollamakit
from ollamakit.names import ModelName
from ollamakit.server import registry
from ollamakit.server.store import Manifest, Store

MODEL = "application/vnd.ollama.image.model"
TEMPLATE = "application/vnd.ollama.image.template"
PARAMS = "application/vnd.ollama.image.params"
ERRORS = (ollama.ResponseError, ollamakit.ResponseError)


# -- fixtures and helpers -----------------------------------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeRegistry]:
    with FakeRegistry() as registry_:
        yield registry_


@pytest.fixture(autouse=True)
def _fresh_switches(fake: FakeRegistry) -> Iterator[None]:
    fake.reset()
    yield
    fake.release.set()


@pytest.fixture(scope="module")
def server(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    return start_server()


def publish(fake: FakeRegistry, repo: str, seed: int, *, size: int = 200_000) -> Model:
    data = random.Random(seed).randbytes(size)
    return fake.publish(
        repo,
        "latest",
        [
            (MODEL, data),
            (TEMPLATE, f"{{{{ .Prompt }}}} {seed}".encode()),
            (PARAMS, json.dumps({"temperature": 0.5, "seed": seed}).encode()),
        ],
        {
            "model_format": "gguf",
            "model_family": "tiny",
            "model_families": ["tiny"],
            "model_type": "1M",
            "file_type": "F16",
            "architecture": "amd64",
            "os": "linux",
            "seed": seed,
        },
    )


def name_of(fake: FakeRegistry, model: Model, scheme: str = "") -> str:
    return f"{scheme}{fake.host}/{model.repo}:{model.tag}"


def collapse(statuses: list[str]) -> list[str]:
    """Statuses with repeats (progress ticks of one layer) folded."""
    out: list[str] = []
    for status in statuses:
        if not out or out[-1] != status:
            out.append(status)
    return out


def expected_pull(model: Model) -> list[str]:
    return [
        "pulling manifest",
        *[f"pulling {digest[7:19]}" for digest in model.order],
        "verifying sha256 digest",
        "writing manifest",
        "success",
    ]


def collect(stream: Any) -> tuple[list[Any], Exception | None]:
    items: list[Any] = []
    try:
        for item in stream:
            items.append(item)
    except ERRORS as exc:
        return items, exc
    return items, None


def blob_file(models: Path, digest: str) -> Path:
    return models / "blobs" / digest.replace(":", "-")


def manifest_file(models: Path, fake: FakeRegistry, model: Model) -> Path:
    namespace, name = model.repo.split("/")
    return models / "manifests" / fake.host / namespace / name / model.tag


def partial_files(models: Path) -> list[Path]:
    directory = models / ".ollamakit-partial"
    return sorted(directory.iterdir()) if directory.is_dir() else []


def cdn_ranges(fake: FakeRegistry, digest: str) -> list[str]:
    return [seen.headers.get("range", "") for seen in fake.requests("cdn", "GET", f"/cdn/{digest}")]


# -- pull, end to end ---------------------------------------------------------------------


def test_pull_with_ollamakit_client(fake: FakeRegistry, server: ServerProcess) -> None:
    model = publish(fake, "library/tiny", 1)
    name = name_of(fake, model)
    with ollamakit.Client(server.url) as client:
        items = list(client.pull(name, insecure=True, stream=True))
        assert collapse([item.status for item in items]) == expected_pull(model)
        for digest, data in model.blobs.items():
            [*_, last] = [item for item in items if item.digest == digest]
            assert (last.status, last.total, last.completed) == (
                f"pulling {digest[7:19]}",
                len(data),
                len(data),
            )
            assert blob_file(server.models, digest).read_bytes() == data
        # Stored byte for byte (the fake indents its manifests), so the digest is the registry's.
        assert manifest_file(server.models, fake, model).read_bytes() == model.raw
        assert partial_files(server.models) == []
        assert not list((server.models / ".ollamakit-tmp").iterdir())
        listed = {entry.model: entry.digest for entry in client.list().models}
        assert listed[name] == hashlib.sha256(model.raw).hexdigest()

        [manifest_get] = fake.requests("registry", "GET", f"/v2/{model.repo}/manifests/latest")
        assert manifest_get.headers["accept"] == MANIFEST_TYPE
        for digest, data in model.blobs.items():
            blob_path = f"/v2/{model.repo}/blobs/{digest}"
            assert len(fake.requests("registry", "HEAD", blob_path)) == 1
            [located] = fake.requests("registry", "GET", blob_path)
            assert "range" not in located.headers
            [part] = fake.requests("cdn", "GET", f"/cdn/{digest}")
            assert part.headers["range"] == f"bytes=0-{len(data) - 1}"
            assert "authorization" not in part.headers

        # Everything is present now: the same statuses, one manifest GET and nothing else.
        fake.reset()
        again = list(client.pull(name, insecure=True, stream=True))
        assert collapse([item.status for item in again]) == expected_pull(model)
        assert [(seen.server, seen.method) for seen in fake.seen] == [("registry", "GET")]


def test_pull_with_official_client(fake: FakeRegistry, server: ServerProcess) -> None:
    model = publish(fake, "library/official", 2)
    with ollama.Client(host=server.url) as client:
        items = list(client.pull(name_of(fake, model), insecure=True, stream=True))
        other = publish(fake, "library/official-quiet", 3)
        final = client.pull(name_of(fake, other), insecure=True)
    assert collapse([item.status for item in items]) == expected_pull(model)
    assert manifest_file(server.models, fake, model).read_bytes() == model.raw
    for digest, data in model.blobs.items():
        assert blob_file(server.models, digest).read_bytes() == data
    assert final.status == "success"
    assert manifest_file(server.models, fake, other).read_bytes() == other.raw


@pytest.mark.parametrize("kind", ["ollamakit", "ollama"])
def test_http_needs_insecure(fake: FakeRegistry, server: ServerProcess, kind: str) -> None:
    model = publish(fake, f"library/plain-{kind}", 4)
    client: Any = ollamakit.Client(server.url) if kind == "ollamakit" else ollama.Client(server.url)
    with client:
        with pytest.raises(ERRORS) as caught:
            list(client.pull(name_of(fake, model, "http://"), stream=True))
        assert caught.value.error == "insecure protocol http"
        assert caught.value.status_code == 500
        # No scheme means https, which a plain-http registry cannot answer.
        items, error = collect(client.pull(name_of(fake, model), stream=True))
        assert [item.status for item in items] == ["pulling manifest"]
        assert getattr(error, "error", "").startswith("pull model manifest: ")
        assert not manifest_file(server.models, fake, model).exists()
        # The explicit scheme is fine once insecure is given.
        final = client.pull(name_of(fake, model, "http://"), insecure=True)
        assert final.status == "success"


def test_missing_manifest(fake: FakeRegistry, server: ServerProcess) -> None:
    with ollamakit.Client(server.url) as client:
        items, error = collect(
            client.pull(f"{fake.host}/library/absent:latest", insecure=True, stream=True)
        )
        assert [item.status for item in items] == ["pulling manifest"]
        assert isinstance(error, ollamakit.ResponseError)
        assert error.error == "pull model manifest: file does not exist"
        with pytest.raises(ollamakit.ResponseError) as caught:
            client.pull(f"{fake.host}/library/absent:latest", insecure=True)
        assert caught.value.error == "pull model manifest: file does not exist"
        assert caught.value.status_code == 500


def test_digest_mismatch_deletes_the_download(fake: FakeRegistry, server: ServerProcess) -> None:
    model = publish(fake, "library/corrupt", 5)
    digest = model.layers[0]["digest"]
    fake.corrupt.add(digest)
    with ollamakit.Client(server.url) as client:
        items, error = collect(client.pull(name_of(fake, model), insecure=True, stream=True))
        assert collapse([item.status for item in items]) == expected_pull(model)[:-2]
        assert isinstance(error, ollamakit.ResponseError)
        assert error.error == (
            "digest mismatch, file must be downloaded again: "
            f"want {digest}, got {digest_of(fake.served(digest))}"
        )
        assert not blob_file(server.models, digest).exists()
        assert not manifest_file(server.models, fake, model).exists()
        assert partial_files(server.models) == []

        fake.corrupt.clear()
        final = client.pull(name_of(fake, model), insecure=True)
        assert final.status == "success"
        assert blob_file(server.models, digest).read_bytes() == model.blobs[digest]


def test_dropped_connection_resumes(fake: FakeRegistry, server: ServerProcess) -> None:
    model = publish(fake, "library/flaky", 6, size=300_000)
    digest = model.layers[0]["digest"]
    fake.drop_after[digest] = 100_000
    with ollamakit.Client(server.url) as client:
        items = list(client.pull(name_of(fake, model), insecure=True, stream=True))
    assert collapse([item.status for item in items]) == expected_pull(model)
    # The retry asks only for what is missing.
    assert cdn_ranges(fake, digest) == ["bytes=0-299999", "bytes=100000-299999"]
    assert blob_file(server.models, digest).read_bytes() == model.blobs[digest]


def test_pull_resumes_after_server_is_killed(
    fake: FakeRegistry, start_server: Callable[..., ServerProcess]
) -> None:
    model = publish(fake, "library/interrupted", 7, size=1_000_000)
    digest = model.layers[0]["digest"]
    fake.stall_after[digest] = 400_000
    first = start_server()
    body = {"model": name_of(fake, model), "insecure": True}

    def pull() -> None:
        with (
            contextlib.suppress(httpx.HTTPError),
            httpx.stream("POST", first.url + "/api/pull", json=body, timeout=60) as response,
        ):
            for _ in response.iter_lines():
                pass

    puller = threading.Thread(target=pull, daemon=True)
    puller.start()
    state = first.models / ".ollamakit-partial" / f"{digest.replace(':', '-')}-partial-0"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(state.read_bytes())["Completed"] == 400_000:
                break
        time.sleep(0.05)
    else:
        pytest.fail("the part state never reached the stall point")
    assert json.loads(state.read_bytes()) == {
        "N": 0,
        "Offset": 0,
        "Size": 1_000_000,
        "Completed": 400_000,
    }
    first.kill()
    puller.join(10)
    fake.release.set()

    second = start_server(first.models)
    with ollamakit.Client(second.url) as client:
        items = list(client.pull(name_of(fake, model), insecure=True, stream=True))
    assert collapse([item.status for item in items]) == expected_pull(model)
    assert cdn_ranges(fake, digest) == ["bytes=0-999999", "bytes=400000-999999"]
    assert blob_file(second.models, digest).read_bytes() == model.blobs[digest]
    assert partial_files(second.models) == []


def test_replaced_layers_are_removed(
    fake: FakeRegistry, server: ServerProcess, start_server: Callable[..., ServerProcess]
) -> None:
    old = publish(fake, "library/evolving", 8)
    keep = start_server(env={"OLLAMA_NOPRUNE": "1"})
    for target in (server, keep):
        with ollamakit.Client(target.url) as client:
            assert client.pull(name_of(fake, old), insecure=True).status == "success"
    new = publish(fake, "library/evolving", 9)
    gone = set(old.blobs) - set(new.blobs)
    assert gone

    with ollamakit.Client(server.url) as client:
        items = list(client.pull(name_of(fake, new), insecure=True, stream=True))
    assert collapse([item.status for item in items]) == [
        *expected_pull(new)[:-1],
        "removing unused layers",
        "success",
    ]
    assert manifest_file(server.models, fake, new).read_bytes() == new.raw
    assert not any(blob_file(server.models, digest).exists() for digest in gone)
    assert all(blob_file(server.models, digest).exists() for digest in new.blobs)

    with ollamakit.Client(keep.url) as client:
        items = list(client.pull(name_of(fake, new), insecure=True, stream=True))
    assert collapse([item.status for item in items]) == expected_pull(new)
    assert all(blob_file(keep.models, digest).exists() for digest in gone)


def test_bearer_token_flow(server: ServerProcess) -> None:
    with FakeRegistry(auth=True) as guarded:
        model = publish(guarded, "library/private", 10)
        with ollamakit.Client(server.url) as client:
            items = list(client.pull(name_of(guarded, model), insecure=True, stream=True))
        assert collapse([item.status for item in items]) == expected_pull(model)

        manifests = guarded.requests("registry", "GET", "/v2/library/private/manifests/latest")
        assert "authorization" not in manifests[0].headers
        [token] = guarded.tokens
        assert manifests[1].headers["authorization"] == f"Bearer {token}"
        [grant] = guarded.requests("registry", "GET", "/token")
        assert grant.query["service"] == ["fake-registry"]
        assert grant.query["scope"] == ["repository:library/private:pull"]
        assert abs(int(grant.query["ts"][0]) - time.time()) < 60
        assert len(grant.query["nonce"][0]) == 22  # 16 random bytes, base64url, unpadded
        # Signed with the server's own key, created on this first need (the fake verified it).
        public = (server.home / ".ollama" / "id_ed25519.pub").read_text().split()
        assert grant.headers["authorization"].startswith(public[1] + ":")
        assert guarded.tokens[token] == public[1]
        # The token is kept for the rest of the pull; the CDN never sees it.
        assert len(guarded.requests("registry", "GET", "/token")) == 1
        assert all("authorization" not in seen.headers for seen in guarded.requests("cdn"))


def test_realm_on_another_host_is_refused(server: ServerProcess) -> None:
    with FakeRegistry(auth=True) as first:
        realm_host = f"localhost:{first.host.rsplit(':', 1)[1]}"
        first.realm_host = realm_host
        model = publish(first, "library/phished", 11)
        with ollamakit.Client(server.url) as client:
            items, error = collect(client.pull(name_of(first, model), insecure=True, stream=True))
        assert [item.status for item in items] == ["pulling manifest"]
        assert isinstance(error, ollamakit.ResponseError)
        assert error.error == (
            f'pull model manifest: realm host "{realm_host}" does not match original host '
            f'"{first.host}"'
        )
        assert first.requests("registry", "GET", "/token") == []


# -- push, end to end ---------------------------------------------------------------------


def test_push_uploads_and_mounts(fake: FakeRegistry, server: ServerProcess) -> None:
    base = publish(fake, "library/base", 12)
    derived = f"{fake.host}/alice/derived:v1"
    with ollamakit.Client(server.url) as client:
        assert client.pull(name_of(fake, base), insecure=True).status == "success"
        created = client.create(derived, from_=name_of(fake, base), system="Be brief.")
        assert created.status == "success"
        path = server.models / "manifests" / fake.host / "alice" / "derived" / "v1"
        local = Manifest.decode(path.read_bytes())
        layers = local.all_layers()
        fake.reset()
        items = list(client.push(derived, insecure=True, stream=True))

    order = [*local.layers, local.config]
    assert collapse([item.status for item in items]) == [
        "retrieving manifest",
        *[f"pushing {layer.digest[7:19]}" for layer in order],
        "pushing manifest",
        "success",
    ]
    for layer in order:
        [*_, last] = [item for item in items if item.digest == layer.digest]
        assert (last.total, last.completed) == (layer.size, layer.size)

    body, content_type = fake.manifests[("alice/derived", "v1")]
    assert content_type == MANIFEST_TYPE
    assert json.loads(body) == json.loads(local.encode())
    assert fake.links["alice/derived"] >= {layer.digest for layer in layers}
    for layer in layers:
        assert fake.blobs[layer.digest] == blob_file(server.models, layer.digest).read_bytes()

    inherited = [layer for layer in local.layers if layer.source]
    fresh = [layer for layer in layers if not layer.source]
    assert inherited and fresh
    posts = fake.requests("registry", "POST", "/v2/alice/derived/blobs/uploads/")
    mounts = {seen.query["mount"][0]: seen.query["from"][0] for seen in posts if seen.query}
    assert mounts == {layer.digest: "library/base" for layer in inherited}
    assert len(posts) == len(inherited) + len(fresh)
    patches = fake.requests("registry", "PATCH")
    puts = [seen for seen in fake.requests("registry", "PUT") if "digest" in seen.query]
    assert len(patches) == len(puts) == len(fresh)
    for layer in fresh:
        data = blob_file(server.models, layer.digest).read_bytes()
        [patch] = [seen for seen in patches if seen.body == data]
        assert patch.headers["content-range"] == f"0-{len(data) - 1}"
        assert patch.headers["x-redirect-uploads"] == "1"
        assert patch.headers["content-type"] == "application/octet-stream"
        [put] = [seen for seen in puts if seen.query["digest"] == [layer.digest]]
        part_md5 = hashlib.md5(data).digest()
        assert put.query["etag"] == [hashlib.md5(part_md5).hexdigest() + "-1"]
        assert put.headers["content-length"] == "0"

    # A second push finds everything in place: HEADs and the manifest only.
    fake.reset()
    with ollama.Client(host=server.url) as official:
        again = list(official.push(derived, insecure=True, stream=True))
    assert collapse([item.status for item in again]) == collapse([item.status for item in items])
    assert {seen.method for seen in fake.seen} == {"HEAD", "PUT"}


def test_push_errors(fake: FakeRegistry, server: ServerProcess) -> None:
    with ollamakit.Client(server.url) as client:
        items, error = collect(client.push(f"{fake.host}/alice/nothing:latest", stream=True))
        assert [item.status for item in items] == [
            "retrieving manifest",
            "couldn't retrieve manifest",
        ]
        assert isinstance(error, ollamakit.ResponseError)
        assert error.error.startswith("open ") and error.error.endswith(
            ": no such file or directory"
        )
        model = publish(fake, "library/plain-push", 13)
        assert client.pull(name_of(fake, model), insecure=True).status == "success"
        items, error = collect(client.push(name_of(fake, model, "http://"), stream=True))
        assert [item.status for item in items] == ["retrieving manifest"]
        assert isinstance(error, ollamakit.ResponseError)
        assert error.error == "insecure protocol http"
    empty = httpx.post(server.url + "/api/push", json={})
    assert (empty.status_code, empty.json()) == (400, {"error": "model is required"})
    assert fake.requests("registry", "POST") == []


# -- in process: parts, redirects, sharing, cancellation, offline -------------------------


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "models")


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> int:
    size = 64 * 1024
    monkeypatch.setattr(registry, "_MIN_DOWNLOAD_PART", size)
    monkeypatch.setattr(registry, "_MIN_UPLOAD_PART", size)
    monkeypatch.setattr(registry, "_BACKOFF_SECONDS", 0.01)
    return size


def run_pull(store: Store, name: str, items: list[dict[str, Any]] | None = None) -> None:
    sink = items if items is not None else []
    asyncio.run(
        registry.pull_model(store, ModelName.parse(name), insecure=True, report=sink.append)
    )


def run_push(store: Store, name: str, items: list[dict[str, Any]] | None = None) -> None:
    sink = items if items is not None else []
    asyncio.run(
        registry.push_model(store, ModelName.parse(name), insecure=True, report=sink.append)
    )


def test_parts_are_ranged_and_chained(fake: FakeRegistry, store: Store, small_parts: int) -> None:
    model = publish(fake, "library/parted", 20, size=1_000_000)
    digest = model.layers[0]["digest"]
    run_pull(store, name_of(fake, model))
    expected = [
        f"bytes={start}-{min(start + small_parts, 1_000_000) - 1}"
        for start in range(0, 1_000_000, small_parts)
    ]
    assert len(expected) == 16
    assert sorted(cdn_ranges(fake, digest)) == sorted(expected)
    assert store.read_blob(digest) == model.blobs[digest]

    source = ModelName.parse(name_of(fake, model))
    for repo, redirect in (("carol/chained", False), ("carol/redirected", True)):
        fake.reset()
        fake.redirect_uploads = redirect
        assert store.copy(source, ModelName.parse(f"{fake.host}/{repo}:latest"))
        run_push(store, f"{fake.host}/{repo}:latest")
        assert fake.blobs[digest] == model.blobs[digest]
        assert digest in fake.links[repo]
        data = model.blobs[digest]
        uploads: dict[str, list[Any]] = {}
        for seen in fake.requests("registry", "PATCH"):
            uploads.setdefault(seen.path, []).append(seen)
        [chain] = [group for group in uploads.values() if b"".join(s.body for s in group) == data]
        assert [seen.headers["content-range"] for seen in chain] == [
            f"{start}-{min(start + small_parts, len(data)) - 1}"
            for start in range(0, len(data), small_parts)
        ]
        # Each part went to the Location of the answer before (the fake checks _state).
        assert [seen.query["_state"] for seen in chain] == [[str(n)] for n in range(16)]
        hashes = b"".join(
            hashlib.md5(data[start : start + small_parts]).digest()
            for start in range(0, len(data), small_parts)
        )
        assert fake.etags[digest] == f"{hashlib.md5(hashes).hexdigest()}-16"
        put_parts = fake.requests("cdn", "PUT")
        assert len(put_parts) == (len(fake.requests("registry", "PATCH")) if redirect else 0)


def test_blob_get_without_location_fails(fake: FakeRegistry, store: Store) -> None:
    model = publish(fake, "library/nolocation", 21)
    fake.no_location = True
    with pytest.raises(registry.RegistryError, match=r"^http: no Location header in response$"):
        run_pull(store, name_of(fake, model))
    assert not store.has_blob(model.layers[0]["digest"])


def test_concurrent_pulls_share_one_download(fake: FakeRegistry, store: Store) -> None:
    model = publish(fake, "library/shared", 22, size=100_000)
    fake.delay = 0.3
    first: list[dict[str, Any]] = []
    second: list[dict[str, Any]] = []

    async def both() -> None:
        name = ModelName.parse(name_of(fake, model))
        await asyncio.gather(
            registry.pull_model(store, name, insecure=True, report=first.append),
            registry.pull_model(store, name, insecure=True, report=second.append),
        )

    asyncio.run(both())
    for digest in model.blobs:
        assert len(cdn_ranges(fake, digest)) == 1
    for items in (first, second):
        assert collapse([item["status"] for item in items]) == expected_pull(model)


def test_cancelled_pull_keeps_its_progress(fake: FakeRegistry, store: Store) -> None:
    model = publish(fake, "library/cancelled", 23, size=500_000)
    digest = model.layers[0]["digest"]
    fake.stall_after[digest] = 200_000
    cancel = threading.Event()
    seen: list[dict[str, Any]] = []

    class Job:
        def __init__(self) -> None:
            self.cancel = cancel

        def put(self, kind: str, value: Any) -> None:
            seen.append(value)
            if value.get("completed") == 200_000:
                cancel.set()

    work = registry.pull_job(store, ModelName.parse(name_of(fake, model)), insecure=True)
    with pytest.raises(asyncio.CancelledError):
        work(Job())
    fake.release.set()
    [*_, state] = partial_files(store.root)
    assert state.name.endswith("-partial-0")
    assert json.loads(state.read_bytes())["Completed"] == 200_000
    run_pull(store, name_of(fake, model))
    assert cdn_ranges(fake, digest) == ["bytes=0-499999", "bytes=200000-499999"]
    assert store.read_blob(digest) == model.blobs[digest]
    assert partial_files(store.root) == []


def test_offline_refuses_other_hosts(
    fake: FakeRegistry, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMAKIT_OFFLINE", "1")
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    items: list[dict[str, Any]] = []
    with pytest.raises(registry.RegistryError) as caught:
        asyncio.run(
            registry.pull_model(
                store,
                ModelName.parse("llama3.2"),
                report=items.append,
                transport=httpx.MockTransport(handler),
            )
        )
    assert str(caught.value) == (
        "pull model manifest: file does not exist "
        "(OLLAMAKIT_OFFLINE is set and registry.ollama.ai is not this machine)"
    )
    assert sent == []
    assert items == [{"status": "pulling manifest"}]
    # A registry on this machine is still reachable.
    model = publish(fake, "library/local", 24, size=1000)
    run_pull(store, name_of(fake, model))
    assert store.find(ModelName.parse(name_of(fake, model))) is not None


def test_challenge_parsing() -> None:
    header = 'Bearer realm="https://r.example/token",service="registry",scope="a:b:pull b:c:push"'
    assert registry._parse_challenge(header) == {
        "realm": "https://r.example/token",
        "service": "registry",
        "scope": "a:b:pull b:c:push",
    }
    assert registry._parse_challenge('bearer realm="x\\"y", service=plain')["realm"] == 'x"y'
