"""Continuous batching: up to N generations share one llama.cpp context.

The design follows llama.cpp's own server (``tools/server``) and Ollama's runner:

* The context holds one KV sequence per **slot** (``n_seq_max`` = slots, each with its own
  ``num_ctx`` cells: llama.cpp's non-unified cache). A slot remembers what its cache holds,
  so the next request whose prompt starts the same way (the next turn of a chat, a repeated
  prompt) evaluates only what is new. A request takes the free slot that can reuse the most,
  else the least recently used one, keeping other conversations' caches.
* The loop alternates two kinds of **step**: a *generation step* decodes the pending token of
  every generating sequence in one batch, then each samples its next token with its own
  sampler (options, seed, grammar, logprobs, stop strings); a *prefill step* evaluates one
  ``num_batch`` chunk of a newly admitted prompt. A long prompt therefore delays the others
  by one chunk at a time, never by the whole prompt (chunked prefill).
* Waiting requests are admitted in arrival order; a cancelled one (client gone) leaves its
  slot at the next step, keeping what it cached.
* When a generation fills its context and ``shift`` is allowed, the oldest half of the
  tokens after ``num_keep`` is dropped and the rest moved down (Ollama's context shift).

**Same answer alone or batched.** llama.cpp's CPU results for a token depend on how its
sequence's tokens are grouped into the sub-batches the decode runs (measured on the demo
model: logits moved by up to 1.1 when a prompt was split 5 + 7 instead of 12, or decoded in
the same batch as another prompt). The loop therefore computes every token the way it
would be computed alone: prompts in chunks aligned to ``num_batch`` from position 0, each
chunk in a batch of its own; generated tokens one per sequence per step (which llama.cpp
computes identically whatever else is in the step). Reuse follows the same rule: a cached
prefix is reused in whole aligned chunks, and a repeated prompt reuses its saved logits.
With the runner's other choices (no repacked kernels, one KV stream per slot, full-size
sliding-window cache; see ``engine.Runner``), a request's tokens at temperature 0 are the same
whatever ran before it or beside it; the tests check this bit for bit.

Everything here runs on one worker thread per runner; callers block in :meth:`Batcher.run`
until their generation ends. Callbacks (``emit``) run on the worker thread and must be quick.
"""

from __future__ import annotations

import codecs
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from .sampling import Sampler, logits_row, logprob_record
from .stops import StopFilter

__all__ = ["Batcher", "GenerationResult", "Sequence", "SequenceSpec", "choose_slot"]


log = logging.getLogger("ollamakit.server")


@dataclass
class GenerationResult:
    done_reason: str
    prompt_tokens: list[int]
    output_tokens: list[int] = field(default_factory=list)
    prompt_eval_count: int = 0
    prompt_cached: int = 0  # prompt tokens the slot's cache already held
    prompt_eval_ns: int = 0
    eval_count: int = 0
    eval_ns: int = 0
    stop_sequence: str | None = None  # the stop string that ended the generation, if one did


@dataclass
class SequenceSpec:
    """What one generation asks for; :class:`Sequence` is its state while it runs."""

    prompt: list[int]
    sampler: Sampler  # owned by the sequence from submission on: closed when it ends
    emit: Callable[[str], None]
    cancel: threading.Event
    limit: int  # tokens to generate at most
    num_keep: int  # tokens kept at the front by a context shift
    stops: tuple[str, ...] = ()
    shift: bool = True
    logprobs: int | None = None
    emit_logprobs: Callable[[list[dict[str, Any]]], None] | None = None


class Sequence:
    """A generation in flight: prompt progress, the token to feed next, text assembly."""

    def __init__(self, spec: SequenceSpec) -> None:
        self.spec = spec
        self.result = GenerationResult(
            done_reason="stop", prompt_tokens=spec.prompt, prompt_eval_count=len(spec.prompt)
        )
        self.finished = threading.Event()
        self.error: BaseException | None = None
        self.slot: Slot | None = None
        self.sampler: Sampler | None = spec.sampler
        self.fed = 0  # prompt tokens in the cache
        self.next_token = -1  # sampled, to be fed in the next generation step
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.stopper = StopFilter(spec.stops)
        self.hit_stop = False
        self.pending_logprobs: list[dict[str, Any]] = []
        self.admitted_ns = 0
        self.first_token_ns = 0

    @property
    def prefilling(self) -> bool:
        return self.next_token < 0


