"""The Host and Origin guard through both clients: a DNS-rebinding page cannot reach it."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import ollama
import pytest
from server_support import ServerProcess

import ollamakit
from ollamakit.server import parse_bind


def test_binds_loopback_by_default() -> None:
    assert parse_bind(None) == ("127.0.0.1", 11434)


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example.com"},
        {"Host": "attacker.test:11434"},
        {"Origin": "https://evil.example"},
    ],
)
def test_foreign_host_or_origin_is_refused(
    embedded: ServerProcess, headers: dict[str, str]
) -> None:
    with ollamakit.Client(embedded.url, headers=headers) as ours:
        with pytest.raises(ollamakit.PermissionDeniedError) as info:
            ours.list()
        assert info.value.status_code == 403
    with (
        ollama.Client(host=embedded.url, headers=headers) as official,
        pytest.raises(ollama.ResponseError) as refused,
    ):
        official.list()
    assert refused.value.status_code == 403


@pytest.mark.parametrize(
    "headers",
    [{"Host": "localhost:11434"}, {"Host": "my-box.local"}, {"Host": "10.1.2.3"},
     {"Origin": "http://127.0.0.1:8080"}, {"Origin": "vscode-webview://abc"}],
)  # fmt: skip
def test_local_names_and_origins_are_allowed(
    embedded: ServerProcess, headers: dict[str, str]
) -> None:
    with ollamakit.Client(embedded.url, headers=headers) as ours:
        assert isinstance(ours.list().models, list)
    with ollama.Client(host=embedded.url, headers=headers) as official:
        assert isinstance(official.list().models, list)


def test_ollama_origins_adds_allowed_origins(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server(env={"OLLAMA_ORIGINS": "https://app.example"})
    allowed = httpx.get(server.url + "/api/version", headers={"Origin": "https://app.example"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    other = httpx.get(server.url + "/api/version", headers={"Origin": "https://other.example"})
    assert other.status_code == 403
