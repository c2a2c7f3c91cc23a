"""The pytest plugin, run the way users run it: pytest's ``pytester`` runs sample test files
in a pytest of their own (a subprocess) with the plugin loaded from its entry point. Here:
``ollama_fake``, the ``--ollama-host`` path of ``ollama_server`` (with a fake Ollama as the
server it talks to), and what the plugin must not change. The embedded server is in
``tests/server/test_pytest_plugin_server.py``.

Why subprocesses: an in-process session unloads the modules it imported when it ends, and a
later import of them leaves this process with two copies of httpcore, whose errors httpx no
longer recognises."""

from __future__ import annotations

from pathlib import Path

import pytest

from ollamakit.testing import FakeOllama, Reply, live

pytest_plugins = ["pytester"]

# The inner sessions see no pyproject.toml: warnings are errors there too. Plugins that
# only cost time stay off: langsmith's (see pyproject.toml), and hypothesis', which imports
# hypothesis again in every session (pytester unloads what a session imported).
INI = """
[pytest]
addopts = -p no:langsmith_plugin -p no:hypothesispytest -p no:cacheprovider
filterwarnings = error
"""


ORIGINAL_HOST = "http://original.invalid:1"


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("OLLAMAKIT_PYTEST_HOST", "OLLAMAKIT_PYTEST_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OLLAMA_HOST", ORIGINAL_HOST)
    pytester.makeini(INI)
    return pytester


FAKE_TESTS = """
import os

import ollama
import openai
import pytest

import ollamakit
from ollamakit.testing import tool_call

HI = [{"role": "user", "content": "Hi"}]


def test_ollamakit_client(ollama_fake):
    ollama_fake.chat("Hello there")
    with ollamakit.Client(ollama_fake.url) as client:
        assert client.chat("llama3.2", HI).message.content == "Hello there"
        assert "".join(client.chat("llama3.2", HI, stream=True).text()) == "Hello there"
    assert [request.json()["stream"] for request in ollama_fake.calls("chat")] == [False, True]


def test_official_client_and_environment(ollama_fake):
    assert os.environ["OLLAMA_HOST"] == ollama_fake.url
    ollama_fake.generate("Paris.")
    with ollama.Client() as client:  # reads OLLAMA_HOST
        assert client.generate("llama3.2", "Capital of France?").response == "Paris."


def test_module_functions_follow_the_fake(ollama_fake):
    ollama_fake.chat("first")
    assert ollamakit.chat("m", HI).message.content == "first"


def test_a_new_fake_for_each_test(ollama_fake):
    assert ollama_fake.calls() == []
    ollama_fake.chat("second")
    assert ollamakit.chat("m", HI).message.content == "second"


def test_the_environment_is_restored_after_the_test():
    assert os.environ["OLLAMA_HOST"] == "http://original.invalid:1"


def test_openai_sdk(ollama_fake):
    ollama_fake.chat(tool_calls=[tool_call("add", {"a": 1})])
    with openai.OpenAI(base_url=ollama_fake.url + "/v1", api_key="x", max_retries=0) as client:
        reply = client.chat.completions.create(model="m", messages=HI)
    assert reply.choices[0].message.tool_calls[0].function.name == "add"


def test_faults(ollama_fake):
    ollama_fake.chat(["Hel"], error="out of memory")
    with pytest.raises(ollamakit.StreamError, match="out of memory"):
        list(ollamakit.chat("m", HI, stream=True))
    ollama_fake.embed(error="model 'x' not found", status=404)
    with ollama.Client(host=ollama_fake.url) as client, pytest.raises(ollama.ResponseError):
        client.embed("x", "text")
"""


def test_ollama_fake_with_the_clients(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_fake=FAKE_TESTS)
    inner.runpytest_subprocess().assert_outcomes(passed=7)


