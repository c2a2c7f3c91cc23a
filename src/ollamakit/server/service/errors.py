"""What went wrong, as an HTTP status and a message: the one mapping every API surface uses.

Each surface wraps the pair in its own shape (``{"error": msg}`` natively, OpenAI's and
Anthropic's error objects on theirs), so a failure answers with the same status whichever
API the client speaks.
"""

from __future__ import annotations

from ..engine import OptionError, PromptTooLongError
from ..prompt import TemplateError
from ..scheduler import QueueFullError
from ..validate import BadRequest

__all__ = ["RequestCanceled", "is_expected", "message_for", "status_for"]


class RequestCanceled(Exception):
    """The client went away before its request was read or answered; nobody reads the
    answer, which is logged as 499 (nginx's "client closed request")."""

    def __init__(self) -> None:
        super().__init__("request canceled")


def status_for(exc: BaseException) -> int:
    """The HTTP status Ollama answers ``exc`` with."""
    if isinstance(exc, BadRequest):
        return exc.status
    if isinstance(exc, PromptTooLongError):
        return 400
    if isinstance(exc, QueueFullError):
        return 503
    if isinstance(exc, RequestCanceled):
        return 499
    # A mistyped option (OptionError) or a template that fails to render (TemplateError) is
    # a 500 in Ollama, as is everything unexpected.
    return 500


def message_for(exc: BaseException) -> str:
    """The error text shown to the client."""
    if isinstance(exc, BadRequest):
        return exc.message
    return str(exc) or type(exc).__name__


def is_expected(exc: BaseException) -> bool:
    """A failure the client caused or must be told about, not a bug worth a traceback."""
    return isinstance(
        exc,
        (
            BadRequest,
            PromptTooLongError,
            QueueFullError,
            OptionError,
            TemplateError,
            RequestCanceled,
        ),
    )
