"""The routes Ollama answers by asking ollama.com: ``POST /api/me``, ``POST /api/signout``
(and the deprecated ``DELETE /api/user/keys/{key}``), ``POST /api/experimental/web_search``
and ``POST /api/experimental/web_fetch``.

Ollama answers them by asking ollama.com, with requests signed by the server's key the way
its Go client signs (``api/client.go``): ``?ts=<unix seconds>`` added to the URL and
``Authorization: <public key>:<signature of METHOD,PATH?ts=...>`` (:mod:`ollamakit._signing`).

``/api/me`` (``WhoamiHandler``):

* 200 and the user (``id``, ``email``, ``name``, then ``bio``, ``avatarurl``, ``firstname``,
  ``lastname``, ``plan`` when set; an empty plan is reported as ``free``);
* 401 ``{"error": "unauthorized", "signin_url": ...}`` when ollama.com does not know the key
  (or answers without a user name). The URL is ollama.com's, else
  ``https://ollama.com/connect?name=<host name>&key=<base64url of the public key>``, the page
  where the user connects this machine to their account;
* 503 ``{"error": "account unavailable"}`` for anything else: offline, ollama.com down.

``/api/signout`` (``SignoutHandler``) asks ollama.com to forget the key (``DELETE
/api/user/keys/<base64url of the public key>``): 200 ``null``; 401 ``you are not currently
signed in``; 500 ``there was an error signing out`` otherwise, offline included.

``/api/experimental/web_search`` and ``web_fetch`` (``webExperimentalProxyHandler``) pass the
JSON body on to ollama.com's ``/api/web_search`` / ``/api/web_fetch``, signed (``POST,
/api/web_search?ts=...``), and answer with ollama.com's status and body. The client's own
``Authorization`` is never passed on. An empty body is 400 ``missing request body``;
``OLLAMA_NO_CLOUD`` makes them 403 ``ollama cloud is disabled: web search is unavailable``
(``web fetch``); no usable key is 401 ``unauthorized`` with the ``signin_url``; ollama.com
out of reach is 502 with the reason.

Differences, and why: the key is created on first need (:mod:`.keys`) by ``/api/me``, and
``/api/signout`` without a key answers 401 at once (no key, so no account can know it; Ollama,
which always has one, would ask ollama.com). ``OLLAMA_CLOUD_BASE_URL`` (Ollama's cloud
override, loopback addresses only, as in Ollama's release builds) also moves these calls,
which Ollama always sends to ollama.com; ``OLLAMAKIT_OFFLINE`` refuses ollama.com as it refuses
registries. The web proxies pass on only the body and its ``Content-Type`` (Ollama copies the
client's headers, cookies included) and answer with the body read whole (at most 64 MiB)
instead of streamed; ``OLLAMA_NO_CLOUD`` is read from the environment only, not from
``~/.ollama/server.json``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .._version import __version__
from .settings import DEFAULT_CLOUD_URL, cloud_base_url
from .wire import json_bytes

if TYPE_CHECKING:
    from .._signing import OllamaKey

# httpx, cryptography and the key module are imported by the calls that need them, so a
# server that never signs in does not load them.

__all__ = ["DEFAULT_CLOUD_URL", "account_routes", "cloud_base_url"]

log = logging.getLogger("ollamakit.server")

_TIMEOUT_SECONDS = 30.0
_MAX_ANSWER = 64 << 20
_USER_FIELDS = ("bio", "avatarurl", "firstname", "lastname", "plan")
_NO_ID = "00000000-0000-0000-0000-000000000000"  # Go's zero uuid.UUID


class _Unauthorized(Exception):
    """ollama.com answered 401 (Go's ``api.AuthorizationError``)."""

    def __init__(self, signin_url: str) -> None:
        super().__init__("unauthorized")
        self.signin_url = signin_url


def account_routes(cloud_url: str, *, no_cloud: bool = False) -> list[Route]:
    async def me(request: Request) -> Response:
        return _json(*await whoami(cloud_url))

    async def signout(request: Request) -> Response:
        return _json(*await sign_out(cloud_url))

    def web(path: str, operation: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            body = await request.body()
            if not body.strip():
                return _json(400, {"error": "missing request body"})
            if no_cloud:
                return _json(403, {"error": f"ollama cloud is disabled: {operation}"})
            return await web_proxy(cloud_url, path, body, request.headers.get("content-type"))

        return endpoint

    return [
        Route("/api/me", me, methods=["POST"]),
        Route("/api/signout", signout, methods=["POST"]),
        Route("/api/user/keys/{key}", signout, methods=["DELETE"]),
        Route(
            "/api/experimental/web_search",
            web("/api/web_search", "web search is unavailable"),
            methods=["POST"],
        ),
        Route(
            "/api/experimental/web_fetch",
            web("/api/web_fetch", "web fetch is unavailable"),
            methods=["POST"],
        ),
    ]


def _json(status: int, body: Any) -> Response:
    return Response(json_bytes(body), status_code=status, media_type="application/json")


async def whoami(cloud_url: str) -> tuple[int, Any]:
    from .keys import load_or_create_key

    try:
        key = await asyncio.to_thread(load_or_create_key)
    except Exception as exc:  # Ollama's client fails to sign: not an authorization error
        log.error("account unavailable: %s", exc)
        return 503, {"error": "account unavailable"}
    try:
        data = await _signed(cloud_url, key, "POST", "/api/me")
    except _Unauthorized as exc:
        return 401, {"error": "unauthorized", "signin_url": exc.signin_url or _signin_url(key)}
    except Exception as exc:
        log.error("account unavailable: %s", exc)
        return 503, {"error": "account unavailable"}
    user = data if isinstance(data, dict) else {}
    if not isinstance(user.get("name"), str) or not user["name"]:
        return 401, {"error": "unauthorized", "signin_url": _signin_url(key)}
    answer: dict[str, Any] = {
        "id": user.get("id") or _NO_ID,
        "email": user.get("email") or "",
        "name": user["name"],
    }
    for field in _USER_FIELDS:
        if user.get(field):
            answer[field] = user[field]
    if not str(answer.get("plan", "")).strip():
        log.warning("account plan was not set; defaulting to free")
        answer["plan"] = "free"
    return 200, answer


async def sign_out(cloud_url: str) -> tuple[int, Any]:
    from .._signing import encode_public_key
    from .keys import KeyFileError, load_key

    try:
        key = await asyncio.to_thread(load_key)
    except KeyFileError as exc:
        log.error("couldn't get public key: %s", exc)
        return 500, {"error": "there was an error signing out"}
    if key is None:
        return 401, {"error": "you are not currently signed in"}
    encoded = encode_public_key(key.public_key)
    try:
        await _signed(cloud_url, key, "DELETE", f"/api/user/keys/{encoded}")
    except _Unauthorized:
        return 401, {"error": "you are not currently signed in"}
    except Exception as exc:
        log.error("there was an error signing out: %s", exc)
        return 500, {"error": "there was an error signing out"}
    return 200, None


async def web_proxy(cloud_url: str, path: str, body: bytes, content_type: str | None) -> Response:
    from .keys import load_or_create_key

    try:
        key = await asyncio.to_thread(load_or_create_key)
    except Exception as exc:  # Ollama's writeCloudUnauthorized
        log.warning("cloud proxy signing failed: %s", exc)
        return _json(401, {"error": "unauthorized"})
    try:
        status, answer_type, answer = await _send_signed(
            cloud_url, key, "POST", path, body, content_type or "application/json"
        )
    except Exception as exc:
        return _json(502, {"error": str(exc) or type(exc).__name__})
    return Response(answer, status_code=status, media_type=answer_type or None)


async def _signed(cloud_url: str, key: OllamaKey, method: str, path: str) -> Any:
    """One signed call, answered as Go's ``Client.do`` reads answers; returns the JSON body."""
    status, _, body = await _send_signed(cloud_url, key, method, path)
    if status == 401:
        raise _Unauthorized(_field(body, "signin_url"))
    if status >= 400:
        # The status only: an error body may quote the signature, which must not reach a log.
        raise RuntimeError(f"{cloud_url} answered {status}")
    return msgspec.json.decode(body) if body.strip() else None


async def _send_signed(
    cloud_url: str,
    key: OllamaKey,
    method: str,
    path: str,
    body: bytes | None = None,
    content_type: str = "application/json",
) -> tuple[int, str, bytes]:
    """``METHOD cloud_url+path?ts=...`` signed over ``METHOD,path?ts=...``; returns the status,
    the content type and the body (read whole, at most ``_MAX_ANSWER`` bytes)."""
    import httpx

    from .._signing import api_challenge
    from .registry import offline_refuses

    host = urlsplit(cloud_url).hostname or ""
    if offline_refuses(host):
        raise ConnectionError(f"OLLAMAKIT_OFFLINE is set and {host} is not this machine")
    now = int(time.time())
    headers = {
        "Authorization": key.sign(api_challenge(method, path, now)),
        "Content-Type": content_type,
        "Accept": "application/x-ndjson",
        "User-Agent": f"ollamakit/{__version__}",
    }
    timeout = httpx.Timeout(_TIMEOUT_SECONDS, connect=10.0)
    async with (
        httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client,
        client.stream(
            method, f"{cloud_url}{path}", params={"ts": str(now)}, headers=headers, content=body
        ) as response,
    ):
        chunks = bytearray()
        async for chunk in response.aiter_bytes():
            chunks += chunk
            if len(chunks) > _MAX_ANSWER:
                raise RuntimeError(f"{cloud_url} answered more than {_MAX_ANSWER} bytes")
        return response.status_code, response.headers.get("content-type", ""), bytes(chunks)


def _field(body: bytes, name: str) -> str:
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return ""
    value = data.get(name) if isinstance(data, dict) else None
    return value if isinstance(value, str) else ""


def _signin_url(key: OllamaKey) -> str:
    from .._signing import connect_url

    return connect_url(key.public_key, socket.gethostname())
