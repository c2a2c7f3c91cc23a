"""The parser of Go's ``text/template`` (``text/template/parse/parse.go``)."""

from __future__ import annotations

import re
from typing import NoReturn

from ..gofmt import quote
from .lexer import (
    _ASSIGN,
    _BOOL,
    _CHAR,
    _CHARCONST,
    _DECLARE,
    _DOT,
    _EOF,
    _FIELD,
    _IDENT,
    _KEYWORD,
    _LDELIM,
    _LPAREN,
    _NIL,
    _NUMBER,
    _PIPE,
    _RAWSTRING,
    _RDELIM,
    _RPAREN,
    _SPACE,
    _SPACES,
    _STRING,
    _TEXT,
    _VAR,
    _syntax_error,
    _Tok,
)
from .nodes import (
    _ELSE,
    _END,
    _ActionNode,
    _BreakNode,
    _ChainNode,
    _CommandNode,
    _ContinueNode,
    _DotNode,
    _FieldNode,
    _IdentifierNode,
    _IfNode,
    _ListNode,
    _LiteralNode,
    _NilNode,
    _Node,
    _node_str,
    _PipeNode,
    _RangeNode,
    _TemplateNode,
    _TextNode,
    _VariableNode,
    _WithNode,
)

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
                term = quote(_node_str(node))
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
