"""The parse tree: the node kinds of Go's ``text/template/parse``."""

from __future__ import annotations

from typing import Any


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
