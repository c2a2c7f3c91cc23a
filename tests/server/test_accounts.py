"""Accounts: ``/api/me`` and ``/api/signout`` on a real server, ``ollamakit signin`` and
``signout``, offline and against a fake ollama.com that checks every signature with
``cryptography`` (``fake_registry.py``). No real network: ``OLLAMA_CLOUD_BASE_URL`` points
the server at the fake on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fake_registry import FakeRegistry
from server_support import ServerProcess
from test_signed_registry import write_key

import ollamakit
from ollamakit import _signing
from ollamakit.server.account import DEFAULT_CLOUD_URL, cloud_base_url

ALICE = {
    "id": "6f1c2a8e-2d7b-4d8e-9c1a-0b5e6f7a8b9c",
    "email": "alice@example.com",
    "name": "alice",
}


def cli(
    url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m ollamakit --host url ...`` without a graphical display (no browser)."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OLLAMA", "DISPLAY", "WAYLAND"))
    }
    return subprocess.run(
        [sys.executable, "-m", "ollamakit", "--host", url, *args],
        capture_output=True,
        text=True,
        env={**environment, **(env or {})},
        timeout=60,
    )


def public_key(server: ServerProcess) -> str:
    return (server.home / ".ollama" / "id_ed25519.pub").read_text().strip()


@pytest.fixture(scope="module")
def shared_cloud() -> Iterator[FakeRegistry]:
    with FakeRegistry() as fake:
        yield fake


@pytest.fixture
def cloud(shared_cloud: FakeRegistry) -> FakeRegistry:
    """The fake ollama.com with no connected key and an empty request log."""
    shared_cloud.reset()
    shared_cloud.accounts.clear()
    return shared_cloud


@pytest.fixture(scope="module")
def online(start_server: Callable[..., ServerProcess], shared_cloud: FakeRegistry) -> ServerProcess:
    return start_server(env={"OLLAMA_CLOUD_BASE_URL": shared_cloud.url})


def test_offline_answers(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server()  # OLLAMAKIT_OFFLINE is set for every test server
    key = server.home / ".ollama" / "id_ed25519"
    signout = httpx.post(server.url + "/api/signout")
    assert (signout.status_code, signout.json()) == (
        401,
        {"error": "you are not currently signed in"},
    )
    assert not key.exists()  # no key is made just to sign out
    me = httpx.post(server.url + "/api/me")
    assert (me.status_code, me.json()) == (503, {"error": "account unavailable"})
    assert key.exists()  # made on first need, as Ollama has one before it asks
    signout = httpx.post(server.url + "/api/signout")
    assert (signout.status_code, signout.json()) == (
        500,
        {"error": "there was an error signing out"},
    )
    deprecated = httpx.delete(server.url + "/api/user/keys/anything")
    assert deprecated.status_code == 500
    result = cli(server.url, "signin")
    assert (result.returncode, result.stderr) == (1, "Error: account unavailable\n")
    result = cli(server.url, "signout")
    assert (result.returncode, result.stderr) == (1, "Error: there was an error signing out\n")


def test_signin_shows_the_connect_url(online: ServerProcess, cloud: FakeRegistry) -> None:
    me = httpx.post(online.url + "/api/me")
    assert me.status_code == 401
    public = public_key(online)
    name = socket.gethostname()
    key = base64.urlsafe_b64encode(public.encode()).rstrip(b"=").decode()
    url = f"https://ollama.com/connect?name={name}&key={key}"
    assert me.json() == {"error": "unauthorized", "signin_url": url}
    result = cli(online.url, "signin")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "You need to be signed in to Ollama to run Cloud models.\n\n"
        f"If your browser did not open, navigate to:\n    {url}\n\n"
    )
    with (
        ollamakit.Client(online.url) as client,
        pytest.raises(ollamakit.AuthenticationError) as caught,
    ):
        client.whoami()
    assert caught.value.signin_url == url
    # The push of a model to ollama.com stops before anything is sent.
    result = cli(online.url, "push", "alice/mine")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("You need to be signed in to push models to ollama.com.\n\n")
    assert url in result.stdout
    assert not any(seen.path.startswith("/v2/") for seen in cloud.seen)


def test_signed_in_then_signed_out(online: ServerProcess, cloud: FakeRegistry) -> None:
    assert httpx.post(online.url + "/api/me").status_code == 401  # makes the key
    public = public_key(online)
    cloud.accounts[public.split()[1]] = dict(ALICE)
    with ollamakit.Client(online.url) as client:
        user = client.whoami()
    assert (user.id, user.email, user.name, user.plan) == (
        ALICE["id"],
        ALICE["email"],
        "alice",
        "free",  # ollama.com sent no plan
    )
    assert httpx.post(online.url + "/api/me").json() == {**ALICE, "plan": "free"}
    result = cli(online.url, "signin")
    assert result.stdout == "You are already signed in as user 'alice'\n\n"

    # Every call was signed with the server's key over METHOD,PATH?ts= (checked by the fake).
    calls = [seen for seen in cloud.seen if seen.path == "/api/me"]
    assert calls and all(seen.headers["authorization"].startswith(public.split()[1] + ":")
                         for seen in calls)  # fmt: skip
    assert all(seen.query["ts"][0].isdigit() for seen in calls)

    result = cli(online.url, "signout")
    assert (result.returncode, result.stdout) == (0, "You have signed out of ollama.com\n\n")
    assert cloud.accounts == {}
    [delete] = [seen for seen in cloud.seen if seen.method == "DELETE"]
    assert delete.path == "/api/user/keys/" + _signing.encode_public_key(public)
    result = cli(online.url, "logout")  # Ollama's hidden alias
    assert (result.returncode, result.stdout) == (0, "You are not signed in to ollama.com\n\n")


def test_web_proxies_are_signed(online: ServerProcess, cloud: FakeRegistry) -> None:
    assert httpx.post(online.url + "/api/me").status_code == 401  # makes the key
    public = public_key(online)
    cloud.accounts[public.split()[1]] = dict(ALICE)
    body = b'{"query": "ollama", "max_results": 2}'
    answer = httpx.post(
        online.url + "/api/experimental/web_search",
        content=body,
        headers={"Authorization": "Bearer the-clients-own-key"},
    )
    assert answer.status_code == 200
    assert answer.json() == {
        "results": [{"title": "echo", "url": "/api/web_search", "content": body.decode()}]
    }
    fetch = httpx.post(online.url + "/api/experimental/web_fetch", json={"url": "https://x"})
    assert fetch.json()["results"][0]["url"] == "/api/web_fetch"
    [search, fetched] = [seen for seen in cloud.seen if seen.path.startswith("/api/web_")]
    assert (search.body, fetched.body) == (body, b'{"url":"https://x"}')
    assert search.headers["authorization"].startswith(public.split()[1] + ":")  # not the client's
    assert "the-clients-own-key" not in str(search.headers)
    empty = httpx.post(online.url + "/api/experimental/web_search", content=b" ")
    assert (empty.status_code, empty.json()) == (400, {"error": "missing request body"})
    cloud.accounts.clear()
    refused = httpx.post(online.url + "/api/experimental/web_fetch", json={"url": "https://x"})
    assert (refused.status_code, refused.json()) == (401, {"error": "unauthorized"})


def test_web_proxies_offline_and_disabled(start_server: Callable[..., ServerProcess]) -> None:
    offline = start_server()
    answer = httpx.post(offline.url + "/api/experimental/web_search", json={"query": "q"})
    assert answer.status_code == 502
    assert "OLLAMAKIT_OFFLINE" in answer.json()["error"]
    disabled = start_server(env={"OLLAMA_NO_CLOUD": "1"})
    for kind in ("search", "fetch"):
        answer = httpx.post(disabled.url + f"/api/experimental/web_{kind}", json={"query": "q"})
        assert (answer.status_code, answer.json()) == (
            403,
            {"error": f"ollama cloud is disabled: web {kind} is unavailable"},
        )


def test_account_service_down(online: ServerProcess, cloud: FakeRegistry) -> None:
    cloud.account_down = True
    me = httpx.post(online.url + "/api/me")
    assert (me.status_code, me.json()) == (503, {"error": "account unavailable"})
    signout = httpx.post(online.url + "/api/signout")
    assert (signout.status_code, signout.json()) == (
        500,
        {"error": "there was an error signing out"},
    )


def test_forged_signature_is_refused(cloud: FakeRegistry) -> None:
    mine, other = _signing.OllamaKey.generate(), _signing.OllamaKey.generate()
    cloud.accounts[mine.public_key.split()[1]] = dict(ALICE)
    path = "/api/me"
    stamp = 1_700_000_000

    def call(authorization: str, ts: int) -> httpx.Response:
        return httpx.post(
            f"{cloud.url}{path}", params={"ts": str(ts)}, headers={"Authorization": authorization}
        )

    now = int(time.time())
    good = mine.sign(_signing.api_challenge("POST", path, now))
    assert call(good, now).json()["name"] == "alice"
    forged = mine.public_key.split()[1] + ":" + other.sign(b"x").split(":")[1]
    assert call(forged, now).status_code == 401
    stale = mine.sign(_signing.api_challenge("POST", path, stamp))
    assert call(stale, stamp).status_code == 401


def test_cloud_base_url_is_loopback_only() -> None:
    assert cloud_base_url("") == DEFAULT_CLOUD_URL
    assert cloud_base_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert cloud_base_url("http://localhost:9/") == "http://localhost:9"
    for refused in (
        "https://evil.example",
        "http://127.0.0.1:8080/path",
        "http://user:pw@127.0.0.1:8080",
        "ftp://127.0.0.1",
        "http://127.0.0.1?x=1",
    ):
        assert cloud_base_url(refused) == DEFAULT_CLOUD_URL


def test_signing_primitives() -> None:
    key = _signing.OllamaKey.generate()
    again = _signing.OllamaKey.from_openssh(key.to_openssh())
    assert again.public_key == key.public_key
    assert key.public_key.startswith("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA")
    assert "PRIVATE" not in repr(key) and key.public_key in repr(key)
    assert _signing.api_challenge("DELETE", "/api/user/keys/abc", 42) == (
        b"DELETE,/api/user/keys/abc?ts=42"
    )
    # base64 of the hex sha256 of nothing, as Go's server/auth.go computes it
    assert _signing.token_challenge("https://r/token?a=b") == (
        b"GET,https://r/token?a=b,ZTNiMGM0NDI5OGZjMWMxNDlhZmJmNGM4OTk2ZmI5MjQyN2FlNDFlNDY0OWI5"
        b"MzRjYTQ5NTk5MWI3ODUyYjg1NQ=="
    )
    assert _signing.connect_url("ssh-ed25519 AAAA", "my host/x") == (
        "https://ollama.com/connect?name=my%20host%2Fx&key=c3NoLWVkMjU1MTkgQUFBQQ"
    )
    with pytest.raises(_signing.KeyFormatError):
        _signing.OllamaKey.from_openssh(b"-----BEGIN OPENSSH PRIVATE KEY-----\nxx\n")


def test_clients_sign_like_ollamas_go_client(
    cloud: FakeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``OLLAMA_AUTH`` (or ollama.com as the host) and no API key, the client signs each
    request with ~/.ollama/id_ed25519, as ``api/client.go`` does; the CLI then talks to
    ollama.com itself."""
    home = tmp_path / "home"
    public = write_key(home)
    cloud.accounts[public.split()[1]] = dict(ALICE)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    monkeypatch.delenv("OLLAMA_AUTH", raising=False)
    with ollamakit.Client(cloud.url) as client, pytest.raises(ollamakit.AuthenticationError):
        client.whoami()  # unsigned: no flag, not ollama.com
    monkeypatch.setenv("OLLAMA_AUTH", "1")
    with ollamakit.Client(cloud.url) as client:
        assert client.whoami().name == "alice"

    async def whoami() -> str:
        async with ollamakit.AsyncClient(cloud.url) as client:
            return (await client.whoami()).name

    assert asyncio.run(whoami()) == "alice"
    explicit = ollamakit.Client(cloud.url, headers={"Authorization": "Bearer k"})
    with explicit, pytest.raises(ollamakit.AuthenticationError):
        explicit.whoami()  # an explicit credential wins over the key
    result = cli(cloud.url, "signin", env={"HOME": str(home), "OLLAMA_AUTH": "1"})
    assert result.stdout == "You are already signed in as user 'alice'\n\n", result.stderr
    mine = public.split()[1] + ":"
    signed = [seen for seen in cloud.seen if seen.headers.get("authorization", "").startswith(mine)]
    assert [seen.path for seen in signed] == ["/api/me"] * 3  # sync, async, the CLI

    # A service quoting the credential in an error: the signature is blanked out of it.
    cloud.account_down = True
    with ollamakit.Client(cloud.url) as client, pytest.raises(ollamakit.ResponseError) as caught:
        client.whoami()
    signature = cloud.seen[-1].headers["authorization"].split(":", 1)[1]
    assert signature not in repr(caught.value.__dict__) + str(caught.value)
    assert "[secret]" in caught.value.error
