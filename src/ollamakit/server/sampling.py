"""Choosing each sequence's next token: llama.cpp sampler chains, grammar and log-probabilities
(stop strings are in :mod:`.stops`).

Every generation owns one :class:`Sampler` (its own seed, penalties history and grammar
state), so a request samples the same tokens whether it runs alone or batched with others:
only the row of logits it reads differs, by its index in the batch.
"""

from __future__ import annotations

import ctypes
import importlib
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import SamplingOptions

__all__ = ["Sampler", "logprob_record"]


class Sampler:
    """llama.cpp's sampler chain for one request, in Ollama's order (penalties, top_k,
    typical_p, top_p, min_p, temperature, then a seeded draw; greedy at temperature 0).

    A grammar (``format``) is checked the way llama.cpp's own server does: sample without
    it, and only when the chosen token breaks the grammar, resample with the grammar applied
    to the whole vocabulary. Applying it to all 262k tokens of every step is 10x slower.
    """

    def __init__(
        self,
        vocab: Any,
        n_vocab: int,
        options: SamplingOptions,
        *,
        last_n: int,
        grammar: Any,
    ) -> None:
        import llama_cpp

        # llama_cpp ships partial annotations; its sampler wrapper is used untyped.
        internals: Any = importlib.import_module("llama_cpp._internals")
        self._llama_cpp = llama_cpp
        self._n_vocab = n_vocab
        seed = options.seed if options.seed >= 0 else llama_cpp.LLAMA_DEFAULT_SEED
        chain: Any = internals.LlamaSampler()
        chain.add_penalties(
            n_vocab,
            last_n,
            options.repeat_penalty,
            options.frequency_penalty,
            options.presence_penalty,
        )
        temperature = options.temperature
        if temperature == 0:
            chain.add_greedy()
        elif temperature < 0:
            chain.add_dist(seed)
        else:
            chain.add_top_k(options.top_k)
            chain.add_typical(options.typical_p, 1)
            chain.add_top_p(options.top_p, 1)
            chain.add_min_p(options.min_p, 1)
            chain.add_temp(temperature)
            chain.add_dist(seed)
        self._chain: Any = chain
        # Greedy without penalties takes the largest logit. numpy's argmax of the row (the
        # first of equal ones, as llama.cpp's greedy sampler) costs 30 us where building
        # llama.cpp's candidate array of the whole 262k vocabulary costs 314 us, on every
        # token of every slot, on the thread that decodes them all.
        self._argmax = (
            temperature == 0
            and options.repeat_penalty == 1
            and options.frequency_penalty == 0
            and options.presence_penalty == 0
        )
        self._grammar: Any = None
        if grammar is not None:
            self._grammar = llama_cpp.llama_sampler_init_grammar(
                vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
            )
            if not self._grammar:
                chain.close()
                raise ValueError("invalid grammar for format")
        self._single: Any = (llama_cpp.llama_token_data * 1)()

    def sample(self, ctx: Any, index: int) -> int:
        """The next token, from the logits of row ``index`` of the context's last batch."""
        llama_cpp = self._llama_cpp
        if self._grammar is None and not self._argmax:
            return int(llama_cpp.llama_sampler_sample(self._chain.sampler, ctx, index))
        return self.sample_logits(logits_row(ctx, index, self._n_vocab))

    def sample_logits(self, logits: Any) -> int:
        """The next token, from a vector of logits (saved ones, for a repeated prompt)."""
        import numpy as np

        llama_cpp = self._llama_cpp
        if self._argmax:
            token = int(np.argmax(logits))
        else:
            token = self._apply(self._chain.sampler, logits, first=None)
        if self._grammar is not None and not self._allowed(token):
            token = self._apply(self._chain.sampler, logits, first=self._grammar)
        if self._grammar is not None:
            llama_cpp.llama_sampler_accept(self._grammar, token)
        llama_cpp.llama_sampler_accept(self._chain.sampler, token)
        return token

    def _apply(self, chain: Any, logits: Any, first: Any) -> int:
        import numpy as np

        llama_cpp = self._llama_cpp
        data = np.empty(
            self._n_vocab, dtype=np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")])
        )
        data["id"] = np.arange(self._n_vocab, dtype=np.int32)
        data["logit"] = logits
        data["p"] = 0.0
        array = llama_cpp.llama_token_data_array(
            data=data.ctypes.data_as(llama_cpp.llama_token_data_p),
            size=self._n_vocab,
            selected=-1,
            sorted=False,
        )
        if first is not None:
            llama_cpp.llama_sampler_apply(first, ctypes.byref(array))
        llama_cpp.llama_sampler_apply(chain, ctypes.byref(array))
        if array.selected < 0:
            raise RuntimeError("sampling selected no token")
        return int(array.data[array.selected].id)

    def _allowed(self, token: int) -> bool:
        llama_cpp = self._llama_cpp
        self._single[0].id = token
        self._single[0].logit = 1.0
        self._single[0].p = 0.0
        array = llama_cpp.llama_token_data_array(
            data=ctypes.cast(self._single, llama_cpp.llama_token_data_p),
            size=1,
            selected=-1,
            sorted=False,
        )
        llama_cpp.llama_sampler_apply(self._grammar, ctypes.byref(array))
        return bool(math.isfinite(array.data[0].logit))

    def close(self) -> None:
        self._chain.close()
        if self._grammar is not None:
            self._llama_cpp.llama_sampler_free(self._grammar)
            self._grammar = None


def logits_row(ctx: Any, index: int, n_vocab: int) -> Any:
    """A numpy view of the logits of row ``index`` of the last batch (valid until the next
    decode)."""
    import llama_cpp
    import numpy as np

    pointer = llama_cpp.llama_get_logits_ith(ctx, index)
    return np.ctypeslib.as_array(pointer, shape=(n_vocab,))


def logprob_record(
    token: int, logits: Any, top: int, piece: Callable[[int], bytes]
) -> dict[str, Any]:
    """Ollama's logprob record for ``token``, from the logits it was sampled from."""
    import numpy as np

    values = np.asarray(logits, dtype=np.float64)
    peak = float(values.max())
    normaliser = peak + math.log(float(np.exp(values - peak).sum()))

    def record(candidate: int) -> dict[str, Any]:
        raw = piece(candidate)
        return {
            "token": raw.decode("utf-8", errors="replace"),
            "logprob": float(values[candidate]) - normaliser,
            "bytes": list(raw),
        }

    item = record(token)
    if top > 0:
        best = np.argpartition(values, -top)[-top:]
        best = best[np.argsort(-values[best])]
        item["top_logprobs"] = [record(int(candidate)) for candidate in best]
    return item
