"""The callable classes of ``ollamakit.ray`` called as Ray calls them, one batch at a time,
against fake Ollama servers on real sockets (the real servers and Ray: tests/server/test_ray.py).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from ollamakit import NotFoundError
from ollamakit.ray import Chat, Embed, Generate
from ollamakit.testing import FakeOllama, RecordedRequest, Reply

TEXTS = pa.table({"text": ["alpha", "beta", None, "gamma", "delta"]})


@pytest.fixture
def second() -> Iterator[FakeOllama]:
    with FakeOllama() as fake:
        yield fake


def dead_host() -> str:
    """An address where nothing listens: every connection is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def rows(table: pa.Table) -> list[dict[str, object]]:
    return table.to_pylist()  # type: ignore[no-any-return]


# -- embed ----------------------------------------------------------------------------------


def test_embed_sends_inputs_in_groups_and_types_the_column(server: FakeOllama) -> None:
    server.embed(dimensions=4)
    udf = Embed("m", hosts=[server.url], inputs_per_request=2)
    try:
        out = udf(TEXTS)
    finally:
        udf.close()
    assert out.schema.field("embedding").type == pa.list_(pa.float32(), 4)
    assert out.column_names == ["text", "embedding", "error"]
    assert sorted(request.json()["input"] for request in server.calls("embed")) == [
        ["alpha", "beta"],
        ["gamma", "delta"],
    ]
    result = rows(out)
    assert result[2]["embedding"] is None
    assert result[2]["error"] == "NullValueError: column 'text' is null"
    assert all(row["error"] is None and len(row["embedding"]) == 4 for row in result if row["text"])


def test_embed_finds_the_rows_a_refused_group_was_refused_for(server: FakeOllama) -> None:
    def answer(request: RecordedRequest) -> Reply:
        inputs = request.json()["input"]
        if "bad" in inputs:
            return Reply.error("input is too long", 400)
        return Reply.json({"model": "m", "embeddings": [[1.0, 0.0]] * len(inputs)})

    server.expect("POST", "/api/embed", answer)
    udf = Embed("m", hosts=[server.url], inputs_per_request=3)
    out = rows(udf(pa.table({"text": ["a", "bad", "c", "d"]})))
    udf.close()
    assert [row["error"] for row in out] == [
        None,
        "BadRequestError: input is too long (status code: 400)",
        None,
        None,
    ]
    assert out[0]["embedding"] == [1.0, 0.0]
    # one group of three, refused; then its rows alone; the last group as it was
    assert len(server.calls("embed")) == 5


def test_embed_rejects_an_answer_of_another_size(server: FakeOllama) -> None:
    server.embed([[1.0, 2.0]])
    udf = Embed("m", hosts=[server.url], dimensions=3)
    out = rows(udf(pa.table({"text": ["a"]})))
    udf.close()
    assert out[0]["embedding"] is None
    assert out[0]["error"] == "OllamaError: an embedding of 2 values; earlier: 3"


# -- hosts, retries, errors -----------------------------------------------------------------


def test_rows_spread_over_hosts(server: FakeOllama, second: FakeOllama) -> None:
    for fake in (server, second):
        fake.generate("ok", after=0.05)
    udf = Generate("m", hosts=[server.url, second.url], host_column="host", max_in_flight=2)
    out = rows(udf(pa.table({"prompt": [f"p{i}" for i in range(8)]})))
    udf.close()
    assert {row["host"] for row in out} == {server.url, second.url}
    assert len(server.calls("generate")) + len(second.calls("generate")) == 8
    assert all(row["response"] == "ok" and row["error"] is None for row in out)


def test_a_dead_host_fails_its_rows_without_retries_and_is_then_set_aside(
    server: FakeOllama,
) -> None:
    server.generate("ok")
    dead = dead_host()
    udf = Generate("m", hosts=[dead, server.url], host_column="host", max_in_flight=2)
    out = rows(udf(pa.table({"prompt": [f"p{i}" for i in range(10)]})))
    udf.close()
    failed = [row for row in out if row["error"] is not None]
    assert 1 <= len(failed) <= 2  # only what was under way when the host failed
    for row in failed:
        assert row["error"].startswith("ConnectionError: ")
        assert row["host"] == dead and row["response"] is None
    assert len(server.calls("generate")) == 10 - len(failed)


def test_retries_move_rows_to_a_host_that_answers(server: FakeOllama, second: FakeOllama) -> None:
    server.generate(error="queue full", status=503)
    second.generate("ok")
    hosts = [dead_host(), server.url, second.url]
    udf = Generate(
        "m", hosts=hosts, host_column="host", attempts_column="attempts", retries=2,
        max_in_flight=3,
    )  # fmt: skip
    out = rows(udf(pa.table({"prompt": [f"p{i}" for i in range(6)]})))
    udf.close()
    assert all(row["response"] == "ok" and row["host"] == second.url for row in out)
    assert len(second.calls("generate")) == 6
    # every attempt counted: the answers, the 503s and at least one refused connection
    refused = sum(row["attempts"] for row in out) - 6 - len(server.calls("generate"))
    assert refused >= 1 and all(1 <= row["attempts"] <= 3 for row in out)


def test_retries_give_up_and_say_how_often_they_tried(server: FakeOllama) -> None:
    server.generate(error="queue full", status=503)
    udf = Generate("m", hosts=[server.url], retries=1, cooldown=0)
    started = time.monotonic()
    out = rows(udf(pa.table({"prompt": ["p"]})))
    udf.close()
    assert out[0]["error"] == "ServerBusyError: queue full (status code: 503) (after 2 attempts)"
    assert time.monotonic() - started >= 0.5  # one host: a pause before trying it again


