"""Ollama's prompt templates: the subset of Go's ``text/template`` they use, and Ollama's rules.

Model TEMPLATE layers are Go templates executed by Ollama's ``template/template.go`` with
``missingkey=zero`` and the extra functions ``json``, ``currentDate``, ``yesterdayDate`` and
``toTypeScriptType``.  This module is a pure-Python port of both halves:

* the template language: text, ``{{ }}`` actions with ``{{-``/``-}}`` trim markers, comments,
  fields, variables (``:=`` and ``=``), ``if``/``else if``/``with``/``else with``/``range``
  (with ``else``, ``break`` and ``continue``), ``define``/``template``/``block``, pipes,
  parenthesised pipelines, literals and the builtin functions (``and or not eq ne lt le gt ge
  len index slice print printf println html js urlquery call``);
* Ollama's execution rules (:func:`render`): suffix mode, messages mode and legacy mode,
  message collation, the tool and tool-call views a template sees, and the two template
  heuristics the server needs (:func:`infer_thinking_tags`, :func:`tool_call_tag`).

Values follow Go's rules where a template can tell the difference: truthiness, ``eq``
refusing to compare an ``int`` with a ``float64``, ``len`` of a string counting UTF-8 bytes,
map keys sorted when ranging or printing, ``%v`` formatting (``map[a:1]``, ``[1 2]``,
``1e+06``) and ``encoding/json`` output (compact, keys sorted, ``<>&`` escaped as ``\\u003c``).

Missing keys: the data Ollama passes is a ``map[string]any`` and templates run with
``missingkey=zero``, so a missing key yields a nil interface.  Printed directly
(``{{ .Nope }}``) that is ``<no value>``; passed to a function (``{{ print .Nope }}``) it is
``<nil>``; in ``if`` it is false; following a field through it (``{{ .Nope.X }}``) is an
error.  Python ``None`` plays that nil role everywhere.  Messages, tool calls and tools are
Go structs in Ollama, so an unknown field on them (``{{ .Nmae }}`` inside
``range .Messages``) is an execution error, as it is there.

Printing ``.Tools``, a call's ``.Function.Arguments`` or a tool's
``.Function.Parameters.Properties`` gives JSON, through the ``String`` methods of Ollama's
template views.  Printing one tool or a tool's ``.Function`` gives JSON too, as ``api.Tool``
and ``api.ToolFunction`` print: library templates rely on it (``{"type": "function",
"function": {{ .Function }}}`` in qwen2.5, ``{{ . }}`` over ``$.Tools`` in llama3.1), although
the struct Ollama now hands to templates for a tool has lost that method and would print Go's
``{function <nil> {...}}`` form.
"""

from __future__ import annotations

import base64
import functools
import math
import re
import threading
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, timedelta
from typing import Any, ClassVar, Generic, NoReturn, Protocol, TypeVar

__all__ = [
    "GEMMA3_TEMPLATE",
    "MAX_SOURCE_BYTES",
    "ArgsMap",
    "Limits",
    "PropertiesMap",
    "PropertyType",
    "SourceCache",
    "Template",
    "TemplateCancelled",
    "TemplateError",
    "TemplateLimitError",
    "TemplateMessage",
    "TemplateTool",
    "TemplateToolCall",
    "TemplateToolCallFunction",
    "TemplateToolFunction",
    "TemplateToolParameters",
    "ToolList",
    "ToolProperty",
    "check_source_size",
    "go_json",
    "go_sprint",
    "infer_thinking_tags",
    "render",
    "template_messages",
    "template_tools",
    "tool_call_tag",
]

#: The TEMPLATE of the ``gemma3`` models in the Ollama library (``gemma3:270m`` included).
GEMMA3_TEMPLATE = """{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if or (eq .Role "user") (eq .Role "system") }}<start_of_turn>user
{{ .Content }}<end_of_turn>
{{ if $last }}<start_of_turn>model
{{ end }}
{{- else if eq .Role "assistant" }}<start_of_turn>model
{{ .Content }}{{ if not $last }}<end_of_turn>
{{ end }}
{{- end }}
{{- end }}"""


_T = TypeVar("_T")


class TemplateError(ValueError):
    """A template that does not parse, or that fails while executing."""


class TemplateLimitError(TemplateError):
    """A template that is too large, or whose execution went over one of its :class:`Limits`."""


class TemplateCancelled(TemplateError):
    """Execution stopped because the request it was for was cancelled."""


# ---------------------------------------------------------------------------------------------
# Limits: what one template may cost
# ---------------------------------------------------------------------------------------------

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
        cancel: _Flag | None = None,
    ) -> None:
        self.steps = steps
        self.output_bytes = output_bytes
        self.cancel = cancel

    @classmethod
    def for_context(cls, num_ctx: int, cancel: _Flag | None = None) -> Limits:
        """The limits of a prompt for a context of ``num_ctx`` tokens."""
        output = max(MIN_OUTPUT_BYTES, OUTPUT_BYTES_PER_TOKEN * max(0, num_ctx))
        return cls(output_bytes=output, cancel=cancel)


class _Flag(Protocol):
    def is_set(self) -> bool: ...


def check_source_size(source: str) -> None:
    """Raise :class:`TemplateLimitError` for a template longer than :data:`MAX_SOURCE_BYTES`."""
    if len(source) > MAX_SOURCE_BYTES // 4:
        size = len(source.encode("utf-8", "surrogatepass"))
        if size > MAX_SOURCE_BYTES:
            raise TemplateLimitError(
                f"the template is {size} bytes, more than the {MAX_SOURCE_BYTES} allowed"
            )


# ---------------------------------------------------------------------------------------------
# Lexer (Go's text/template/parse/lex.go)
# ---------------------------------------------------------------------------------------------

_TEXT = 0
_LDELIM = 1
_RDELIM = 2
_SPACE = 3
_FIELD = 4
_DOT = 5
_VAR = 6
_IDENT = 7
_KEYWORD = 8
_BOOL = 9
_NIL = 10
_NUMBER = 11
_CHARCONST = 12
_STRING = 13
_RAWSTRING = 14
_LPAREN = 15
_RPAREN = 16
_PIPE = 17
_DECLARE = 18
_ASSIGN = 19
_CHAR = 20
_EOF = 21

_KEYWORDS = frozenset(
    ["block", "break", "continue", "define", "else", "end", "if", "range", "template", "with"]
)
_SPACES = " \t\r\n"
_TERMINATORS = frozenset(" \t\r\n.,|:)(")

_Tok = tuple[int, str, int]


def _is_alnum(c: str) -> bool:
    return c == "_" or c.isalpha() or c.isdecimal()


def _line_col(src: str, pos: int) -> tuple[int, int]:
    """Go's error position: 1-based line, 0-based byte column."""
    line = src.count("\n", 0, pos) + 1
    start = src.rfind("\n", 0, pos) + 1
    return line, len(src[start:pos].encode("utf-8", "surrogatepass"))


def _syntax_error(src: str, pos: int, message: str) -> NoReturn:
    line, _ = _line_col(src, pos)
    raise TemplateError(f"template: :{line}: {message}")


def _char_desc(c: str) -> str:
    # Go's %#U: U+0040 '@'
    return f"U+{ord(c):04X} '{c}'" if c.isprintable() else f"U+{ord(c):04X}"


class _Lexer:
    __slots__ = ("n", "src", "toks")

    def __init__(self, src: str) -> None:
        self.src = src
        self.n = len(src)
        self.toks: list[_Tok] = []

    def error(self, pos: int, message: str) -> NoReturn:
        _syntax_error(self.src, pos, message)

    def at_right_delim(self, p: int) -> tuple[bool, bool]:
        src = self.src
        if (
            p + 1 < self.n
            and src[p] in _SPACES
            and src[p + 1] == "-"
            and src.startswith("}}", p + 2)
        ):
            return True, True
        if src.startswith("}}", p):
            return True, False
        return False, False

    def skip_spaces(self, p: int) -> int:
        src, n = self.src, self.n
        while p < n and src[p] in _SPACES:
            p += 1
        return p

    def run(self) -> list[_Tok]:
        src, n, toks = self.src, self.n, self.toks
        pos = 0
        while True:
            x = src.find("{{", pos)
            if x < 0:
                if pos < n:
                    toks.append((_TEXT, src[pos:], pos))
                toks.append((_EOF, "", n))
                return toks
            after = x + 2
            trim = after + 1 < n and src[after] == "-" and src[after + 1] in _SPACES
            end = x
            if trim:
                end = pos + len(src[pos:x].rstrip(_SPACES))
            if end > pos:
                toks.append((_TEXT, src[pos:end], pos))
            p = after + 2 if trim else after
            if src.startswith("/*", p):
                pos = self.comment(p)
            else:
                toks.append((_LDELIM, "{{", x))
                pos = self.action(p)

    def comment(self, p: int) -> int:
        close = self.src.find("*/", p + 2)
        if close < 0:
            self.error(p, "unclosed comment")
        q = close + 2
        delim, trim = self.at_right_delim(q)
        if not delim:
            self.error(q, "comment ends before closing delimiter")
        q += 4 if trim else 2
        return self.skip_spaces(q) if trim else q

    def action(self, p: int) -> int:
        src, n, toks = self.src, self.n, self.toks
        depth = 0
        while True:
            delim, trim = self.at_right_delim(p)
            if delim:
                if depth:
                    self.error(p, "unclosed left paren")
                toks.append((_RDELIM, "}}", p))
                p += 4 if trim else 2
                return self.skip_spaces(p) if trim else p
            if p >= n:
                self.error(p, "unclosed action")
            c = src[p]
            if c in _SPACES:
                q = p + 1
                while q < n and src[q] in _SPACES:
                    q += 1
                # Leave the last space for a " -}}" trim marker (at least two spaces here:
                # a lone " -}}" was taken as the delimiter above).
                if src.startswith("-}}", q):
                    q -= 1
                toks.append((_SPACE, src[p:q], p))
                p = q
                continue
            if c == "=":
                toks.append((_ASSIGN, "=", p))
                p += 1
            elif c == ":":
                if not src.startswith(":=", p):
                    self.error(p, "expected :=")
                toks.append((_DECLARE, ":=", p))
                p += 2
            elif c == "|":
                toks.append((_PIPE, "|", p))
                p += 1
            elif c == '"':
                p = self.quote(p)
            elif c == "`":
                close = src.find("`", p + 1)
                if close < 0:
                    self.error(p, "unterminated raw quoted string")
                toks.append((_RAWSTRING, src[p : close + 1], p))
                p = close + 1
            elif c == "$":
                q = p + 1
                while q < n and _is_alnum(src[q]):
                    q += 1
                self.check_terminator(q)
                toks.append((_VAR, src[p:q], p))
                p = q
            elif c == "'":
                p = self.char_constant(p)
            elif c == "." and not (p + 1 < n and src[p + 1] in "0123456789"):
                q = p + 1
                while q < n and _is_alnum(src[q]):
                    q += 1
                self.check_terminator(q)
                toks.append((_DOT, ".", p) if q == p + 1 else (_FIELD, src[p:q], p))
                p = q
            elif c in "+-.0123456789":
                p = self.number(p)
            elif _is_alnum(c):
                q = p + 1
                while q < n and _is_alnum(src[q]):
                    q += 1
                self.check_terminator(q)
                word = src[p:q]
                if word in _KEYWORDS:
                    toks.append((_KEYWORD, word, p))
                elif word == "true" or word == "false":
                    toks.append((_BOOL, word, p))
                elif word == "nil":
                    toks.append((_NIL, word, p))
                else:
                    toks.append((_IDENT, word, p))
                p = q
            elif c == "(":
                depth += 1
                toks.append((_LPAREN, c, p))
                p += 1
            elif c == ")":
                depth -= 1
                if depth < 0:
                    self.error(p, "unexpected right paren")
                toks.append((_RPAREN, c, p))
                p += 1
            elif c <= "\x7f" and c.isprintable():
                toks.append((_CHAR, c, p))
                p += 1
            else:
                self.error(p, f"unrecognized character in action: {_char_desc(c)}")

    def check_terminator(self, q: int) -> None:
        if q >= self.n or self.src[q] in _TERMINATORS or self.src.startswith("}}", q):
            return
        self.error(q, f"bad character {_char_desc(self.src[q])}")

    def quote(self, p: int) -> int:
        src, n = self.src, self.n
        q = p + 1
        while True:
            if q >= n or src[q] == "\n":
                self.error(p, "unterminated quoted string")
            c = src[q]
            if c == "\\":
                q += 2
                continue
            if c == '"':
                break
            q += 1
        self.toks.append((_STRING, src[p : q + 1], p))
        return q + 1

    def char_constant(self, p: int) -> int:
        src, n = self.src, self.n
        q = p + 1
        while True:
            if q >= n or src[q] == "\n":
                self.error(p, "unterminated character constant")
            c = src[q]
            if c == "\\":
                q += 2
                continue
            if c == "'":
                break
            q += 1
        self.toks.append((_CHARCONST, src[p : q + 1], p))
        return q + 1

    def number(self, p: int) -> int:
        src, n = self.src, self.n
        q = p

        def accept(chars: str) -> bool:
            nonlocal q
            if q < n and src[q] in chars:
                q += 1
                return True
            return False

        def accept_run(chars: str) -> None:
            nonlocal q
            while q < n and src[q] in chars:
                q += 1

        accept("+-")
        digits = "0123456789_"
        if accept("0"):
            if accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif accept("oO"):
                digits = "01234567_"
            elif accept("bB"):
                digits = "01_"
        accept_run(digits)
        if accept("."):
            accept_run(digits)
        if len(digits) == 11 and accept("eE"):
            accept("+-")
            accept_run("0123456789_")
        if len(digits) == 23 and accept("pP"):
            accept("+-")
            accept_run("0123456789_")
        accept("i")
        if q < n and _is_alnum(src[q]):
            self.error(p, f"bad number syntax: {_go_quote(src[p : q + 1])}")
        if q < n and src[q] in "+-":
            self.error(p, f"complex numbers are not supported: {src[p:q]!r}")
        self.toks.append((_NUMBER, src[p:q], p))
        return q


