"""Template limits: no template, Go or Jinja, can run for long, take much memory or outlive the
request it renders for (README, Reliability). Each case is one of the reviewed attacks or its
nearest variant; the server-level versions, with a probe, are in ``test_server_hostile.py``."""

from __future__ import annotations

import threading
import time
import tracemalloc
from typing import Any

import pytest

from ollamakit.server import jinja_templates
from ollamakit.server import prompt as prompting
from ollamakit.server import templates as tpl
from ollamakit.server.templates import (
    GEMMA3_TEMPLATE,
    Limits,
    Template,
    TemplateCancelled,
    TemplateLimitError,
    render,
)


def run(source: str, data: Any = None, limits: Limits | None = None) -> str:
    return Template(source).execute(data if data is not None else {"Response": ""}, limits)


def _doubling_templates(depth: int) -> str:
    """Templates t1..t(depth-1), each calling the one below twice: 2**depth calls in all."""
    parts = ['{{define "t0"}}{{end}}']
    for n in range(1, depth):
        call = '{{template "t' + str(n - 1) + '" .}}'
        parts.append('{{define "t' + str(n) + '"}}' + call + call + "{{end}}")
    parts.append('{{template "t' + str(depth - 1) + '" .}}')
    return "".join(parts)


# -- Go templates -------------------------------------------------------------------------


def test_source_size_is_bounded() -> None:
    at_limit = "x" * tpl.MAX_SOURCE_BYTES
    assert run(at_limit) == at_limit
    with pytest.raises(TemplateLimitError, match="16385 bytes, more than the 16384 allowed"):
        Template("x" * (tpl.MAX_SOURCE_BYTES + 1))
    # Counted in UTF-8 bytes, as Go would.
    with pytest.raises(TemplateLimitError):
        Template("é" * (tpl.MAX_SOURCE_BYTES // 2 + 1))
    with pytest.raises(prompting.TemplateLimitError):
        prompting.parse_go_template("{{ .Prompt }}" * 2000)


def test_parsing_is_linear(monkeypatch: pytest.MonkeyPatch) -> None:
    """Positions for error messages are computed only when an error is reported: each node
    used to count the lines before it, which made parsing quadratic in the source size."""
    calls = []

    def line_col(src: str, pos: int) -> tuple[int, int]:
        calls.append(pos)
        return 1, 0

    monkeypatch.setattr(tpl.executor, "_line_col", line_col)
    tpl._cache.clear()
    Template("{{ .Prompt }}\n" * 1000)
    assert calls == []
    with pytest.raises(tpl.TemplateError):
        Template("{{ .Prompt }}\n" * 10 + "{{ .Nope.X }}").execute({"Response": ""})
    assert len(calls) == 1


@pytest.mark.parametrize(
    "source",
    [
        "{{range 12000}}{{range 12000}}{{end}}{{end}}",
        "{{range 100000000}}{{end}}",
        _doubling_templates(40),
        "{{$x := 1}}{{range 1000000000}}{{$x = $x}}{{end}}",
    ],
    ids=["nested-ranges", "huge-range", "exponential-templates", "assignments"],
)
def test_steps_are_bounded(source: str) -> None:
    limits = Limits(steps=200_000)
    started = time.perf_counter()
    with pytest.raises(TemplateLimitError, match="execution took more than 200000 steps"):
        run(source, limits=limits)
    assert time.perf_counter() - started < 5


def test_a_huge_range_is_counted_not_built() -> None:
    tracemalloc.start()
    try:
        with pytest.raises(TemplateLimitError):
            run("{{range 10000000}}{{end}}", limits=Limits(steps=100_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 << 20


def test_variable_lookups_cost_what_they_scan() -> None:
    """Thousands of variables in scope make every lookup of ``$`` a long scan."""
    declarations = "{{$a := 1}}" * 1200
    with pytest.raises(TemplateLimitError):
        run(declarations + "{{range 100000}}{{$}}{{end}}", limits=Limits(steps=1_000_000))


def test_output_is_bounded() -> None:
    limits = Limits(output_bytes=100_000)
    assert len(run('{{range 100}}{{printf "%*d" 999 1}}{{end}}', limits=limits)) == 99_900
    with pytest.raises(TemplateLimitError, match="output is longer than 100000 characters"):
        run('{{range 101}}{{printf "%*d" 999 1}}{{end}}', limits=limits)
    with pytest.raises(TemplateLimitError, match="output is longer"):
        run("{{range 1000}}{{$.A}}{{end}}", {"A": "x" * 1000, "Response": ""}, limits)


def test_function_results_are_bounded_even_unprinted() -> None:
    doubling = '{{$x := "abcdefgh"}}{{range 40}}{{$x = print $x $x}}{{end}}'
    with pytest.raises(TemplateLimitError, match="function results are longer than"):
        run(doubling, limits=Limits(output_bytes=1 << 20))
    many = '{{range 1000}}{{$v := printf "%*d" 1000000 1}}{{end}}'
    with pytest.raises(TemplateLimitError, match="function results"):
        run(many, limits=Limits(output_bytes=1 << 20))


def test_limits_follow_the_context() -> None:
    assert Limits.for_context(4096).output_bytes == tpl.MIN_OUTPUT_BYTES
    assert Limits.for_context(1 << 20).output_bytes == tpl.OUTPUT_BYTES_PER_TOKEN << 20


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ('"%*d" 300000000 1', "%!(BADWIDTH)1"),
        ('"%*d" 1000001 1', "%!(BADWIDTH)1"),
        ('"%*d" -1000001 1', "%!(BADWIDTH)1"),
        ('"%.*f" 1000001 1.5', "%!(BADPREC)1.500000"),
        ('"%.*d" -1 5', "%!(BADPREC)5"),
        ('"%99999999d" 1', "%!(NOVERB)%!(EXTRA int=1)"),
        ('"%.99999999f" 1.5', "%!(NOVERB)%!(EXTRA float64=1.5)"),
        ('"%-*d|" -3 7', "7  |"),
        ('"%*d" 3 7', "  7"),
    ],
)
def test_printf_width_and_precision_follow_go(fmt: str, expected: str) -> None:
    """Go's fmt refuses widths and precisions beyond a million (``tooLarge``)."""
    assert run("{{printf " + fmt + "}}") == expected


def test_cancel_stops_execution() -> None:
    cancel = threading.Event()
    limits = Limits(steps=10**12, cancel=cancel)
    timer = threading.Timer(0.2, cancel.set)
    timer.start()
    started = time.perf_counter()
    try:
        with pytest.raises(TemplateCancelled):
            run("{{range 1000000000}}{{end}}", limits=limits)
    finally:
        timer.cancel()
    assert time.perf_counter() - started < 2


def test_legacy_mode_turns_share_one_budget() -> None:
    """A legacy template runs once per turn; the limits are for the whole prompt."""
    source = "{{ .Prompt }}{{range 3000}}{{end}}{{ .Response }}"
    turns = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}] * 40
    render(source, messages=turns, limits=Limits(steps=1_000_000))
    with pytest.raises(TemplateLimitError):
        render(source, messages=turns, limits=Limits(steps=100_000))


