"""Progress of pull, push and create: rich bars on a terminal, one line per step otherwise.

Progress goes to stderr, as Ollama's does, so ``ollamakit pull m > log`` still shows bars.
When stderr is not a terminal (CI logs, pipes) each status is printed once, and a layer once
when it first appears, instead of hundreds of redraws.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from ._format import human_bytes
from ._render import is_tty

if TYPE_CHECKING:
    from .._types import ProgressResponse

__all__ = ["ProgressView", "follow"]


class ProgressView:
    """Statuses and byte bars; use as a context manager around one operation."""

    def __init__(self, stream: TextIO | None = None, *, rich: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self._printed_status: str | None = None
        self._seen_bars: set[str] = set()
        self._status_task: Any = None
        self._status_text = ""
        self._bars: dict[str, Any] = {}
        self._progress: Any = None
        if rich is None:
            rich = is_tty(self.stream)
        if rich:
            self._progress = _rich_progress(self.stream)

    @property
    def live(self) -> bool:
        return self._progress is not None

    def __enter__(self) -> ProgressView:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(success=exc is None)

    def close(self, success: bool = True) -> None:
        progress = self._progress
        if progress is None:
            return
        if success:
            self._finish_status()
        progress.stop()
        self._progress = None

    def _finish_status(self) -> None:
        if self._status_task is not None:
            self._progress.update(self._status_task, completed=1)
            self._status_task = None

    def status(self, text: str) -> None:
        """A step without a byte count ("pulling manifest", "writing manifest", "success")."""
        if self._progress is None:
            if text != self._printed_status:
                self._printed_status = text
                self.stream.write(text + "\n")
                self.stream.flush()
            return
        if self._status_task is not None:
            if self._status_text == text:
                return
            self._finish_status()
        done = text == "success"
        self._status_text = text
        self._status_task = self._progress.add_task(
            text, total=1, completed=1 if done else 0, layer=False
        )
        if done:
            for task in self._progress.tasks:
                if not task.finished:
                    self._progress.update(task.id, completed=task.total)
            self._status_task = None

    def bar(self, key: str, description: str, total: int, completed: int) -> None:
        """A step with bytes: one bar per ``key`` (a layer digest, a file)."""
        if self._progress is None:
            if key not in self._seen_bars:
                self._seen_bars.add(key)
                self._printed_status = description
                self.stream.write(f"{description} ({human_bytes(total)})\n")
                self.stream.flush()
            return
        self._finish_status()
        task = self._bars.get(key)
        if task is None:
            self._bars[key] = self._progress.add_task(
                description, total=total, completed=completed, layer=True
            )
        else:
            self._progress.update(task, description=description, total=total, completed=completed)


def follow(records: Iterable[ProgressResponse], view: ProgressView) -> None:
    """Render a pull, push or create stream until its end."""
    for record in records:
        if record.digest and record.total:
            view.bar(record.digest, record.status or record.digest, record.total,
                     record.completed or 0)  # fmt: skip
        elif record.status:
            view.status(record.status)


def _rich_progress(stream: TextIO) -> Any:
    """A rich Progress whose bar columns stay blank on status rows; None without rich."""
    try:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            ProgressColumn,
            SpinnerColumn,
            Task,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.text import Text
    except ImportError:
        return None

    class LayerOnly(ProgressColumn):
        def __init__(self, column: ProgressColumn) -> None:
            super().__init__()
            self.column = column

        def render(self, task: Task) -> Any:
            if not task.fields.get("layer"):
                return Text("")
            return self.column.render(task)

    return Progress(
        SpinnerColumn(finished_text=" "),
        TextColumn("{task.description}"),
        LayerOnly(TaskProgressColumn()),
        LayerOnly(BarColumn()),
        LayerOnly(DownloadColumn()),
        LayerOnly(TransferSpeedColumn()),
        LayerOnly(TimeRemainingColumn()),
        console=Console(file=stream),
        transient=False,
    )