# ---------------------------------------------------------------------------------------------
# Parse tree (the node kinds of Go's text/template/parse)
# ---------------------------------------------------------------------------------------------


class _Node:
    __slots__ = ()


class _ListNode(_Node):
    __slots__ = ("nodes",)

    def __init__(self, nodes: list[_Node]) -> None:
        self.nodes = nodes


class _TextNode(_Node):
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class _CommandNode(_Node):
    __slots__ = ("args",)

    def __init__(self, args: list[_Node]) -> None:
        self.args = args


class _PipeNode(_Node):
    __slots__ = ("cmds", "decl", "is_assign", "pos")

    def __init__(self, decl: list[str], is_assign: bool, cmds: list[_CommandNode], pos: int):
        self.decl = decl
        self.is_assign = is_assign
        self.cmds = cmds
        self.pos = pos


class _ActionNode(_Node):
    __slots__ = ("pipe",)

    def __init__(self, pipe: _PipeNode) -> None:
        self.pipe = pipe


class _BranchNode(_Node):
    __slots__ = ("else_list", "list", "pipe")

    def __init__(self, pipe: _PipeNode, lst: _ListNode, else_list: _ListNode | None) -> None:
        self.pipe = pipe
        self.list = lst
        self.else_list = else_list


class _IfNode(_BranchNode):
    __slots__ = ()


class _RangeNode(_BranchNode):
    __slots__ = ()


class _WithNode(_BranchNode):
    __slots__ = ()


class _BreakNode(_Node):
    __slots__ = ()


class _ContinueNode(_Node):
    __slots__ = ()


class _TemplateNode(_Node):
    __slots__ = ("name", "pipe", "pos")

    def __init__(self, name: str, pipe: _PipeNode | None, pos: int) -> None:
        self.name = name
        self.pipe = pipe
        self.pos = pos


class _FieldNode(_Node):
    __slots__ = ("ident",)

    def __init__(self, ident: tuple[str, ...]) -> None:
        self.ident = ident


class _VariableNode(_Node):
    __slots__ = ("ident",)

    def __init__(self, ident: tuple[str, ...]) -> None:
        self.ident = ident


class _ChainNode(_Node):
    __slots__ = ("fields", "node")

    def __init__(self, node: _Node, fields: tuple[str, ...]) -> None:
        self.node = node
        self.fields = fields


class _IdentifierNode(_Node):
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class _DotNode(_Node):
    __slots__ = ()


class _NilNode(_Node):
    __slots__ = ()


class _LiteralNode(_Node):
    """A bool, number or string constant; ``text`` is how it was written."""

    __slots__ = ("text", "value")

    def __init__(self, value: Any, text: str) -> None:
        self.value = value
        self.text = text


class _EndMarker(_Node):
    __slots__ = ()


class _ElseMarker(_Node):
    __slots__ = ()


_END = _EndMarker()
_ELSE = _ElseMarker()


def _node_str(node: _Node) -> str:
    """Render a node the way Go's ``Node.String`` does, for error messages."""
    if isinstance(node, _FieldNode):
        return "." + ".".join(node.ident)
    if isinstance(node, _VariableNode):
        return ".".join(node.ident)
    if isinstance(node, _ChainNode):
        inner = _node_str(node.node)
        if isinstance(node.node, _PipeNode):
            inner = f"({inner})"
        return inner + "." + ".".join(node.fields)
    if isinstance(node, _IdentifierNode):
        return node.name
    if isinstance(node, _DotNode):
        return "."
    if isinstance(node, _NilNode):
        return "nil"
    if isinstance(node, _LiteralNode):
        return node.text
    if isinstance(node, _CommandNode):
        parts = []
        for arg in node.args:
            s = _node_str(arg)
            parts.append(f"({s})" if isinstance(arg, _PipeNode) else s)
        return " ".join(parts)
    if isinstance(node, _PipeNode):
        s = " | ".join(_node_str(c) for c in node.cmds)
        if node.decl:
            s = ", ".join(node.decl) + (" = " if node.is_assign else " := ") + s
        return s
    return type(node).__name__


# ---------------------------------------------------------------------------------------------
# Parser (Go's text/template/parse/parse.go)
# ---------------------------------------------------------------------------------------------

_OPERAND_START = frozenset(
    [
        _BOOL,
        _CHARCONST,
        _DOT,
        _FIELD,
        _IDENT,
        _NUMBER,
        _NIL,
        _RAWSTRING,
        _STRING,
        _VAR,
        _LPAREN,
    ]
)

_GO_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
}


def _go_unquote(text: str, quote: str) -> str:
    """strconv.Unquote for a double-quoted string or a character constant's body."""
    body = text[1:-1]
    if "\\" not in body:
        return body
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            raise ValueError("invalid syntax")
        e = body[i + 1]
        i += 2
        if e in _GO_ESCAPES:
            out.append(_GO_ESCAPES[e])
        elif e == quote:
            out.append(e)
        elif e in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[e]
            digits = body[i : i + width]
            if len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise ValueError("invalid syntax")
            value = int(digits, 16)
            if value > 0x10FFFF:
                raise ValueError("invalid syntax")
            out.append(chr(value))
            i += width
        elif e in "01234567":
            digits = body[i - 1 : i + 2]
            if len(digits) != 3 or not all(d in "01234567" for d in digits):
                raise ValueError("invalid syntax")
            value = int(digits, 8)
            if value > 255:
                raise ValueError("invalid syntax")
            out.append(chr(value))
            i += 2
        else:
            raise ValueError("invalid syntax")
    return "".join(out)


_INT_RE = re.compile(r"[+-]?(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9_]*)")


def _parse_number(text: str) -> int | float:
    """A number literal's value: ``int`` for integer syntax, ``float`` otherwise (Go's rule)."""
    if text.endswith("i"):
        raise ValueError("complex numbers are not supported")
    if _INT_RE.fullmatch(text):
        sign = -1 if text.startswith("-") else 1
        body = text.lstrip("+-").replace("_", "").lower()
        if body.startswith("0x"):
            return sign * int(body[2:], 16)
        if body.startswith("0o"):
            return sign * int(body[2:], 8)
        if body.startswith("0b"):
            return sign * int(body[2:], 2)
        if len(body) > 1 and body.startswith("0"):
            return sign * int(body[1:], 8)
        return sign * int(body)
    cleaned = text.replace("_", "")
    if re.fullmatch(r"[+-]?0[xX].*", cleaned):
        return float.fromhex(cleaned)
    if not re.fullmatch(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", cleaned):
        raise ValueError("illegal number syntax")
    return float(cleaned)


def _tok_desc(tok: _Tok) -> str:
    kind, value = tok[0], tok[1]
    if kind == _EOF:
        return "EOF"
    if kind == _KEYWORD:
        return f"<{value}>"
    if len(value) > 10:
        return f'"{value[:10]}"...'
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class _Parser:
    def __init__(self, src: str, toks: list[_Tok], funcs: frozenset[str]) -> None:
        self.src = src
        self.toks = toks
        self.i = 0
        self.funcs = funcs
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.defines: dict[str, _ListNode] = {}

    # -- token stream ---------------------------------------------------------------------

    def next(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def backup(self) -> None:
        self.i -= 1

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def next_non_space(self) -> _Tok:
        tok = self.next()
        while tok[0] == _SPACE:
            tok = self.next()
        return tok

    def peek_non_space(self) -> _Tok:
        tok = self.next_non_space()
        self.backup()
        return tok

    def error(self, tok: _Tok, message: str) -> NoReturn:
        _syntax_error(self.src, tok[2], message)

    def unexpected(self, tok: _Tok, context: str) -> NoReturn:
        self.error(tok, f"unexpected {_tok_desc(tok)} in {context}")

    def expect(self, kind: int, context: str) -> _Tok:
        tok = self.next_non_space()
        if tok[0] != kind:
            self.unexpected(tok, context)
        return tok

    # -- structure ------------------------------------------------------------------------

    def parse(self) -> _ListNode:
        nodes: list[_Node] = []
        while self.peek()[0] != _EOF:
            if self.peek()[0] == _LDELIM:
                save = self.i
                self.next()
                tok = self.next_non_space()
                if tok[0] == _KEYWORD and tok[1] == "define":
                    self.parse_definition()
                    continue
                self.i = save
            node = self.text_or_action()
            if node is _END or node is _ELSE:
                word = "end" if node is _END else "else"
                self.error(self.toks[self.i - 1], f"unexpected {{{{{word}}}}}")
            nodes.append(node)
        return _ListNode(nodes)

    def parse_template_name(self, tok: _Tok, context: str) -> str:
        if tok[0] == _STRING:
            try:
                return _go_unquote(tok[1], '"')
            except ValueError:
                self.error(tok, f"invalid syntax: {tok[1]}")
        if tok[0] == _RAWSTRING:
            return tok[1][1:-1].replace("\r", "")
        self.unexpected(tok, context)

    def parse_body(self, context: str) -> _ListNode:
        saved_vars, saved_depth = self.vars, self.range_depth
        self.vars, self.range_depth = ["$"], 0
        body, end = self.item_list()
        if end is not _END:
            self.error(self.toks[self.i - 1], f"unexpected {{{{else}}}} in {context}")
        self.vars, self.range_depth = saved_vars, saved_depth
        return body

    def add_define(self, tok: _Tok, name: str, body: _ListNode) -> None:
        existing = self.defines.get(name)
        if existing is not None and not _is_empty_tree(existing) and not _is_empty_tree(body):
            self.error(tok, f'template: multiple definition of template "{name}"')
        if existing is None or _is_empty_tree(existing):
            self.defines[name] = body

    def parse_definition(self) -> None:
        tok = self.next_non_space()
        name = self.parse_template_name(tok, "define clause")
        self.expect(_RDELIM, "define clause")
        self.add_define(tok, name, self.parse_body("define clause"))

    def text_or_action(self) -> _Node:
        tok = self.next_non_space()
        if tok[0] == _TEXT:
            return _TextNode(tok[1])
        if tok[0] == _LDELIM:
            return self.action()
        self.unexpected(tok, "input")

    def item_list(self) -> tuple[_ListNode, _Node]:
        nodes: list[_Node] = []
        while self.peek_non_space()[0] != _EOF:
            node = self.text_or_action()
            if node is _END or node is _ELSE:
                return _ListNode(nodes), node
            nodes.append(node)
        self.error(self.peek(), "unexpected EOF")

    def action(self) -> _Node:
        tok = self.next_non_space()
        if tok[0] == _KEYWORD:
            word = tok[1]
            if word == "block":
                return self.block_control()
            if word in ("break", "continue"):
                nxt = self.next_non_space()
                if nxt[0] != _RDELIM:
                    self.unexpected(nxt, f"{{{{{word}}}}}")
                if not self.range_depth:
                    self.error(tok, f"{{{{{word}}}}} outside {{{{range}}}}")
                return _BreakNode() if word == "break" else _ContinueNode()
            if word == "else":
                peek = self.peek_non_space()
                if peek[0] == _KEYWORD and peek[1] in ("if", "with"):
                    return _ELSE
                self.expect(_RDELIM, "else")
                return _ELSE
            if word == "end":
                self.expect(_RDELIM, "end")
                return _END
            if word == "if":
                return _IfNode(*self.parse_control("if"))
            if word == "range":
                return _RangeNode(*self.parse_control("range"))
            if word == "with":
                return _WithNode(*self.parse_control("with"))
            if word == "template":
                return self.template_control()
        self.backup()
        return _ActionNode(self.pipeline("command", _RDELIM))

    def parse_control(self, context: str) -> tuple[_PipeNode, _ListNode, _ListNode | None]:
        mark = len(self.vars)
        pipe = self.pipeline(context, _RDELIM)
        if context == "range":
            self.range_depth += 1
        body, nxt = self.item_list()
        if context == "range":
            self.range_depth -= 1
        else_list: _ListNode | None = None
        if nxt is _ELSE:
            peek = self.peek()
            if context == "if" and peek[0] == _KEYWORD and peek[1] == "if":
                self.next()
                else_list = _ListNode([_IfNode(*self.parse_control("if"))])
            elif context == "with" and peek[0] == _KEYWORD and peek[1] == "with":
                self.next()
                else_list = _ListNode([_WithNode(*self.parse_control("with"))])
            else:
                else_list, nxt = self.item_list()
                if nxt is not _END:
                    self.error(self.toks[self.i - 1], "expected end; found {{else}}")
        del self.vars[mark:]
        return pipe, body, else_list

    def template_control(self) -> _Node:
        tok = self.next_non_space()
        name = self.parse_template_name(tok, "template clause")
        pipe = None
        if self.next_non_space()[0] != _RDELIM:
            self.backup()
            pipe = self.pipeline("template clause", _RDELIM)
        return _TemplateNode(name, pipe, tok[2])

    def block_control(self) -> _Node:
        tok = self.next_non_space()
        name = self.parse_template_name(tok, "block clause")
        pipe = self.pipeline("block clause", _RDELIM)
        self.add_define(tok, name, self.parse_body("block clause"))
        return _TemplateNode(name, pipe, tok[2])

    # -- pipelines ------------------------------------------------------------------------

    def pipeline(self, context: str, end: int) -> _PipeNode:
        start = self.peek_non_space()
        decl: list[str] = []
        is_assign = False
        while True:
            v = self.peek_non_space()
            if v[0] != _VAR:
                break
            at = self.i
            self.next()
            nxt = self.peek_non_space()
            if nxt[0] in (_ASSIGN, _DECLARE):
                is_assign = nxt[0] == _ASSIGN
                self.next_non_space()
                decl.append(v[1])
                self.vars.append(v[1])
                break
            if nxt[0] == _CHAR and nxt[1] == ",":
                self.next_non_space()
                decl.append(v[1])
                self.vars.append(v[1])
                if context == "range" and len(decl) < 2:
                    if self.peek_non_space()[0] in (_VAR, _RDELIM, _RPAREN):
                        continue
                    self.error(v, "range can only initialize variables")
                self.error(v, f"too many declarations in {context}")
            self.i = at
            break
        cmds: list[_CommandNode] = []
        while True:
            tok = self.next_non_space()
            if tok[0] == end:
                if not cmds:
                    self.error(tok, f"missing value for {context}")
                for i, cmd in enumerate(cmds[1:]):
                    if isinstance(cmd.args[0], (_LiteralNode, _DotNode, _NilNode)):
                        self.error(tok, f"non executable command in pipeline stage {i + 2}")
                return _PipeNode(decl, is_assign, cmds, start[2])
            if tok[0] in _OPERAND_START:
                self.backup()
                cmds.append(self.command())
            else:
                self.unexpected(tok, context)

    def command(self) -> _CommandNode:
        args: list[_Node] = []
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                args.append(operand)
            tok = self.next()
            if tok[0] == _SPACE:
                continue
            if tok[0] in (_RDELIM, _RPAREN):
                self.backup()
            elif tok[0] != _PIPE:
                self.unexpected(tok, "operand")
            break
        if not args:
            self.error(self.peek(), "empty command")
        return _CommandNode(args)

    def operand(self) -> _Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek()[0] == _FIELD:
            fields: list[str] = []
            while self.peek()[0] == _FIELD:
                fields.append(self.next()[1][1:])
            if isinstance(node, _FieldNode):
                return _FieldNode(node.ident + tuple(fields))
            if isinstance(node, _VariableNode):
                return _VariableNode(node.ident + tuple(fields))
            if isinstance(node, (_LiteralNode, _NilNode, _DotNode)):
                term = _go_quote(_node_str(node))
                self.error(self.toks[self.i - 1], f"unexpected . after term {term}")
            return _ChainNode(node, tuple(fields))
        return node

    def term(self) -> _Node | None:
        tok = self.next_non_space()
        kind, value = tok[0], tok[1]
        if kind == _IDENT:
            if value not in self.funcs:
                self.error(tok, f'function "{value}" not defined')
            return _IdentifierNode(value)
        if kind == _DOT:
            return _DotNode()
        if kind == _NIL:
            return _NilNode()
        if kind == _VAR:
            if value not in self.vars:
                self.error(tok, f'undefined variable "{value}"')
            return _VariableNode((value,))
        if kind == _FIELD:
            return _FieldNode((value[1:],))
        if kind == _BOOL:
            return _LiteralNode(value == "true", value)
        if kind == _NUMBER:
            try:
                return _LiteralNode(_parse_number(value), value)
            except ValueError as exc:
                self.error(tok, f"{exc}: {value!r}")
        if kind == _CHARCONST:
            try:
                char = _go_unquote(value, "'")
            except ValueError:
                self.error(tok, f"malformed character constant: {value}")
            if len(char) != 1:
                self.error(tok, f"malformed character constant: {value}")
            return _LiteralNode(ord(char), value)
        if kind == _LPAREN:
            return self.pipeline("parenthesized pipeline", _RPAREN)
        if kind == _STRING:
            try:
                return _LiteralNode(_go_unquote(value, '"'), value)
            except ValueError:
                self.error(tok, f"invalid syntax: {value}")
        if kind == _RAWSTRING:
            return _LiteralNode(value[1:-1].replace("\r", ""), value)
        self.backup()
        return None


def _is_empty_tree(node: _Node) -> bool:
    if isinstance(node, _ListNode):
        return all(_is_empty_tree(n) for n in node.nodes)
    if isinstance(node, _TextNode):
        return not node.text.strip(_SPACES)
    return False


# ---------------------------------------------------------------------------------------------
# Values as Go sees them: printing (%v), JSON, truthiness
# ---------------------------------------------------------------------------------------------


class _GoStruct:
    """A Go struct value: fixed exported fields, an error on any other field."""

    __slots__ = ()
    _go_type: ClassVar[str] = "struct"
    _go_fields: ClassVar[tuple[str, ...]] = ()
    #: (json key, attribute, omitempty); ``None`` means untagged Go fields.
    _json_spec: ClassVar[tuple[tuple[str, str, bool], ...] | None] = None
    #: Whether the Go type has a ``String`` method that prints its JSON.
    _json_stringer: ClassVar[bool] = False

    def __repr__(self) -> str:
        fields = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._go_fields)
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self._go_fields)

    __hash__ = None  # type: ignore[assignment]


