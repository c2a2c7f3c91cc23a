"""Text formatting shared by the commands: sizes, times, durations and tables as Ollama prints them.

The formats follow Ollama's ``format`` package and ``tablewriter`` settings, so that scripts
written against ``ollama list`` or ``ollama show`` read our output the same way. No rich here:
these run on every ``list`` and ``ps``.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._types import (
        ChatResponse,
        GenerateResponse,
        ListResponse,
        ProcessResponse,
        ShowResponse,
    )

__all__ = [
    "go_duration",
    "human_bytes",
    "human_duration",
    "human_number",
    "human_time",
    "list_table",
    "metrics_summary",
    "ps_table",
    "show_info",
    "table",
]

_UNITS = (("TB", 1000**4), ("GB", 1000**3), ("MB", 1000**2), ("KB", 1000))


def human_bytes(size: int) -> str:
    """Decimal units, no decimals from 10 up: ``253 MB``, ``2.5 GB``, ``999 B``."""
    for unit, factor in _UNITS:
        if size >= factor:
            value = size / factor
            if value >= 10 or value == math.trunc(value):
                return f"{int(value)} {unit}"
            return f"{value:.1f} {unit}"
    return f"{size} B"


def human_number(count: int) -> str:
    """Parameter counts as Ollama abbreviates them: ``268.10M``, ``3B``, ``7.6B``."""
    if count >= 1_000_000_000:
        value = count / 1_000_000_000
        return f"{value:.0f}B" if value == math.floor(value) else f"{value:.1f}B"
    if count >= 1_000_000:
        value = count / 1_000_000
        return f"{value:.0f}M" if value == math.floor(value) else f"{value:.2f}M"
    if count >= 1000:
        return f"{count / 1000:.0f}K"
    return str(count)


def human_duration(seconds: float) -> str:
    """``Less than a second``, ``About a minute``, ``3 hours``, ``2 weeks`` (Ollama's wording)."""
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    minutes = whole // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(seconds / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"


def human_time(
    moment: datetime.datetime | None,
    zero: str = "Never",
    now: datetime.datetime | None = None,
) -> str:
    """``2 minutes ago``, ``4 minutes from now``, ``Forever`` (over 20 years ahead)."""
    if moment is None or moment.year <= 1:
        return zero
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    delta = (now - moment).total_seconds()
    if delta < -20 * 365 * 86400:
        return "Forever"
    if delta < 0:
        return human_duration(-delta) + " from now"
    return human_duration(delta) + " ago"


def _fraction(value: int, unit: int) -> str:
    whole, rest = divmod(value, unit)
    digits = str(rest).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def go_duration(nanoseconds: int) -> str:
    """Go's ``time.Duration.String``: ``4.883583458s``, ``342.546ms``, ``1m2.5s``.

    Ollama's ``--verbose`` statistics print durations this way; matching it keeps log parsers
    that were written for Ollama working.
    """
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    ns = abs(nanoseconds)
    if ns < 1000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return f"{sign}{_fraction(ns, 1000)}µs"
    if ns < 1_000_000_000:
        return f"{sign}{_fraction(ns, 1_000_000)}ms"
    hours, rest = divmod(ns, 3600 * 1_000_000_000)
    minutes, rest = divmod(rest, 60 * 1_000_000_000)
    text = _fraction(rest, 1_000_000_000) + "s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return sign + text


def table(rows: Sequence[Sequence[str]], padding: int = 4) -> str:
    """Left-aligned columns separated by ``padding`` spaces (Ollama's tablewriter settings).

    An empty first cell indents the row, which is how ``ollama show`` lays out its sections.
    """
    if not rows:
        return ""
    widths = [0] * max(len(row) for row in rows)
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
    gap = " " * padding
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[index]) for index, cell in enumerate(row)]
        lines.append(gap.join(cells).rstrip())
    return "\n".join(lines) + "\n"


def _short_digest(digest: str | None) -> str:
    return (digest or "").removeprefix("sha256:")[:12]


def list_table(response: ListResponse, prefix: str | None = None) -> str:
    rows: list[list[str]] = [["NAME", "ID", "SIZE", "MODIFIED"]]
    for model in response.models:
        name = model.name or model.model or ""
        if prefix and not name.lower().startswith(prefix.lower()):
            continue
        size = "-" if model.remote_model else human_bytes(model.size or 0)
        rows.append([name, _short_digest(model.digest), size, human_time(model.modified_at)])
    return table(rows)


def _processor(size: int, vram: int) -> str:
    if vram == 0:
        return "100% CPU"
    if vram == size:
        return "100% GPU"
    if vram > size or size == 0:
        return "Unknown"
    cpu = round((size - vram) / size * 100)
    return f"{cpu}%/{100 - cpu}% CPU/GPU"


def ps_table(response: ProcessResponse, now: datetime.datetime | None = None) -> str:
    now = now or datetime.datetime.now(datetime.timezone.utc)
    rows: list[list[str]] = [["NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"]]
    for model in response.models:
        size = model.size or 0
        expires = model.expires_at
        if expires is not None and expires.tzinfo is None:
            expires = expires.replace(tzinfo=datetime.timezone.utc)
        if expires is not None and expires.year > 1 and expires < now:
            until = "Stopping..."
        else:
            until = human_time(expires, "Never", now)
        rows.append(
            [
                model.name or model.model or "",
                _short_digest(model.digest),
                human_bytes(size),
                _processor(size, model.size_vram or 0),
                str(model.context_length) if model.context_length else "",
                until,
            ]
        )
    return table(rows)


