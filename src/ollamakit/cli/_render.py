"""Printing a streamed answer: thinking shown apart from the answer, word wrap, a spinner.

Plain ANSI rather than rich: ``run`` should start fast, and the only styling needed is dim and
italic. Styling is used only when the stream is a terminal and neither ``NO_COLOR`` nor
``TERM=dumb`` asks otherwise.
"""

from __future__ import annotations

import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TextIO

from .. import _env

__all__ = [
    "AnswerRenderer",
    "Spinner",
    "WordWrap",
    "extract_images",
    "is_tty",
    "styled",
]

_DIM = "\x1b[2m"
_THINKING = "\x1b[2;3m"
_RESET = "\x1b[0m"


def is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def styled(stream: TextIO) -> bool:
    """Whether ANSI styling may be written to ``stream``."""
    if not is_tty(stream):
        return False
    return _env.styling_allowed()


class WordWrap:
    """Wraps streamed text at ``width`` columns while printing each piece at once.

    A word that overflows the line is taken back (cursor left, erase to end of line) and
    reprinted on the next line, which is how Ollama wraps without holding tokens back.
    """

    def __init__(self, width: int) -> None:
        self.width = max(width, 10)
        self.column = 0
        self.word = ""

    def feed(self, text: str) -> str:
        out: list[str] = []
        for char in text:
            if char == "\n":
                out.append("\n")
                self.column = 0
                self.word = ""
            elif char in " \t":
                self.word = ""
                if self.column + 1 > self.width:
                    out.append("\n")
                    self.column = 0
                else:
                    out.append(char)
                    self.column += 1
            else:
                if self.column + 1 > self.width:
                    if self.word and len(self.word) < self.column:
                        out.append(f"\x1b[{len(self.word)}D\x1b[K\n{self.word}")
                        self.column = len(self.word)
                    else:
                        out.append("\n")
                        self.column = 0
                        self.word = ""
                out.append(char)
                self.column += 1
                self.word += char
        return "".join(out)


class AnswerRenderer:
    """Writes thinking and content chunks of one answer to ``out``.

    Thinking goes in a block opened by ``Thinking...`` and closed by ``...done thinking.``
    (dim and italic on a terminal), as Ollama prints it; ``hide_thinking`` drops it.
    """

    def __init__(
        self,
        out: TextIO,
        *,
        style: bool = False,
        wrap_width: int | None = None,
        hide_thinking: bool = False,
    ) -> None:
        self.out = out
        self.style = style
        self.wrap_width = wrap_width
        self.hide_thinking = hide_thinking
        self._wrap: WordWrap | None = WordWrap(wrap_width) if wrap_width else None
        self._in_thinking = False
        self._last = "\n"
        self.content: list[str] = []
        self.thinking: list[str] = []

    def _write(self, text: str) -> None:
        if not text:
            return
        self.out.write(text)
        self.out.flush()
        self._last = text[-1]

    def _wrapped(self, text: str) -> str:
        return self._wrap.feed(text) if self._wrap is not None else text

    def _restart_wrap(self) -> None:
        if self.wrap_width:
            self._wrap = WordWrap(self.wrap_width)

    def add_thinking(self, text: str) -> None:
        if not text:
            return
        self.thinking.append(text)
        if self.hide_thinking:
            return
        if not self._in_thinking:
            self._in_thinking = True
            self._restart_wrap()
            self._write(f"{_DIM}Thinking...{_RESET}\n" if self.style else "Thinking...\n")
            if self.style:
                self._write(_THINKING)
        self._write(self._wrapped(text))

    def _close_thinking(self) -> None:
        if not self._in_thinking:
            return
        self._in_thinking = False
        ending = "\n" if self._last != "\n" else ""
        if self.style:
            self._write(f"{_RESET}{ending}{_DIM}...done thinking.{_RESET}\n\n")
        else:
            self._write(f"{ending}...done thinking.\n\n")
        self._restart_wrap()

    def add_content(self, text: str) -> None:
        if not text:
            return
        self._close_thinking()
        self.content.append(text)
        self._write(self._wrapped(text))

    def finish(self, blank_line: bool = False) -> None:
        """End the answer on a fresh line (and a blank one, between turns of a chat)."""
        self._close_thinking()
        if self.style:
            self.out.write(_RESET)
        if self._last != "\n":
            self._write("\n")
        if blank_line:
            self._write("\n")
        self.out.flush()


class Spinner:
    """A braille spinner on a terminal while waiting (model load, first token); no-op otherwise."""

    _FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

    def __init__(self, stream: TextIO | None = None, message: str = "") -> None:
        self.stream = stream or sys.stderr
        self.message = message
        self.enabled = styled(self.stream)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Spinner:
        if self.enabled and self._thread is None:
            self._thread = threading.Thread(target=self._spin, daemon=True)
            self._thread.start()
        return self

    def _spin(self) -> None:
        index = 0
        while not self._stop.wait(0.1):
            frame = self._FRAMES[index % len(self._FRAMES)]
            text = f"{self.message} {frame}" if self.message else frame
            self.stream.write(f"\r{text}\x1b[K")
            self.stream.flush()
            index += 1

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        self.stream.write("\r\x1b[K")
        self.stream.flush()

    def __enter__(self) -> Spinner:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# Ollama's pattern: a path starting with /, ./, ~/, \ or a drive letter, ending in an image
# extension; spaces may be escaped. Candidates that are not existing files are left alone.
_IMAGE_PATH = re.compile(r"(?:[a-zA-Z]:)?(?:\./|~/|/|\\)[\S\\ ]+?\.(?i:jpg|jpeg|png|webp)\b")


@dataclass
class ExtractedImages:
    prompt: str
    images: list[bytes]
    paths: list[Path]


def extract_images(prompt: str) -> ExtractedImages:
    """Take the image files named in ``prompt`` out of it and read them."""
    images: list[bytes] = []
    paths: list[Path] = []
    for found in _IMAGE_PATH.findall(prompt):
        unescaped = found.replace("\\ ", " ").replace("%20", " ")
        path = Path(unescaped).expanduser()
        try:
            data = path.read_bytes()
        except OSError:
            continue
        images.append(data)
        paths.append(path)
        for variant in (f"'{unescaped}'", f"'{found}'", f'"{unescaped}"', found):
            prompt = prompt.replace(variant, "")
    return ExtractedImages(prompt.strip() if paths else prompt, images, paths)