@dataclass(eq=False)
class Slot:
    index: int  # also the llama.cpp sequence id
    cached: list[int] = field(default_factory=list)  # tokens in the KV cache, by position
    # Leading cached tokens computed in whole aligned prompt chunks: the reusable part.
    exact: int = 0
    # The last prompt evaluated here and the logits after it, for a repeated prompt.
    prompt: list[int] | None = None
    logits: Any = None
    sequence: Sequence | None = None
    last_used: float = 0.0

    def reusable(self, prompt: list[int], chunk: int) -> int:
        """Prompt tokens this slot's cache can stand in for (see the module docstring)."""
        if self.prompt == prompt and self.logits is not None and len(self.cached) >= len(prompt):
            return len(prompt)
        shared = min(common_prefix(self.cached, prompt), self.exact)
        # At least one token is evaluated, for the logits of the first new token.
        return min(shared, len(prompt) - 1) // chunk * chunk


def choose_slot(slots: list[Slot], prompt: list[int], chunk: int) -> Slot:
    """The free slot for a new prompt (there must be one): the one whose cache can stand in
    for the most of it; with nothing to reuse, one that keeps the busy slots in one block,
    the least recently used first (keeping newer conversations' caches). With one KV stream
    per slot, llama.cpp decodes a step in one pass only when its sequence ids are
    consecutive: a gap (slots 0 and 2 busy) splits every step into passes that each read all
    the weights (measured with two streams on 4 slots: 27 tokens/s instead of 35)."""
    free = [slot for slot in slots if slot.sequence is None]
    reuse = {slot.index: slot.reusable(prompt, chunk) for slot in free}
    best = max(free, key=lambda slot: (reuse[slot.index], -slot.last_used))
    if reuse[best.index] > 0:
        return best

    def gaps_with(candidate: Slot) -> int:
        busy = [slot.index for slot in slots if slot.sequence is not None or slot is candidate]
        return sum(1 for low, high in pairwise(busy) if high != low + 1)

    return min(free, key=lambda slot: (gaps_with(slot), slot.last_used))


def common_prefix(left: list[int], right: list[int]) -> int:
    count = 0
    for a, b in zip(left, right):
        if a != b:
            break
        count += 1
    return count


