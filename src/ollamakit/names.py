"""Ollama model names: ``[scheme://][host/][namespace/]model[:tag]``.

One grammar for the client (checks before sending), the CLI and the embedded server (store
paths), following Ollama's own parser: the name is read right to left, missing parts take the
defaults ``registry.ollama.ai`` / ``library`` / ``latest``, and a name is valid only when every
part obeys its character and length rules.

>>> name = ModelName.parse("llama3.2")
>>> str(name)
'registry.ollama.ai/library/llama3.2:latest'
>>> name.display_shortest()
'llama3.2:latest'
>>> ModelName.parse("example.com/model").is_valid   # a namespace may not contain a dot
False
"""

from __future__ import annotations

from typing import NamedTuple

from ._errors import RequestError

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_NAMESPACE",
    "DEFAULT_TAG",
    "ModelName",
    "check_model_name",
    "split_source_suffix",
]

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"
MISSING = "!MISSING!"
"""Stands for an empty side of a separator (``model:``, ``/model``); never valid."""

_MAX_LENGTH = {"host": 350, "namespace": 80, "model": 80, "tag": 80}
_SOURCE_SUFFIXES = (":cloud", ":local")


def _cut_last(text: str, sep: str) -> tuple[str, str, bool]:
    index = text.rfind(sep)
    if index < 0:
        return text, "", False
    before, after = text[:index], text[index + len(sep) :]
    return before or MISSING, after or MISSING, True


def _is_word_char(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char == "_")


def _is_valid_part(kind: str, part: str) -> bool:
    if not part or len(part) > _MAX_LENGTH[kind]:
        return False
    if not _is_word_char(part[0]):
        return False
    for char in part[1:]:
        if char in "_-":
            continue
        if char == ".":
            if kind == "namespace":
                return False
            continue
        if char == ":":
            if kind != "host":
                return False
            continue
        if not _is_word_char(char):
            return False
    return True


class ModelName(NamedTuple):
    """A parsed model name. Parts the text did not give are filled with the defaults."""

    host: str
    namespace: str
    model: str
    tag: str
    scheme: str = "https"

    @classmethod
    def parse_bare(cls, text: str) -> ModelName:
        """Parse without defaults: parts the text does not give stay empty."""
        host = namespace = tag = ""
        scheme = ""
        rest = text
        if rest.rfind(":") > rest.rfind("/"):
            rest, tag, _ = _cut_last(rest, ":")
        rest, model, promised = _cut_last(rest, "/")
        if not promised:
            return cls(host="", namespace="", model=rest, tag=tag, scheme="")
        rest, namespace, promised = _cut_last(rest, "/")
        if not promised:
            return cls(host="", namespace=rest, model=model, tag=tag, scheme="")
        scheme, sep, host = rest.partition("://")
        if not sep:
            scheme, host = "", rest
        return cls(host=host, namespace=namespace, model=model, tag=tag, scheme=scheme)

    @classmethod
    def parse(cls, text: str) -> ModelName:
        """Parse and fill missing parts with ``registry.ollama.ai`` / ``library`` / ``latest``."""
        bare = cls.parse_bare(text)
        return cls(
            host=bare.host or DEFAULT_HOST,
            namespace=bare.namespace or DEFAULT_NAMESPACE,
            model=bare.model,
            tag=bare.tag or DEFAULT_TAG,
            scheme=bare.scheme or "https",
        )

    @property
    def is_valid(self) -> bool:
        """Every part present and made of allowed characters (Ollama's ``IsValid``)."""
        return (
            _is_valid_part("host", self.host)
            and _is_valid_part("namespace", self.namespace)
            and _is_valid_part("model", self.model)
            and _is_valid_part("tag", self.tag)
        )

    def __str__(self) -> str:
        return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"

    def display_shortest(self) -> str:
        """The short form Ollama lists: drops the default host and ``library``; keeps the tag."""
        if self.host.lower() != DEFAULT_HOST:
            return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"
        if self.namespace.lower() != DEFAULT_NAMESPACE:
            return f"{self.namespace}/{self.model}:{self.tag}"
        return f"{self.model}:{self.tag}"

    def key(self) -> tuple[str, str, str, str]:
        """Names compare case-insensitively; this is the comparison key."""
        return (self.host.lower(), self.namespace.lower(), self.model.lower(), self.tag.lower())

    def path_parts(self) -> tuple[str, str, str, str]:
        """``(host, namespace, model, tag)``: the manifest path below ``manifests/``."""
        return (self.host, self.namespace, self.model, self.tag)


def split_source_suffix(text: str) -> tuple[str, str | None]:
    """Split a trailing ``:cloud`` / ``:local`` source selector off a name.

    Only a selector after a tag counts (``gpt-oss:20b:cloud``); ``model:cloud`` is a plain tag.
    """
    for suffix in _SOURCE_SUFFIXES:
        if text.endswith(suffix):
            base = text[: -len(suffix)]
            if base.rfind(":") > base.rfind("/"):
                return base, suffix[1:]
    return text, None


def check_model_name(text: str) -> ModelName:
    """Parse ``text`` or raise :class:`~ollamakit.RequestError` naming what is wrong."""
    if not text:
        raise RequestError("model is required: pass a model name such as 'llama3.2'")
    base, source = split_source_suffix(text)
    if source is not None:
        other = split_source_suffix(base)[1]
        if other is not None and other != source:
            raise RequestError("use either :local or :cloud, not both")
    name = ModelName.parse(base)
    if not name.is_valid:
        raise RequestError(
            f"invalid model name {text!r}: expected [host/][namespace/]model[:tag] where each part "
            "starts with a letter, digit or '_' and uses only letters, digits, '_', '-' and '.' "
            "(no '.' in the namespace)"
        )
    return name
