"""OLLAMA_HOST parsing: every accepted form, as a table."""

from __future__ import annotations

import pytest

from ollamakit._env import sign_requests
from ollamakit._host import HostConfig, parse_host

CASES = [
    (None, "http://127.0.0.1:11434", None),
    ("", "http://127.0.0.1:11434", None),
    ("  ", "http://127.0.0.1:11434", None),
    ('"example.com:8080"', "http://example.com:8080", None),
    (":11434", "http://127.0.0.1:11434", None),
    (":56789", "http://127.0.0.1:56789", None),
    ("1.2.3.4", "http://1.2.3.4:11434", None),
    ("1.2.3.4:56789", "http://1.2.3.4:56789", None),
    ("example.com", "http://example.com:11434", None),
    ("example.com:56789", "http://example.com:56789", None),
    ("http://example.com", "http://example.com:80", None),
    ("HTTP://example.com", "http://example.com:80", None),
    ("https://example.com", "https://example.com:443", None),
    ("https://example.com:56789", "https://example.com:56789", None),
    ("https://example.com/ollama/", "https://example.com:443/ollama", None),
    ("example.com/path", "http://example.com:11434/path", None),
    ("http://example.com:8080/a/b", "http://example.com:8080/a/b", None),
    ("0.0.0.0", "http://127.0.0.1:11434", None),
    ("0.0.0.0:1234", "http://127.0.0.1:1234", None),
    ("http://0.0.0.0:1234", "http://127.0.0.1:1234", None),
    ("::", "http://[::1]:11434", None),
    ("[::]:5000", "http://[::1]:5000", None),
    ("::1", "http://[::1]:11434", None),
    ("[::1]", "http://[::1]:11434", None),
    ("[::1]:56789", "http://[::1]:56789", None),
    ("http://[::1]:56789", "http://[::1]:56789", None),
    ("https://[2001:db8::1]/x", "https://[2001:db8::1]:443/x", None),
    ("fe80::1", "http://[fe80::1]:11434", None),
    ("ollama.com", "https://ollama.com:443", None),
    ("example.com:99999", "http://example.com:11434", None),
    ("example.com:abc", "http://example.com:11434", None),
    ("http://user:pass@example.com", "http://example.com:80", ("user", "pass")),
    ("https://u%40x:p%3Aw@example.com:8443/o", "https://example.com:8443/o", ("u@x", "p:w")),
    ("user@example.com", "http://example.com:11434", ("user", "")),
]


@pytest.mark.parametrize(("value", "url", "auth"), CASES)
def test_parse_host(value: str | None, url: str, auth: tuple[str, str] | None) -> None:
    assert parse_host(value) == HostConfig(url, auth)


@pytest.mark.parametrize(
    ("value", "loopback"),
    [
        (None, True),
        ("localhost:1", True),
        ("[::1]", True),
        ("example.com", False),
        ("10.0.0.1", False),
    ],
)
def test_is_loopback(value: str | None, loopback: bool) -> None:
    assert parse_host(value).is_loopback is loopback


def test_repr_hides_the_password() -> None:
    config = parse_host("http://user:s3cret@example.com")
    assert config.auth == ("user", "s3cret")
    assert "s3cret" not in repr(config)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, False), ("", False), ("1", True), ("true", True), ("'1'", True), ("0", False),
     ("false", False), ("yes", True)],  # Go's envconfig.Bool: an unparsable value means true
)  # fmt: skip
def test_ollama_auth(monkeypatch: pytest.MonkeyPatch, value: str | None, expected: bool) -> None:
    if value is None:
        monkeypatch.delenv("OLLAMA_AUTH", raising=False)
    else:
        monkeypatch.setenv("OLLAMA_AUTH", value)
    assert sign_requests() is expected
