"""Pulling from and pushing to an Ollama registry, the way Ollama does (Docker Registry v2
conventions; Ollama's ``server/images.go``, ``download.go``, ``upload.go`` and ``auth.go``).

Pull, with the statuses it reports::

    pulling manifest          GET /v2/<ns>/<model>/manifests/<tag> (Accept: docker v2 manifest)
    pulling <hex12>           each layer, then the config: HEAD the blob for its size, GET it
                              for the direct URL in ``Location``, then ranged part GETs there
    verifying sha256 digest
    writing manifest          the bytes the registry served, unchanged
    removing unused layers    blobs only the replaced manifest used (unless OLLAMA_NOPRUNE)
    success

Push::

    retrieving manifest
    pushing <hex12>           each layer, then the config: HEAD (exists: done); else POST
                              blobs/uploads/ (``?mount=&from=`` for inherited layers, 201 means
                              mounted), PATCH parts following ``Location``, then
                              PUT <location>?digest=&etag=
    pushing manifest          PUT /v2/<ns>/<model>/manifests/<tag>
    success

A 401 is retried once with a Bearer token fetched from the ``WWW-Authenticate`` realm, which
must be on the registry's own host. The token request is signed with the Ollama key
(``~/.ollama/id_ed25519``), as Ollama's ``getAuthorizationToken`` does: ``Authorization:
<public key>:<signature of GET,<token URL>,<empty body digest>>`` (:mod:`ollamakit._signing`);
that is how ollama.com knows whose private models to serve and where a push may go. An
``http://`` name needs ``insecure``, and ``insecure`` turns every registry request into plain
http, as in Ollama.

Downloads resume. Unfinished data lives in ``<models>/.ollamakit-partial/``:
``sha256-<hex>-partial`` holds the bytes (written at their offsets) and one
``sha256-<hex>-partial-<N>`` per part holds Ollama's part state
``{"N", "Offset", "Size", "Completed"}``, saved twice a second and whenever a part stops. A pull
that was interrupted (connection dropped, client gone, server killed) continues from the saved
offsets next time. A finished download is copied into the store through its atomic blob
writer, which hashes it on the way: only content matching its digest ever appears in
``blobs/``; a mismatch deletes the download and fails with Ollama's
``digest mismatch, file must be downloaded again: want …, got …``.

Differences from Ollama, and why:

* Unfinished downloads stay out of ``blobs/`` (Ollama keeps ``-partial`` files beside the
  blobs), so neither an Ollama sharing the store nor our own listing ever sees them. They are
  reused or replaced by the next pull of the same digest; ones untouched for a day are
  removed at startup (:data:`.store.PARTIAL_MAX_AGE_SECONDS`; Ollama removes them after an
  hour, unless ``OLLAMA_NOPRUNE`` is set).
* The key is created on first need, not at startup (:mod:`.keys`). When there is none and
  the home directory cannot hold one, the token request goes unsigned (a registry handing out
  anonymous tokens still serves public pulls); Ollama fails there. A key that exists but
  cannot be read fails the request, as in Ollama.
* Every layer's progress ends with a complete ``pulling``/``pushing`` line. Ollama reports on
  a 60 ms tick and may report nothing for a layer that finishes within one tick.
* The direct-URL GET follows redirects only within the same host and port (Ollama compares
  host names without ports), so a CDN on another port of the same host counts as another host.
* Only transport errors, 5xx answers, unexpected ends of body and a 401 on an upload part are
  retried (six tries, backoff 1, 2, 4... s). Ollama retries every failed part and upload
  finish, so a plain 400 there takes a minute to surface. A stalled part (no byte for 30 s)
  that made progress is retried without using up a try; Ollama never counts stalls, so a
  server that always stalls would be retried forever.
* A blob HEAD without ``Content-Length`` falls back to the manifest's size; Ollama would plan
  an empty download and fail the digest check.
* ``OLLAMAKIT_OFFLINE`` (Go boolean syntax; set means true) refuses every host that is not a
  loopback address: no network traffic, and a pull fails as for a missing model. Ollama has no
  such switch; it keeps test suites and air-gapped machines off the network while a registry
  on this machine still works.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import ipaddress
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx
import msgspec

from .._signing import token_challenge
from .._tasks import all_or_nothing
from .._version import __version__
from ..names import ModelName
from .keys import KeyFileError, load_or_create_key
from .settings import offline
from .store import MEDIA_MANIFEST, DigestError, Layer, Manifest, Store, parse_digest
from .validate import BadRequest

__all__ = [
    "NotFoundError",
    "ProgressJob",
    "RegistryError",
    "offline_refuses",
    "pull_job",
    "pull_model",
    "push_job",
    "push_model",
    "push_name",
]

Report = Callable[[dict[str, Any]], None]

log = logging.getLogger("ollamakit.server")

# Ollama's sizes are decimal (format.MegaByte = 1000 * 1000).
_MEGABYTE = 1000 * 1000
_DOWNLOAD_PARTS = 16
_MIN_DOWNLOAD_PART = 100 * _MEGABYTE
_MAX_DOWNLOAD_PART = 1000 * _MEGABYTE
_UPLOAD_PARTS = 16
_MIN_UPLOAD_PART = 100 * _MEGABYTE
_MAX_UPLOAD_PART = 1000 * _MEGABYTE
_MAX_RETRIES = 6
_BACKOFF_SECONDS = 1.0
_STALL_SECONDS = 30.0
_PROGRESS_INTERVAL = 0.06
_SAVE_INTERVAL = 0.5
_MAX_REDIRECTS = 10
_CHUNK = 1 << 20
_OCTET_STREAM = "application/octet-stream"


class RegistryError(Exception):
    """A registry operation failed; ``str()`` is the message Ollama gives.

    ``retry`` marks failures worth another try (transport errors, 5xx, a cut-off body).
    """

    def __init__(self, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry


class NotFoundError(RegistryError):
    """The registry answered 404 (Go's ``os.ErrNotExist``, hence the wording)."""

    def __init__(self) -> None:
        super().__init__("file does not exist")


class _RefusedError(RegistryError):
    """A host ``OLLAMAKIT_OFFLINE`` forbids; never retried."""


class ProgressJob(Protocol):
    """What a pull or push needs from the server's worker job: a progress sink and the flag
    set when the client goes away."""

    cancel: threading.Event

    def put(self, kind: str, value: Any) -> None: ...


# -- entry points for the app -------------------------------------------------------------


def push_name(body: dict[str, Any]) -> ModelName:
    """The model a push request names; :class:`BadRequest` when it is missing or invalid."""
    text = body.get("model") or body.get("name") or ""
    if not text:
        raise BadRequest("model is required")
    name = ModelName.parse(text)
    if not name.is_valid:
        raise BadRequest("invalid model name")
    return name


def pull_job(store: Store, name: ModelName, *, insecure: bool) -> Callable[[ProgressJob], None]:
    """A worker-job function that pulls ``name`` and reports progress items."""

    def work(job: ProgressJob) -> None:
        _run(job, lambda report: pull_model(store, name, insecure=insecure, report=report))

    return work


def push_job(store: Store, name: ModelName, *, insecure: bool) -> Callable[[ProgressJob], None]:
    """A worker-job function that pushes ``name`` and reports progress items."""

    def work(job: ProgressJob) -> None:
        _run(job, lambda report: push_model(store, name, insecure=insecure, report=report))

    return work


def _run(job: ProgressJob, operation: Callable[[Report], Coroutine[Any, Any, None]]) -> None:
    """Run ``operation`` on an event loop of the job's own thread, cancelling it once the
    client has gone.

    The transfer's disk work (part writes, hashing the finished blob into the store) then
    never blocks the server's loop, and the app's progress plumbing is reused unchanged.
    """

    async def main() -> None:
        task = asyncio.ensure_future(operation(lambda item: job.put("item", item)))
        cancelled = False
        while not task.done():
            if not cancelled and job.cancel.is_set():
                # Once only: a second cancel would interrupt the cleanup that saves part state.
                task.cancel()
                cancelled = True
            await asyncio.wait({task}, timeout=0.1)
        task.result()

    asyncio.run(main())


# -- the registry client ------------------------------------------------------------------


def offline_refuses(host: str) -> bool:
    """Whether ``OLLAMAKIT_OFFLINE`` forbids talking to ``host``."""
    return offline() and not _is_loopback(host)


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _parse_challenge(header: str) -> dict[str, str]:
    """``Bearer realm="…",service="…",scope="…"`` -> its parameters."""
    text = re.sub(r"^\s*bearer\s+", "", header, flags=re.IGNORECASE)
    values: dict[str, str] = {}
    for match in re.finditer(r'([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))', text):
        quoted, bare = match.group(2), match.group(3)
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        values[match.group(1).lower()] = value
    return values


def _sign(challenge: bytes) -> str | None:
    """The ``Authorization`` value for a token request; ``None`` when no key can be made."""
    try:
        key = load_or_create_key()
    except KeyFileError as exc:
        raise RegistryError(str(exc)) from None
    except OSError as exc:
        log.warning("no Ollama key, token request unsigned: %s", exc)
        return None
    return key.sign(challenge)


def _go_op(method: str) -> str:
    return method[:1].upper() + method[1:].lower()


class _Registry:
    """One repository on one registry, with the Bearer token obtained along the way."""

    def __init__(
        self,
        name: ModelName,
        *,
        insecure: bool,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self.insecure = insecure
        self.base = f"{(name.scheme or 'https').lower()}://{name.host}"
        self.repository = f"{name.namespace}/{name.model}"
        self.token: str | None = None
        self.client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(300.0, connect=30.0),
            headers={"User-Agent": f"ollamakit/{__version__}"},
            event_hooks={"request": [self._guard]},
        )

    async def __aenter__(self) -> _Registry:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    async def _guard(self, request: httpx.Request) -> None:
        # A request hook, so redirects httpx follows on its own are checked too.
        host = request.url.host
        if offline_refuses(host):
            raise _RefusedError(
                f"file does not exist (OLLAMAKIT_OFFLINE is set and {host} is not this machine)"
            )

    def url(self, *parts: str) -> str:
        return f"{self.base}/v2/{self.repository}/" + "/".join(parts)

    def _target(self, url: str) -> str:
        # Ollama's makeRequest: with insecure, registry requests always go over plain http.
        if self.insecure and url[:8].lower() == "https://":
            return "http://" + url[8:]
        return url

    async def send_once(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | AsyncIterator[bytes] | None = None,
        stream: bool = False,
        follow_redirects: bool = True,
        authorized: bool = True,
        timeout: httpx.Timeout | None = None,
    ) -> httpx.Response:
        """One request; transport failures become :class:`RegistryError` worded as Go's
        ``url.Error`` (``Get "<url>": <cause>``)."""
        request_headers = dict(headers or {})
        if authorized:
            url = self._target(url)
            if self.token:
                request_headers["Authorization"] = f"Bearer {self.token}"
        request = self.client.build_request(
            method,
            url,
            headers=request_headers,
            content=content,
            timeout=timeout if timeout is not None else self.client.timeout,
        )
        try:
            return await self.client.send(request, stream=stream, follow_redirects=follow_redirects)
        except httpx.HTTPError as exc:
            cause = str(exc) or type(exc).__name__
            raise RegistryError(f'{_go_op(method)} "{url}": {cause}', retry=True) from exc

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        stream: bool = False,
        follow_redirects: bool = True,
    ) -> httpx.Response:
        """Ollama's ``makeRequestWithRetry``: after a 401, one more try with a fresh token;
        404 raises :class:`NotFoundError`; any other status >= 400 ``<code>: <body>``."""
        for _ in range(2):
            response = await self.send_once(
                method,
                url,
                headers=headers,
                content=content,
                stream=stream,
                follow_redirects=follow_redirects,
            )
            status = response.status_code
            if status == 401:
                challenge = response.headers.get("www-authenticate", "")
                await response.aclose()
                self.token = await self.fetch_token(challenge, urlsplit(self._target(url)).netloc)
                continue
            if status == 404:
                await response.aclose()
                raise NotFoundError()
            if status >= 400:
                body = await response.aread()
                await response.aclose()
                raise RegistryError(
                    f"{status}: {body.decode(errors='replace')}", retry=status >= 500
                )
            return response
        raise RegistryError("unauthorized: access denied")

    async def fetch_token(self, header: str, host: str) -> str:
        """Ollama's ``getAuthorizationToken``: a signed GET of the challenge's realm."""
        challenge = _parse_challenge(header)
        realm = urlsplit(challenge.get("realm", ""))
        if realm.netloc != host:
            raise RegistryError(
                f'realm host "{realm.netloc}" does not match original host "{host}"'
            )
        params = parse_qsl(realm.query, keep_blank_values=True)
        params.append(("service", challenge.get("service", "")))
        params.extend(("scope", scope) for scope in challenge.get("scope", "").split(" "))
        params.append(("ts", str(int(time.time()))))
        nonce = base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()
        params.append(("nonce", nonce))
        # Go's url.Values.Encode sorts by key.
        query = urlencode(sorted(params, key=lambda item: item[0]))
        url = urlunsplit((realm.scheme, realm.netloc, realm.path, query, ""))
        signature = _sign(token_challenge(url))
        headers = {"Authorization": signature} if signature else None
        response = await self.send_once("GET", url, headers=headers, authorized=False)
        body = response.content
        if response.status_code >= 400:
            text = body.decode(errors="replace")
            suffix = f": {text}" if text else ""
            raise RegistryError(f"{response.status_code}{suffix}")
        try:
            data = msgspec.json.decode(body)
        except msgspec.DecodeError as exc:
            raise RegistryError(str(exc)) from exc
        token = (data.get("token") or data.get("access_token")) if isinstance(data, dict) else None
        if not isinstance(token, str):
            raise RegistryError("token response has no token")
        return token

    async def direct_url(self, digest: str) -> str:
        """GET the blob without following redirects to another host; the direct URL is the
        ``Location`` of the answer (307, or even 200)."""
        url = self._target(self.url("blobs", digest))
        origin = _origin(url)
        for _ in range(_MAX_REDIRECTS + 1):
            response = await _retrying(
                functools.partial(self.send, "GET", url, stream=True, follow_redirects=False)
            )
            try:
                status = response.status_code
                location = response.headers.get("location")
                target: str | None = urljoin(str(response.url), location) if location else None
                if response.is_redirect and target and _origin(target) == origin:
                    url = target
                    continue
                if status != 200 and not response.is_redirect:
                    raise RegistryError(f"unexpected status code {status}")
                if target is None:
                    raise RegistryError("http: no Location header in response")
                return target
            finally:
                await response.aclose()
        raise RegistryError(f"maximum redirects exceeded ({_MAX_REDIRECTS}) for directURL")


