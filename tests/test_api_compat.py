"""The public surface is a superset of the official ``ollama`` package's, name for name."""

from __future__ import annotations

import inspect
import sys
import typing
from pathlib import Path
from typing import Any

import ollama
import pytest

import ollamakit

OFFICIAL_METHODS = [
    "generate", "chat", "embed", "embeddings", "pull", "push", "create", "create_blob",
    "list", "delete", "copy", "show", "ps", "web_search", "web_fetch", "systemone",
]  # fmt: skip


def _params(function: Any) -> list[inspect.Parameter]:
    return [p for p in inspect.signature(function).parameters.values() if p.name != "self"]


def test_every_official_export_exists() -> None:
    missing = [name for name in ollama.__all__ if not hasattr(ollamakit, name)]
    assert missing == []


@pytest.mark.parametrize("name", OFFICIAL_METHODS)
@pytest.mark.parametrize("pair", [(ollama.Client, ollamakit.Client),
                                  (ollama.AsyncClient, ollamakit.AsyncClient)])  # fmt: skip
def test_official_parameters_are_a_prefix_with_the_same_defaults(
    name: str, pair: tuple[type[Any], type[Any]]
) -> None:
    official_cls, ours_cls = pair
    official = _params(getattr(official_cls, name))
    ours = _params(getattr(ours_cls, name))
    assert [(p.name, p.kind, p.default) for p in ours[: len(official)]] == [
        (p.name, p.kind, p.default) for p in official
    ]
    for extra in ours[len(official) :]:
        assert extra.kind is inspect.Parameter.KEYWORD_ONLY, (
            f"{name}({extra.name}) must be keyword-only"
        )


@pytest.mark.parametrize("name", [n for n in dir(ollamakit.Client) if not n.startswith("_")])
def test_sync_and_async_signatures_match(name: str) -> None:
    sync = getattr(ollamakit.Client, name)
    if not callable(sync):
        return
    assert _params(sync) == _params(getattr(ollamakit.AsyncClient, name))


def test_module_level_functions_exist_and_are_lazy() -> None:
    for name in ["generate", "chat", "embed", "embeddings", "pull", "push", "create", "delete",
                 "list", "copy", "show", "ps", "web_search", "web_fetch", "version",
                 "systemone", "create_blob", "preload", "unload", "exists"]:  # fmt: skip
        function = getattr(ollamakit, name)
        assert callable(function)
        assert _params(function) == _params(getattr(ollamakit.Client, name))


def test_constructor_accepts_the_official_keywords() -> None:
    client = ollamakit.Client("http://127.0.0.1:9", timeout=3, headers={"x": "y"},
                              follow_redirects=False, verify=False)  # fmt: skip
    assert client.base_url == "http://127.0.0.1:9"
    client.close()


def test_import_does_not_create_a_client_or_load_httpx() -> None:
    import subprocess
    import sys

    code = (
        "import sys, ollamakit; "
        "assert ollamakit._default_client is None; "
        "assert 'httpx' not in sys.modules and 'aiohttp' not in sys.modules; print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "ok", result.stderr


def _overload_shapes(function: Any) -> list[tuple[Any, ...]]:
    shapes = []
    for overload in typing.get_overloads(function):
        signature = inspect.signature(overload)
        returns = str(signature.return_annotation).replace("AsyncStream", "Stream")
        shapes.append((str(signature.replace(return_annotation=inspect.Signature.empty)), returns))
    return shapes


@pytest.mark.skipif(sys.version_info < (3, 11), reason="typing.get_overloads is new in 3.11")
@pytest.mark.parametrize("name", [n for n in dir(ollamakit.Client) if not n.startswith("_")])
def test_sync_and_async_overloads_match(name: str) -> None:
    sync = getattr(ollamakit.Client, name)
    if not callable(sync):
        return
    shapes = _overload_shapes(sync)
    assert shapes == _overload_shapes(getattr(ollamakit.AsyncClient, name))
    if name in ("generate", "chat", "pull", "push", "create"):
        assert len(shapes) == 3  # stream=False, stream=True, stream: bool


def test_the_sync_client_is_generated_from_the_async_one() -> None:
    import subprocess

    root = Path(__file__).parent.parent
    result = subprocess.run(
        [sys.executable, str(root / "ci" / "unasync.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
