"""A parsed template and Ollama's execution rules (:func:`render`) on top of it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .cache import SourceCache
from .errors import TemplateError, _Break, _Continue
from .executor import _Compiler, _Exec, _State
from .functions import _FUNC_NAMES
from .lexer import _Lexer
from .limits import CACHE_BYTES, Limits, check_source_size
from .nodes import _ActionNode, _CommandNode, _FieldNode, _ListNode, _PipeNode
from .parser import _Parser
from .queries import _cut_after_response, _find_text, _find_tool_call_if, _identifiers, _infer_tags
from .views import ToolList, _collate, _message, template_tools

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
