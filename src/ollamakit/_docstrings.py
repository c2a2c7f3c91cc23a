"""Docstrings read for tool descriptions: Google ``Args:``, NumPy ``Parameters`` and reST
``:param x:``, giving a summary plus each parameter's text and type. No imports of the rest of
ollamakit: it is the bottom of the tool modules.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
from typing import Any, NamedTuple

__all__ = ["Docstring", "doc_type", "own_doc", "parse_docstring"]


class Docstring(NamedTuple):
    """A parsed docstring: the text before the sections, and per-parameter text and types."""

    summary: str
    params: dict[str, str]
    types: dict[str, str]


_PARAM_SECTIONS = frozenset(
    {
        "args",
        "arguments",
        "parameters",
        "params",
        "keyword args",
        "keyword arguments",
        "other parameters",
        "other params",
        "attributes",
    }
)
_SECTIONS = _PARAM_SECTIONS | {
    "returns",
    "return",
    "yields",
    "yield",
    "receives",
    "raises",
    "raise",
    "exceptions",
    "warns",
    "warnings",
    "warning",
    "examples",
    "example",
    "notes",
    "note",
    "see also",
    "references",
    "todo",
    "methods",
}
_REST_PARAM_FIELDS = frozenset(
    {"param", "parameter", "arg", "argument", "key", "keyword", "ivar", "var", "cvar"}
)
_REST_TYPE_FIELDS = frozenset({"type", "vartype"})

_UNDERLINE = re.compile(r"[-=]{3,}")
_GOOGLE_HEADER = re.compile(r"([A-Za-z][A-Za-z ]*?)\s*:")
_GOOGLE_ENTRY = re.compile(r"(\*{0,2}\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)")
_NUMPY_ENTRY = re.compile(r"(\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)*)\s*(?::\s*(.*))?")
_REST_FIELD = re.compile(r":(\w+)(?:\s+([^:]*?))?\s*:\s*(.*)")

_Target = list[tuple[dict[str, str], str]]


def _append(target: _Target, text: str) -> None:
    for mapping, key in target:
        mapping[key] = f"{mapping[key]} {text}" if mapping[key] else text


def parse_docstring(doc: str | None) -> Docstring:
    """Split a Google, NumPy or reST docstring into summary, parameter texts and types.

    Headers and fields count only at the docstring's own indentation and only under a known
    section name, so a parameter called ``args`` (indented under ``Args:``) or a summary line
    ending with a colon is never taken for a section.
    """
    if not doc:
        return Docstring("", {}, {})
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    params: dict[str, str] = {}
    types_: dict[str, str] = {}
    state = "summary"
    entry_indent: int | None = None
    target: _Target = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        stripped = line.strip()
        if not stripped:
            if state == "summary":
                summary.append("")
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            key = stripped.lower()
            if key in _SECTIONS and i < len(lines) and _UNDERLINE.fullmatch(lines[i].strip()):
                state = "numpy" if key in _PARAM_SECTIONS else "skip"
                target = []
                i += 1
                continue
            header = _GOOGLE_HEADER.fullmatch(stripped)
            if header is not None and header.group(1).lower() in _SECTIONS:
                state = "google" if header.group(1).lower() in _PARAM_SECTIONS else "skip"
                entry_indent = None
                target = []
                continue
            field = _REST_FIELD.fullmatch(stripped)
            if field is not None:
                state = "field"
                target = []
                kind, arg, text = field.group(1).lower(), field.group(2), field.group(3).strip()
                words = arg.split() if arg else []
                if words:
                    name = words[-1].lstrip("*")
                    if kind in _REST_PARAM_FIELDS:
                        params[name] = text
                        target = [(params, name)]
                        if len(words) > 1:
                            types_[name] = " ".join(words[:-1])
                    elif kind in _REST_TYPE_FIELDS:
                        types_[name] = text
                        target = [(types_, name)]
                continue
        if state == "summary":
            summary.append(line)
        elif state == "google":
            if entry_indent is None:
                entry_indent = indent
            if indent > entry_indent:
                _append(target, stripped)
            elif indent < entry_indent:
                # Unindented prose after the entries closes the section.
                state, target = "end", []
            elif (entry := _GOOGLE_ENTRY.fullmatch(stripped)) is not None:
                name = entry.group(1).lstrip("*")
                params[name] = entry.group(3).strip()
                if entry.group(2):
                    types_[name] = entry.group(2).strip()
                target = [(params, name)]
            else:
                _append(target, stripped)
        elif state == "numpy":
            if indent > 0:
                _append(target, stripped)
            elif (entry := _NUMPY_ENTRY.fullmatch(stripped)) is not None:
                names = [n.strip().lstrip("*") for n in entry.group(1).split(",")]
                target = []
                for name in names:
                    params[name] = ""
                    target.append((params, name))
                    if entry.group(2):
                        types_[name] = entry.group(2).strip()
            else:
                target = []
        elif state == "field":
            if indent > 0:
                _append(target, stripped)
            else:
                state, target = "end", []
    return Docstring("\n".join(summary).strip(), params, types_)


# Docstring types used for unannotated parameters; only unambiguous spellings.
_DOC_TYPES: dict[str, type] = {
    "int": int,
    "integer": int,
    "float": float,
    "number": float,
    "str": str,
    "string": str,
    "bool": bool,
    "boolean": bool,
    "list": list,
    "array": list,
    "dict": dict,
    "object": dict,
}


def doc_type(text: str | None) -> Any:
    if not text:
        return Any
    words = [w.strip() for w in text.split(",") if w.strip() and w.strip() != "optional"]
    return _DOC_TYPES.get(words[0], Any) if len(words) == 1 else Any


def own_doc(cls: type) -> str | None:
    """A class's own docstring: never one inherited from BaseModel, Struct or object."""
    doc = cls.__dict__.get("__doc__")
    if not isinstance(doc, str):
        return None
    # dataclass() invents "Name(x: int, ...)" when the class has no docstring, and Enum
    # before Python 3.11 "An enumeration.".
    if dataclasses.is_dataclass(cls) and doc.startswith(f"{cls.__name__}(") and "\n" not in doc:
        return None
    if issubclass(cls, enum.Enum) and doc == "An enumeration.":
        return None
    return doc