def test_a_long_chat_renders_within_the_limits() -> None:
    """Real templates stay far below the limits: 2,000 messages with gemma3's template (whose
    ``slice $.Messages $i`` copies the rest of the chat for every message)."""
    chat = [{"role": ("user", "assistant")[i % 2], "content": f"turn {i}"} for i in range(2000)]
    text = render(GEMMA3_TEMPLATE, messages=chat, limits=Limits.for_context(4096))
    assert text.count("<start_of_turn>") == 2000 and text.endswith("turn 1999")


def test_the_cache_is_bounded_by_bytes() -> None:
    tpl._cache.clear()
    for index in range(20):
        Template(f"{index:05d}" + "{{ .Prompt }}" * 1000)
    assert tpl._cache.size <= tpl.CACHE_BYTES
    assert 0 < len(tpl._cache._items) < 20
    # The most recent ones are the ones kept.
    assert "00019" + "{{ .Prompt }}" * 1000 in tpl._cache._items


# -- Jinja chat templates -----------------------------------------------------------------


def test_jinja_source_size_is_bounded() -> None:
    with pytest.raises(TemplateLimitError, match="more than the"):
        jinja_templates.render("x" * (jinja_templates.MAX_SOURCE_BYTES + 1), {})
    fmt = prompting.PromptFormat("jinja", "x" * (jinja_templates.MAX_SOURCE_BYTES + 1))
    with pytest.raises(prompting.TemplateLimitError):
        fmt.render_messages([{"role": "user", "content": "hi"}])


@pytest.mark.parametrize(
    "source",
    [
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% macro m(n) %}{{ m(n) }}{{ m(n) }}{% endmacro %}{{ m(1) }}",
    ],
    ids=["nested-loops", "recursive-macro"],
)
def test_jinja_steps_are_bounded(source: str) -> None:
    started = time.perf_counter()
    with pytest.raises(tpl.TemplateError):
        jinja_templates.render(source, {}, Limits(steps=100_000))
    assert time.perf_counter() - started < 10


def test_jinja_output_and_repetition_are_bounded() -> None:
    limits = Limits(output_bytes=10_000)
    with pytest.raises(TemplateLimitError, match="repetition longer than 10000"):
        jinja_templates.render("{{ 'x' * 1000000000 }}", {}, limits)
    with pytest.raises(TemplateLimitError, match="repetition"):
        jinja_templates.render("{{ [1] * 1000000000 }}", {}, limits)
    with pytest.raises(TemplateLimitError, match="exponent"):
        jinja_templates.render("{{ 9 ** 100000000 }}", {}, limits)
    with pytest.raises(TemplateLimitError, match="output is longer than 10000"):
        jinja_templates.render("{% for i in range(1000) %}{{ 'y' * 100 }}{% endfor %}", {}, limits)
    assert jinja_templates.render("{{ 'ab' * 3 }}", {}, limits) == "ababab"


def test_jinja_cancel_stops_rendering() -> None:
    cancel = threading.Event()
    cancel.set()
    source = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    with pytest.raises(TemplateCancelled):
        jinja_templates.render(source, {}, Limits(steps=10**12, cancel=cancel))


def test_jinja_tracing_is_removed_afterwards() -> None:
    import sys

    before = sys.gettrace()
    jinja_templates.render("{{ messages | length }}", {"messages": [1, 2]})
    with pytest.raises(tpl.TemplateError):
        jinja_templates.render("{% for i in range(100000) %}{% endfor %}", {}, Limits(steps=10))
    assert sys.gettrace() is before
