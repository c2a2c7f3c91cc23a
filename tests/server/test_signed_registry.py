"""Ollama keys and signed registry requests: a private model pushed and pulled end to end.

The fake registry (``fake_registry.py``) keeps accounts as ollama.com does: namespace owners
by public key, private repositories, and token requests whose ed25519 signatures it checks
with ``cryptography`` (never with ollamakit's own code). Each server has a home directory of
its own, so the key it reads or creates is the test's.
"""

from __future__ import annotations

import random
import shutil
import stat
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fake_registry import FakeRegistry
from server_support import ServerProcess
from test_registry import MODEL, collapse, collect, run_pull

import ollamakit
from ollamakit import _signing
from ollamakit.server import keys
from ollamakit.server.store import Store


def write_key(home: Path) -> str:
    """An ed25519 key in OpenSSH format in ``home/.ollama``, as ``ssh-keygen`` or Ollama would
    leave it; returns the public key line."""
    private = Ed25519PrivateKey.generate()
    folder = home / ".ollama"
    folder.mkdir(parents=True, exist_ok=True)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    (folder / "id_ed25519").write_bytes(pem)
    (folder / "id_ed25519").chmod(0o600)
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return public.decode()


@pytest.fixture
def alice(start_server: Callable[..., ServerProcess], tmp_path: Path) -> tuple[ServerProcess, str]:
    """A server whose home holds alice's key."""
    home = tmp_path / "alice"
    public = write_key(home)
    return start_server(env={"HOME": str(home)}), public


def publish_secret(fake: FakeRegistry) -> str:
    data = random.Random(7).randbytes(50_000)
    fake.publish("alice/secret", "latest", [(MODEL, data)], {"model_format": "gguf"})
    return f"{fake.host}/alice/secret:latest"


def test_private_model_push_and_pull(
    alice: tuple[ServerProcess, str], start_server: Callable[..., ServerProcess]
) -> None:
    server, public = alice
    with FakeRegistry(auth=True, owners={"alice": {public}}, private={"alice/secret"}) as fake:
        secret = publish_secret(fake)
        with ollamakit.Client(server.url) as client:
            items = list(client.pull(secret, insecure=True, stream=True))
            assert items[-1].status == "success"
            # A new private model, made here and pushed to alice's namespace.
            mine = f"{fake.host}/alice/mine:v1"
            client.create(mine, from_=secret, system="Only for alice.")
            pushed = list(client.push(mine, insecure=True, stream=True))
            assert pushed[-1].status == "success"
        assert ("alice/mine", "v1") in fake.manifests
        # Every token went to alice's key, verified by the fake.
        assert set(fake.tokens.values()) == {public.split()[1]}

        # Another machine (its own key, created on first need) is refused both ways.
        other = start_server()
        with ollamakit.Client(other.url) as client:
            items, error = collect(client.pull(secret, insecure=True, stream=True))
            assert isinstance(error, ollamakit.ResponseError)
            assert error.error == "pull model manifest: unauthorized: access denied"
            assert [item.status for item in items] == ["pulling manifest"]
            public_model = f"{fake.host}/library/open:latest"
            fake.publish("library/open", "latest", [(MODEL, b"open weights")], {})
            assert client.pull(public_model, insecure=True).status == "success"
            client.copy(public_model, f"{fake.host}/alice/stolen:latest")
            items, error = collect(
                client.push(f"{fake.host}/alice/stolen:latest", insecure=True, stream=True)
            )
            assert isinstance(error, ollamakit.ResponseError)
            assert "unauthorized" in error.error
        assert ("alice/stolen", "latest") not in fake.manifests
        other_key = (other.home / ".ollama" / "id_ed25519.pub").read_text().split()[1]
        assert other_key != public.split()[1]
        assert other_key in set(fake.tokens.values())


def test_key_created_on_first_need(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server()
    folder = server.home / ".ollama"
    assert not folder.exists()  # starting the server does not make one
    with FakeRegistry(auth=True) as fake:
        fake.publish("library/any", "latest", [(MODEL, b"weights")], {})
        with ollamakit.Client(server.url) as client:
            assert client.pull(f"{fake.host}/library/any", insecure=True).status == "success"
    key_file = folder / "id_ed25519"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    pem = key_file.read_bytes()
    assert pem.startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----\n")
    private = serialization.load_ssh_private_key(pem, password=None)
    assert isinstance(private, Ed25519PrivateKey)
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert (folder / "id_ed25519.pub").read_bytes() == public + b"\n"
    if shutil.which("ssh-keygen"):  # OpenSSH itself reads the file
        derived = subprocess.run(
            ["ssh-keygen", "-y", "-f", str(key_file)], capture_output=True, check=True
        )
        assert derived.stdout.split()[:2] == public.split()
    # The public key is logged for the user; the private key never is.
    log = server.log_text()
    assert public.decode() in log
    body = b"".join(pem.splitlines()[1:-1]).decode()
    assert body[:40] not in log.replace("\n", "")


def test_bad_signature_gets_the_registry_401(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    genuine = _signing.OllamaKey.sign

    def forged(self: _signing.OllamaKey, data: bytes) -> str:
        """This key's name with another key's signature."""
        other = genuine(_signing.OllamaKey.generate(), data)
        return self.public_key.split()[1] + ":" + other.split(":")[1]

    monkeypatch.setattr(_signing.OllamaKey, "sign", forged)
    with FakeRegistry(auth=True) as fake:
        fake.publish("library/any", "latest", [(MODEL, b"weights")], {})
        with pytest.raises(Exception, match="pull model manifest: 401: ") as caught:
            run_pull(store, f"{fake.host}/library/any")
        assert '"code": "UNAUTHORIZED"' in str(caught.value)
        assert fake.tokens == {}


def test_existing_key_is_used(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    public = write_key(tmp_path / "home")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with FakeRegistry(auth=True, owners={"alice": {public}}, private={"alice/secret"}) as fake:
        secret = publish_secret(fake)
        items: list[dict[str, object]] = []
        run_pull(store, secret, items)
        assert collapse([str(item["status"]) for item in items])[-1] == "success"
        assert list(fake.tokens.values()) == [public.split()[1]]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "models")


def test_concurrent_first_needs_make_one_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with ThreadPoolExecutor(8) as pool:
        made = set(pool.map(lambda _: keys.load_or_create_key().public_key, range(8)))
    stored = (tmp_path / ".ollama" / "id_ed25519.pub").read_text().strip()
    assert made == {stored}
    # Another process winning the race between our check and our write: its key is kept.
    assert keys._create(keys.key_path()).public_key == stored
    assert sorted(path.name for path in (tmp_path / ".ollama").iterdir()) == [
        "id_ed25519",
        "id_ed25519.pub",
    ]
    assert (tmp_path / ".ollama" / "id_ed25519.pub").read_text().strip() == stored


def test_unreadable_key_fails_the_pull(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".ollama").mkdir()
    (tmp_path / ".ollama" / "id_ed25519").write_text("not a key\n")
    with FakeRegistry(auth=True) as fake:
        fake.publish("library/any", "latest", [(MODEL, b"weights")], {})
        with pytest.raises(Exception, match="pull model manifest: ssh: ") as caught:
            run_pull(store, f"{fake.host}/library/any")
        assert "not a key" not in str(caught.value)
        assert fake.requests("registry", "GET", "/token") == []
