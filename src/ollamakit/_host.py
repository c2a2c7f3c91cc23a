"""Where to find the server: ``OLLAMA_HOST`` parsing (the value itself comes from ``_env``).

Pure functions, no I/O: the table of accepted forms lives in ``tests/test_host.py``.
"""

from __future__ import annotations

import ipaddress
from typing import NamedTuple
from urllib.parse import unquote

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "HostConfig",
    "parse_host",
]

DEFAULT_PORT = 11434
DEFAULT_HOST = f"http://127.0.0.1:{DEFAULT_PORT}"
_SCHEME_PORTS = {"http": 80, "https": 443}
_UNSPECIFIED_TO_LOOPBACK = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


class HostConfig(NamedTuple):
    """A parsed server address: ``base_url`` never carries credentials; ``auth`` holds them."""

    base_url: str
    auth: tuple[str, str] | None = None

    def __repr__(self) -> str:
        # The password must never reach a log or a traceback.
        auth = "None" if self.auth is None else f"({self.auth[0]!r}, '***')"
        return f"HostConfig(base_url={self.base_url!r}, auth={auth})"

    @property
    def is_loopback(self) -> bool:
        host = self.base_url.split("://", 1)[1].split("/", 1)[0]
        if host.startswith("["):
            host = host[1 : host.index("]")]
        else:
            host = host.rsplit(":", 1)[0]
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


def _strip_quotes(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1].strip()
    return value


def _split_host_port(hostport: str) -> tuple[str, str | None]:
    """Split ``host[:port]``, accepting ``[v6]:port`` and bare IPv6 (``::1``: no port)."""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            return hostport, None
        host, rest = hostport[1:end], hostport[end + 1 :]
        return host, rest[1:] if rest.startswith(":") else None
    if hostport.count(":") > 1:
        return hostport, None
    host, sep, port = hostport.partition(":")
    return host, port if sep else None


def parse_host(value: str | None) -> HostConfig:
    """Turn an ``OLLAMA_HOST``-style value into a base URL a client can connect to.

    >>> parse_host(None).base_url
    'http://127.0.0.1:11434'
    >>> parse_host("0.0.0.0").base_url
    'http://127.0.0.1:11434'
    >>> parse_host("https://user:pw@example.com/ollama/")
    HostConfig(base_url='https://example.com:443/ollama', auth=('user', '***'))
    """
    text = _strip_quotes(value or "")
    if not text:
        return HostConfig(DEFAULT_HOST)

    scheme, sep, rest = text.partition("://")
    if sep:
        scheme = scheme.lower()
        default_port = _SCHEME_PORTS.get(scheme, DEFAULT_PORT)
    else:
        scheme, rest = "http", text
        default_port = DEFAULT_PORT

    hostport, slash, path = rest.partition("/")
    path = path.strip("/") if slash else ""

    auth: tuple[str, str] | None = None
    if "@" in hostport:
        userinfo, _, hostport = hostport.rpartition("@")
        user, _, password = userinfo.partition(":")
        auth = (unquote(user), unquote(password))

    host, port_text = _split_host_port(hostport)
    if not sep and host.lower() == "ollama.com" and port_text is None:
        scheme, default_port = "https", 443
    host = _UNSPECIFIED_TO_LOOPBACK.get(host, host)

    port = default_port
    if port_text:
        try:
            candidate = int(port_text)
        except ValueError:
            candidate = -1
        if 0 <= candidate <= 65535:
            port = candidate

    if ":" in host:
        host = f"[{host}]"
    base = f"{scheme}://{host}:{port}"
    if path:
        base = f"{base}/{path}"
    return HostConfig(base, auth)
