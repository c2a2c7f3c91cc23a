"""The lexer of Go's ``text/template`` (``text/template/parse/lex.go``)."""

from __future__ import annotations

from typing import NoReturn

from ..gofmt import quote
from .errors import TemplateError

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
            self.error(p, f"bad number syntax: {quote(src[p : q + 1])}")
        if q < n and src[q] in "+-":
            self.error(p, f"complex numbers are not supported: {src[p:q]!r}")
        self.toks.append((_NUMBER, src[p:q], p))
        return q
