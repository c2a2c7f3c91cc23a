"""Turning requests into prompts, and model capabilities.

A model's prompt format comes from, in order: its TEMPLATE layer (an Ollama Go template), the
GGUF's ``tokenizer.chat_template`` (Jinja, rendered the way llama.cpp and Hugging Face do),
or ``{{ .Prompt }}``. Capabilities are derived as Ollama derives them: a ``pooling_type`` key
means an embedding model, template variables give ``tools`` and ``insert``, thinking tags in
the template give ``thinking``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .gguf import GGUFInfo
from .store import StoredModel
from .validate import BadRequest

if TYPE_CHECKING:
    from .templates import CancelFlag, Limits

__all__ = [
    "PromptFormat",
    "TemplateError",
    "TemplateLimitError",
    "capabilities",
    "check_images",
    "parse_go_template",
    "prompt_format",
    "render_limits",
    "truncate_chat",
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


def truncate_chat(
    messages: list[dict[str, Any]],
    render: Callable[[list[dict[str, Any]]], str],
    count_tokens: Callable[[str], int],
    limit: int,
    cancel: CancelFlag | None = None,
) -> str:
    """The prompt for the most recent part of ``messages`` that fits in ``limit`` tokens,
    truncated as Ollama's ``chatPrompt`` does: the last message always stays, older messages
    go first, and system messages are always kept.

    Ollama renders and tokenizes the chat again for every message it adds back from the end,
    which is quadratic in the length of the chat. This finds the same cut with O(log n)
    renderings: the kept part doubles in length until it no longer fits, then a binary search
    between the longest that fitted and the shortest that did not. A rendering over its
    limits does not fit either. The cut is Ollama's whenever keeping more messages never makes
    a prompt shorter, as holds for chat templates. Cancelled (``cancel`` set) between steps.
    """
    last = len(messages) - 1
    rendered: dict[int, str] = {}

    def kept(start: int) -> list[dict[str, Any]]:
        older = [item for item in messages[:start] if item.get("role") == "system"]
        return older + messages[start:]

    def fits(start: int) -> bool:
        if cancel is not None and cancel.is_set():
            raise TemplateError("request cancelled")
        try:
            text = render(kept(start))
        except TemplateLimitError:
            return False
        rendered[start] = text
        return count_tokens(text) <= limit

    good, bad = last, -1  # the oldest start known to fit, the newest known not to
    # A chat whose text is short next to the limit most likely fits whole: try that first.
    if last > 0 and sum(len(str(item.get("content") or "")) for item in messages) <= 4 * limit:
        if fits(0):
            return rendered[0]
        bad = 0
    step = 1
    while good - bad > 1:
        start = max(bad + 1, last - step)
        if not fits(start):
            bad = start
            break
        good, step = start, step * 2
    while good - bad > 1:
        middle = (good + bad) // 2
        if fits(middle):
            good = middle
        else:
            bad = middle
    return rendered[good] if good in rendered else render(kept(good))


def prompt_format(model: StoredModel, gguf: GGUFInfo | None) -> PromptFormat:
    if model.template is not None:
        return PromptFormat("go", model.template)
    if gguf is not None and gguf.chat_template:
        return PromptFormat("jinja", gguf.chat_template)
    return PromptFormat("go", DEFAULT_TEMPLATE)


#: What Ollama answers (500, relaying llama-server) for images sent to a model without vision.
NO_VISION = (
    "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj"
)


def check_images(items: list[dict[str, Any]], caps: list[str]) -> None:
    """Refuse images (a request's or its messages' ``images``) for a model without vision,
    instead of dropping them silently."""
    if "vision" not in caps and any(item.get("images") for item in items):
        raise BadRequest(NO_VISION, 500)


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
