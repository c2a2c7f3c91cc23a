"""A small reader for the GGUF header: key/value metadata and tensor descriptors.

``/api/show`` and ``/api/tags`` describe a model (family, parameter count, quantization,
context length, chat template) without loading it into llama.cpp, so this module reads only
the header of the file. Large arrays (a tokenizer vocabulary holds ~260k strings) are skipped
unless asked for, which keeps a read of a 250 MB file at a few milliseconds.
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass, field
from typing import Any, BinaryIO

__all__ = [
    "FILE_TYPES",
    "GGUFError",
    "GGUFInfo",
    "TENSOR_TYPES",
    "TruncatedArray",
    "is_gguf",
    "read_gguf",
]

MAGIC = b"GGUF"

# llama_ftype: the whole-file quantization reported as `quantization_level`.
FILE_TYPES: dict[int, str] = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    36: "TQ1_0",
    37: "TQ2_0",
    38: "MXFP4",
}

# ggml_type: the per-tensor type shown in `tensors[].type`.
TENSOR_TYPES: dict[int, str] = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    6: "Q5_0",
    7: "Q5_1",
    8: "Q8_0",
    9: "Q8_1",
    10: "Q2_K",
    11: "Q3_K",
    12: "Q4_K",
    13: "Q5_K",
    14: "Q6_K",
    15: "Q8_K",
    16: "IQ2_XXS",
    17: "IQ2_XS",
    18: "IQ3_XXS",
    19: "IQ1_S",
    20: "IQ4_NL",
    21: "IQ3_S",
    22: "IQ2_S",
    23: "IQ4_XS",
    24: "I8",
    25: "I16",
    26: "I32",
    27: "I64",
    28: "F64",
    29: "IQ1_M",
    30: "BF16",
    34: "TQ1_0",
    35: "TQ2_0",
    39: "MXFP4",
}

_UINT8, _INT8, _UINT16, _INT16, _UINT32, _INT32, _FLOAT32, _BOOL = range(8)
_STRING, _ARRAY, _UINT64, _INT64, _FLOAT64 = range(8, 13)

_SCALARS: dict[int, struct.Struct] = {
    _UINT8: struct.Struct("<B"),
    _INT8: struct.Struct("<b"),
    _UINT16: struct.Struct("<H"),
    _INT16: struct.Struct("<h"),
    _UINT32: struct.Struct("<I"),
    _INT32: struct.Struct("<i"),
    _FLOAT32: struct.Struct("<f"),
    _BOOL: struct.Struct("<?"),
    _UINT64: struct.Struct("<Q"),
    _INT64: struct.Struct("<q"),
    _FLOAT64: struct.Struct("<d"),
}
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")

# A header larger than this is not a model we can describe; it guards against reading
# gigabytes of garbage when a blob only starts with the magic.
_MAX_STRING = 64 * 1024 * 1024
_MAX_ITEMS = 1 << 32


class GGUFError(ValueError):
    """The file is not a GGUF file, or its header is damaged."""


@dataclass(frozen=True)
class TruncatedArray:
    """An array that was not read because it is longer than the caller's limit."""

    item_type: int
    length: int