class _JSONStringer:
    """Containers whose Go type has a ``String`` method (Ollama prints them as JSON)."""

    __slots__ = ()

    def go_string(self) -> str:
        raise NotImplementedError


def go_json(value: Any) -> str:
    """``encoding/json.Marshal`` of a template value, as the ``json`` template function returns.

    Returns ``""`` for values Go cannot marshal (NaN, infinities, functions), as the
    template function does when ``json.Marshal`` fails.
    """
    out: list[str] = []
    try:
        _json_into(value, out)
    except _JSONUnsupported:
        return ""
    return "".join(out)


class _JSONUnsupported(Exception):
    pass


_JSON_ESCAPE_RE = re.compile('[\x00-\x1f"\\\\<>&\u2028\u2029\ud800-\udfff]')
_JSON_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def _json_escape_char(m: re.Match[str]) -> str:
    c = m.group()
    esc = _JSON_ESCAPES.get(c)
    if esc is not None:
        return esc
    if "\ud800" <= c <= "\udfff":
        return "\\ufffd"
    return f"\\u{ord(c):04x}"


def _json_str(s: str) -> str:
    return '"' + _JSON_ESCAPE_RE.sub(_json_escape_char, s) + '"'


def _json_float(f: float) -> str:
    if math.isnan(f) or math.isinf(f):
        raise _JSONUnsupported
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    a = abs(f)
    if a < 1e-6 or a >= 1e21:
        s = _format_e_shortest(f)
        # Go writes e-7 where strconv gives e-07.
        if len(s) >= 4 and s[-4] == "e" and s[-3] == "-" and s[-2] == "0":
            s = s[:-2] + s[-1]
        return s
    return _format_f_shortest(f)


def _json_into(v: Any, out: list[str]) -> None:
    if v is None:
        out.append("null")
    elif isinstance(v, str):
        out.append(_json_str(v))
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, int):
        out.append(str(int(v)))
    elif isinstance(v, float):
        out.append(_json_float(v))
    elif isinstance(v, _GoStruct):
        _json_struct(v, out)
    elif isinstance(v, PropertyType):
        if len(v) == 1:
            out.append(_json_str(v[0]))
        else:
            _json_list(v, out)
    elif isinstance(v, (ArgsMap, PropertiesMap, ToolList)) and v.nil:
        out.append("null")
    elif isinstance(v, Mapping):
        keys = list(v) if isinstance(v, _OrderedProperties) else sorted(v, key=_json_key)
        out.append("{")
        first = True
        for k in keys:
            if not first:
                out.append(",")
            first = False
            out.append(_json_str(_json_key(k)))
            out.append(":")
            _json_into(v[k], out)
        out.append("}")
    elif isinstance(v, (list, tuple)):
        _json_list(v, out)
    elif isinstance(v, (bytes, bytearray)):
        out.append('"' + base64.b64encode(bytes(v)).decode("ascii") + '"')
    else:
        raise _JSONUnsupported


def _json_key(k: Any) -> str:
    if isinstance(k, str):
        return k
    if isinstance(k, int) and not isinstance(k, bool):
        return str(k)
    raise _JSONUnsupported


def _json_list(v: Sequence[Any], out: list[str]) -> None:
    out.append("[")
    for i, item in enumerate(v):
        if i:
            out.append(",")
        _json_into(item, out)
    out.append("]")


def _json_empty(v: Any) -> bool:
    if v is None or v is False:
        return True
    if isinstance(v, (str, list, tuple, dict)):
        return len(v) == 0
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v == 0
    return False


def _json_struct(v: _GoStruct, out: list[str]) -> None:
    spec = v._json_spec
    if spec is None:
        spec = tuple((f, f, False) for f in v._go_fields)
    out.append("{")
    first = True
    for key, attr, omitempty in spec:
        value = getattr(v, attr)
        if omitempty and _json_empty(value):
            continue
        if not first:
            out.append(",")
        first = False
        out.append(_json_str(key))
        out.append(":")
        _json_into(value, out)
    out.append("}")


def _shortest_digits(f: float) -> tuple[str, int]:
    """Shortest round-trip digits of ``abs(f)`` and the decimal point position.

    The value is ``0.<digits> * 10**dp``, as in Go's ``strconv`` internals.
    """
    mant, _, exp = repr(abs(f)).partition("e")
    ip, _, fp = mant.partition(".")
    digits = (ip + fp).lstrip("0")
    dp = len(digits) + (int(exp) if exp else 0) - len(fp)
    digits = digits.rstrip("0")
    return digits or "0", dp


def _format_e_shortest(f: float) -> str:
    digits, dp = _shortest_digits(f)
    exp = dp - 1
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    sign = "-" if f < 0 or (f == 0 and math.copysign(1.0, f) < 0) else ""
    return f"{sign}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"


def _format_f_shortest(f: float) -> str:
    sign = "-" if f < 0 or (f == 0 and math.copysign(1.0, f) < 0) else ""
    if f == 0:
        return sign + "0"
    digits, dp = _shortest_digits(f)
    if dp <= 0:
        return sign + "0." + "0" * (-dp) + digits
    if dp >= len(digits):
        return sign + digits + "0" * (dp - len(digits))
    return sign + digits[:dp] + "." + digits[dp:]


