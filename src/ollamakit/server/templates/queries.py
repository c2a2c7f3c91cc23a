"""Ollama's queries on a parse tree: ``Vars``, the legacy cut after ``{{ .Response }}``,
``InferTags`` and the tool-call tag."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .errors import TemplateError
from .nodes import (
    _ActionNode,
    _BranchNode,
    _CommandNode,
    _FieldNode,
    _IfNode,
    _ListNode,
    _Node,
    _PipeNode,
    _RangeNode,
    _TemplateNode,
    _TextNode,
    _VariableNode,
    _WithNode,
)


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