@dataclass(frozen=True)
class TensorInfo:
    name: str
    type: str
    shape: tuple[int, ...]

    @property
    def elements(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count


@dataclass
class GGUFInfo:
    """The header of one GGUF file."""

    version: int
    metadata: dict[str, Any]
    tensors: list[TensorInfo] = field(default_factory=list)

    @property
    def architecture(self) -> str:
        value = self.metadata.get("general.architecture")
        return value if isinstance(value, str) else "unknown"

    def arch_value(self, key: str) -> Any:
        """``<architecture>.<key>``, e.g. ``context_length``."""
        return self.metadata.get(f"{self.architecture}.{key}")

    @property
    def parameter_count(self) -> int:
        return sum(tensor.elements for tensor in self.tensors)

    @property
    def file_type(self) -> str:
        value = self.metadata.get("general.file_type")
        if isinstance(value, int) and not isinstance(value, bool):
            return FILE_TYPES.get(value, "unknown")
        return "unknown"

    @property
    def chat_template(self) -> str | None:
        value = self.metadata.get("tokenizer.chat_template")
        return value if isinstance(value, str) else None

    @property
    def kind(self) -> str:
        """``model``, ``adapter`` or ``projector``: which layer media type this file belongs in."""
        general_type = self.metadata.get("general.type")
        if general_type == "adapter" or "adapter.type" in self.metadata:
            return "adapter"
        if general_type == "mmproj" or self.architecture == "clip":
            return "projector"
        return "model"


class _Reader:
    def __init__(self, buffer: bytes | mmap.mmap) -> None:
        self.buffer = buffer
        self.offset = 0

    def take(self, fmt: struct.Struct) -> Any:
        try:
            (value,) = fmt.unpack_from(self.buffer, self.offset)
        except struct.error as exc:
            raise GGUFError("unexpected end of GGUF header") from exc
        self.offset += fmt.size
        return value

    def string(self) -> str:
        length = self.take(_U64)
        if length > _MAX_STRING:
            raise GGUFError(f"GGUF string of {length} bytes is too long")
        end = self.offset + length
        if end > len(self.buffer):
            raise GGUFError("unexpected end of GGUF header")
        raw = self.buffer[self.offset : end]
        self.offset = end
        return bytes(raw).decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        length = self.take(_U64)
        self.offset += length
        if self.offset > len(self.buffer):
            raise GGUFError("unexpected end of GGUF header")

    def value(self, kind: int, max_array: int | None) -> Any:
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item_type = self.take(_U32)
            length = self.take(_U64)
            if length > _MAX_ITEMS:
                raise GGUFError(f"GGUF array of {length} items is too long")
            if max_array is not None and length > max_array:
                self.skip_array(item_type, length)
                return TruncatedArray(item_type, length)
            return self.array(item_type, length, max_array)
        fmt = _SCALARS.get(kind)
        if fmt is None:
            raise GGUFError(f"unknown GGUF value type {kind}")
        return self.take(fmt)

    def array(self, item_type: int, length: int, max_array: int | None) -> list[Any]:
        fmt = _SCALARS.get(item_type)
        if fmt is not None:
            size = fmt.size * length
            end = self.offset + size
            if end > len(self.buffer):
                raise GGUFError("unexpected end of GGUF header")
            values = [item[0] for item in fmt.iter_unpack(self.buffer[self.offset : end])]
            self.offset = end
            return values
        return [self.value(item_type, max_array) for _ in range(length)]

    def skip_array(self, item_type: int, length: int) -> None:
        fmt = _SCALARS.get(item_type)
        if fmt is not None:
            self.offset += fmt.size * length
        elif item_type == _STRING:
            skip = self.skip_string
            for _ in range(length):
                skip()
        else:
            for _ in range(length):
                self.value(item_type, 0)
        if self.offset > len(self.buffer):
            raise GGUFError("unexpected end of GGUF header")


def is_gguf(path: str | os.PathLike[str]) -> bool:
    """True when the file starts with the GGUF magic."""
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == MAGIC
    except OSError:
        return False


def _read(buffer: bytes | mmap.mmap, max_array: int | None, tensors: bool) -> GGUFInfo:
    reader = _Reader(buffer)
    if bytes(buffer[:4]) != MAGIC:
        raise GGUFError("not a GGUF file")
    reader.offset = 4
    version = reader.take(_U32)
    if version not in (2, 3):
        raise GGUFError(f"unsupported GGUF version {version}")
    tensor_count = reader.take(_U64)
    kv_count = reader.take(_U64)
    metadata: dict[str, Any] = {}
    for _ in range(kv_count):
        key = reader.string()
        kind = reader.take(_U32)
        metadata[key] = reader.value(kind, max_array)
    infos: list[TensorInfo] = []
    if tensors:
        for _ in range(tensor_count):
            name = reader.string()
            n_dims = reader.take(_U32)
            if n_dims > 8:
                raise GGUFError(f"tensor {name!r} has {n_dims} dimensions")
            shape = tuple(reader.take(_U64) for _ in range(n_dims))
            type_id = reader.take(_U32)
            reader.take(_U64)  # data offset: not needed to describe the model
            infos.append(TensorInfo(name, TENSOR_TYPES.get(type_id, str(type_id)), shape))
    return GGUFInfo(version=version, metadata=metadata, tensors=infos)


def read_gguf(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    max_array: int | None = 64,
    tensors: bool = True,
) -> GGUFInfo:
    """Read the header of a GGUF file.

    Arrays longer than ``max_array`` items become :class:`TruncatedArray` (``None`` reads all).
    Raises :class:`GGUFError` when the file is not GGUF or the header is damaged.
    """
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
            return _read_handle(handle, max_array, tensors)
    return _read_handle(source, max_array, tensors)


def _read_handle(handle: BinaryIO, max_array: int | None, tensors: bool) -> GGUFInfo:
    try:
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except (ValueError, OSError) as exc:
        raise GGUFError(f"cannot map GGUF file: {exc}") from exc
    try:
        return _read(mapped, max_array, tensors)
    finally:
        mapped.close()
