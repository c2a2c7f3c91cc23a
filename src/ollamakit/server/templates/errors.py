"""The errors a template raises, and the exceptions execution uses internally."""

from __future__ import annotations


class TemplateError(ValueError):
    """A template that does not parse, or that fails while executing."""


class TemplateLimitError(TemplateError):
    """A template that is too large, or whose execution went over one of its :class:`Limits`."""


class TemplateCancelled(TemplateError):
    """Execution stopped because the request it was for was cancelled."""


class _ExecError(Exception):
    """An execution failure, located by the pipeline that raised it."""

    def __init__(self, message: str, at: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.at = at


class _Break(Exception):
    pass


class _Continue(Exception):
    pass
