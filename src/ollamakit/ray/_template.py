"""Prompt templates over the columns of a row: ``"Summarise in one line: {title}\n{body}"``.

The syntax is ``str.format``'s (``{column}``, ``{score:.2f}``, ``{name!r}``, ``{{`` for a brace),
but a field is a column name and nothing more: ``{a.b}`` or ``{a[0]}`` name a column called
``a.b`` or ``a[0]``, never an attribute or an index, so a template cannot reach into the values
it formats. A row whose column is null cannot be rendered: that row fails, not the job.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["NullValueError", "Template"]

_CONVERSIONS: dict[str, Callable[[Any], str]] = {"r": repr, "s": str, "a": ascii}


class NullValueError(ValueError):
    """A column the template uses is null in this row."""


class Template:
    """A prompt template checked once, rendered once per row."""

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise TypeError(f"a template is a str, not {type(text).__name__}")
        self.text = text
        self._parts: list[tuple[str, str | None, str, str | None]] = []
        try:
            pieces = list(string.Formatter().parse(text))
        except ValueError as exc:
            raise ValueError(f"invalid template {text!r}: {exc}") from None
        columns: list[str] = []
        for literal, field, spec, conversion in pieces:
            if field is None:
                self._parts.append((literal, None, "", None))
                continue
            if not field:
                raise ValueError(
                    f"invalid template {text!r}: '{{}}' names no column; write '{{column}}'"
                )
            if "{" in (spec or ""):
                raise ValueError(
                    f"invalid template {text!r}: the format of {{{field}}} may not contain "
                    "another field"
                )
            if conversion is not None and conversion not in _CONVERSIONS:
                raise ValueError(
                    f"invalid template {text!r}: unknown conversion !{conversion} "
                    "(expected !r, !s or !a)"
                )
            self._parts.append((literal, field, spec or "", conversion))
            if field not in columns:
                columns.append(field)
        self.columns: tuple[str, ...] = tuple(columns)

    def __repr__(self) -> str:
        return f"Template({self.text!r})"

    def render(self, row: Mapping[str, Any]) -> str:
        """The text for one row; :class:`NullValueError` when a column it uses is null."""
        out: list[str] = []
        for literal, field, spec, conversion in self._parts:
            out.append(literal)
            if field is None:
                continue
            value = row[field]
            if value is None:
                raise NullValueError(f"column {field!r} is null in this row")
            if conversion is not None:
                value = _CONVERSIONS[conversion](value)
            out.append(format(value, spec))
        return "".join(out)