async def _retrying(
    attempt: Callable[[], Coroutine[Any, Any, httpx.Response]],
) -> httpx.Response:
    """Up to six tries of a retriable failure, sleeping 1, 2, 4... s in between."""
    for number in range(_MAX_RETRIES):
        try:
            return await attempt()
        except _RefusedError:
            raise
        except RegistryError as exc:
            if not exc.retry or number + 1 == _MAX_RETRIES:
                raise
            await asyncio.sleep(_BACKOFF_SECONDS * 2**number)
    raise AssertionError("unreachable")


# -- parts --------------------------------------------------------------------------------


@dataclass
class _Part:
    n: int
    offset: int
    size: int
    completed: int = 0


def _plan_parts(total: int, count: int, minimum: int, maximum: int) -> list[_Part]:
    size = min(max(total // count, minimum), maximum)
    parts: list[_Part] = []
    offset = 0
    while offset < total:
        length = min(size, total - offset)
        parts.append(_Part(len(parts), offset, length))
        offset += length
    return parts


def _progress(label: str, digest: str, total: int, completed: int) -> dict[str, Any]:
    # Ollama's ProgressResponse omits zero fields.
    item: dict[str, Any] = {"status": label, "digest": digest}
    if total:
        item["total"] = total
    if completed:
        item["completed"] = completed
    return item


async def _tick(
    report: Report, label: str, digest: str, read: Callable[[], tuple[int, int]]
) -> None:
    while True:
        await asyncio.sleep(_PROGRESS_INTERVAL)
        total, completed = read()
        report(_progress(label, digest, total, completed))


@contextlib.asynccontextmanager
async def _ticking(
    report: Report, label: str, digest: str, read: Callable[[], tuple[int, int]]
) -> AsyncIterator[None]:
    task = asyncio.ensure_future(_tick(report, label, digest, read))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# -- pull ---------------------------------------------------------------------------------


@dataclass
class _Download:
    """One blob being downloaded in this process; other pulls of it wait and watch."""

    total: int = 0
    completed: int = 0
    finished: threading.Event = field(default_factory=threading.Event)


_downloads: dict[tuple[str, str], _Download] = {}
_downloads_lock = threading.Lock()


def _check_scheme(name: ModelName, insecure: bool) -> None:
    if name.scheme.lower() == "http" and not insecure:
        raise RegistryError("insecure protocol http")


async def pull_model(
    store: Store,
    name: ModelName,
    *,
    insecure: bool = False,
    report: Report,
    transport: httpx.AsyncBaseTransport | None = None,
) -> None:
    """Pull ``name`` into ``store``; raises :class:`RegistryError` with Ollama's messages."""
    previous = store.find(name)
    stale: set[str] = set()
    if previous is not None:
        for layer in previous.manifest.all_layers():
            with contextlib.suppress(DigestError):
                stale.add(parse_digest(layer.digest))
    _check_scheme(name, insecure)
    report({"status": "pulling manifest"})
    mismatches: dict[str, str] = {}
    # Pinned from before each blob is looked for until the manifest references it, so a
    # concurrent delete of a model sharing a layer cannot remove it in between.
    with store.pinned() as pins:
        async with _Registry(name, insecure=insecure, transport=transport) as registry:
            try:
                raw = await _pull_manifest(registry, name.tag)
                manifest = _decode_manifest(raw)
            except RegistryError as exc:
                raise RegistryError(f"pull model manifest: {exc}") from exc
            layers = [*manifest.layers]
            if manifest.config.digest:
                layers.append(manifest.config)
            for layer in layers:
                pins.add(layer.digest)
                actual = await _pull_blob(store, registry, layer, report)
                if actual is not None:
                    mismatches[layer.digest] = actual
        report({"status": "verifying sha256 digest"})
        for layer in layers:
            if layer.digest in mismatches:
                raise RegistryError(
                    "digest mismatch, file must be downloaded again: "
                    f"want {layer.digest}, got {mismatches[layer.digest]}"
                )
        report({"status": "writing manifest"})
        _write_raw_manifest(store, name, raw)
    stale -= {parse_digest(layer.digest) for layer in layers}
    if stale and store.prune_enabled:
        report({"status": "removing unused layers"})
        try:
            _delete_unused(store, stale)
        except OSError as exc:
            report({"status": f"couldn't remove unused layers: {exc}"})
    report({"status": "success"})


async def _pull_manifest(registry: _Registry, tag: str) -> bytes:
    response = await registry.send(
        "GET", registry.url("manifests", tag), headers={"Accept": MEDIA_MANIFEST}
    )
    return response.content


def _decode_manifest(raw: bytes) -> Manifest:
    try:
        manifest = Manifest.decode(raw)
        for layer in manifest.all_layers():
            # Digests become file names: anything but sha256 hex could escape blobs/.
            parse_digest(layer.digest)
    except (ValueError, msgspec.DecodeError) as exc:
        raise RegistryError(str(exc)) from exc
    return manifest


def _write_raw_manifest(store: Store, name: ModelName, raw: bytes) -> None:
    # Store.write_manifest re-encodes; a pulled manifest keeps the registry's exact bytes so
    # its digest (the one `ollama list` shows) is the registry's. The store's own atomic
    # writer and case-preserving path are reused, under its lock against pruning.
    with store._lock:
        store._write_file_atomic(store._existing_case_path(name), raw)


def _delete_unused(store: Store, digests: set[str]) -> None:
    # The store's own removal (used by delete): under its lock, skipping blobs another
    # manifest or a pending create still needs.
    with store._lock:
        store._delete_unused([Layer("", f"sha256:{hexdigest}", 0) for hexdigest in digests])


async def _pull_blob(store: Store, registry: _Registry, layer: Layer, report: Report) -> str | None:
    """Make sure ``layer`` is in the store; returns the digest the download really had when
    it did not match (the download is then gone), else None."""
    hexdigest = parse_digest(layer.digest)
    label = f"pulling {layer.digest[7:19]}"
    key = (str(store.root), hexdigest)
    while True:
        path = store.blob_path(hexdigest)
        if path.is_file():
            size = path.stat().st_size
            report(_progress(label, layer.digest, size, size))
            return None
        with _downloads_lock:
            download = _downloads.get(key)
            owner = download is None
            if download is None:
                download = _downloads[key] = _Download()
        if not owner:
            await _watch(download, report, label, layer.digest)
            continue
        try:
            return await _fetch_blob(store, registry, layer, download, report, label)
        finally:
            with _downloads_lock:
                _downloads.pop(key, None)
            download.finished.set()


async def _watch(download: _Download, report: Report, label: str, digest: str) -> None:
    """Report another pull's download of the same blob until it ends."""
    async with _ticking(report, label, digest, lambda: (download.total, download.completed)):
        # A threading event: the owner may run on another job's loop.
        while not download.finished.is_set():  # noqa: ASYNC110
            await asyncio.sleep(_PROGRESS_INTERVAL)


def _partial_path(store: Store, hexdigest: str) -> Path:
    directory = store.partial_dir
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"sha256-{hexdigest}-partial"


def _part_path(data: Path, n: int) -> Path:
    return data.with_name(f"{data.name}-{n}")


def _save_part(data: Path, part: _Part) -> None:
    # Part state is advisory (a wrong offset only costs a failed digest check and a new
    # download), so a rename without fsync is enough.
    path = _part_path(data, part.n)
    temp = path.with_name(path.name + ".tmp")
    temp.write_bytes(
        msgspec.json.encode(
            {"N": part.n, "Offset": part.offset, "Size": part.size, "Completed": part.completed}
        )
    )
    os.replace(temp, path)


def _load_parts(data: Path) -> list[_Part]:
    """The saved parts of an unfinished download; empty when there is none or it is unusable."""
    if not data.is_file():
        return []
    parts: list[_Part] = []
    for path in data.parent.glob(f"{data.name}-*"):
        suffix = path.name[len(data.name) + 1 :]
        if not suffix.isdigit():
            continue
        try:
            state = msgspec.json.decode(path.read_bytes())
            part = _Part(
                int(state["N"]), int(state["Offset"]), int(state["Size"]), int(state["Completed"])
            )
        except (OSError, ValueError, KeyError, TypeError, msgspec.DecodeError):
            return []
        parts.append(part)
    parts.sort(key=lambda part: part.n)
    offset = 0
    for index, part in enumerate(parts):
        if part.n != index or part.offset != offset or not 0 <= part.completed <= part.size:
            return []
        offset += part.size
    return parts


def _remove_partial(data: Path) -> None:
    for path in data.parent.glob(f"{data.name}*"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


async def _fetch_blob(
    store: Store,
    registry: _Registry,
    layer: Layer,
    download: _Download,
    report: Report,
    label: str,
) -> str | None:
    hexdigest = parse_digest(layer.digest)
    data = _partial_path(store, hexdigest)
    parts = _load_parts(data)
    if not parts:
        _remove_partial(data)
        response = await registry.send("HEAD", registry.url("blobs", layer.digest))
        try:
            total = int(response.headers["content-length"])
        except (KeyError, ValueError):
            # Ollama would plan an empty download and fail the digest check; the manifest's
            # size is the better guess.
            total = layer.size
        parts = _plan_parts(total, _DOWNLOAD_PARTS, _MIN_DOWNLOAD_PART, _MAX_DOWNLOAD_PART)
        data.touch()
        for part in parts:
            _save_part(data, part)
    download.total = sum(part.size for part in parts)
    download.completed = sum(part.completed for part in parts)
    if download.completed < download.total:
        async with _ticking(
            report, label, layer.digest, lambda: (download.total, download.completed)
        ):
            await _download_parts(registry, layer.digest, data, parts, download)
    report(_progress(label, layer.digest, download.total, download.completed))
    return _publish(store, data, layer.digest)


async def _download_parts(
    registry: _Registry, digest: str, data: Path, parts: list[_Part], download: _Download
) -> None:
    with open(data, "r+b") as handle:  # noqa: ASYNC230 - this loop is the job's own
        handle.truncate(download.total)
        direct = await registry.direct_url(digest)
        dirty: set[int] = set()

        def save() -> None:
            # Data first, so saved state never claims bytes the file does not hold yet.
            handle.flush()
            for n in sorted(dirty):
                _save_part(data, parts[n])
            dirty.clear()

        async def saver() -> None:
            while True:
                await asyncio.sleep(_SAVE_INTERVAL)
                save()

        limit = asyncio.Semaphore(_DOWNLOAD_PARTS)

        async def run(part: _Part) -> None:
            async with limit:
                await _download_part(registry, direct, handle, part, download, dirty)

        saving = asyncio.ensure_future(saver())
        try:
            await all_or_nothing([run(part) for part in parts if part.completed < part.size])
        finally:
            saving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await saving
            save()


async def _download_part(
    registry: _Registry,
    url: str,
    handle: BinaryIO,
    part: _Part,
    download: _Download,
    dirty: set[int],
) -> None:
    tries = 0
    while True:
        before = part.completed
        try:
            await _download_range(registry, url, handle, part, download, dirty)
            return
        except _RefusedError:
            raise
        except RegistryError as exc:
            stalled = isinstance(exc.__cause__, httpx.TimeoutException)
            if stalled and part.completed > before:
                continue
            if not exc.retry:
                raise
            tries += 1
            if tries >= _MAX_RETRIES:
                raise RegistryError(f"max retries exceeded: {exc}") from exc
            await asyncio.sleep(_BACKOFF_SECONDS * 2 ** (tries - 1))


async def _download_range(
    registry: _Registry,
    url: str,
    handle: BinaryIO,
    part: _Part,
    download: _Download,
    dirty: set[int],
) -> None:
    start = part.offset + part.completed
    end = part.offset + part.size - 1
    # No auth (the direct URL is another host's) and no compression (byte ranges).
    headers = {"Range": f"bytes={start}-{end}", "Accept-Encoding": "identity"}
    response = await registry.send_once(
        "GET",
        url,
        headers=headers,
        stream=True,
        authorized=False,
        timeout=httpx.Timeout(_STALL_SECONDS, connect=30.0),
    )
    try:
        status = response.status_code
        if not (status == 206 or (status == 200 and start == 0)):
            raise RegistryError(f"unexpected status code {status}", retry=status >= 500)
        remaining = part.size - part.completed
        try:
            async for chunk in response.aiter_raw():
                piece = chunk[:remaining]
                handle.seek(part.offset + part.completed)
                handle.write(piece)
                part.completed += len(piece)
                download.completed += len(piece)
                remaining -= len(piece)
                dirty.add(part.n)
                if not remaining:
                    break
        except httpx.HTTPError as exc:
            raise RegistryError(f"{exc}", retry=True) from exc
        if remaining:
            raise RegistryError("unexpected EOF", retry=True)
    finally:
        await response.aclose()


def _publish(store: Store, data: Path, digest: str) -> str | None:
    """Hash the finished download into ``blobs/`` through the store's atomic writer; returns
    the actual digest on a mismatch. Once judged, match or not, the download is removed; an
    I/O error (a full disk) keeps it for the next try."""
    writer = store.blob_writer(digest)
    mismatch: str | None = None
    try:
        with open(data, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                writer.write(chunk)
        try:
            writer.commit()
        except DigestError:
            mismatch = f"sha256:{writer.hexdigest}"
    finally:
        writer.abort()
    _remove_partial(data)
    return mismatch


# -- push ---------------------------------------------------------------------------------


async def push_model(
    store: Store,
    name: ModelName,
    *,
    insecure: bool = False,
    report: Report,
    transport: httpx.AsyncBaseTransport | None = None,
) -> None:
    """Push ``name`` from ``store``; raises :class:`RegistryError` with Ollama's messages."""
    report({"status": "retrieving manifest"})
    _check_scheme(name, insecure)
    entry = store.find(name)
    if entry is None:
        report({"status": "couldn't retrieve manifest"})
        raise RegistryError(f"open {store.manifest_path(name)}: no such file or directory")
    # The stored casing wins, as Ollama's getExistingName makes it.
    target = entry.name._replace(scheme=name.scheme)
    manifest = entry.manifest
    layers = [*manifest.layers]
    if manifest.config.digest:
        layers.append(manifest.config)
    async with _Registry(target, insecure=insecure, transport=transport) as registry:
        for layer in layers:
            await _push_blob(store, registry, layer, report)
        report({"status": "pushing manifest"})
        await registry.send(
            "PUT",
            registry.url("manifests", target.tag),
            headers={"Content-Type": MEDIA_MANIFEST},
            content=manifest.encode(),
        )
    report({"status": "success"})


@dataclass
class _Upload:
    total: int
    completed: int = 0


async def _push_blob(store: Store, registry: _Registry, layer: Layer, report: Report) -> None:
    label = f"pushing {layer.digest[7:19]}"
    try:
        response = await registry.send("HEAD", registry.url("blobs", layer.digest))
    except NotFoundError:
        pass
    else:
        await response.aclose()
        report(_progress(label, layer.digest, layer.size, layer.size))
        return
    path = store.blob_path(layer.digest)
    total = path.stat().st_size
    url = registry.url("blobs", "uploads", "")
    if layer.source:
        source = ModelName.parse(layer.source)
        url += "?" + urlencode(
            {"from": f"{source.namespace}/{source.model}", "mount": layer.digest}
        )
    response = await registry.send("POST", url)
    location = _upload_location(response) or url
    if response.status_code == 201:
        report(_progress(label, layer.digest, total, total))
        return
    upload = _Upload(total)
    next_url = urljoin(str(response.url), location)
    hashes: list[bytes] = []
    parts = _plan_parts(total, _UPLOAD_PARTS, _MIN_UPLOAD_PART, _MAX_UPLOAD_PART)
    async with _ticking(report, label, layer.digest, lambda: (upload.total, upload.completed)):
        for part in parts:
            next_url, part_hash = await _push_part(registry, next_url, path, part, upload)
            hashes.append(part_hash)
        etag = f"{hashlib.md5(b''.join(hashes), usedforsecurity=False).hexdigest()}-{len(parts)}"
        final = str(httpx.URL(next_url).copy_merge_params({"digest": layer.digest, "etag": etag}))
        headers = {"Content-Type": _OCTET_STREAM, "Content-Length": "0"}
        done = await _retrying(lambda: registry.send("PUT", final, headers=headers, content=b""))
        await done.aclose()
    report(_progress(label, layer.digest, total, total))


def _upload_location(response: httpx.Response) -> str | None:
    location = response.headers.get("docker-upload-location") or response.headers.get("location")
    return str(location) if location else None


async def _push_part(
    registry: _Registry, url: str, path: Path, part: _Part, upload: _Upload
) -> tuple[str, bytes]:
    """Send one part by PATCH, up to six tries; returns the next URL and the part's md5."""
    tries = 0
    while True:
        try:
            return await _send_part(registry, "PATCH", url, path, part, upload)
        except _RefusedError:
            raise
        except RegistryError as exc:
            if not exc.retry:
                raise
            tries += 1
            if tries >= _MAX_RETRIES:
                raise RegistryError(f"max retries exceeded: {exc}") from exc
            await asyncio.sleep(_BACKOFF_SECONDS * 2 ** (tries - 1))


async def _send_part(
    registry: _Registry, method: str, url: str, path: Path, part: _Part, upload: _Upload
) -> tuple[str, bytes]:
    headers = {"Content-Type": _OCTET_STREAM, "Content-Length": str(part.size)}
    if method == "PATCH":
        headers["X-Redirect-Uploads"] = "1"
        headers["Content-Range"] = f"{part.offset}-{part.offset + part.size - 1}"
    digest = hashlib.md5(usedforsecurity=False)
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        with open(path, "rb") as handle:  # noqa: ASYNC230 - this loop is the job's own
            handle.seek(part.offset)
            remaining = part.size
            while remaining:
                chunk = handle.read(min(_CHUNK, remaining))
                if not chunk:
                    raise RegistryError("unexpected EOF")
                remaining -= len(chunk)
                digest.update(chunk)
                sent += len(chunk)
                upload.completed += len(chunk)
                yield chunk

    def rollback() -> None:
        upload.completed -= sent

    try:
        response = await registry.send_once(
            method,
            url,
            headers=headers,
            content=body(),
            follow_redirects=False,
            authorized=method == "PATCH",
        )
    except BaseException:
        rollback()
        raise
    status = response.status_code
    location = _upload_location(response)
    next_url = urljoin(str(response.url), location) if location else url
    if status == 307 and method == "PATCH":
        # The registry wants the bytes elsewhere: PUT them to the redirect target (no auth,
        # as Ollama), then carry on from the registry's next upload URL.
        rollback()
        redirect = urljoin(str(response.url), response.headers.get("location", ""))
        tries = 0
        while True:
            try:
                _, part_hash = await _send_part(registry, "PUT", redirect, path, part, upload)
                return next_url, part_hash
            except RegistryError as exc:
                tries += 1
                if not exc.retry or tries >= _MAX_RETRIES:
                    raise
                await asyncio.sleep(_BACKOFF_SECONDS * 2 ** (tries - 1))
    if status == 401 and method == "PATCH":
        rollback()
        challenge = response.headers.get("www-authenticate", "")
        registry.token = await registry.fetch_token(
            challenge, urlsplit(registry._target(url)).netloc
        )
        text = response.content.decode(errors="replace")
        raise RegistryError(f"http status 401 {response.reason_phrase}: {text}", retry=True)
    if status >= 400:
        rollback()
        text = response.content.decode(errors="replace")
        raise RegistryError(
            f"http status {status} {response.reason_phrase}: {text}", retry=status >= 500
        )
    return next_url, digest.digest()
