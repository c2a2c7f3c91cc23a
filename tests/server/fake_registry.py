"""A fake Ollama registry over real sockets, speaking Docker Registry v2 the way Ollama's client
uses it.

Two stdlib HTTP servers on 127.0.0.1:

* the registry: ``GET``/``PUT`` manifests, ``HEAD``/``GET`` blobs (the GET answers 307 with a
  ``Location`` on the CDN), uploads (``POST`` with optional ``mount``/``from``, ``PATCH`` parts
  chained through ``Location`` with a ``_state`` that must match, ``PUT ?digest=`` to finish),
  and optionally a Bearer challenge with a token endpoint at ``/token``;
* accounts, as ollama.com keeps them: ``owners`` maps a namespace to the public keys allowed
  to push there and to read its ``private`` repositories. A token request signed the way
  Ollama signs it (``Authorization: <public key>:<ed25519 signature of
  GET,<URL>,<base64 hex sha256 of the empty body>>``, with a fresh ``ts``) gets a token for
  that key, verified here with ``cryptography``; an unsigned one gets an anonymous token; a
  bad signature gets the registry's 401 (``{"errors": [{"code": "UNAUTHORIZED", ...}]}``). A
  token that lacks the rights answers 401 with a new challenge, as a registry does;
* ollama.com's account API on the same server: ``POST /api/me``, ``DELETE
  /api/user/keys/<base64url key>`` and ``POST /api/web_search`` / ``web_fetch`` (echoing the
  body), signed as Ollama's Go client signs (``Authorization:
  <public key>:<signature of METHOD,PATH?ts=<ts>>`` and the same ``ts`` in the query).
  ``accounts`` maps a connected public key to its user; an unknown key or a bad signature
  gets 401 ``{"error": "unauthorized"}``. ``account_down`` makes them answer 500 (quoting
  the ``Authorization`` header they got);
* the CDN, on another port: blob bytes by ``Range``, and ``PUT`` targets for redirected upload
  parts.

Fault switches (all cleared by :meth:`FakeRegistry.reset`): ``corrupt`` digests are served with
their first byte flipped; ``drop_after[digest] = n`` sends n bytes of the next blob response and
closes the connection (once); ``stall_after[digest] = n`` sends n bytes, then waits for
``release`` and closes (once); ``delay`` sleeps before every blob response; ``no_location``
answers blob GETs 200 without ``Location``; ``redirect_uploads`` answers PATCH with 307 to the
CDN. Every request is recorded in ``seen``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_TYPE = "application/vnd.docker.container.image.v1+json"

_MANIFEST = re.compile(r"/v2/(?P<repo>[^/]+/[^/]+)/manifests/(?P<tag>[^/]+)")
_BLOB = re.compile(r"/v2/(?P<repo>[^/]+/[^/]+)/blobs/(?P<digest>sha256:[0-9a-f]{64})")
_UPLOADS = re.compile(r"/v2/(?P<repo>[^/]+/[^/]+)/blobs/uploads/")
_UPLOAD = re.compile(r"/v2/(?P<repo>[^/]+/[^/]+)/blobs/uploads/(?P<id>[0-9a-f]+)")
_CDN_BLOB = re.compile(r"/cdn/(?P<digest>sha256:[0-9a-f]{64})")
_CDN_UPLOAD = re.compile(r"/upload/(?P<id>[0-9a-f]+)")


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _blob_of(public_key: str) -> str:
    """``ssh-ed25519 AAAA… comment`` or the bare base64 blob -> the base64 blob."""
    parts = public_key.split()
    return parts[1] if len(parts) > 1 else parts[0]


_EMPTY_BODY = base64.b64encode(hashlib.sha256(b"").hexdigest().encode())


def _signer(authorization: str, data: bytes) -> str | None:
    """The public key (base64 blob) whose ed25519 signature ``authorization`` carries over
    ``data``, or None."""
    key_text, _, signature_text = authorization.partition(":")
    try:
        public = serialization.load_ssh_public_key(b"ssh-ed25519 " + key_text.encode())
        signature = base64.b64decode(signature_text, validate=True)
    except (ValueError, binascii.Error):
        return None
    if not isinstance(public, Ed25519PublicKey):
        return None
    try:
        public.verify(signature, data)
    except InvalidSignature:
        return None
    return key_text


def _fresh(query: dict[str, list[str]]) -> str | None:
    stamp = (query.get("ts") or [""])[0]
    return stamp if stamp.isdigit() and abs(int(stamp) - time.time()) <= 300 else None


def _verify_api(
    authorization: str, method: str, path: str, query: dict[str, list[str]]
) -> str | None:
    """The signer of an ollama.com API call: ``METHOD,PATH?ts=<ts>`` with a fresh ``ts``."""
    stamp = _fresh(query)
    if stamp is None:
        return None
    return _signer(authorization, f"{method},{path}?ts={stamp}".encode())


def _verify(
    authorization: str, url: str, query: dict[str, list[str]], nonces: set[str]
) -> str | None:
    """The signer's public key if ``authorization`` signs this token request, else None.

    Checked as a registry would: a well-formed ``<key>:<signature>``, an ed25519 key, a
    signature over ``GET,<url>,<empty body digest>``, a timestamp within five minutes and a
    nonce not seen before (no replays)."""
    signer = _signer(authorization, b"GET," + url.encode() + b"," + _EMPTY_BODY)
    nonce = (query.get("nonce") or [""])[0]
    if signer is None or _fresh(query) is None or not nonce or nonce in nonces:
        return None
    nonces.add(nonce)
    return signer


@dataclass
class Seen:
    """One request as the fake received it (header names lower-cased)."""

    server: str
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class Upload:
    repo: str
    data: bytearray = field(default_factory=bytearray)
    state: int = 0


@dataclass
class Model:
    """A model published on the fake: its manifest as served and its blobs."""

    repo: str
    tag: str
    raw: bytes
    layers: list[dict[str, Any]]
    config: dict[str, Any]
    blobs: dict[str, bytes]

    @property
    def order(self) -> list[str]:
        """Digests in the order Ollama pulls them: layers, then the config."""
        return [layer["digest"] for layer in self.layers] + [self.config["digest"]]


class FakeRegistry:
    def __init__(
        self,
        *,
        auth: bool = False,
        realm_host: str | None = None,
        owners: dict[str, set[str]] | None = None,
        private: set[str] | None = None,
    ) -> None:
        self.lock = threading.Lock()
        self.manifests: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.blobs: dict[str, bytes] = {}
        self.links: dict[str, set[str]] = {}
        self.uploads: dict[str, Upload] = {}
        self.etags: dict[str, str] = {}
        self.seen: list[Seen] = []
        self.auth = auth
        self.realm_host = realm_host
        # token -> the public key (base64 blob) it was granted to, None for anonymous ones
        self.tokens: dict[str, str | None] = {}
        self.owners = {
            namespace: {_blob_of(key) for key in keys} for namespace, keys in (owners or {}).items()
        }
        self.private = set(private or ())
        self.nonces: set[str] = set()
        # connected public key (base64 blob) -> the user ollama.com reports for it
        self.accounts: dict[str, dict[str, Any]] = {}
        self.release = threading.Event()
        self.reset()
        self._registry = self._serve("registry")
        self._cdn = self._serve("cdn")

    # -- lifecycle --------------------------------------------------------------------------

    def _serve(self, role: str) -> ThreadingHTTPServer:
        fake = self

        class Handler(_Handler):
            registry = fake
            kind = role

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def close(self) -> None:
        self.release.set()
        for server in (self._registry, self._cdn):
            server.shutdown()
            server.server_close()

    def __enter__(self) -> FakeRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reset(self) -> None:
        """Clear fault switches and the request log (published content stays)."""
        self.corrupt: set[str] = set()
        self.drop_after: dict[str, int] = {}
        self.stall_after: dict[str, int] = {}
        self.delay = 0.0
        self.no_location = False
        self.redirect_uploads = False
        self.account_down = False
        self.release.clear()
        with self.lock:
            self.seen.clear()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._registry.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def cdn_url(self) -> str:
        return f"http://127.0.0.1:{self._cdn.server_address[1]}"

    # -- content ----------------------------------------------------------------------------

    def publish(
        self,
        repo: str,
        tag: str,
        layers: list[tuple[str, bytes]],
        config: dict[str, Any],
    ) -> Model:
        """Store blobs and a manifest; the manifest text is indented on purpose, so a client
        that re-encodes it instead of keeping the bytes is caught."""
        blobs: dict[str, bytes] = {}
        entries = []
        for media_type, data in layers:
            digest = digest_of(data)
            blobs[digest] = data
            entries.append({"mediaType": media_type, "digest": digest, "size": len(data)})
        config_bytes = json.dumps(config).encode()
        config_digest = digest_of(config_bytes)
        blobs[config_digest] = config_bytes
        config_entry = {
            "mediaType": CONFIG_TYPE,
            "digest": config_digest,
            "size": len(config_bytes),
        }
        document = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": config_entry,
            "layers": entries,
        }
        raw = (json.dumps(document, indent=3) + "\n").encode()
        with self.lock:
            self.blobs.update(blobs)
            self.links.setdefault(repo, set()).update(blobs)
            self.manifests[(repo, tag)] = (raw, MANIFEST_TYPE)
        return Model(repo, tag, raw, entries, config_entry, blobs)

    def served(self, digest: str) -> bytes:
        """The bytes the CDN sends for ``digest`` (corrupted when switched on)."""
        data = self.blobs[digest]
        if digest in self.corrupt and data:
            return bytes([data[0] ^ 0xFF]) + data[1:]
        return data

    def requests(
        self, server: str, method: str | None = None, path: str | None = None
    ) -> list[Seen]:
        with self.lock:
            return [
                seen
                for seen in self.seen
                if seen.server == server
                and (method is None or seen.method == method)
                and (path is None or seen.path == path)
            ]

    def _challenge(self, repo: str, method: str) -> str:
        actions = "pull" if method in ("GET", "HEAD") else "pull,push"
        realm = f"http://{self.realm_host or self.host}/token"
        return f'Bearer realm="{realm}",service="fake-registry",scope="repository:{repo}:{actions}"'


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    registry: FakeRegistry
    kind: str

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    # -- plumbing ---------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return bytes(body)
                body += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        *,
        length: int | None = None,
    ) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _error(self, status: int, code: str, headers: dict[str, str] | None = None) -> None:
        body = json.dumps({"errors": [{"code": code, "message": code.lower()}]}).encode()
        self._reply(status, body, {"Content-Type": "application/json", **(headers or {})})

    def _cut(self) -> None:
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    def _dispatch(self) -> None:
        fake = self.registry
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = parse_qs(parts.query)
        body = self._read_body()
        headers = {key.lower(): value for key, value in self.headers.items()}
        with fake.lock:
            fake.seen.append(Seen(self.kind, self.command, path, query, headers, body))
        if self.kind == "cdn":
            self._cdn(path, body)
        else:
            self._registry(path, query, headers, body)

    # -- the registry -----------------------------------------------------------------------

    def _registry(
        self, path: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes
    ) -> None:
        fake = self.registry
        if path == "/token" and self.command == "GET":
            self._token(query, headers)
            return
        if path.startswith("/api/"):
            self._account(path, query, headers, body)
            return
        repo_match = re.match(r"/v2/([^/]+/[^/]+)/", path)
        if repo_match is None:
            self._error(404, "NAME_UNKNOWN")
            return
        repo = repo_match.group(1)
        if fake.auth and not self._allowed(repo, headers.get("authorization", "")):
            challenge = fake._challenge(repo, self.command)
            self._error(401, "UNAUTHORIZED", {"WWW-Authenticate": challenge})
            return
        if match := _MANIFEST.fullmatch(path):
            self._manifest(repo, match.group("tag"), headers, body)
        elif match := _BLOB.fullmatch(path):
            self._blob(repo, match.group("digest"))
        elif _UPLOADS.fullmatch(path) and self.command == "POST":
            self._start_upload(repo, query)
        elif match := _UPLOAD.fullmatch(path):
            self._continue_upload(repo, match.group("id"), query, headers, body)
        else:
            self._error(404, "NAME_UNKNOWN")

    def _token(self, query: dict[str, list[str]], headers: dict[str, str]) -> None:
        fake = self.registry
        identity: str | None = None
        signature = headers.get("authorization")
        if signature is not None:
            url = f"http://{headers.get('host', '')}{self.path}"
            with fake.lock:
                identity = _verify(signature, url, query, fake.nonces)
            if identity is None:
                self._error(401, "UNAUTHORIZED")
                return
        token = secrets.token_hex(8)
        with fake.lock:
            fake.tokens[token] = identity
        self._reply(
            200, json.dumps({"token": token}).encode(), {"Content-Type": "application/json"}
        )

    def _account(
        self, path: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes
    ) -> None:
        fake = self.registry
        if fake.account_down:
            # A careless service quoting the credential it got: clients must not repeat it.
            self._json(500, {"error": f"internal error for {headers.get('authorization')}"})
            return
        signer = _verify_api(headers.get("authorization", ""), self.command, path, query)
        with fake.lock:
            user = fake.accounts.get(signer or "")
        if user is None:
            self._json(401, {"error": "unauthorized"})
            return
        if path == "/api/me" and self.command == "POST":
            self._json(200, user)
        elif path in ("/api/web_search", "/api/web_fetch") and self.command == "POST":
            self._json(200, {"results": [{"title": "echo", "url": path, "content": body.decode()}]})
        elif path.startswith("/api/user/keys/") and self.command == "DELETE":
            named = base64.urlsafe_b64decode(path.rsplit("/", 1)[1] + "==").decode()
            if _blob_of(named) != signer:
                self._json(401, {"error": "unauthorized"})
                return
            with fake.lock:
                del fake.accounts[signer]
            self._json(200, None)
        else:
            self._json(404, {"error": "not found"})

    def _json(self, status: int, value: Any) -> None:
        self._reply(status, json.dumps(value).encode(), {"Content-Type": "application/json"})

    def _allowed(self, repo: str, authorization: str) -> bool:
        fake = self.registry
        scheme, _, token = authorization.partition(" ")
        with fake.lock:
            if scheme != "Bearer" or token not in fake.tokens:
                return False
            identity = fake.tokens[token]
        writing = self.command not in ("GET", "HEAD")
        if not fake.owners or not (writing or repo in fake.private):
            return True
        return identity in fake.owners.get(repo.split("/")[0], set())

    def _manifest(self, repo: str, tag: str, headers: dict[str, str], body: bytes) -> None:
        fake = self.registry
        if self.command == "PUT":
            with fake.lock:
                fake.manifests[(repo, tag)] = (body, headers.get("content-type", ""))
            self._reply(201, headers={"Docker-Content-Digest": digest_of(body)})
            return
        with fake.lock:
            found = fake.manifests.get((repo, tag))
        if found is None:
            self._error(404, "MANIFEST_UNKNOWN")
            return
        raw, media_type = found
        self._reply(200, raw, {"Content-Type": media_type, "Docker-Content-Digest": digest_of(raw)})

    def _blob(self, repo: str, digest: str) -> None:
        fake = self.registry
        with fake.lock:
            linked = digest in fake.links.get(repo, set())
            size = len(fake.blobs.get(digest, b""))
        if not linked:
            self._error(404, "BLOB_UNKNOWN")
            return
        if self.command == "HEAD":
            self._reply(200, headers={"Content-Type": "application/octet-stream"}, length=size)
        elif fake.no_location:
            self._reply(200, fake.served(digest), {"Content-Type": "application/octet-stream"})
        else:
            self._reply(307, headers={"Location": f"{fake.cdn_url}/cdn/{digest}"})

    def _upload_url(self, repo: str, upload_id: str, state: int) -> str:
        return f"{self.registry.url}/v2/{repo}/blobs/uploads/{upload_id}?_state={state}"

    def _start_upload(self, repo: str, query: dict[str, list[str]]) -> None:
        fake = self.registry
        mount = (query.get("mount") or [""])[0]
        source = (query.get("from") or [""])[0]
        with fake.lock:
            if mount and mount in fake.links.get(source, set()):
                fake.links.setdefault(repo, set()).add(mount)
                mounted = True
            else:
                mounted = False
                upload_id = secrets.token_hex(8)
                fake.uploads[upload_id] = Upload(repo)
        if mounted:
            self._reply(201, headers={"Location": f"/v2/{repo}/blobs/{mount}"})
            return
        self._reply(
            202,
            headers={
                "Location": self._upload_url(repo, upload_id, 0),
                "Docker-Upload-UUID": upload_id,
                "Range": "0-0",
            },
        )

    def _continue_upload(
        self,
        repo: str,
        upload_id: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> None:
        fake = self.registry
        with fake.lock:
            upload = fake.uploads.get(upload_id)
        if upload is None or upload.repo != repo:
            self._error(404, "BLOB_UPLOAD_UNKNOWN")
            return
        if (query.get("_state") or [""])[0] != str(upload.state):
            # The client must always use the Location of the previous answer.
            self._error(400, "BLOB_UPLOAD_INVALID")
            return
        if self.command == "PATCH":
            start, _, end = headers.get("content-range", "").partition("-")
            if int(start) != len(upload.data) or int(end) != int(start) + len(body) - 1:
                self._error(416, "RANGE_INVALID")
                return
            upload.state += 1
            next_url = self._upload_url(repo, upload_id, upload.state)
            if fake.redirect_uploads:
                target = f"{fake.cdn_url}/upload/{upload_id}"
                self._reply(307, headers={"Location": target, "Docker-Upload-Location": next_url})
                return
            upload.data += body
            self._reply(202, headers={"Location": next_url, "Range": f"0-{len(upload.data) - 1}"})
            return
        if self.command == "PUT":
            upload.data += body
            digest = (query.get("digest") or [""])[0]
            if digest_of(bytes(upload.data)) != digest:
                self._error(400, "DIGEST_INVALID")
                return
            with fake.lock:
                fake.blobs[digest] = bytes(upload.data)
                fake.links.setdefault(repo, set()).add(digest)
                fake.etags[digest] = (query.get("etag") or [""])[0]
                del fake.uploads[upload_id]
            self._reply(201, headers={"Location": f"/v2/{repo}/blobs/{digest}"})
            return
        self._error(405, "UNSUPPORTED")

    # -- the CDN ----------------------------------------------------------------------------

    def _cdn(self, path: str, body: bytes) -> None:
        fake = self.registry
        if (match := _CDN_UPLOAD.fullmatch(path)) and self.command == "PUT":
            with fake.lock:
                upload = fake.uploads.get(match.group("id"))
            if upload is None:
                self._error(404, "BLOB_UPLOAD_UNKNOWN")
                return
            upload.data += body
            self._reply(201)
            return
        match = _CDN_BLOB.fullmatch(path)
        if match is None or self.command != "GET" or match.group("digest") not in fake.blobs:
            self._error(404, "BLOB_UNKNOWN")
            return
        digest = match.group("digest")
        data = fake.served(digest)
        status, headers = 200, {"Content-Type": "application/octet-stream"}
        ranged = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers.get("Range", ""))
        if ranged:
            start, end = int(ranged.group(1)), min(int(ranged.group(2)), len(data) - 1)
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            data, status = data[start : end + 1], 206
        if fake.delay:
            time.sleep(fake.delay)
        with fake.lock:
            drop = fake.drop_after.pop(digest, None)
            stall = fake.stall_after.pop(digest, None)
        cut = drop if drop is not None else stall
        if cut is None:
            self._reply(status, data, headers)
            return
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[:cut])
        self.wfile.flush()
        if stall is not None:
            fake.release.wait(60)
        self._cut()