def test_a_failing_test_shows_the_requests_the_fake_received(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        import ollamakit

        def test_summary(ollama_fake):
            ollama_fake.chat("A summary")
            ollamakit.chat("llama3.2", [{"role": "user", "content": "Summarise: text"}])
            assert ollama_fake.last("chat").json()["model"] == "qwen3"
        """
    )
    result = inner.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*- ollama_fake requests (call) -*",
            'POST /api/chat {"model":"llama3.2","stream":false,"messages":[{"role":"user",'
            '"content":"Summarise: text"}],"tools":[]}',
        ]
    )


HOST_TESTS = """
import os


def test_uses_the_running_server(ollama_server):
    assert ollama_server.external and ollama_server.log_path is None
    assert os.environ["OLLAMA_HOST"] == ollama_server.host
    assert ollama_server.model == "qwen3:0.6b"
    with ollama_server.client() as client:
        assert client.chat(ollama_server.model, []).message.content == "from the running server"
"""


def _external_peer(fake: FakeOllama) -> None:
    fake.expect("POST", "/api/show", Reply.error("model 'qwen3:0.6b' not found", 404))
    fake.pull()
    fake.chat("from the running server")


def test_ollama_host_option_pulls_a_missing_model(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_host=HOST_TESTS)
    with FakeOllama() as running:
        _external_peer(running)
        result = inner.runpytest_subprocess(
            f"--ollama-host={running.url}", "--ollama-model=qwen3:0.6b"
        )
        paths = [request.path for request in running.calls()]
    result.assert_outcomes(passed=1)
    assert paths == ["/api/version", "/api/show", "/api/pull", "/api/chat"]
    assert running.last("pull").json()["model"] == "qwen3:0.6b"
    result.stdout.fnmatch_lines([f"ollama_server: Ollama at {running.url}, ready in *qwen3:0.6b*"])


def test_ollama_host_from_the_environment_and_the_option_wins(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    inner.makepyfile(test_host=HOST_TESTS)
    with FakeOllama() as running, FakeOllama() as unused:
        _external_peer(running)
        monkeypatch.setenv("OLLAMAKIT_PYTEST_HOST", running.url)
        monkeypatch.setenv("OLLAMAKIT_PYTEST_MODEL", "qwen3:0.6b")
        inner.runpytest_subprocess().assert_outcomes(passed=1)
        assert len(running.calls("chat")) == 1
        monkeypatch.setenv("OLLAMAKIT_PYTEST_HOST", unused.url)
        inner.runpytest_subprocess(f"--ollama-host={running.url}").assert_outcomes(passed=1)
        assert len(running.calls("chat")) == 2 and unused.calls() == []


def test_an_unreachable_host_is_a_clear_setup_error(inner: pytest.Pytester) -> None:
    with FakeOllama() as closed:
        url = closed.url
    inner.makepyfile(
        """
        def test_needs_it(ollama_server):
            pass

        def test_also_needs_it(ollama_server):
            pass

        def test_does_not(ollama_fake):
            pass
        """
    )
    result = inner.runpytest_subprocess(f"--ollama-host={url}")
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines([f"*ollama_server: no Ollama answers at {url}*"])
    assert "Traceback" not in result.stdout.str()


def test_options_are_listed_in_help(inner: pytest.Pytester) -> None:
    result = inner.runpytest("--help")  # in process: nothing is imported
    result.stdout.fnmatch_lines(
        [
            "Ollama in tests (ollamakit):",
            "*--ollama-host=URL*",
            "*--ollama-model=NAME*",
            "*--ollama-cache=DIR*",
        ]
    )


UNRELATED_TESTS = """
import os
import sys
from pathlib import Path

import pytest

# Not even ollamakit: the plugin lives outside the package for that.
HEAVY = ("ollamakit", "msgspec", "httpx", "urllib3", "aiohttp", "llama_cpp")


@pytest.fixture
def ollama_fake():
    return "the project's own fixture"


def test_nothing_heavy_is_loaded_and_nothing_set(request):
    assert [name for name in HEAVY if name in sys.modules] == []
    assert os.environ["OLLAMA_HOST"] == "http://original.invalid:1"
    loaded = request.config.pluginmanager.has_plugin("ollamakit")
    Path("plugin-loaded").write_text(str(loaded))


def test_a_project_fixture_of_the_same_name_wins(ollama_fake):
    assert ollama_fake == "the project's own fixture"


def test_failing():
    assert 1 == 2


@pytest.mark.skip(reason="skipped")
def test_skipped():
    pass
"""


def test_a_suite_that_does_not_use_the_fixtures_is_unaffected(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_unrelated=UNRELATED_TESTS)
    with_plugin = inner.runpytest_subprocess("-rA")
    with_plugin.assert_outcomes(passed=2, failed=1, skipped=1)
    assert (inner.path / "plugin-loaded").read_text() == "True"
    without = inner.runpytest_subprocess("-rA", "-p", "no:ollamakit")
    without.assert_outcomes(passed=2, failed=1, skipped=1)
    assert (inner.path / "plugin-loaded").read_text() == "False"
    assert "ollama_server" not in with_plugin.stdout.str()


def test_the_embedded_server_needs_the_server_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "_SERVER_MODULES", ("json", "no_such_module_here"))
    with pytest.raises(live.LiveOllamaError) as caught:
        live.LiveOllama.start(tmp_path)
    assert str(caught.value) == (
        "the embedded server needs the [server] extra (missing: no_such_module_here): "
        "pip install 'ollamakit[server]', or use an Ollama that is already running "
        "(--ollama-host URL)"
    )
    assert list(tmp_path.iterdir()) == []