class Batcher:
    """The continuous-batching loop of one runner (see the module docstring)."""

    def __init__(
        self,
        *,
        ctx: Any,
        n_vocab: int,
        n_ctx_seq: int,
        n_batch: int,
        n_slots: int,
        n_swa: int,
        piece: Callable[[int], bytes],
        is_eog: Callable[[int], bool],
        compute_lock: threading.Lock,
    ) -> None:
        import llama_cpp
        import numpy as np

        self._llama_cpp = llama_cpp
        self._ctx = ctx
        self._memory = llama_cpp.llama_get_memory(ctx)
        self._can_shift = bool(llama_cpp.llama_memory_can_shift(self._memory))
        self._n_vocab = n_vocab
        self.n_ctx_seq = n_ctx_seq
        self._n_batch = n_batch
        self._n_swa = n_swa
        self._piece = piece
        self._is_eog = is_eog
        self._compute_lock = compute_lock
        self.slots = [Slot(index) for index in range(n_slots)]
        self._waiting: deque[Sequence] = deque()
        self._active: list[Sequence] = []  # admitted, in admission order
        self._cond = threading.Condition()
        self._closing = False
        self._prefill_turn = False
        self._broken: BaseException | None = None
        rows = max(n_batch, n_slots)
        self._batch = llama_cpp.llama_batch_init(rows, 0, 1)
        self._tokens = np.ctypeslib.as_array(self._batch.token, shape=(rows,))
        self._positions = np.ctypeslib.as_array(self._batch.pos, shape=(rows,))
        self._outputs = np.ctypeslib.as_array(self._batch.logits, shape=(rows,))
        np.ctypeslib.as_array(self._batch.n_seq_id, shape=(rows,))[:] = 1
        self._seq_ids = [self._batch.seq_id[i] for i in range(rows)]
        self._thread = threading.Thread(target=self._loop, name="ollamakit-batch", daemon=True)
        self._thread.start()

    # -- callers' side ------------------------------------------------------------------

    def run(self, spec: SequenceSpec) -> GenerationResult:
        """Generate ``spec`` and block until it ends; raises what stopped it, if anything."""
        sequence = Sequence(spec)
        with self._cond:
            if self._closing or self._broken is not None:
                spec.sampler.close()
                raise RuntimeError("the model is being unloaded") from self._broken
            self._waiting.append(sequence)
            self._cond.notify()
        sequence.finished.wait()
        if sequence.error is not None:
            raise sequence.error
        return sequence.result

    def close(self) -> None:
        """Stop the loop (the scheduler only closes idle runners) and free the batch."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join()
        if self._batch is not None:
            self._llama_cpp.llama_batch_free(self._batch)
            self._batch = None

    # -- the loop -----------------------------------------------------------------------

    def _loop(self) -> None:
        failed: list[Sequence] = []
        while True:
            with self._cond:
                while not self._closing and not self._waiting and not self._active:
                    self._cond.wait()
                if self._closing:
                    failed = list(self._waiting) + self._active
                    break
                admitted = self._admit_locked()
            try:
                for sequence in admitted:
                    self._start(sequence)
                self._step()
            except BaseException as exc:  # a bug or a llama.cpp failure: fail everyone, stop
                log.exception("generation loop failed")
                with self._cond:
                    self._broken = exc
                    failed = list(self._waiting) + self._active
                break
        with self._cond:
            self._waiting.clear()
            self._active = []
        for sequence in failed:
            self._fail(sequence, self._broken or RuntimeError("the model was unloaded"))

    def _admit_locked(self) -> list[Sequence]:
        admitted = []
        while self._waiting:
            if all(slot.sequence is not None for slot in self.slots):
                break
            sequence = self._waiting.popleft()
            if sequence.spec.cancel.is_set():
                self._finish(sequence, reason="")
                continue
            slot = choose_slot(self.slots, sequence.spec.prompt, self._n_batch)
            slot.sequence = sequence
            sequence.slot = slot
            self._active.append(sequence)
            admitted.append(sequence)
        return admitted

    def _start(self, sequence: Sequence) -> None:
        """Trim the slot's cache to what the prompt can reuse; a repeated prompt starts
        generating from its saved logits at once."""
        slot = sequence.slot
        assert slot is not None
        prompt = sequence.spec.prompt
        sequence.admitted_ns = time.perf_counter_ns()
        keep = slot.reusable(prompt, self._n_batch)
        if keep > 0 and not self._trim(slot, keep):
            keep = 0
        if keep == 0:
            self._trim(slot, 0)
        sequence.fed = sequence.result.prompt_cached = keep
        if keep == len(prompt):
            self._advance(sequence, saved=slot.logits)
        else:
            slot.prompt = slot.logits = None

    def _trim(self, slot: Slot, keep: int) -> bool:
        """Keep the first ``keep`` cached tokens; False if llama.cpp cannot (the sliding
        window cache lacks what continuing at ``keep`` needs)."""
        llama_cpp = self._llama_cpp
        if keep == 0:
            llama_cpp.llama_memory_seq_rm(self._memory, slot.index, -1, -1)
        else:
            oldest = int(llama_cpp.llama_memory_seq_pos_min(self._memory, slot.index))
            if self._n_swa > 0 and (oldest < 0 or oldest > max(0, keep - self._n_swa)):
                return False
            if not llama_cpp.llama_memory_seq_rm(self._memory, slot.index, keep, -1):
                return False
        del slot.cached[keep:]
        slot.exact = min(slot.exact, keep)
        return True

    def _step(self) -> None:
        for sequence in list(self._active):
            if sequence.spec.cancel.is_set():
                self._finish(sequence, reason="")
        prefilling = [sequence for sequence in self._active if sequence.prefilling]
        # In slot order: with one KV stream per slot, llama.cpp runs a batch in one pass only
        # when its sequence ids ascend; out of order it splits the batch (measured: a step
        # of 4 tokens took 106 ms instead of 55 on the demo model).
        generating = sorted(
            (sequence for sequence in self._active if not sequence.prefilling),
            key=lambda sequence: sequence.slot.index if sequence.slot else 0,
        )
        # Alternate while both kinds wait, so neither starves the other.
        self._prefill_turn = bool(prefilling) and (not generating or not self._prefill_turn)
        if self._prefill_turn:
            self._prefill(prefilling[0])
        elif generating:
            self._generate(generating)

    def _prefill(self, sequence: Sequence) -> None:
        """Evaluate the next aligned chunk of the prompt, alone in its batch."""
        slot = sequence.slot
        assert slot is not None
        prompt = sequence.spec.prompt
        start = sequence.fed
        end = min(len(prompt), (start // self._n_batch + 1) * self._n_batch)
        chunk = prompt[start:end]
        self._put(0, chunk, start, slot.index)
        last = end == len(prompt)
        self._outputs[len(chunk) - 1] = 1 if last else 0
        if not self._decode(len(chunk), [sequence]):
            return
        slot.cached.extend(chunk)
        sequence.fed = end
        if len(chunk) == self._n_batch and slot.exact == start:
            slot.exact = end
        if last:
            import numpy as np

            row = len(chunk) - 1
            slot.prompt = list(prompt)
            slot.logits = np.array(logits_row(self._ctx, row, self._n_vocab))
            self._advance(sequence, row=row)

    def _generate(self, generating: list[Sequence]) -> None:
        """Feed every generating sequence its pending token, then sample each."""
        for row, sequence in enumerate(generating):
            slot = sequence.slot
            assert slot is not None
            self._put(row, [sequence.next_token], len(slot.cached), slot.index)
            self._outputs[row] = 1
        if not self._decode(len(generating), generating):
            return
        for row, sequence in enumerate(generating):
            assert sequence.slot is not None
            sequence.slot.cached.append(sequence.next_token)
            self._advance(sequence, row=row)

    def _put(self, row: int, tokens: list[int], position: int, seq_id: int) -> None:
        """Tokens at rows ``row...`` of the batch, at consecutive positions, no logits."""
        end = row + len(tokens)
        self._tokens[row:end] = tokens
        self._positions[row:end] = range(position, position + len(tokens))
        self._outputs[row:end] = 0
        for index in range(row, end):
            self._seq_ids[index][0] = seq_id

    def _decode(self, rows: int, sequences: list[Sequence]) -> bool:
        self._batch.n_tokens = rows
        with self._compute_lock:
            status = self._llama_cpp.llama_decode(self._ctx, self._batch)
        if status == 0:
            return True
        error = RuntimeError(f"llama.cpp could not decode the batch (status {status})")
        for sequence in sequences:
            if sequence.slot is not None:  # its cache content is unknown now
                self._trim(sequence.slot, 0)
            self._finish(sequence, error=error)
        return False

    def _advance(self, sequence: Sequence, *, row: int = -1, saved: Any = None) -> None:
        """Sample the sequence's next token (from row ``row`` of the last decode, or from
        ``saved`` logits) and act on it."""
        try:
            self._take(sequence, row, saved)
        except BaseException as exc:
            self._finish(sequence, error=exc)

    def _take(self, sequence: Sequence, row: int, saved: Any) -> None:
        spec = sequence.spec
        sampler = sequence.sampler
        slot = sequence.slot
        assert sampler is not None and slot is not None
        if saved is None:
            token = sampler.sample(self._ctx, row)
        else:
            token = sampler.sample_logits(saved)
        if not sequence.first_token_ns:
            sequence.first_token_ns = time.perf_counter_ns()
            sequence.result.prompt_eval_ns = sequence.first_token_ns - sequence.admitted_ns
        if spec.cancel.is_set():
            self._finish(sequence, reason="")
            return
        if self._is_eog(token):
            self._finish(sequence, reason="stop")
            return
        result = sequence.result
        result.output_tokens.append(token)
        if spec.logprobs is not None:
            logits = saved if saved is not None else logits_row(self._ctx, row, self._n_vocab)
            sequence.pending_logprobs.append(
                logprob_record(token, logits, spec.logprobs, self._piece)
            )
        text, sequence.hit_stop = sequence.stopper.feed(sequence.decoder.decode(self._piece(token)))
        if text:
            self._flush_logprobs(sequence)
            spec.emit(text)
        if sequence.hit_stop:
            result.stop_sequence = sequence.stopper.matched
            self._finish(sequence, reason="stop")
            return
        if len(result.output_tokens) >= spec.limit:
            self._finish(sequence, reason="length")
            return
        if len(slot.cached) >= self.n_ctx_seq - 1 and not self._shift(sequence):
            self._finish(sequence, reason="length")
            return
        sequence.next_token = token

    def _shift(self, sequence: Sequence) -> bool:
        """Ollama's context shift: drop the oldest half of the tokens after ``num_keep``."""
        slot = sequence.slot
        assert slot is not None
        if not sequence.spec.shift or not self._can_shift:
            return False
        count = len(slot.cached)
        keep = max(0, min(sequence.spec.num_keep, count - 2))
        discard = (count - keep) // 2
        llama_cpp = self._llama_cpp
        if discard <= 0 or not llama_cpp.llama_memory_seq_rm(
            self._memory, slot.index, keep, keep + discard
        ):
            return False
        llama_cpp.llama_memory_seq_add(self._memory, slot.index, keep + discard, count, -discard)
        del slot.cached[keep : keep + discard]
        # What follows the kept tokens moved: nothing after them is reusable any more.
        slot.exact = min(slot.exact, keep) // self._n_batch * self._n_batch
        slot.prompt = slot.logits = None
        log.debug("context shift: kept %d, dropped %d of %d tokens", keep, discard, count)
        return True

    def _flush_logprobs(self, sequence: Sequence) -> None:
        emit = sequence.spec.emit_logprobs
        if sequence.pending_logprobs and emit is not None:
            emit(sequence.pending_logprobs)
        sequence.pending_logprobs = []

    def _finish(
        self, sequence: Sequence, *, reason: str = "", error: BaseException | None = None
    ) -> None:
        """End a sequence: emit what it held back, free its slot, wake its caller."""
        result = sequence.result
        result.done_reason = reason
        try:
            if error is None and reason and not sequence.hit_stop:
                tail = sequence.stopper.flush() + sequence.decoder.decode(b"", final=True)
                self._flush_logprobs(sequence)
                if tail:
                    sequence.spec.emit(tail)
        except BaseException as exc:
            error = exc
        result.eval_count = len(result.output_tokens)
        if sequence.first_token_ns:
            result.eval_ns = time.perf_counter_ns() - sequence.first_token_ns
        slot = sequence.slot
        if slot is not None:
            slot.last_used = time.monotonic()
        with self._cond:
            if sequence in self._active:
                self._active.remove(sequence)
        self._fail(sequence, error)

    def _fail(self, sequence: Sequence, error: BaseException | None) -> None:
        """Release the sequence's slot and sampler and wake its caller."""
        if sequence.slot is not None:
            sequence.slot.sequence = None
        if sequence.sampler is not None:
            sequence.sampler.close()
            sequence.sampler = None
        sequence.error = error
        sequence.finished.set()
