"""Ollama's prompt templates: the subset of Go's ``text/template`` they use, and Ollama's rules.

Model TEMPLATE layers are Go templates executed by Ollama's ``template/template.go`` with
``missingkey=zero`` and the extra functions ``json``, ``currentDate``, ``yesterdayDate`` and
``toTypeScriptType``.  This package is a pure-Python port of both halves:

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

Layout, each module importing only those after it: ``template`` (:class:`Template`,
:func:`render`); ``parser``, ``executor`` (the tree compiled to closures), ``queries`` (Ollama's
tree heuristics) and ``cache``; ``functions`` (the builtins); ``printf``; ``views`` (messages
and tools as templates see them); ``values`` (Go's printing and truthiness); ``lexer``,
``nodes`` and ``limits``; ``errors``. Quoting, JSON, float and type-name formatting come from
the server-wide :mod:`ollamakit.server.gofmt`.
"""

from __future__ import annotations

from .cache import SourceCache
from .errors import TemplateCancelled, TemplateError, TemplateLimitError
from .limits import (
    CACHE_BYTES,
    MAX_SOURCE_BYTES,
    MAX_STEPS,
    MIN_OUTPUT_BYTES,
    OUTPUT_BYTES_PER_TOKEN,
    CancelFlag,
    Limits,
    check_source_size,
)
from .template import GEMMA3_TEMPLATE, Template, infer_thinking_tags, render, tool_call_tag

# The process-wide cache of compiled templates, for tests that measure or clear it.
from .template import _cache as _cache
from .values import go_json, go_sprint
from .views import (
    ArgsMap,
    PropertiesMap,
    PropertyType,
    TemplateMessage,
    TemplateTool,
    TemplateToolCall,
    TemplateToolCallFunction,
    TemplateToolFunction,
    TemplateToolParameters,
    ToolList,
    ToolProperty,
    template_messages,
    template_tools,
)

__all__ = [
    "CACHE_BYTES",
    "GEMMA3_TEMPLATE",
    "MAX_SOURCE_BYTES",
    "MAX_STEPS",
    "MIN_OUTPUT_BYTES",
    "OUTPUT_BYTES_PER_TOKEN",
    "ArgsMap",
    "CancelFlag",
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
