"""Turning requests into prompts, and model capabilities.

A model's prompt format comes from, in order: its TEMPLATE layer (an Ollama Go template), the
GGUF's ``tokenizer.chat_template`` (Jinja, rendered the way llama.cpp and Hugging Face do),
or ``{{ .Prompt }}``. Capabilities are derived as Ollama derives them: a ``pooling_type`` key
means an embedding model, template variables give ``tools`` and ``insert``, thinking tags in
the template give ``thinking``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .gguf import GGUFInfo
from .store import StoredModel

if TYPE_CHECKING:
    from .templates import Limits

__all__ = [
    "PromptFormat",
    "TemplateError",
    "TemplateLimitError",
    "capabilities",
    "parse_go_template",
    "prompt_format",
    "render_limits",
]

DEFAULT_TEMPLATE = "{{ .Prompt }}"


class TemplateError(ValueError):
    """A template that does not parse or does not render."""


class TemplateLimitError(TemplateError):
    """A template that is too large or went over its limits while rendering."""


def render_limits(num_ctx: int, cancel: threading.Event | None = None) -> Limits:
    """The limits for rendering a prompt for a context of ``num_ctx`` tokens (README,
    Reliability); ``cancel`` stops the rendering once set."""
    from . import templates

    return templates.Limits.for_context(num_ctx, cancel)


def _translate(exc: Exception, prefix: str = "") -> TemplateError:
    from . import templates

    kind = TemplateLimitError if isinstance(exc, templates.TemplateLimitError) else TemplateError
    text = str(exc)
    return kind(text if text.startswith(prefix) else prefix + text)


def parse_go_template(source: str) -> Any:
    """Parse an Ollama Go template (parsed templates are cached by the template module);
    :class:`TemplateError` on bad syntax, :class:`TemplateLimitError` when too large."""
    from . import templates

    try:
        return templates.Template(source)
    except Exception as exc:
        raise _translate(exc) from exc


@dataclass(frozen=True)
class PromptFormat:
    """How one model formats prompts."""

    kind: str  # "go" or "jinja"
    source: str

    @property
    def go(self) -> Any:
        return parse_go_template(self.source)

    @property
    def uses_tools(self) -> bool:
        if self.kind == "jinja":
            return "tools" in self.source
        return bool(self.go.uses_tools)

    @property
    def uses_suffix(self) -> bool:
        return self.kind == "go" and bool(self.go.uses_suffix)

    def thinking_tags(self) -> tuple[str, str] | None:
        if self.kind != "go":
            return None
        from . import templates

        try:
            tags = templates.infer_thinking_tags(self.go)
        except Exception:
            return None
        if not tags:
            return None
        opening, closing = tags
        if opening and closing:
            return str(opening), str(closing)
        return None

    def tool_tag(self) -> str:
        if self.kind != "go":
            return "{"
        from . import templates

        try:
            tag = templates.tool_call_tag(self.go)
        except Exception:
            return "{"
        return str(tag) if tag else "{"

    def render_messages(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[Any] | None = None,
        think: bool | str | None = None,
        bos_token: str = "",
        eos_token: str = "",
        limits: Limits | None = None,
    ) -> str:
        """The prompt for ``messages``; ``limits`` (:func:`render_limits`) bound the work."""
        if self.kind == "jinja":
            from . import jinja_templates

            context: dict[str, Any] = {
                "messages": messages,
                "add_generation_prompt": True,
                "bos_token": bos_token,
                "eos_token": eos_token,
            }
            if tools:
                context["tools"] = tools
            if think is not None:
                context["enable_thinking"] = bool(think)
            try:
                return jinja_templates.render(self.source, context, limits)
            except Exception as exc:
                raise _translate(exc) from exc
        from . import templates

        try:
            return str(
                templates.render(
                    self.go, messages=messages, tools=tools, think=think, limits=limits
                )
            )
        except TemplateError:
            raise
        except Exception as exc:
            raise _translate(exc, "template: ") from exc

    def render_prompt(
        self,
        prompt: str,
        *,
        suffix: str | None = None,
        think: bool | str | None = None,
        limits: Limits | None = None,
    ) -> str:
        """Suffix (fill-in-the-middle) mode: ``.Prompt`` and ``.Suffix`` only."""
        from . import templates

        try:
            return str(
                templates.render(
                    self.go, messages=[], prompt=prompt, suffix=suffix, think=think, limits=limits
                )
            )
        except Exception as exc:
            raise _translate(exc, "template: ") from exc


def prompt_format(model: StoredModel, gguf: GGUFInfo | None) -> PromptFormat:
    if model.template is not None:
        return PromptFormat("go", model.template)
    if gguf is not None and gguf.chat_template:
        return PromptFormat("jinja", gguf.chat_template)
    return PromptFormat("go", DEFAULT_TEMPLATE)


def capabilities(model: StoredModel, gguf: GGUFInfo | None) -> list[str]:
    """Ollama's ``Model.Capabilities`` for a model in the store."""
    caps: list[str] = []
    if gguf is not None:
        if gguf.arch_value("pooling_type") is not None:
            caps.append("embedding")
        else:
            caps.append("completion")
        if gguf.arch_value("vision.block_count") is not None:
            caps.append("vision")
    fmt = prompt_format(model, gguf)
    try:
        if fmt.uses_tools:
            caps.append("tools")
        if fmt.uses_suffix:
            caps.append("insert")
    except TemplateError:
        return caps
    if model.projector_paths and "vision" not in caps:
        caps.append("vision")
    family = model.config.get("model_family")
    if fmt.thinking_tags() is not None or family in ("gptoss", "gpt-oss"):
        caps.append("thinking")
    return caps
