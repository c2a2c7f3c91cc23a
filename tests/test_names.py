"""Model name grammar (shared by client, CLI and server)."""

from __future__ import annotations

import pytest

from ollamakit import RequestError
from ollamakit.names import ModelName, check_model_name, split_source_suffix


@pytest.mark.parametrize(
    ("text", "full", "short"),
    [
        ("llama3.2", "registry.ollama.ai/library/llama3.2:latest", "llama3.2:latest"),
        ("llama3.2:1b", "registry.ollama.ai/library/llama3.2:1b", "llama3.2:1b"),
        ("user/m:tag", "registry.ollama.ai/user/m:tag", "user/m:tag"),
        ("example.com/ns/m", "example.com/ns/m:latest", "example.com/ns/m:latest"),
        ("localhost:5000/ns/m:t", "localhost:5000/ns/m:t", "localhost:5000/ns/m:t"),
        ("https://example.com/ns/m", "example.com/ns/m:latest", "example.com/ns/m:latest"),
        ("REGISTRY.ollama.ai/LIBRARY/M:T", "REGISTRY.ollama.ai/LIBRARY/M:T", "M:T"),
    ],
)
def test_parse_fills_defaults(text: str, full: str, short: str) -> None:
    name = ModelName.parse(text)
    assert name.is_valid
    assert str(name) == full
    assert name.display_shortest() == short


@pytest.mark.parametrize(
    "text",
    [
        "model:",
        ":tag",
        "/model",
        "example.com/model",  # a namespace may not contain a dot
        "a/b/c/d/e",
        "model@sha256:abc",
        "-model",
        ".hidden",
        "../../etc/passwd",
        "/etc/passwd",
        "m" * 81,
        "ns/" + "m" * 80 + ":" + "t" * 81,
        "model name",
        "mödel",
        "m:t:u",
    ],
)
def test_invalid_names(text: str) -> None:
    assert not ModelName.parse(text).is_valid
    with pytest.raises(RequestError):
        check_model_name(text)


def test_empty_name_is_a_request_error() -> None:
    with pytest.raises(RequestError, match="model is required"):
        check_model_name("")


def test_cloud_and_local_suffixes() -> None:
    assert split_source_suffix("gpt-oss:20b:cloud") == ("gpt-oss:20b", "cloud")
    assert split_source_suffix("gpt-oss:cloud") == ("gpt-oss:cloud", None)
    assert check_model_name("gpt-oss:20b:cloud").tag == "20b"
    assert check_model_name("gpt-oss:20b-cloud").tag == "20b-cloud"
    with pytest.raises(RequestError, match="not both"):
        check_model_name("gpt-oss:20b:local:cloud")


def test_case_insensitive_key() -> None:
    assert ModelName.parse("Llama3:Latest").key() == ModelName.parse("llama3").key()
