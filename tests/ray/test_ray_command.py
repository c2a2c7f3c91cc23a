"""``python -m ollamakit.ray``: mistakes in the command are caught before Ray starts (the job
itself runs in tests/server/test_ray.py)."""

from __future__ import annotations

import pytest

from ollamakit.ray.__main__ import main


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--format", "nowhere"], "expected module:Class, not 'nowhere'"),
        (["--format", "ollamakit.ray:Missing"], "cannot import ollamakit.ray:Missing"),
        (["--format", "ollamakit.ray:ACTOR_CPUS"], "ollamakit.ray:ACTOR_CPUS is not a class"),
        (["--options", "{temperature"], "not JSON"),
        (["--options", "[1]"], "expected a JSON object"),
        (["--on-error", "ignore"], "invalid choice: 'ignore'"),
        (["--prompt", "Say {}"], "'{}' names no column"),
        (["--max-in-flight", "0"], "max_in_flight must be at least 1"),
    ],
)
def test_bad_arguments_stop_the_command(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["chat", "in/", "out/", "--model", "m", *arguments])
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err


def test_the_model_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["embed", "in/", "out/"])
    assert "--model" in capsys.readouterr().err