def _number(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _metadata_value(value: Any) -> str:
    if isinstance(value, bool | int | float):
        return _number(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        # Long arrays (token lists) are cut to about 10 characters, as Ollama does.
        shown: list[str] = []
        width = 1
        for index, item in enumerate(value):
            text = _number(item) if not isinstance(item, str) else item
            extra = len(text) + (2 if index else 0)
            if width + extra > 10 and index > 0:
                break
            width += extra
            shown.append(text)
        if len(shown) < len(value):
            return f"[{' '.join(shown)} ...+{len(value) - len(shown)} more]"
        return f"[{' '.join(shown)}]"
    return type(value).__name__


def _head(text: str, limit: int) -> list[list[str]]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    rows = [["", line] for line in lines[:limit]]
    if len(lines) > limit:
        rows.append(["", "..."])
    return rows


def show_info(response: ShowResponse, verbose: bool = False) -> str:
    """The sections ``ollama show MODEL`` prints: Model, Capabilities, Parameters, License..."""
    sections: list[str] = []

    def section(header: str, rows: Iterable[Sequence[str]]) -> None:
        sections.append(f"  {header}\n{table(list(rows))}\n")

    details = response.details
    info = response.modelinfo or {}
    rows: list[list[str]] = []
    if response.remote_host:
        rows.append(["", "remote model", response.remote_model or ""])
        rows.append(["", "remote URL", response.remote_host])
    if info:
        arch = str(info.get("general.architecture", ""))
        rows.append(["", "architecture", arch])
        parameters = details.parameter_size if details else None
        if not parameters and isinstance(info.get("general.parameter_count"), int | float):
            parameters = human_number(int(info["general.parameter_count"]))
        rows.append(["", "parameters", parameters or ""])
        for key, label in (
            ("context_length", "context length"),
            ("embedding_length", "embedding length"),
        ):
            value = info.get(f"{arch}.{key}")
            if isinstance(value, int | float):
                rows.append(["", label, _number(value)])
    elif details is not None:
        rows.append(["", "architecture", details.family or ""])
        rows.append(["", "parameters", details.parameter_size or ""])
    rows.append(["", "quantization", (details.quantization_level if details else None) or ""])
    if response.requires:
        rows.append(["", "requires", response.requires])
    section("Model", rows)

    if response.capabilities:
        section("Capabilities", [["", capability] for capability in response.capabilities])

    projector = response.projector_info
    if projector:
        arch = str(projector.get("general.architecture", ""))
        projector_rows = [["", "architecture", arch]]
        count = projector.get("general.parameter_count")
        if isinstance(count, int | float):
            projector_rows.append(["", "parameters", human_number(int(count))])
        for key, label in (
            (f"{arch}.vision.embedding_length", "embedding length"),
            (f"{arch}.vision.projection_dim", "dimensions"),
        ):
            value = projector.get(key)
            if isinstance(value, int | float):
                projector_rows.append(["", label, _number(value)])
        section("Projector", projector_rows)

    if response.parameters:
        section(
            "Parameters",
            [["", *line.split()] for line in response.parameters.splitlines() if line.strip()],
        )

    if verbose and info:
        section("Metadata", [["", key, _metadata_value(info[key])] for key in sorted(info)])

    if verbose and response.tensors:
        tensor_rows = []
        for tensor in response.tensors:
            shape = tensor.get("shape") or []
            tensor_rows.append(
                ["", str(tensor.get("name", "")), str(tensor.get("type", "")),
                 "[" + " ".join(str(dim) for dim in shape) + "]"]
            )  # fmt: skip
        section("Tensors", tensor_rows)

    if response.system:
        section("System", _head(response.system, 2))
    if response.license:
        section("License", _head(response.license, 2))
    return "".join(sections)


def metrics_summary(response: GenerateResponse | ChatResponse) -> str:
    """Ollama's ``--verbose`` statistics block (it writes it to stderr)."""
    lines: list[str] = []
    total = response.total_duration or 0
    load = response.load_duration or 0
    prompt_count = response.prompt_eval_count or 0
    prompt_duration = response.prompt_eval_duration or 0
    count = response.eval_count or 0
    duration = response.eval_duration or 0
    if total > 0:
        lines.append(f"total duration:       {go_duration(total)}")
    if load > 0:
        lines.append(f"load duration:        {go_duration(load)}")
    if prompt_count > 0:
        lines.append(f"prompt eval count:    {prompt_count} token(s)")
    if prompt_duration > 0:
        lines.append(f"prompt eval duration: {go_duration(prompt_duration)}")
        lines.append(f"prompt eval rate:     {prompt_count / (prompt_duration / 1e9):.2f} tokens/s")
    if count > 0:
        lines.append(f"eval count:           {count} token(s)")
    if duration > 0:
        lines.append(f"eval duration:        {go_duration(duration)}")
        lines.append(f"eval rate:            {count / (duration / 1e9):.2f} tokens/s")
    return "".join(line + "\n" for line in lines)
