"""A tiny llama-architecture GGUF with random weights, written with the ``gguf`` package.

Big enough for llama.cpp's K-quants (every matrix row is a multiple of 256 values) and small
enough to quantize in a fraction of a second: two layers (by default), 256-wide, 512-wide
feed-forward, and a SentencePiece vocabulary of the three special tokens, the 256 byte
tokens and a few letters, so any text tokenizes (through byte fallback) and generation
produces tokens.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

EMBED = 256
FEED_FORWARD = 512
LAYERS = 2
HEADS = 4
CONTEXT = 256

_LETTERS = [chr(code) for code in range(ord("a"), ord("z") + 1)]


def _vocabulary() -> tuple[list[bytes], list[float], list[int]]:
    tokens = [b"<unk>", b"<s>", b"</s>"]
    types = [
        gguf.TokenType.UNKNOWN,
        gguf.TokenType.CONTROL,
        gguf.TokenType.CONTROL,
    ]
    for value in range(256):
        tokens.append(f"<0x{value:02X}>".encode())
        types.append(gguf.TokenType.BYTE)
    for letter in _LETTERS:
        tokens.append(("\u2581" + letter).encode())
        types.append(gguf.TokenType.NORMAL)
        tokens.append(letter.encode())
        types.append(gguf.TokenType.NORMAL)
    scores = [0.0] * 3 + [-1000.0] * 256 + [-float(i) for i in range(len(tokens) - 259)]
    return tokens, scores, [int(kind) for kind in types]


def write_tiny_llama(
    path: Path, *, file_type: str = "F16", layers: int = LAYERS, seed: int = 0
) -> Path:
    """Write the model to ``path`` with matrices in ``F16`` or ``F32`` (norms stay F32)."""
    rng = np.random.default_rng(seed)
    matrix = np.float16 if file_type == "F16" else np.float32
    tokens, scores, types = _vocabulary()
    vocab = len(tokens)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny-llama")
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(EMBED)
    writer.add_feed_forward_length(FEED_FORWARD)
    writer.add_block_count(layers)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(HEADS)
    writer.add_rope_dimension_count(EMBED // HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(
        gguf.LlamaFileType.MOSTLY_F16 if file_type == "F16" else gguf.LlamaFileType.ALL_F32
    )
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)

    def weights(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(matrix)

    writer.add_tensor("token_embd.weight", weights(vocab, EMBED))
    for layer in range(layers):
        prefix = f"blk.{layer}"
        writer.add_tensor(f"{prefix}.attn_norm.weight", np.ones(EMBED, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            writer.add_tensor(f"{prefix}.{name}.weight", weights(EMBED, EMBED))
        writer.add_tensor(f"{prefix}.ffn_norm.weight", np.ones(EMBED, dtype=np.float32))
        writer.add_tensor(f"{prefix}.ffn_gate.weight", weights(FEED_FORWARD, EMBED))
        writer.add_tensor(f"{prefix}.ffn_up.weight", weights(FEED_FORWARD, EMBED))
        writer.add_tensor(f"{prefix}.ffn_down.weight", weights(EMBED, FEED_FORWARD))
    writer.add_tensor("output_norm.weight", np.ones(EMBED, dtype=np.float32))
    writer.add_tensor("output.weight", weights(vocab, EMBED))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