def _format_g_shortest(f: float) -> str:
    """Go's ``%v`` for a float64: ``strconv.FormatFloat(f, 'g', -1, 64)``."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    _, dp = _shortest_digits(f)
    exp = dp - 1
    if exp < -4 or exp >= _G_SHORTEST_EPREC:
        return _format_e_shortest(f)
    return _format_f_shortest(f)


# strconv uses precision 6 to pick %e over %f when formatting with the shortest digits.
_G_SHORTEST_EPREC = 6


def _go_type_name(v: Any) -> str:
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, _GoStruct):
        return v._go_type
    if isinstance(v, PropertyType):
        return "api.PropertyType"
    if isinstance(v, ArgsMap):
        return "template.templateArgs"
    if isinstance(v, PropertiesMap):
        return "template.templateProperties"
    if isinstance(v, ToolList):
        return "template.templateTools"
    if isinstance(v, Mapping):
        return "map[string]interface {}"
    if isinstance(v, (bytes, bytearray)):
        return "[]uint8"
    if isinstance(v, (list, tuple)):
        return "[]interface {}"
    if callable(v):
        return "func"
    return type(v).__name__


def _sort_key(k: Any) -> tuple[int, Any]:
    # fmt sorts map keys by kind first, then by value.
    if isinstance(k, bool):
        return (0, k)
    if isinstance(k, (int, float)):
        return (1, k)
    if isinstance(k, str):
        return (2, k)
    return (3, str(k))


def go_sprint(value: Any) -> str:
    """``fmt.Sprint`` of one template value (Go's ``%v``)."""
    return _fmt_v(value, False)


def _fmt_v(v: Any, plus: bool) -> str:
    if isinstance(v, str):
        return str(v)
    if v is None:
        return "<nil>"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(int(v))
    if isinstance(v, float):
        return _format_g_shortest(v)
    if isinstance(v, _JSONStringer):
        return v.go_string()
    if isinstance(v, _GoStruct):
        if v._json_stringer:
            return go_json(v)
        if plus:
            return "{" + " ".join(f"{f}:{_fmt_v(getattr(v, f), plus)}" for f in v._go_fields) + "}"
        return "{" + " ".join(_fmt_v(getattr(v, f), plus) for f in v._go_fields) + "}"
    if isinstance(v, Mapping):
        items = sorted(v.items(), key=lambda kv: _sort_key(kv[0]))
        return "map[" + " ".join(f"{_fmt_v(k, plus)}:{_fmt_v(x, plus)}" for k, x in items) + "]"
    if isinstance(v, (bytes, bytearray)):
        return "[" + " ".join(str(b) for b in v) + "]"
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(_fmt_v(x, plus) for x in v) + "]"
    return str(v)


def _print_top(v: Any) -> str:
    # An action that yields nil prints "<no value>": text/template sees an invalid value
    # once the empty interface is unwrapped.
    if v is None:
        return "<no value>"
    return _fmt_v(v, False)


def _truth(v: Any) -> bool:
    if v is None:
        return False
    t = type(v)
    if t is bool:
        return bool(v)
    if t is str or t is list or t is dict or t is tuple:
        return len(v) > 0
    if t is int or t is float:
        return bool(v != 0)
    if isinstance(v, _GoStruct):
        return True
    if isinstance(v, (str, list, tuple, Mapping, bytes, bytearray)):
        return len(v) > 0
    if isinstance(v, (int, float, complex)):
        return bool(v != 0)
    return True


# ---------------------------------------------------------------------------------------------
# The views of messages and tools a template sees (Ollama's templateMessage & co.)
# ---------------------------------------------------------------------------------------------


class ArgsMap(dict[str, Any], _JSONStringer):
    """A tool call's ``.Function.Arguments``: a map that prints as its JSON (``{}`` when nil)."""

    __slots__ = ("nil",)

    def __init__(self, items: Mapping[str, Any] | None = None) -> None:
        super().__init__(items or {})
        self.nil = items is None

    def go_string(self) -> str:
        return "{}" if self.nil else go_json(self)


class PropertyType(list[str], _JSONStringer):
    """A JSON-schema ``type``: one name, or several (``[string null]`` when printed)."""

    __slots__ = ()

    def go_string(self) -> str:
        if not self:
            return ""
        if len(self) == 1:
            return str(self[0])
        return "[" + " ".join(self) + "]"


class _OrderedProperties(dict[str, "ToolProperty"]):
    """Nested ``properties`` of a property: JSON keeps their declaration order."""

    __slots__ = ()


class ToolProperty(_GoStruct):
    """One JSON-schema property of a tool's parameters (Ollama's ``api.ToolProperty``)."""

    __slots__ = ("AnyOf", "Description", "Enum", "Items", "Properties", "Required", "Type")
    _go_type = "api.ToolProperty"
    _go_fields = ("AnyOf", "Type", "Items", "Description", "Enum", "Properties", "Required")
    _json_spec = (
        ("anyOf", "AnyOf", True),
        ("type", "Type", True),
        ("items", "Items", True),
        ("description", "Description", True),
        ("enum", "Enum", True),
        ("properties", "Properties", True),
        ("required", "Required", True),
    )

    def __init__(
        self,
        *,
        AnyOf: list[ToolProperty] | None = None,
        Type: PropertyType | None = None,
        Items: Any = None,
        Description: str = "",
        Enum: list[Any] | None = None,
        Properties: Mapping[str, ToolProperty] | None = None,
        Required: list[str] | None = None,
    ) -> None:
        self.AnyOf = AnyOf or []
        self.Type = Type if Type is not None else PropertyType()
        self.Items = Items
        self.Description = Description
        self.Enum = Enum or []
        self.Properties = None if Properties is None else _OrderedProperties(Properties)
        self.Required = Required or []

    def to_typescript_type(self) -> str:
        """Ollama's ``ToolProperty.ToTypeScriptType``."""
        if self.AnyOf:
            return " | ".join(p.to_typescript_type() for p in self.AnyOf)
        if not self.Type:
            return "any"
        return " | ".join(_TS_TYPES.get(t, "any") for t in self.Type)


_TS_TYPES = {
    "string": "string",
    "number": "number",
    "integer": "number",
    "boolean": "boolean",
    "array": "any[]",
    "object": "Record<string, any>",
    "null": "null",
}


class PropertiesMap(dict[str, ToolProperty], _JSONStringer):
    """A tool's ``.Function.Parameters.Properties``: prints as JSON (``{}`` when nil)."""

    __slots__ = ("nil",)

    def __init__(self, items: Mapping[str, ToolProperty] | None = None) -> None:
        super().__init__(items or {})
        self.nil = items is None

    def go_string(self) -> str:
        return "{}" if self.nil else go_json(self)


class TemplateToolParameters(_GoStruct):
    """``.Function.Parameters`` of a tool."""

    __slots__ = ("Defs", "Items", "Properties", "Required", "Type")
    _go_type = "template.templateToolFunctionParameters"
    _go_fields = ("Type", "Defs", "Items", "Required", "Properties")
    _json_spec = (
        ("type", "Type", False),
        ("$defs", "Defs", True),
        ("items", "Items", True),
        ("required", "Required", True),
        ("properties", "Properties", False),
    )

    def __init__(
        self,
        *,
        Type: str = "",
        Defs: Any = None,
        Items: Any = None,
        Required: list[str] | None = None,
        Properties: PropertiesMap | None = None,
    ) -> None:
        self.Type = Type
        self.Defs = Defs
        self.Items = Items
        self.Required = Required or []
        self.Properties = Properties if Properties is not None else PropertiesMap()


class TemplateToolFunction(_GoStruct):
    """A tool's ``.Function``; prints as its JSON."""

    __slots__ = ("Description", "Name", "Parameters")
    _go_type = "template.templateToolFunction"
    _go_fields = ("Name", "Description", "Parameters")
    _json_spec = (
        ("name", "Name", False),
        ("description", "Description", False),
        ("parameters", "Parameters", False),
    )
    _json_stringer = True

    def __init__(
        self,
        *,
        Name: str = "",
        Description: str = "",
        Parameters: TemplateToolParameters | None = None,
    ) -> None:
        self.Name = Name
        self.Description = Description
        self.Parameters = Parameters if Parameters is not None else TemplateToolParameters()


class TemplateTool(_GoStruct):
    """One entry of ``.Tools``: ``.Type``, ``.Items``, ``.Function``; prints as its JSON."""

    __slots__ = ("Function", "Items", "Type")
    _go_type = "template.templateTool"
    _go_fields = ("Type", "Items", "Function")
    _json_spec = (
        ("type", "Type", False),
        ("items", "Items", True),
        ("function", "Function", False),
    )
    _json_stringer = True

    def __init__(
        self,
        *,
        Type: str = "",
        Items: Any = None,
        Function: TemplateToolFunction | None = None,
    ) -> None:
        self.Type = Type
        self.Items = Items
        self.Function = Function if Function is not None else TemplateToolFunction()


class ToolList(list[TemplateTool], _JSONStringer):
    """``.Tools``: a list of :class:`TemplateTool` that prints as JSON (``null`` when nil)."""

    __slots__ = ("nil",)

    def __init__(self, items: Iterable[TemplateTool] | None = None) -> None:
        super().__init__(items or ())
        self.nil = items is None

    def go_string(self) -> str:
        return go_json(self)


class TemplateToolCallFunction(_GoStruct):
    """``.Function`` of a tool call: ``.Index``, ``.Name``, ``.Arguments``."""

    __slots__ = ("Arguments", "Index", "Name")
    _go_type = "template.templateToolCallFunction"
    _go_fields = ("Index", "Name", "Arguments")

    def __init__(
        self,
        *,
        Index: int = 0,
        Name: str = "",
        Arguments: ArgsMap | None = None,
    ) -> None:
        self.Index = Index
        self.Name = Name
        self.Arguments = Arguments if Arguments is not None else ArgsMap()


class TemplateToolCall(_GoStruct):
    """One entry of a message's ``.ToolCalls``: ``.ID`` and ``.Function``."""

    __slots__ = ("Function", "ID")
    _go_type = "template.templateToolCall"
    _go_fields = ("ID", "Function")

    def __init__(
        self,
        *,
        ID: str = "",
        Function: TemplateToolCallFunction | None = None,
    ) -> None:
        self.ID = ID
        self.Function = Function if Function is not None else TemplateToolCallFunction()


class TemplateMessage(_GoStruct):
    """One entry of ``.Messages``."""

    __slots__ = ("Content", "Images", "Role", "Thinking", "ToolCallID", "ToolCalls", "ToolName")
    _go_type = "*template.templateMessage"
    _go_fields = ("Role", "Content", "Thinking", "Images", "ToolCalls", "ToolName", "ToolCallID")

    def __init__(
        self,
        *,
        Role: str = "",
        Content: str = "",
        Thinking: str = "",
        Images: list[Any] | None = None,
        ToolCalls: list[TemplateToolCall] | None = None,
        ToolName: str = "",
        ToolCallID: str = "",
    ) -> None:
        self.Role = Role
        self.Content = Content
        self.Thinking = Thinking
        self.Images = Images or []
        self.ToolCalls = ToolCalls or []
        self.ToolName = ToolName
        self.ToolCallID = ToolCallID


def _as_go_any(v: Any) -> Any:
    """A JSON value as Go decodes it into ``any``: every number becomes a float64."""
    if isinstance(v, bool) or v is None or isinstance(v, (str, float)):
        return v
    if isinstance(v, int):
        return float(v)
    if isinstance(v, Mapping):
        return {str(k): _as_go_any(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_as_go_any(x) for x in v]
    return v


def _str(v: Any) -> str:
    return v if isinstance(v, str) else "" if v is None else str(v)


def _str_list(v: Any) -> list[str]:
    if not isinstance(v, (list, tuple)):
        return []
    return [x for x in v if isinstance(x, str)]


def _property(raw: Any) -> ToolProperty:
    if not isinstance(raw, Mapping):
        return ToolProperty()
    kind = raw.get("type")
    if isinstance(kind, str):
        ptype = PropertyType([kind])
    elif isinstance(kind, (list, tuple)):
        ptype = PropertyType(x for x in kind if isinstance(x, str))
    else:
        ptype = PropertyType()
    any_of = raw.get("anyOf")
    nested = raw.get("properties")
    enum = raw.get("enum")
    return ToolProperty(
        AnyOf=[_property(p) for p in any_of] if isinstance(any_of, (list, tuple)) else None,
        Type=ptype,
        Items=_as_go_any(raw.get("items")),
        Description=_str(raw.get("description")),
        Enum=_as_go_any(list(enum)) if isinstance(enum, (list, tuple)) else None,
        Properties=(
            {str(k): _property(p) for k, p in nested.items()}
            if isinstance(nested, Mapping)
            else None
        ),
        Required=_str_list(raw.get("required")),
    )


def _as_mapping(v: Any) -> Mapping[str, Any]:
    """A wire object as a mapping: dicts as they are, msgspec structs and pydantic models too."""
    if isinstance(v, Mapping):
        return v
    if hasattr(v, "__struct_fields__"):
        import msgspec

        result = msgspec.to_builtins(v)
    elif callable(getattr(v, "model_dump", None)):
        result = v.model_dump(exclude_none=True, by_alias=True)
    else:
        return {}
    return result if isinstance(result, Mapping) else {}


def template_tools(tools: Sequence[Any] | None) -> ToolList:
    """Convert wire-format tools (``{"type", "function": {...}}``) to the ``.Tools`` view."""
    if tools is None:
        return ToolList()
    out = []
    for raw_tool in tools:
        tool = _as_mapping(raw_tool)
        fn = _as_mapping(tool.get("function"))
        params = _as_mapping(fn.get("parameters"))
        props = params.get("properties")
        properties = (
            PropertiesMap({str(k): _property(p) for k, p in props.items()})
            if isinstance(props, Mapping)
            else PropertiesMap()
        )
        out.append(
            TemplateTool(
                Type=_str(tool.get("type")),
                Items=_as_go_any(tool.get("items")),
                Function=TemplateToolFunction(
                    Name=_str(fn.get("name")),
                    Description=_str(fn.get("description")),
                    Parameters=TemplateToolParameters(
                        Type=_str(params.get("type")),
                        Defs=_as_go_any(params.get("$defs")),
                        Items=_as_go_any(params.get("items")),
                        Required=_str_list(params.get("required")),
                        Properties=properties,
                    ),
                ),
            )
        )
    return ToolList(out)


def _tool_call(raw: Any) -> TemplateToolCall:
    call = _as_mapping(raw)
    fn = _as_mapping(call.get("function"))
    args = fn.get("arguments")
    if isinstance(args, str):
        import json

        try:
            args = json.loads(args)
        except ValueError:
            args = None
    index = fn.get("index")
    return TemplateToolCall(
        ID=_str(call.get("id")),
        Function=TemplateToolCallFunction(
            Index=index if isinstance(index, int) and not isinstance(index, bool) else 0,
            Name=_str(fn.get("name")),
            Arguments=ArgsMap(
                {str(k): _as_go_any(v) for k, v in args.items()}
                if isinstance(args, Mapping)
                else None
            ),
        ),
    )


def _message(m: Mapping[str, Any]) -> TemplateMessage:
    images = m.get("images")
    calls = m.get("tool_calls")
    return TemplateMessage(
        Role=_str(m.get("role")),
        Content=_str(m.get("content")),
        Thinking=_str(m.get("thinking")),
        Images=list(images) if isinstance(images, (list, tuple)) else None,
        ToolCalls=[_tool_call(c) for c in calls] if isinstance(calls, (list, tuple)) else None,
        ToolName=_str(m.get("tool_name")),
        ToolCallID=_str(m.get("tool_call_id")),
    )


def _collate(messages: Iterable[Any]) -> tuple[str, list[dict[str, Any]]]:
    """Ollama's ``collate``: all system texts, and same-role runs merged (tool turns excepted).

    System messages stay in the list too; templates skip them by role.
    """
    system: list[str] = []
    collated: list[dict[str, Any]] = []
    for raw in messages:
        m = dict(_as_mapping(raw))
        role = _str(m.get("role"))
        content = _str(m.get("content"))
        if role == "system":
            system.append(content)
        if collated and collated[-1]["role"] == role and role != "tool":
            collated[-1]["content"] += "\n\n" + content
        else:
            m["role"] = role
            m["content"] = content
            collated.append(m)
    return "\n\n".join(system), collated


def template_messages(messages: Iterable[Any]) -> list[TemplateMessage]:
    """Collate wire-format messages and convert them to the ``.Messages`` view.

    As in Ollama, a run of messages with the same role becomes one message whose contents
    are joined by a blank line (tool results stay separate, and only the first message of a
    run keeps its other fields), and system messages stay in the list.
    """
    return [_message(m) for m in _collate(messages)[1]]


# ---------------------------------------------------------------------------------------------
# Builtin functions
# ---------------------------------------------------------------------------------------------


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


_BASIC_BOOL, _BASIC_INT, _BASIC_FLOAT, _BASIC_STRING, _BASIC_COMPLEX, _BASIC_NIL, _BASIC_OTHER = (
    range(7)
)


def _basic_kind(v: Any) -> int:
    kind = _KIND_BY_TYPE.get(type(v))
    if kind is not None:
        return kind
    if v is None:
        return _BASIC_NIL
    if isinstance(v, bool):
        return _BASIC_BOOL
    if isinstance(v, int):
        return _BASIC_INT
    if isinstance(v, float):
        return _BASIC_FLOAT
    if isinstance(v, str):
        return _BASIC_STRING
    if isinstance(v, complex):
        return _BASIC_COMPLEX
    return _BASIC_OTHER


_KIND_BY_TYPE: dict[type, int] = {
    type(None): _BASIC_NIL,
    bool: _BASIC_BOOL,
    int: _BASIC_INT,
    float: _BASIC_FLOAT,
    str: _BASIC_STRING,
    complex: _BASIC_COMPLEX,
}


def _fn_eq(arg1: Any, *args: Any) -> bool:
    if type(arg1) is str and len(args) == 1 and type(args[0]) is str:
        return arg1 == args[0]
    if not args:
        raise _ExecError("missing argument for comparison")
    k1 = _basic_kind(arg1)
    for arg in args:
        k2 = _basic_kind(arg)
        if k1 != k2:
            if arg1 is not None and arg is not None:
                raise _ExecError("incompatible types for comparison")
            truth = False
        elif k1 == _BASIC_NIL:
            truth = True
        elif k1 == _BASIC_OTHER:
            if isinstance(arg1, (list, dict, tuple)) or isinstance(arg, (list, dict, tuple)):
                raise _ExecError(f"non-comparable type {_fmt_v(arg, False)}: {_go_type_name(arg)}")
            truth = arg1 is arg
        else:
            truth = arg1 == arg
        if truth:
            return True
    return False


def _fn_ne(arg1: Any, arg2: Any) -> bool:
    return not _fn_eq(arg1, arg2)


def _fn_lt(arg1: Any, arg2: Any) -> bool:
    k1, k2 = _basic_kind(arg1), _basic_kind(arg2)
    if k1 in (_BASIC_NIL, _BASIC_OTHER) or k2 in (_BASIC_NIL, _BASIC_OTHER):
        raise _ExecError("invalid type for comparison")
    if k1 != k2:
        raise _ExecError("incompatible types for comparison")
    if k1 in (_BASIC_BOOL, _BASIC_COMPLEX):
        raise _ExecError("invalid type for comparison")
    return bool(arg1 < arg2)


def _fn_le(arg1: Any, arg2: Any) -> bool:
    return _fn_lt(arg1, arg2) or _fn_eq(arg1, arg2)


def _fn_gt(arg1: Any, arg2: Any) -> bool:
    return not _fn_le(arg1, arg2)


def _fn_ge(arg1: Any, arg2: Any) -> bool:
    return not _fn_lt(arg1, arg2)


def _fn_not(arg: Any) -> bool:
    return not _truth(arg)


def _fn_len(item: Any) -> int:
    if item is None:
        raise _ExecError("len of nil pointer")
    if isinstance(item, str):
        return len(item.encode("utf-8", "surrogatepass"))
    if isinstance(item, (list, tuple, Mapping, bytes, bytearray)):
        return len(item)
    raise _ExecError(f"len of type {_go_type_name(item)}")


def _index_arg(index: Any, cap: int) -> int:
    if index is None:
        raise _ExecError("cannot index slice/array with nil")
    if isinstance(index, bool) or not isinstance(index, int):
        raise _ExecError(f"cannot index slice/array with type {_go_type_name(index)}")
    if index < 0 or index > cap:
        raise _ExecError(f"index out of range: {index}")
    return int(index)


def _fn_index(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise _ExecError("index of untyped nil")
    for index in indexes:
        if item is None:
            raise _ExecError("index of nil pointer")
        if isinstance(item, str):
            data = item.encode("utf-8", "surrogatepass")
            x = _index_arg(index, len(data))
            if x >= len(data):
                raise _ExecError(f"index out of range: {x}")
            item = data[x]
        elif isinstance(item, (list, tuple, bytes, bytearray)):
            x = _index_arg(index, len(item))
            if x >= len(item):
                raise _ExecError(f"index out of range: {x}")
            item = item[x]
        elif isinstance(item, Mapping):
            if index is not None and not isinstance(index, str):
                raise _ExecError(f"value has type {_go_type_name(index)}; should be string")
            item = item.get(index) if index is not None else None
        else:
            raise _ExecError(f"can't index item of type {_go_type_name(item)}")
    return item


def _fn_slice(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise _ExecError("slice of untyped nil")
    if len(indexes) > 3:
        raise _ExecError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise _ExecError("cannot 3-index slice a string")
        data = item.encode("utf-8", "surrogatepass")
        cap = len(data)
    elif isinstance(item, (list, tuple)):
        cap = len(item)
    else:
        raise _ExecError(f"can't slice item of type {_go_type_name(item)}")
    idx = [0, cap, cap]
    for i, index in enumerate(indexes):
        idx[i] = _index_arg(index, cap)
    if idx[0] > idx[1]:
        raise _ExecError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise _ExecError(f"invalid slice index: {idx[1]} > {idx[2]}")
    if isinstance(item, str):
        return data[idx[0] : idx[1]].decode("utf-8", "replace")
    return list(item[idx[0] : idx[1]])


def _sprint(args: Sequence[Any]) -> str:
    out: list[str] = []
    prev_string = False
    for i, arg in enumerate(args):
        is_string = isinstance(arg, str)
        if i and not is_string and not prev_string:
            out.append(" ")
        out.append(_fmt_v(arg, False))
        prev_string = is_string
    return "".join(out)


def _fn_print(*args: Any) -> str:
    return _sprint(args)


def _fn_println(*args: Any) -> str:
    return " ".join(_fmt_v(a, False) for a in args) + "\n"


def _fn_printf(fmt: Any, *args: Any) -> str:
    if not isinstance(fmt, str):
        raise _ExecError(f"expected string; found {_fmt_v(fmt, False)}")
    return _go_sprintf(fmt, args)


def _eval_args(args: Sequence[Any]) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return _sprint(args)


_HTML_ESCAPES = {'"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;", "\0": "\ufffd"}
_HTML_RE = re.compile("[\"'&<>\0]")


def _fn_html(*args: Any) -> str:
    return _HTML_RE.sub(lambda m: _HTML_ESCAPES[m.group()], _eval_args(args))


_JS_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "<": "\\u003C",
    ">": "\\u003E",
    "&": "\\u0026",
    "=": "\\u003D",
}


def _fn_js(*args: Any) -> str:
    out: list[str] = []
    for c in _eval_args(args):
        esc = _JS_ESCAPES.get(c)
        if esc is not None:
            out.append(esc)
        elif c < " " or (c >= "\x80" and not c.isprintable()):
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


def _fn_urlquery(*args: Any) -> str:
    return urllib.parse.quote_plus(_eval_args(args), safe="")


def _fn_call(fn: Any, *args: Any) -> Any:
    if fn is None:
        raise _ExecError("call of nil")
    if not callable(fn):
        raise _ExecError(f"non-function of type {_go_type_name(fn)}")
    try:
        return fn(*args)
    except _ExecError:
        raise
    except Exception as exc:
        raise _ExecError(str(exc)) from exc


def _fn_json(v: Any) -> str:
    return go_json(v)


def _fn_current_date(*args: Any) -> str:
    return date.today().isoformat()


def _fn_yesterday_date(*args: Any) -> str:
    return (date.today() - timedelta(days=1)).isoformat()


def _fn_to_typescript_type(v: Any) -> str:
    if isinstance(v, ToolProperty):
        return v.to_typescript_type()
    return "any"


def _fn_lazy(*args: Any) -> Any:  # pragma: no cover - and/or short-circuit in the executor
    raise AssertionError("and/or are evaluated by the executor")


# name -> (function, minimum args, maximum args or None)
_BUILTINS: dict[str, tuple[Callable[..., Any], int, int | None]] = {
    "and": (_fn_lazy, 1, None),
    "or": (_fn_lazy, 1, None),
    "not": (_fn_not, 1, 1),
    "eq": (_fn_eq, 1, None),
    "ne": (_fn_ne, 2, 2),
    "lt": (_fn_lt, 2, 2),
    "le": (_fn_le, 2, 2),
    "gt": (_fn_gt, 2, 2),
    "ge": (_fn_ge, 2, 2),
    "len": (_fn_len, 1, 1),
    "index": (_fn_index, 1, None),
    "slice": (_fn_slice, 1, None),
    "print": (_fn_print, 0, None),
    "printf": (_fn_printf, 1, None),
    "println": (_fn_println, 0, None),
    "html": (_fn_html, 0, None),
    "js": (_fn_js, 0, None),
    "urlquery": (_fn_urlquery, 0, None),
    "call": (_fn_call, 1, None),
    "json": (_fn_json, 1, 1),
    "currentDate": (_fn_current_date, 0, None),
    "yesterdayDate": (_fn_yesterday_date, 0, None),
    "toTypeScriptType": (_fn_to_typescript_type, 1, 1),
}
_FUNC_NAMES = frozenset(_BUILTINS)


# ---------------------------------------------------------------------------------------------
# printf (Go's fmt verbs)
# ---------------------------------------------------------------------------------------------


class _Spec:
    __slots__ = ("minus", "plus", "prec", "sharp", "space", "width", "zero")

    def __init__(self) -> None:
        self.minus = self.plus = self.sharp = self.space = self.zero = False
        self.width: int | None = None
        self.prec: int | None = None


def _pad(s: str, spec: _Spec, numeric: bool = False) -> str:
    width = spec.width
    if width is None or len(s) >= width:
        return s
    fill = width - len(s)
    if spec.minus:
        return s + " " * fill
    if spec.zero and numeric:
        sign = s[0] if s[:1] in ("+", "-", " ") else ""
        return sign + "0" * fill + s[len(sign) :]
    return " " * fill + s


def _bad_verb(verb: str, v: Any) -> str:
    if v is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({_go_type_name(v)}={_fmt_v(v, False)})"


_QUOTE_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def _go_quote(s: str, ascii_only: bool = False) -> str:
    out = ['"']
    for c in s:
        if c == '"' or c == "\\":
            out.append("\\" + c)
        elif c in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[c])
        elif c.isprintable() and not (ascii_only and c > "\x7f"):
            out.append(c)
        elif ord(c) < 0x80:
            out.append(f"\\x{ord(c):02x}")
        elif ord(c) < 0x10000:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    out.append('"')
    return "".join(out)


def _fmt_int(v: int, verb: str, spec: _Spec) -> str:
    if verb == "c":
        return _pad(chr(v) if 0 <= v <= 0x10FFFF else "\ufffd", spec)
    if verb == "q":
        return _pad("'" + _go_quote(chr(v) if 0 <= v <= 0x10FFFF else "\ufffd")[1:-1] + "'", spec)
    if verb == "U":
        s = f"U+{v:04X}"
        if spec.sharp and 0 <= v <= 0x10FFFF and chr(v).isprintable():
            s += f" '{chr(v)}'"
        return _pad(s, spec)
    neg = v < 0
    a = -v if neg else v
    if verb in ("d", "v"):
        digits = str(a)
    elif verb == "x":
        digits = f"{a:x}"
    elif verb == "X":
        digits = f"{a:X}"
    elif verb in ("o", "O"):
        digits = f"{a:o}"
    elif verb == "b":
        digits = f"{a:b}"
    else:
        return _bad_verb(verb, v)
    if spec.prec is not None:
        digits = "" if spec.prec == 0 and a == 0 else digits.rjust(spec.prec, "0")
    prefix = ""
    if verb == "O" or (spec.sharp and verb == "o" and not digits.startswith("0")):
        prefix = "0o" if verb == "O" else "0"
    elif spec.sharp and verb in ("x", "X"):
        prefix = "0x" if verb == "x" else "0X"
    elif spec.sharp and verb == "b":
        prefix = "0b"
    sign = "-" if neg else "+" if spec.plus else " " if spec.space else ""
    return _pad(sign + prefix + digits, spec, numeric=spec.prec is None)


def _fmt_float(v: float, verb: str, spec: _Spec) -> str:
    if verb not in "vgGeEfF":
        return _bad_verb(verb, v)
    if math.isnan(v):
        return _pad("+NaN" if spec.plus else " NaN" if spec.space else "NaN", spec)
    if math.isinf(v):
        return _pad("-Inf" if v < 0 else " Inf" if spec.space and not spec.plus else "+Inf", spec)
    if verb == "v" or (verb in "gG" and spec.prec is None):
        s = _format_g_shortest(v)
        if verb == "G":
            s = s.upper()
    elif verb in "gG":
        s = format(v, ("#" if spec.sharp else "") + f".{spec.prec}{verb}")
    else:
        prec = 6 if spec.prec is None else spec.prec
        s = format(v, ("#" if spec.sharp else "") + f".{prec}{verb}")
    if spec.plus and not s.startswith("-"):
        s = "+" + s
    elif spec.space and not s.startswith("-"):
        s = " " + s
    return _pad(s, spec, numeric=True)


def _fmt_str(v: str, verb: str, spec: _Spec) -> str:
    if verb in ("v", "s"):
        if spec.prec is not None:
            v = v[: spec.prec]
        return _pad(v, spec)
    if verb == "q":
        if spec.prec is not None:
            v = v[: spec.prec]
        if spec.sharp and "`" not in v and all(c.isprintable() or c == "\t" for c in v):
            return _pad("`" + v + "`", spec)
        return _pad(_go_quote(v, ascii_only=spec.plus), spec)
    if verb in ("x", "X"):
        data = v.encode("utf-8", "surrogatepass")
        if spec.prec is not None:
            data = data[: spec.prec]
        hexes = [f"{b:02x}" if verb == "x" else f"{b:02X}" for b in data]
        prefix = ("0x" if verb == "x" else "0X") if spec.sharp else ""
        if spec.space:
            return _pad(" ".join(prefix + h for h in hexes), spec)
        return _pad(prefix + "".join(hexes), spec)
    return _bad_verb(verb, v)


def _fmt_arg(v: Any, verb: str, spec: _Spec) -> str:
    if verb == "T":
        return _pad(_go_type_name(v), spec)
    if v is None:
        return _pad("<nil>", spec) if verb == "v" else _bad_verb(verb, v)
    if isinstance(v, bool):
        if verb in ("t", "v"):
            return _pad("true" if v else "false", spec)
        return _bad_verb(verb, v)
    if isinstance(v, int):
        return _fmt_int(int(v), verb, spec)
    if isinstance(v, float):
        return _fmt_float(v, verb, spec)
    if isinstance(v, str):
        if verb == "v" and spec.sharp:
            return _pad(_go_quote(v), spec)
        return _fmt_str(v, verb, spec)
    stringer = isinstance(v, _JSONStringer) or (isinstance(v, _GoStruct) and v._json_stringer)
    if stringer and verb in ("v", "s", "q", "x", "X"):
        return _fmt_str(_fmt_v(v, False), "s" if verb == "v" else verb, spec)
    if isinstance(v, _GoStruct):
        if spec.plus and verb == "v":
            parts = [f"{f}:{_fmt_arg(getattr(v, f), verb, spec)}" for f in v._go_fields]
        else:
            parts = [_fmt_arg(getattr(v, f), verb, spec) for f in v._go_fields]
        return "{" + " ".join(parts) + "}"
    if isinstance(v, Mapping):
        items = sorted(v.items(), key=lambda kv: _sort_key(kv[0]))
        inner = " ".join(f"{_fmt_arg(k, verb, spec)}:{_fmt_arg(x, verb, spec)}" for k, x in items)
        return "map[" + inner + "]"
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(_fmt_arg(x, verb, spec) for x in v) + "]"
    return _fmt_str(_fmt_v(v, False), "s" if verb == "v" else verb, spec)


def _too_large(number: int) -> bool:
    # Go's fmt refuses widths and precisions beyond a million ("crazy long number").
    return not -1_000_000 <= number <= 1_000_000


def _int_arg(args: Sequence[Any], index: int) -> int | None:
    """Go's ``intFromArg``: the int argument for a ``*`` width or precision, None when it is
    missing, not an int or too large."""
    if index >= len(args):
        return None
    value = args[index]
    if isinstance(value, bool) or not isinstance(value, int) or _too_large(value):
        return None
    return int(value)


def _parse_num(fmt: str, i: int) -> tuple[int | None, int]:
    """Go's ``parsenum``: digits at ``i`` -> (number or None, index after them). A number
    already past a million when another digit follows consumes the rest of the format, as
    in Go (which then reports ``%!(NOVERB)``)."""
    n = len(fmt)
    number: int | None = None
    while i < n and "0" <= fmt[i] <= "9":
        if number is not None and _too_large(number):
            return None, n
        number = (number or 0) * 10 + ord(fmt[i]) - 48
        i += 1
    return number, i


def _go_sprintf(fmt: str, args: Sequence[Any]) -> str:
    out: list[str] = []
    n = len(fmt)
    i = 0
    argi = 0
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        if i >= n:
            out.append("%!(NOVERB)")
            break
        spec = _Spec()
        while i < n and fmt[i] in "#0+- ":
            c = fmt[i]
            if c == "#":
                spec.sharp = True
            elif c == "0":
                spec.zero = True
            elif c == "+":
                spec.plus = True
            elif c == "-":
                spec.minus = True
            else:
                spec.space = True
            i += 1
        if i < n and fmt[i] == "*":
            i += 1
            width = _int_arg(args, argi)
            if width is None:
                out.append("%!(BADWIDTH)")
            elif width < 0:
                spec.minus, spec.width = True, -width
            else:
                spec.width = width
            argi += 1
        else:
            spec.width, i = _parse_num(fmt, i)
        if i < n and fmt[i] == ".":
            i += 1
            if i < n and fmt[i] == "*":
                i += 1
                prec = _int_arg(args, argi)
                if prec is None or prec < 0:  # Go: a negative precision is a bad one
                    out.append("%!(BADPREC)")
                else:
                    spec.prec = prec
                argi += 1
            else:
                spec.prec, i = _parse_num(fmt, i)
                if spec.prec is None:
                    spec.prec = 0
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[argi]
        argi += 1
        if spec.minus:
            spec.zero = False
        out.append(_fmt_arg(arg, verb, spec))
    if argi < len(args):
        extra = ", ".join(
            "<nil>" if a is None else f"{_go_type_name(a)}={_fmt_v(a, False)}" for a in args[argi:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Executor: the parse tree compiled to closures
# ---------------------------------------------------------------------------------------------


class _Missing:
    __slots__ = ()


_MISSING: Any = _Missing()
_MAX_DEPTH = 200  # Go allows 100000; Python frames run out long before that

_Exec = Callable[["_State", Any], None]
_Eval = Callable[["_State", Any], Any]
_Cmd = Callable[["_State", Any, Any], Any]


class _State:
    """One execution: output, variables and what is left of the budgets.

    ``left`` counts steps down to the next checkpoint (the hot paths only decrement and
    compare it); :meth:`checkpoint` then looks at the cancel flag and draws the next batch
    from ``reserve``. ``room`` is the output still allowed and ``produced`` the characters
    function calls may still return.
    """

    __slots__ = (
        "cancel",
        "defines",
        "depth",
        "left",
        "limits",
        "out",
        "produced",
        "reserve",
        "room",
        "vars",
    )

    def __init__(self, defines: dict[str, _Exec], data: Any, limits: Limits) -> None:
        self.out: list[str] = []
        self.vars: list[list[Any]] = [["$", data]]
        self.defines = defines
        self.depth = 0
        self.limits = limits
        self.cancel = limits.cancel
        self.left = min(_CHECK_EVERY, limits.steps)
        self.reserve = limits.steps - self.left
        self.room = limits.output_bytes
        self.produced = limits.output_bytes * PRODUCED_PER_OUTPUT

    def checkpoint(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise TemplateCancelled("template: rendering cancelled")
        if self.reserve <= 0:
            raise TemplateLimitError(
                f"template: execution took more than {self.limits.steps} steps"
            )
        batch = min(_CHECK_EVERY, self.reserve)
        self.reserve -= batch
        self.left += batch
        if self.left < 0:
            self.checkpoint()

    def spend(self, steps: int) -> None:
        self.left -= steps
        if self.left < 0:
            self.checkpoint()

    def write(self, text: str) -> None:
        self.room -= len(text)
        if self.room < 0:
            raise TemplateLimitError(
                f"template: output is longer than {self.limits.output_bytes} characters"
            )
        self.out.append(text)

    def made(self, value: Any) -> None:
        """Charge a function's result: characters of a string; for a list (``slice`` copies
        one), a step per 16 elements, about what copying them costs."""
        if type(value) is str:
            self.produced -= len(value)
            if self.produced < 0:
                raise TemplateLimitError(
                    "template: function results are longer than "
                    f"{self.limits.output_bytes * PRODUCED_PER_OUTPUT} characters"
                )
        elif type(value) is list:
            self.spend(len(value) >> 4)


def _field(recv: Any, name: str) -> Any:
    if isinstance(recv, Mapping):
        return recv.get(name)
    if isinstance(recv, _GoStruct):
        if name in recv._go_fields:
            return getattr(recv, name)
        raise _ExecError(f"can't evaluate field {name} in type {recv._go_type}")
    if recv is None:
        raise _ExecError(f"nil pointer evaluating interface {{}}.{name}")
    raise _ExecError(f"can't evaluate field {name} in type {_go_type_name(recv)}")


def _var(st: _State, name: str) -> Any:
    vs = st.vars
    for i in range(len(vs) - 1, -1, -1):
        if vs[i][0] == name:
            st.spend(len(vs) - i)
            return vs[i][1]
    raise _ExecError(f"undefined variable: {name}")


def _set_var(st: _State, name: str, value: Any) -> None:
    vs = st.vars
    for i in range(len(vs) - 1, -1, -1):
        if vs[i][0] == name:
            st.spend(len(vs) - i)
            vs[i][1] = value
            return
    raise _ExecError(f"undefined variable: {name}")


def _noop(st: _State, dot: Any) -> None:
    return None


class _Compiler:
    def __init__(self, src: str) -> None:
        self.src = src

    def where(self, pos: int) -> str:
        line, col = _line_col(self.src, pos)
        return f"template: :{line}:{col}"

    # -- statements -----------------------------------------------------------------------

    def block(self, node: _ListNode | None) -> _Exec:
        if node is None or not node.nodes:
            return _noop
        fns = [self.node(n) for n in node.nodes]
        if len(fns) == 1:
            return fns[0]

        def run_list(st: _State, dot: Any) -> None:
            for fn in fns:
                fn(st, dot)

        return run_list

    def node(self, node: _Node) -> _Exec:
        if isinstance(node, _TextNode):
            text = node.text

            def run_text(st: _State, dot: Any) -> None:
                st.write(text)

            return run_text
        if isinstance(node, _ActionNode):
            return self.action(node)
        if isinstance(node, _IfNode):
            return self.if_with(node, with_=False)
        if isinstance(node, _WithNode):
            return self.if_with(node, with_=True)
        if isinstance(node, _RangeNode):
            return self.range(node)
        if isinstance(node, _BreakNode):

            def run_break(st: _State, dot: Any) -> None:
                raise _Break

            return run_break
        if isinstance(node, _ContinueNode):

            def run_continue(st: _State, dot: Any) -> None:
                raise _Continue

            return run_continue
        if isinstance(node, _TemplateNode):
            return self.template(node)
        if isinstance(node, _ListNode):
            return self.block(node)
        raise TemplateError(f"template: unknown node {type(node).__name__}")

    def action(self, node: _ActionNode) -> _Exec:
        pipe = self.pipe(node.pipe)
        if node.pipe.decl:

            def run_assign(st: _State, dot: Any) -> None:
                st.spend(1)
                pipe(st, dot)

            return run_assign

        def run_action(st: _State, dot: Any) -> None:
            st.spend(1)
            v = pipe(st, dot)
            st.write(v if type(v) is str else _print_top(v))

        return run_action

    def if_with(self, node: _BranchNode, *, with_: bool) -> _Exec:
        pipe = self.pipe(node.pipe)
        body = self.block(node.list)
        else_body = self.block(node.else_list) if node.else_list is not None else None

        if with_:

            def run_with(st: _State, dot: Any) -> None:
                st.spend(1)
                vs = st.vars
                mark = len(vs)
                v = pipe(st, dot)
                if _truth(v):
                    body(st, v)
                elif else_body is not None:
                    else_body(st, dot)
                del vs[mark:]

            return run_with

        def run_if(st: _State, dot: Any) -> None:
            st.spend(1)
            vs = st.vars
            mark = len(vs)
            if _truth(pipe(st, dot)):
                body(st, dot)
            elif else_body is not None:
                else_body(st, dot)
            del vs[mark:]

        return run_if

    def range(self, node: _RangeNode) -> _Exec:
        where = functools.partial(self.where, node.pipe.pos)
        at = _node_str(node.pipe)
        value = self.pipe(_PipeNode([], False, node.pipe.cmds, node.pipe.pos))
        decl = tuple(node.pipe.decl)
        ndecl = len(decl)
        is_assign = node.pipe.is_assign
        body = self.block(node.list)
        else_body = self.block(node.else_list) if node.else_list is not None else None

        def fail(message: str) -> NoReturn:
            raise TemplateError(f"{where()}: executing at <{at}>: {message}") from None

        def run_range(st: _State, dot: Any) -> None:
            vs = st.vars
            mark = len(vs)
            val = value(st, dot)
            try:
                if is_assign:
                    for name in decl:
                        _set_var(st, name, val)
                else:
                    for name in decl:
                        vs.append([name, val])
                items = _range_items(val, ndecl)
            except _ExecError as exc:
                fail(exc.message)
            if not items:
                if else_body is not None:
                    else_body(st, dot)
                del vs[mark:]
                return
            top = mark + ndecl - 1
            for index, elem in items:
                st.left -= 1
                if st.left < 0:
                    st.checkpoint()
                if ndecl:
                    if is_assign:
                        try:
                            if ndecl > 1:
                                _set_var(st, decl[0], index)
                                _set_var(st, decl[1], elem)
                            else:
                                _set_var(st, decl[0], elem)
                        except _ExecError as exc:
                            fail(exc.message)
                    else:
                        vs[top][1] = elem
                        if ndecl > 1:
                            vs[mark][1] = index
                inner = len(vs)
                try:
                    body(st, elem)
                except _Continue:
                    pass
                except _Break:
                    del vs[inner:]
                    break
                del vs[inner:]
            del vs[mark:]

        return run_range

    def template(self, node: _TemplateNode) -> _Exec:
        pipe = self.pipe(node.pipe) if node.pipe is not None else None
        name = node.name
        where = functools.partial(self.where, node.pos)

        def run_template(st: _State, dot: Any) -> None:
            fn = st.defines.get(name)
            if fn is None:
                raise TemplateError(
                    f'{where()}: executing at <{{{{template "{name}"}}}}>: '
                    f'template "{name}" not defined'
                )
            st.spend(1)
            new_dot = pipe(st, dot) if pipe is not None else None
            if st.depth >= _MAX_DEPTH:
                raise TemplateError(f"{where()}: exceeded maximum template depth ({_MAX_DEPTH})")
            saved = st.vars
            st.vars = [["$", new_dot]]
            st.depth += 1
            try:
                fn(st, new_dot)
            finally:
                st.depth -= 1
                st.vars = saved

        return run_template

    # -- expressions ----------------------------------------------------------------------

    def pipe(self, node: _PipeNode) -> _Eval:
        cmds = [self.command(c, first=i == 0) for i, c in enumerate(node.cmds)]
        where = functools.partial(self.where, node.pos)
        decl = tuple(node.decl)
        is_assign = node.is_assign
        first, rest = cmds[0], cmds[1:]

        whole = _node_str(node)

        def fail(exc: _ExecError) -> NoReturn:
            at = exc.at or whole
            raise TemplateError(f"{where()}: executing at <{at}>: {exc.message}") from None

        if not rest and not decl:

            def run_single(st: _State, dot: Any) -> Any:
                try:
                    return first(st, dot, _MISSING)
                except _ExecError as exc:
                    fail(exc)

            return run_single

        def run_pipe(st: _State, dot: Any) -> Any:
            try:
                v = first(st, dot, _MISSING)
                for cmd in rest:
                    v = cmd(st, dot, v)
                for name in decl:
                    if is_assign:
                        _set_var(st, name, v)
                    else:
                        st.vars.append([name, v])
            except _ExecError as exc:
                fail(exc)
            return v

        return run_pipe

    def command(self, cmd: _CommandNode, *, first: bool) -> _Cmd:
        head = cmd.args[0]
        at = _node_str(cmd)
        nargs = len(cmd.args)
        if isinstance(head, _IdentifierNode):
            generic = self.call(head.name, [self.arg(a) for a in cmd.args[1:]], at, first)
            if head.name == "len" and nargs == 2 and _is_slice_call(cmd.args[1]):
                return self.len_of_slice(cmd.args[1], generic)
            return generic
        if isinstance(head, _FieldNode):
            getter = self.fields(None, head.ident)
            label = head.ident[-1]

            def run_field(st: _State, dot: Any, final: Any) -> Any:
                try:
                    v = getter(st, dot)
                    if nargs > 1 or final is not _MISSING:
                        raise _ExecError(f"{label} is not a method but has arguments")
                    return v
                except _ExecError as exc:
                    exc.at = exc.at or at
                    raise

            return run_field
        if isinstance(head, _NilNode):

            def run_nil(st: _State, dot: Any, final: Any) -> Any:
                raise _ExecError("nil is not a command", at)

            return run_nil
        value = self.arg(head)
        if isinstance(head, _ChainNode) or (
            isinstance(head, _VariableNode) and len(head.ident) > 1
        ):
            last = head.fields[-1] if isinstance(head, _ChainNode) else head.ident[-1]
            arg_error = f"{last} is not a method but has arguments"
        else:
            arg_error = f"can't give argument to non-function {_node_str(head)}"

        def run_operand(st: _State, dot: Any, final: Any) -> Any:
            try:
                v = value(st, dot)
            except _ExecError as exc:
                exc.at = exc.at or at
                raise
            if nargs > 1 or final is not _MISSING:
                raise _ExecError(arg_error, at)
            return v

        return run_operand

    def call(self, name: str, argfns: list[_Eval], at: str, first: bool) -> _Cmd:
        fn, lo, hi = _BUILTINS[name]
        count = len(argfns) + (0 if first else 1)
        arity_error: str | None = None
        if count < lo:
            want = f"at least {lo}" if hi is None else str(lo)
            arity_error = f"wrong number of args for {name}: want {want} got {count}"
        elif hi is not None and count > hi:
            arity_error = f"wrong number of args for {name}: want {hi} got {count}"

        if name in ("and", "or"):
            want_or = name == "or"

            def run_logic(st: _State, dot: Any, final: Any) -> Any:
                st.spend(1)
                if arity_error is not None:
                    raise _ExecError(arity_error, at)
                try:
                    v = None
                    for argfn in argfns:
                        v = argfn(st, dot)
                        if _truth(v) == want_or:
                            return v
                    if final is not _MISSING:
                        v = final
                    return v
                except _ExecError as exc:
                    exc.at = exc.at or at
                    raise

            return run_logic

        def run_call(st: _State, dot: Any, final: Any) -> Any:
            st.spend(1)
            if arity_error is not None:
                raise _ExecError(arity_error, at)
            try:
                args = [argfn(st, dot) for argfn in argfns]
            except _ExecError as exc:
                exc.at = exc.at or at
                raise
            if final is not _MISSING:
                args.append(final)
            for arg in args:
                # Comparing, measuring or copying a string costs its length.
                if type(arg) is str and len(arg) > 64:
                    st.made(arg)
            try:
                result = fn(*args)
            except _ExecError as exc:
                if name == "printf" and exc.message.startswith("expected string"):
                    raise _ExecError(exc.message, at) from None
                raise _ExecError(f"error calling {name}: {exc.message}", at) from None
            except (TypeError, ValueError, OverflowError, UnicodeError) as exc:
                raise _ExecError(f"error calling {name}: {exc}", at) from None
            st.made(result)
            return result

        return run_call

    def len_of_slice(self, pipe: _Node, generic: _Cmd) -> _Cmd:
        """``len (slice LIST i [j [k]])`` without copying the list: Go's slices share their
        array, and the library's templates do this for every message
        (``$last := eq (len (slice $.Messages $i)) 1``), which copying made quadratic.
        Anything but a list with valid indexes takes the generic path, errors included."""
        assert isinstance(pipe, _PipeNode)
        operands = [self.arg(a) for a in pipe.cmds[0].args[1:]]

        def run_len_of_slice(st: _State, dot: Any, final: Any) -> Any:
            if final is _MISSING:
                st.spend(2)
                try:
                    values = [operand(st, dot) for operand in operands]
                except _ExecError:
                    values = []
                length = _sliced_length(values)
                if length is not None:
                    return length
            return generic(st, dot, final)

        return run_len_of_slice

    def fields(self, base: _Eval | None, ident: Sequence[str]) -> _Eval:
        """Evaluate ``base`` (or dot) then follow ``ident`` field by field."""
        names = tuple(ident)
        if base is None and len(names) == 1:
            name = names[0]

            def get_one(st: _State, dot: Any) -> Any:
                if type(dot) is dict:
                    return dot.get(name)
                return _field(dot, name)

            return get_one

        def get_chain(st: _State, dot: Any) -> Any:
            v = dot if base is None else base(st, dot)
            for name in names:
                if type(v) is dict:
                    v = v.get(name)
                else:
                    v = _field(v, name)
            return v

        return get_chain

    def arg(self, node: _Node) -> _Eval:
        if isinstance(node, _DotNode):
            return _eval_dot
        if isinstance(node, _NilNode):
            return _eval_nil
        if isinstance(node, _LiteralNode):
            value = node.value

            def literal(st: _State, dot: Any) -> Any:
                return value

            return literal
        if isinstance(node, _FieldNode):
            return self.fields(None, node.ident)
        if isinstance(node, _VariableNode):
            name = node.ident[0]

            def variable(st: _State, dot: Any) -> Any:
                return _var(st, name)

            if len(node.ident) == 1:
                return variable
            return self.fields(variable, node.ident[1:])
        if isinstance(node, _ChainNode):
            if isinstance(node.node, _NilNode):
                message = f"indirection through explicit nil in {_node_str(node)}"

                def explicit_nil(st: _State, dot: Any) -> Any:
                    raise _ExecError(message)

                return explicit_nil
            return self.fields(self.arg(node.node), node.fields)
        if isinstance(node, _PipeNode):
            return self.pipe(node)
        if isinstance(node, _IdentifierNode):
            call = self.call(node.name, [], node.name, True)

            def niladic(st: _State, dot: Any) -> Any:
                return call(st, dot, _MISSING)

            return niladic
        raise TemplateError(f"template: unexpected argument {type(node).__name__}")


def _is_slice_call(node: _Node) -> bool:
    """A parenthesised ``slice X i...`` with nothing piped into or out of it."""
    if not isinstance(node, _PipeNode) or node.decl or len(node.cmds) != 1:
        return False
    args = node.cmds[0].args
    head = args[0]
    return isinstance(head, _IdentifierNode) and head.name == "slice" and 3 <= len(args) <= 5


def _sliced_length(values: Sequence[Any]) -> int | None:
    """``len (slice item i...)`` for a list and int indexes Go accepts; None otherwise."""
    if not values or type(values[0]) not in (list, tuple):
        return None
    cap = len(values[0])
    idx = [0, cap, cap]
    for i, index in enumerate(values[1:]):
        if type(index) is not int or not 0 <= index <= cap:
            return None
        idx[i] = index
    if idx[0] > idx[1] or (len(values) == 4 and idx[1] > idx[2]):
        return None
    return idx[1] - idx[0]


def _eval_dot(st: _State, dot: Any) -> Any:
    return dot


def _eval_nil(st: _State, dot: Any) -> Any:
    return None


class _Count(Sequence[tuple[int, int]]):
    """``range N``: the pairs (i, i) made one at a time, not a list of N of them."""

    __slots__ = ("n",)

    def __init__(self, n: int) -> None:
        self.n = max(0, n)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: Any) -> Any:  # pragma: no cover - only iterated
        raise TypeError("range counts are only iterated")

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return ((i, i) for i in range(self.n))


def _range_items(val: Any, ndecl: int) -> Sequence[tuple[Any, Any]]:
    if val is None:
        return ()
    if isinstance(val, (list, tuple)):
        return list(enumerate(val))
    if isinstance(val, Mapping):
        try:
            keys = sorted(val, key=_sort_key)
        except TypeError:
            keys = list(val)
        return [(k, val[k]) for k in keys]
    if isinstance(val, int) and not isinstance(val, bool):
        if ndecl > 1:
            raise _ExecError(f"can't use {val} to iterate over more than one variable")
        return _Count(val)
    raise _ExecError(f"range can't iterate over {_fmt_v(val, False)}")


# ---------------------------------------------------------------------------------------------
# Ollama's tree queries: Vars, the legacy cut after {{ .Response }}, InferTags, the tool tag
# ---------------------------------------------------------------------------------------------


def _identifiers(node: _Node | None, out: list[str]) -> None:
    """Ollama's ``Identifiers``: field and variable names referenced outside chains."""
    if node is None:
        return
    if isinstance(node, _ListNode):
        for n in node.nodes:
            _identifiers(n, out)
    elif isinstance(node, _TemplateNode):
        if node.pipe is None:
            raise TemplateError("undefined template specified")
        _identifiers(node.pipe, out)
    elif isinstance(node, _ActionNode):
        _identifiers(node.pipe, out)
    elif isinstance(node, _BranchNode):
        _identifiers(node.pipe, out)
        _identifiers(node.list, out)
        _identifiers(node.else_list, out)
    elif isinstance(node, _PipeNode):
        for cmd in node.cmds:
            for arg in cmd.args:
                _identifiers(arg, out)
    elif isinstance(node, (_FieldNode, _VariableNode)):
        out.extend(node.ident)


def _cut_after_response(root: _ListNode) -> _ListNode:
    """Ollama's legacy-mode ``deleteNode``: keep the template up to ``{{ .Response }}``."""
    cut = False

    def matches(n: _Node) -> bool:
        nonlocal cut
        if isinstance(n, _FieldNode) and "Response" in n.ident:
            cut = True
            return False
        return cut

    def walk(n: _Node) -> _Node | None:
        if matches(n):
            return None
        if isinstance(n, _ListNode):
            kept = [c for c in (walk(x) for x in n.nodes) if c is not None]
            return _ListNode(kept)
        if isinstance(n, _BranchNode):
            lst = walk(n.list)
            else_list = walk(n.else_list) if n.else_list is not None else None
            return type(n)(
                n.pipe,
                lst if isinstance(lst, _ListNode) else _ListNode([]),
                else_list if isinstance(else_list, _ListNode) else None,
            )
        if isinstance(n, _ActionNode):
            pipe = walk(n.pipe)
            return _ActionNode(pipe) if isinstance(pipe, _PipeNode) else None
        if isinstance(n, _PipeNode):
            cmds: list[_CommandNode] = []
            for cmd in n.cmds:
                args = [a for a in (walk(x) for x in cmd.args) if a is not None]
                if not args:
                    return None
                cmds.append(_CommandNode(args))
            if not cmds:
                return None
            return _PipeNode(n.decl, n.is_assign, cmds, n.pos)
        return n

    result = walk(root)
    return result if isinstance(result, _ListNode) else _ListNode([])


def _visit(node: _Node | None, enter: Callable[[_Node], None], ancestors: list[_Node]) -> None:
    """Ollama's ``templateVisit``: a depth-first walk that keeps the ancestor chain."""
    if node is None:
        return
    ancestors.append(node)
    enter(node)
    if isinstance(node, _ListNode):
        for c in node.nodes:
            _visit(c, enter, ancestors)
    elif isinstance(node, _BranchNode):
        _visit(node.pipe, enter, ancestors)
        _visit(node.list, enter, ancestors)
        _visit(node.else_list, enter, ancestors)
    elif isinstance(node, (_ActionNode, _TemplateNode)):
        _visit(node.pipe, enter, ancestors)
    elif isinstance(node, _PipeNode):
        for c in node.cmds:
            _visit(c, enter, ancestors)
    elif isinstance(node, _CommandNode):
        for a in node.args:
            _visit(a, enter, ancestors)
    ancestors.pop()


def _range_uses_field(node: _RangeNode, field: str) -> bool:
    found = False

    def enter(n: _Node) -> None:
        nonlocal found
        if isinstance(n, _FieldNode) and n.ident[0] == field:
            found = True

    _visit(node.pipe, enter, [])
    return found


def _infer_tags(root: _ListNode) -> tuple[str, str]:
    ancestors: list[_Node] = []
    opening = closing = ""

    def enter(n: _Node) -> None:
        nonlocal opening, closing
        if not (isinstance(n, _FieldNode) and n.ident[0] == "Thinking"):
            return
        nearest_range = next((a for a in reversed(ancestors) if isinstance(a, _RangeNode)), None)
        if nearest_range is None or not _range_uses_field(nearest_range, "Messages"):
            return
        for a in reversed(ancestors):
            if isinstance(a, _ListNode):
                first, last = a.nodes[0], a.nodes[-1]
                if isinstance(first, _TextNode):
                    opening = first.text.strip()
                if isinstance(last, _TextNode):
                    closing = last.text.strip()
                break

    _visit(root, enter, ancestors)
    return opening, closing


def _find_tool_call_if(nodes: Sequence[_Node]) -> _IfNode | None:
    for node in nodes:
        if isinstance(node, _IfNode):
            for cmd in node.pipe.cmds:
                for arg in cmd.args:
                    if isinstance(arg, _FieldNode) and "ToolCalls" in arg.ident:
                        return node
            found = _find_tool_call_if(node.list.nodes)
            if found is None and node.else_list is not None:
                found = _find_tool_call_if(node.else_list.nodes)
            if found is not None:
                return found
        elif isinstance(node, _ListNode):
            found = _find_tool_call_if(node.nodes)
            if found is not None:
                return found
        elif isinstance(node, (_RangeNode, _WithNode)):
            found = _find_tool_call_if(node.list.nodes)
            if found is None and node.else_list is not None:
                found = _find_tool_call_if(node.else_list.nodes)
            if found is not None:
                return found
    return None


def _find_text(nodes: Sequence[_Node]) -> _TextNode | None:
    for node in nodes:
        if isinstance(node, _TextNode):
            if not node.text.strip():
                continue  # Ollama's findTextNode skips blank text
            return node
        if isinstance(node, _BranchNode):
            found = _find_text(node.list.nodes)
            if found is None and node.else_list is not None:
                found = _find_text(node.else_list.nodes)
            return found
        if isinstance(node, _ListNode):
            found = _find_text(node.nodes)
            if found is not None:
                return found
        if isinstance(node, _ActionNode):
            return None
    return None


# ---------------------------------------------------------------------------------------------
# Template
# ---------------------------------------------------------------------------------------------


_RESPONSE_ACTION = _ActionNode(_PipeNode([], False, [_CommandNode([_FieldNode(("Response",))])], 0))


class _Compiled:
    __slots__ = ("_cut", "defines", "root", "run", "src", "vars")

    def __init__(self, src: str) -> None:
        parser = _Parser(src, _Lexer(src).run(), _FUNC_NAMES)
        root = parser.parse()
        vars_ = self.collect_vars(root, parser.defines)
        if "messages" not in vars_ and "response" not in vars_:
            # Ollama appends {{ .Response }} so that prompt-only templates still work.
            root = _ListNode([*root.nodes, _RESPONSE_ACTION])
            vars_ = self.collect_vars(root, parser.defines)
        self.src = src
        self.root = root
        self.vars = vars_
        compiler = _Compiler(src)
        self.run = compiler.block(root)
        self.defines: dict[str, _Exec] = {}
        for name, body in parser.defines.items():
            self.defines[name] = compiler.block(body)
        self._cut: _Exec | None = None

    @staticmethod
    def collect_vars(root: _ListNode, defines: Mapping[str, _ListNode]) -> frozenset[str]:
        names: list[str] = []
        _identifiers(root, names)
        for body in defines.values():
            _identifiers(body, names)
        return frozenset(n.lower() for n in names)

    def state(self, data: Any, limits: Limits, after: _State | None = None) -> _State:
        """A new execution with ``data``; ``after``: an earlier execution whose unspent
        budgets this one continues with."""
        st = _State(self.defines, data, limits)
        if after is not None:
            st.left, st.reserve = after.left, after.reserve
            st.room, st.produced = after.room, after.produced
        return st

    def execute(self, st: _State, fn: _Exec | None = None) -> str:
        data = st.vars[0][1]
        try:
            (fn or self.run)(st, data)
        except (_Break, _Continue):  # pragma: no cover - the parser only allows them in range
            pass
        except RecursionError:
            raise TemplateError("template: nesting too deep") from None
        return "".join(st.out)

    @property
    def cut(self) -> _Exec:
        if self._cut is None:
            self._cut = _Compiler(self.src).block(_cut_after_response(self.root))
        return self._cut


class SourceCache(Generic[_T]):
    """Compiled templates by source, least recently used first out, bounded by the total size
    of their sources rather than by their number: a compiled template takes about 160 bytes
    of memory and two objects per source byte, so a count bound would let a few large ones
    hold hundreds of megabytes and make every garbage collection long. ``compile`` checks
    the source (its size included) and compiles it; it runs outside the lock."""

    def __init__(self, compile: Callable[[str], _T], max_bytes: int) -> None:
        self.compile = compile
        self.max_bytes = max_bytes
        self.size = 0
        self._items: OrderedDict[str, _T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, source: str) -> _T:
        with self._lock:
            if source in self._items:
                self._items.move_to_end(source)
                return self._items[source]
        compiled = self.compile(source)
        with self._lock:
            if source not in self._items and len(source) <= self.max_bytes:
                self._items[source] = compiled
                self.size += len(source)
                while self.size > self.max_bytes:
                    evicted, _ = self._items.popitem(last=False)
                    self.size -= len(evicted)
        return compiled

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.size = 0


def _compile_checked(source: str) -> _Compiled:
    check_source_size(source)
    return _Compiled(source)


_cache = SourceCache(_compile_checked, CACHE_BYTES)


class Template:
    """A parsed Ollama prompt template.

    Parsing is cached by source text, so constructing a ``Template`` for a template seen
    before costs a dictionary lookup.  Like Ollama, a template that references neither
    ``.Messages`` nor ``.Response`` gets ``{{ .Response }}`` appended.
    """

    __slots__ = ("_c", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        try:
            self._c = _cache.get(source)
        except RecursionError:
            raise TemplateError("template: nesting too deep") from None

    def __repr__(self) -> str:
        return f"Template({self.source!r})"

    @property
    def vars(self) -> frozenset[str]:
        """Lower-cased names of every field and variable the template references."""
        return self._c.vars

    @property
    def uses_messages(self) -> bool:
        """The template reads ``.Messages`` (so :func:`render` uses messages mode)."""
        return "messages" in self._c.vars

    @property
    def uses_tools(self) -> bool:
        """The template reads ``.Tools``: the model has the ``tools`` capability."""
        return "tools" in self._c.vars

    @property
    def uses_suffix(self) -> bool:
        """The template reads ``.Suffix``: the model has the ``insert`` capability."""
        return "suffix" in self._c.vars

    @property
    def uses_response(self) -> bool:
        """The template reads ``.Response`` (true after the automatic append, too)."""
        return "response" in self._c.vars

    @property
    def uses_thinking(self) -> bool:
        """The template reads a message's ``.Thinking``."""
        return "thinking" in self._c.vars

    def execute(self, data: Any, limits: Limits | None = None) -> str:
        """Plain Go-template execution with ``data`` as dot (and ``$``)."""
        return self._c.execute(self._c.state(data, limits or Limits()))


def _think_values(think: bool | str | None) -> tuple[bool, str, bool]:
    if think is None:
        return False, "", False
    if isinstance(think, bool):
        return think, "medium" if think else "", True
    return bool(think), str(think), True


def render(
    template: Template | str,
    *,
    messages: Iterable[Any],
    tools: Sequence[Any] | None = None,
    think: bool | str | None = None,
    prompt: str | None = None,
    suffix: str | None = None,
    limits: Limits | None = None,
) -> str:
    """Render a prompt the way Ollama's ``Template.Execute`` does.

    * **Suffix mode** when both ``prompt`` and ``suffix`` are non-empty: the template sees
      ``.Prompt``, ``.Suffix``, ``.Response`` (empty) and the think values.
    * Otherwise ``prompt``, when given, is appended to ``messages`` as a user turn (as
      ``/api/generate`` does) unless a ``suffix`` was given.
    * **Messages mode** when the template references ``.Messages``: ``.System`` (all system
      texts joined by a blank line), ``.Messages`` (collated, see :func:`template_messages`),
      ``.Tools``, ``.Response`` (empty), ``.Think``, ``.ThinkLevel`` and ``.IsThinkSet``.
    * **Legacy mode** otherwise: the template runs once per system/user/assistant turn with
      ``.System``, ``.Prompt`` and ``.Response``; the last run stops right after
      ``{{ .Response }}`` so the model continues from there.

    ``think`` is the request's ``think`` value: ``True`` gives ``.Think`` true and
    ``.ThinkLevel`` ``"medium"``, a level string gives both; ``.IsThinkSet`` tells whether
    it was given at all.  Images are not turned into ``[img-N]`` tags here.

    ``limits`` bound the work (see :class:`Limits`); in legacy mode they apply to all the
    turns together.
    """
    template = _as_template(template)
    limits = limits or Limits()
    think_on, level, think_set = _think_values(think)
    if prompt and suffix:
        return template.execute(
            limits=limits,
            data={
                "Prompt": prompt,
                "Suffix": suffix,
                "Response": "",
                "Think": think_on,
                "ThinkLevel": level,
                "IsThinkSet": think_set,
            },
        )
    msgs: list[Any] = list(messages)
    if prompt is not None and not suffix:
        msgs.append({"role": "user", "content": prompt})
    system, collated = _collate(msgs)
    if template.uses_messages:
        return template.execute(
            limits=limits,
            data={
                "System": system,
                "Messages": [_message(m) for m in collated],
                "Tools": template_tools(tools) if tools is not None else ToolList(None),
                "Response": "",
                "Think": think_on,
                "ThinkLevel": level,
                "IsThinkSet": think_set,
            },
        )

    compiled = template._c
    parts: list[str] = []
    turn = {"System": "", "Prompt": "", "Response": ""}
    previous: _State | None = None

    def run(fn: _Exec | None = None) -> None:
        nonlocal previous
        data = {**turn, "Think": think_on, "ThinkLevel": level, "IsThinkSet": think_set}
        previous = compiled.state(data, limits, after=previous)
        parts.append(compiled.execute(previous, fn))

    def flush() -> None:
        run()
        turn["System"] = turn["Prompt"] = turn["Response"] = ""

    for m in collated:
        role, content = m["role"], m["content"]
        if role == "system":
            if turn["Prompt"] or turn["Response"]:
                flush()
            turn["System"] = content
        elif role == "user":
            if turn["Response"]:
                flush()
            turn["Prompt"] = content
        elif role == "assistant":
            turn["Response"] = content
    run(compiled.cut)
    return "".join(parts)


def _as_template(template: Template | str) -> Template:
    return template if isinstance(template, Template) else Template(template)


def infer_thinking_tags(template: Template | str) -> tuple[str, str] | None:
    """Ollama's ``thinking.InferTags``: the tags around ``.Thinking`` in a messages loop.

    Finds ``.Thinking`` inside a ``range`` over ``.Messages``, goes up to the nearest list of
    nodes and takes its first and last text (trimmed), e.g. ``("<think>", "</think>")``.
    Returns ``None`` unless both tags are found.
    """
    opening, closing = _infer_tags(_as_template(template)._c.root)
    if opening and closing:
        return opening, closing
    return None


def tool_call_tag(template: Template | str) -> str:
    """The text that starts a tool call in the model's output (Ollama's ``parseTag``).

    The first non-blank text inside ``{{ if .ToolCalls }}``, cut before any ``{``, then
    trimmed, e.g. ``<tool_call>`` or ``[TOOL_CALLS]``; ``{`` when there is none.
    """
    root = _as_template(template)._c.root
    node = _find_tool_call_if(root.nodes)
    if node is None:
        return "{"
    text = _find_text(node.list.nodes)
    if text is None:
        return "{"
    tag = text.text.replace("\r\n", "\n").split("{", 1)[0].strip()
    return tag or "{"