def test_what_retrying_cannot_fix_is_not_retried(server: FakeOllama) -> None:
    server.generate(error="model 'm' not found", status=404)
    udf = Generate("m", hosts=[server.url], retries=3)
    out = rows(udf(pa.table({"prompt": ["p", "q"]})))
    udf.close()
    assert [row["error"] for row in out] == [
        "NotFoundError: model 'm' not found (status code: 404)"
    ] * 2
    assert len(server.calls("generate")) == 2


def test_on_error_raise_fails_the_batch(server: FakeOllama) -> None:
    server.generate(error="model 'm' not found", status=404)
    udf = Generate("m", hosts=[server.url], on_error="raise")
    with pytest.raises(NotFoundError, match="not found"):
        udf(pa.table({"prompt": ["p"]}))
    udf.close()


def test_in_flight_requests_are_bounded(server: FakeOllama) -> None:
    lock = threading.Lock()
    now = peak = 0

    def answer(request: RecordedRequest) -> Reply:
        nonlocal now, peak
        with lock:
            now += 1
            peak = max(peak, now)
        time.sleep(0.05)
        with lock:
            now -= 1
        return Reply.json({"model": "m", "response": "ok", "done": True})

    server.expect("POST", "/api/generate", answer)
    udf = Generate("m", hosts=[server.url], max_in_flight=3)
    out = rows(udf(pa.table({"prompt": [f"p{i}" for i in range(12)]})))
    udf.close()
    assert all(row["response"] == "ok" for row in out)
    assert peak == 3


def test_no_hosts_means_the_nodes_own_ollama(
    server: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", server.url)
    server.generate("local")
    udf = Generate("m", host_column="host")
    out = rows(udf(pa.table({"prompt": ["p"]})))
    udf.close()
    assert out == [{"prompt": "p", "response": "local", "host": server.url, "error": None}]


# -- prompts and structured output ----------------------------------------------------------


@dataclass
class Verdict:
    label: Literal["spam", "ham"]
    confidence: float


def test_chat_renders_templates_and_parses_format_into_typed_columns(server: FakeOllama) -> None:
    server.chat('{"label": "spam", "confidence": 0.9}')
    server.chat("not json")
    udf = Chat(
        "m",
        hosts=[server.url],
        prompt="Subject: {subject}\n{body}",
        system="You sort mail for {team}.",
        format=Verdict,
        options={"temperature": 0},
        metrics=True,
        max_in_flight=1,
    )
    table = pa.table({"subject": ["Win!", "Lunch"], "body": ["money", "noon"], "team": ["a", "b"]})
    out = udf(table)
    udf.close()
    assert out.schema.field("label").type == pa.string()
    assert out.schema.field("confidence").type == pa.float64()
    assert out.schema.field("eval_count").type == pa.int64()
    first, second = rows(out)
    assert first["label"] == "spam" and first["confidence"] == 0.9 and first["error"] is None
    assert first["done_reason"] == "stop" and first["eval_count"] > 0
    assert second["label"] is None and second["response"] == "not json"
    assert second["error"].startswith("ParseError: ")
    body = server.calls("chat")[0].json()
    assert body["messages"] == [
        {"role": "system", "content": "You sort mail for a."},
        {"role": "user", "content": "Subject: Win!\nmoney"},
    ]
    assert body["format"]["properties"]["label"]["enum"] == ["spam", "ham"]
    assert body["options"] == {"temperature": 0}


def test_generate_sends_the_rendered_prompt_and_a_null_column_fails_only_its_row(
    server: FakeOllama,
) -> None:
    server.generate("fine")
    udf = Generate("m", hosts=[server.url], prompt="Title: {title:>6}", raw=True)
    out = rows(udf(pa.table({"title": ["Dune", None]})))
    udf.close()
    assert out[0]["response"] == "fine"
    assert out[1]["error"] == "NullValueError: column 'title' is null in this row"
    body = server.last("generate").json()
    assert body["prompt"] == "Title:   Dune" and body["raw"] is True


def test_mistakes_in_the_job_fail_the_job(server: FakeOllama) -> None:
    udf = Generate("m", hosts=[server.url], prompt="{missing}")
    with pytest.raises(KeyError, match="'missing', which the dataset does not have"):
        udf(pa.table({"prompt": ["p"]}))
    udf.close()
    server.generate("x")
    udf = Generate("m", hosts=[server.url], output_column="prompt")
    with pytest.raises(ValueError, match="would overwrite the input column"):
        udf(pa.table({"prompt": ["p"]}))
    udf.close()
    with pytest.raises(ValueError, match="max_in_flight"):
        Generate("m", max_in_flight=0)
    with pytest.raises(ValueError, match="model is required"):
        Embed("")


def test_batches_in_every_format_ray_hands_over(server: FakeOllama) -> None:
    server.embed(dimensions=2)
    udf = Embed("m", hosts=[server.url])
    from_numpy = udf({"text": np.array(["a", "b"], dtype=object), "n": np.zeros((2, 3))})
    from_pandas = udf(pd.DataFrame({"text": ["a", "b"]}))
    udf.close()
    assert from_numpy.schema.field("n").type == pa.list_(pa.float64())
    assert from_numpy["embedding"].to_pylist() == from_pandas["embedding"].to_pylist()
