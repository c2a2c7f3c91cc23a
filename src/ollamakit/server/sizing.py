"""How much memory a model needs before it is loaded, and the parallel slots that follow.

``OLLAMA_NUM_PARALLEL`` unset (or 0) gives each model 4 slots when the model, its KV cache
for ``4 x num_ctx`` tokens and its compute buffers fit in the memory available now, else 1:
Ollama's rule ("If there is sufficient available memory when the model is loaded, it is
configured to allow parallel request processing", ``docs/faq.md``; 4 then 1 in its
scheduler). The estimate is a prediction from the GGUF header; ``/api/ps`` reports what
llama.cpp actually allocated.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from .gguf import GGUFInfo, TruncatedArray

__all__ = ["DEFAULT_PARALLEL", "available_memory", "default_num_parallel", "estimate_bytes"]

DEFAULT_PARALLEL = 4

# Bytes per element of a KV cache type (q8_0: 34 bytes per block of 32, q4_0: 18).
_KV_ELEMENT_BYTES = {"f16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32}


def _per_layer(value: object, layers: int) -> list[int]:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [int(item) for item in value][:layers]
    return [int(value) if isinstance(value, int) else 0] * layers


def kv_bytes_per_token(gguf: GGUFInfo, kv_cache_type: str = "f16") -> float:
    """KV cache bytes one token takes in every layer (keys and values)."""
    layers = gguf.arch_value("block_count")
    if not isinstance(layers, int) or layers <= 0:
        return 0.0
    heads = gguf.arch_value("attention.head_count")
    heads_kv = gguf.arch_value("attention.head_count_kv")
    width = gguf.arch_value("embedding_length")
    per_head = width // heads if isinstance(width, int) and isinstance(heads, int) and heads else 0
    key = gguf.arch_value("attention.key_length") or per_head
    value = gguf.arch_value("attention.value_length") or per_head
    counts = _per_layer(heads_kv if heads_kv is not None else heads, layers)
    element = _KV_ELEMENT_BYTES.get(kv_cache_type, 2.0)
    return sum(count * (int(key) + int(value)) for count in counts) * element


def estimate_bytes(
    gguf: GGUFInfo,
    weights: int,
    *,
    num_ctx: int,
    num_parallel: int,
    num_batch: int,
    kv_cache_type: str = "f16",
) -> int:
    """Weights, KV cache for every slot, and the compute buffers of one batch (dominated by
    the logits of every token in it)."""
    tokens = gguf.metadata.get("tokenizer.ggml.tokens")
    vocab = tokens.length if isinstance(tokens, TruncatedArray) else len(tokens or ())
    width = gguf.arch_value("embedding_length")
    kv = kv_bytes_per_token(gguf, kv_cache_type) * num_ctx * num_parallel
    compute = num_batch * (vocab + 16 * (width if isinstance(width, int) else 0)) * 4
    return int(weights + kv + compute)


def available_memory() -> int:
    """Bytes the system can give without swapping (``MemAvailable``), else its total."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def default_num_parallel(needed_for_default: int, available: int) -> int:
    """4 slots when they fit in ``available`` bytes, else 1."""
    return DEFAULT_PARALLEL if 0 < needed_for_default <= available else 1
