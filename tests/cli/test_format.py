"""Formatting helpers: Ollama's sizes, times, durations and tables; word wrap; image paths."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ollamakit.cli._format import (
    go_duration,
    human_bytes,
    human_duration,
    human_number,
    human_time,
    table,
)
from ollamakit.cli._render import AnswerRenderer, WordWrap, extract_images


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1 KB"),
        (1500, "1.5 KB"),
        (253_000_000, "253 MB"),
        (291_554_930, "291 MB"),
        (2_019_393_189, "2.0 GB"),
        (2_500_000_000, "2.5 GB"),
        (4_000_000_000, "4 GB"),
        (12_300_000_000_000, "12 TB"),
    ],
)
def test_human_bytes(size: int, text: str) -> None:
    assert human_bytes(size) == text


@pytest.mark.parametrize(
    ("count", "text"),
    [(268_098_176, "268.10M"), (3_000_000_000, "3B"), (7_615_616_512, "7.6B"), (512, "512")],
)
def test_human_number(count: int, text: str) -> None:
    assert human_number(count) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.5, "Less than a second"),
        (1, "1 second"),
        (42, "42 seconds"),
        (90, "About a minute"),
        (150, "2 minutes"),
        (3600, "About an hour"),
        (5 * 3600, "5 hours"),
        (3 * 86400, "3 days"),
        (15 * 86400, "2 weeks"),
        (90 * 86400, "3 months"),
        (800 * 86400, "2 years"),
    ],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_human_time() -> None:
    now = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
    assert human_time(now - timedelta(minutes=2, seconds=5), now=now) == "2 minutes ago"
    assert human_time(now + timedelta(minutes=4, seconds=50), now=now) == "4 minutes from now"
    assert human_time(now + timedelta(days=365 * 300), now=now) == "Forever"
    assert human_time(None) == "Never"
    assert human_time(datetime(1, 1, 1, tzinfo=timezone.utc)) == "Never"


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (999, "999ns"),
        (1_500, "1.5µs"),
        (1_334_875, "1.334875ms"),
        (342_546_000, "342.546ms"),
        (4_883_583_458, "4.883583458s"),
        (62_500_000_000, "1m2.5s"),
        (3_600_000_000_000, "1h0m0s"),
        (60_000_000_000, "1m0s"),
    ],
)
def test_go_duration(ns: int, text: str) -> None:
    assert go_duration(ns) == text


def test_table_aligns_left_with_four_spaces() -> None:
    rows = [["NAME", "ID"], ["gemma3:270m", "abc"]]
    assert table(rows) == "NAME           ID\ngemma3:270m    abc\n"
    assert table([["", "architecture", "gemma3"], ["", "parameters", "268M"]]) == (
        "    architecture    gemma3\n    parameters      268M\n"
    )


def test_word_wrap_moves_an_overflowing_word_to_the_next_line() -> None:
    wrap = WordWrap(12)
    out = wrap.feed("hello ") + wrap.feed("wonder") + wrap.feed("ful ok")
    # "wonderful" overflows at column 12: it is taken back (cursor left 6, erase) and reprinted.
    assert out == "hello wonder\x1b[6D\x1b[K\nwonderful ok"
    assert WordWrap(10).feed("a\nb") == "a\nb"


def test_word_wrap_breaks_a_word_longer_than_the_line() -> None:
    assert WordWrap(10).feed("x" * 25) == "x" * 10 + "\n" + "x" * 10 + "\n" + "x" * 5


def test_renderer_separates_thinking_from_the_answer() -> None:
    out = io.StringIO()
    renderer = AnswerRenderer(out)
    for piece in ("Let me", " think"):
        renderer.add_thinking(piece)
    renderer.add_content("Answer.")
    renderer.finish(blank_line=True)
    assert out.getvalue() == "Thinking...\nLet me think\n...done thinking.\n\nAnswer.\n\n"


def test_renderer_styles_thinking_on_a_terminal() -> None:
    out = io.StringIO()
    renderer = AnswerRenderer(out, style=True)
    renderer.add_thinking("hmm")
    renderer.add_content("yes")
    renderer.finish()
    assert out.getvalue() == (
        "\x1b[2mThinking...\x1b[0m\n\x1b[2;3mhmm\x1b[0m\n\x1b[2m...done thinking.\x1b[0m\n\nyes"
        "\x1b[0m\n"
    )


def test_renderer_hides_thinking() -> None:
    out = io.StringIO()
    renderer = AnswerRenderer(out, hide_thinking=True)
    renderer.add_thinking("secret")
    renderer.add_content("ok")
    renderer.finish()
    assert out.getvalue() == "ok\n"
    assert renderer.thinking == ["secret"]


def test_extract_images(tmp_path: Path) -> None:
    image = tmp_path / "cat photo.png"
    image.write_bytes(b"\x89PNG fake")
    other = tmp_path / "dog.JPG"
    other.write_bytes(b"jpeg")
    escaped = str(image).replace(" ", "\\ ")
    prompt = f"compare {escaped} with '{other}' and /no/such/file.png"
    found = extract_images(prompt)
    assert found.images == [b"\x89PNG fake", b"jpeg"]
    assert found.paths == [image, other]
    assert found.prompt == "compare  with  and /no/such/file.png"
    assert extract_images("no images here").prompt == "no images here"
