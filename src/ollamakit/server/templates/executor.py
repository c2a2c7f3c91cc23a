"""The executor: a parse tree compiled to closures that run against a budget."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NoReturn

from ..gofmt import type_name
from .errors import (
    TemplateCancelled,
    TemplateError,
    TemplateLimitError,
    _Break,
    _Continue,
    _ExecError,
)
from .functions import _BUILTINS
from .lexer import _line_col
from .limits import _CHECK_EVERY, PRODUCED_PER_OUTPUT, Limits
from .nodes import (
    _ActionNode,
    _BranchNode,
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
from .values import _fmt_v, _GoStruct, _print_top, _sort_key, _truth


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
        raise _ExecError(f"can't evaluate field {name} in type {recv.go_type}")
    if recv is None:
        raise _ExecError(f"nil pointer evaluating interface {{}}.{name}")
    raise _ExecError(f"can't evaluate field {name} in type {type_name(recv)}")


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
