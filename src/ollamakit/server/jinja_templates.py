"""GGUF chat templates (``tokenizer.chat_template``): Jinja, rendered as llama.cpp and Hugging Face
do, in a sandbox with the same limits as Ollama's Go templates.

A chat template arrives inside a GGUF, so anyone allowed to create a model chooses it. Jinja's
sandbox stops attribute tricks but not work: loops, string repetition and recursive macros
can run for hours or take gigabytes. Here each template is at most
:data:`MAX_SOURCE_BYTES`; compiled templates are cached by total source size; rendering
counts template lines executed against the step budget (through a trace function limited to
the template's own code), looks at the cancel flag every few thousand lines, stops once the
output is over its limit, and refuses ``*`` and ``**`` whose result would be over it.
"""

from __future__ import annotations

import json
import sys
import threading
from datetime import datetime
from types import FrameType
from typing import Any

from .templates import Limits, SourceCache, TemplateCancelled, TemplateError, TemplateLimitError

__all__ = ["MAX_SOURCE_BYTES", "render"]

#: Largest chat template used; published ones are at most a few tens of KiB.
MAX_SOURCE_BYTES = 256 << 10
_CACHE_BYTES = 4 * MAX_SOURCE_BYTES
_CHECK_EVERY = 4096
# Jinja names the code it compiles from a string after this pseudo file.
_TEMPLATE_FILE = "<template>"


def _compile_checked(source: str) -> Any:
    size = len(source.encode("utf-8", "surrogatepass"))
    if size > MAX_SOURCE_BYTES:
        raise TemplateLimitError(
            f"chat template is {size} bytes, more than the {MAX_SOURCE_BYTES} allowed"
        )
    return _compile(source)


_cache: SourceCache[Any] = SourceCache(_compile_checked, _CACHE_BYTES)
# The output limit of the rendering in progress on this thread, for the binary operators.
_local = threading.local()


def _compile(source: str) -> Any:
    from jinja2.exceptions import TemplateError as JinjaError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Environment(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset(["*", "**"])

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            limit: int = getattr(_local, "output_bytes", Limits().output_bytes)
            if operator == "**":
                if isinstance(right, int) and abs(right) > 1024:
                    raise TemplateLimitError(f"chat template: exponent {right} is too large")
            elif _repeated_length(left, right) > limit:
                raise TemplateLimitError(
                    f"chat template: repetition longer than {limit} characters"
                )
            return super().call_binop(context, operator, left, right)

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    def strftime_now(fmt: str) -> str:
        return datetime.now().strftime(fmt)

    environment = Environment(trim_blocks=True, lstrip_blocks=True)
    environment.globals["raise_exception"] = raise_exception
    environment.globals["strftime_now"] = strftime_now
    environment.filters["tojson"] = _tojson
    try:
        return environment.from_string(source)
    except JinjaError as exc:
        raise TemplateError(str(exc)) from exc


def _repeated_length(left: Any, right: Any) -> int:
    """Length of ``left * right`` when it repeats a string or list, else 0."""
    for count, item in ((right, left), (left, right)):
        if isinstance(count, int) and isinstance(item, (str, list, tuple)):
            return len(item) * count
    return 0


def _tojson(value: Any, indent: int | None = None, ensure_ascii: bool = False, **_: Any) -> str:
    # Hugging Face's tojson keeps non-ASCII characters and key order, unlike Jinja's default.
    return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii)


class _Meter:
    """Counts lines of template code run (a trace function on the template's frames only)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.left = limits.steps

    def on_call(self, frame: FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename == _TEMPLATE_FILE:
            return self.on_line
        return None

    def on_line(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            self.left -= 1
            if self.left % _CHECK_EVERY == 0:
                self.check()
        return self.on_line

    def check(self) -> None:
        cancel = self.limits.cancel
        if cancel is not None and cancel.is_set():
            raise TemplateCancelled("chat template: rendering cancelled")
        if self.left <= 0:
            raise TemplateLimitError(
                f"chat template: rendering took more than {self.limits.steps} steps"
            )


def render(source: str, context: dict[str, Any], limits: Limits | None = None) -> str:
    """Render ``source`` with ``context``; raises :class:`TemplateError` (or its
    :class:`TemplateLimitError` and :class:`TemplateCancelled` kinds)."""
    from jinja2.exceptions import TemplateError as JinjaError

    limits = limits or Limits()
    template = _cache.get(source)
    meter = _Meter(limits)
    previous = sys.gettrace()
    _local.output_bytes = limits.output_bytes
    room = limits.output_bytes
    parts: list[str] = []
    sys.settrace(meter.on_call)
    try:
        for chunk in template.generate(**context):
            room -= len(chunk)
            if room < 0:
                raise TemplateLimitError(
                    f"chat template: output is longer than {limits.output_bytes} characters"
                )
            parts.append(chunk)
    except JinjaError as exc:
        raise TemplateError(str(exc)) from exc
    except RecursionError:
        raise TemplateError("chat template: nesting too deep") from None
    finally:
        sys.settrace(previous)
        del _local.output_bytes
    return "".join(parts)
