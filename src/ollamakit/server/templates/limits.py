"""Budgets for one template: source size, execution steps, output and cancellation."""

from __future__ import annotations

from typing import Protocol

from .errors import TemplateLimitError

#: Largest template source accepted, in UTF-8 bytes. A compiled template holds about two
#: objects per source byte, which every full garbage collection walks while all threads wait;
#: Ollama's library templates are a few KiB.
MAX_SOURCE_BYTES = 16 << 10
#: Execution steps: actions, control nodes, range iterations, template and function calls,
#: variable lookups (one per variable scanned) and list elements copied by ``slice`` (one per
#: 16). A step takes 0.1 to 1 µs, so this is a few seconds of work at most.
MAX_STEPS = 10_000_000
#: Smallest output limit; larger contexts allow more (:meth:`Limits.for_context`).
MIN_OUTPUT_BYTES = 8 << 20
#: Output allowed per token of context: a prompt longer than this cannot fit in any case.
OUTPUT_BYTES_PER_TOKEN = 64
#: Characters that function calls may produce in total, as a multiple of the output limit
#: (``printf``, ``print`` or ``slice`` results that are never printed still cost memory).
PRODUCED_PER_OUTPUT = 4
#: Compiled templates cached, by total source size (so at most ~150,000 objects).
CACHE_BYTES = 64 << 10
# Steps between two looks at the cancel flag.
_CHECK_EVERY = 4096


class Limits:
    """Budgets for one template execution; exceeding one raises :class:`TemplateLimitError`.

    ``cancel``, when given, is polled every few thousand steps: once it is set, execution
    stops with :class:`TemplateCancelled`, so a departed client frees its worker promptly.
    """

    __slots__ = ("cancel", "output_bytes", "steps")

    def __init__(
        self,
        *,
        steps: int = MAX_STEPS,
        output_bytes: int = MIN_OUTPUT_BYTES,
        cancel: CancelFlag | None = None,
    ) -> None:
        self.steps = steps
        self.output_bytes = output_bytes
        self.cancel = cancel

    @classmethod
    def for_context(cls, num_ctx: int, cancel: CancelFlag | None = None) -> Limits:
        """The limits of a prompt for a context of ``num_ctx`` tokens."""
        output = max(MIN_OUTPUT_BYTES, OUTPUT_BYTES_PER_TOKEN * max(0, num_ctx))
        return cls(output_bytes=output, cancel=cancel)


class CancelFlag(Protocol):
    """What stops a rendering once set (a ``threading.Event``)."""

    def is_set(self) -> bool: ...


def check_source_size(source: str) -> None:
    """Raise :class:`TemplateLimitError` for a template longer than :data:`MAX_SOURCE_BYTES`."""
    if len(source) > MAX_SOURCE_BYTES // 4:
        size = len(source.encode("utf-8", "surrogatepass"))
        if size > MAX_SOURCE_BYTES:
            raise TemplateLimitError(
                f"the template is {size} bytes, more than the {MAX_SOURCE_BYTES} allowed"
            )
