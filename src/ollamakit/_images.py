"""Images for multimodal models: whatever the caller has, as the base64 text Ollama wants.

Accepted: a path (``str`` or :class:`pathlib.Path`), raw ``bytes``, a base64 string (also a
``data:`` URL, whose prefix Ollama would reject, so it is stripped), a binary file-like object,
an :class:`~ollamakit.Image`, or a PIL image. Problems raise :class:`RequestError` before
anything is sent.
"""

from __future__ import annotations

import base64
import binascii
import io
from pathlib import Path
from typing import Any

from ._errors import RequestError
from ._types import Image

__all__ = ["encode_image", "encode_images"]

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic")
_MAX_PATH_LENGTH = 4096


def _read_path(path: Path) -> str:
    try:
        return base64.b64encode(path.read_bytes()).decode()
    except FileNotFoundError:
        raise RequestError(f"image file not found: {path}") from None
    except OSError as exc:
        raise RequestError(f"cannot read image file {path}: {exc.strerror or exc}") from None


def _existing_file(text: str) -> Path | None:
    if len(text) > _MAX_PATH_LENGTH or "\n" in text:
        return None
    try:
        path = Path(text).expanduser()
        return path if path.is_file() else None
    except (OSError, ValueError):
        return None


def _encode_text(text: str) -> str:
    if text.startswith("data:"):
        header, sep, payload = text.partition(",")
        if not sep or ";base64" not in header:
            raise RequestError("a data: URL image must be base64-encoded (data:<type>;base64,...)")
        text = payload
    else:
        path = _existing_file(text)
        if path is not None:
            return _read_path(path)
        if text.lower().endswith(_IMAGE_SUFFIXES) and len(text) < _MAX_PATH_LENGTH:
            raise RequestError(f"image file not found: {text}")
    compact = "".join(text.split())
    try:
        base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(
            "invalid image: expected a path to an existing file, bytes, or base64 data "
            f"(got {text[:40]!r}{'...' if len(text) > 40 else ''})"
        ) from None
    if not compact:
        raise RequestError("invalid image: empty string")
    return compact


def encode_image(image: Any) -> str:
    """One image as base64 text."""
    if isinstance(image, Image):
        image = image.value
    if isinstance(image, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(image)).decode()
    if isinstance(image, Path):
        return _read_path(image.expanduser())
    if isinstance(image, str):
        return _encode_text(image)
    read = getattr(image, "read", None)
    if callable(read):
        data = read()
        if isinstance(data, str):
            raise RequestError("image file objects must be opened in binary mode ('rb')")
        return base64.b64encode(data).decode()
    save = getattr(image, "save", None)
    if callable(save):  # a PIL image
        buffer = io.BytesIO()
        save(buffer, format=getattr(image, "format", None) or "PNG")
        return base64.b64encode(buffer.getvalue()).decode()
    raise RequestError(
        f"unsupported image type {type(image).__name__}: "
        "pass a path, bytes, base64 text or a binary file object"
    )


def encode_images(images: Any) -> list[str]:
    """A list of images; a single image (``str``, ``bytes``, path) counts as a list of one."""
    if images is None:
        return []
    if isinstance(images, str | bytes | bytearray | memoryview | Path | Image) or hasattr(
        images, "read"
    ):
        return [encode_image(images)]
    return [encode_image(image) for image in images]
