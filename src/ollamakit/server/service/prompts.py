"""The prompt a request gives the model: its messages (or prompt) rendered with the model's
template, cut to fit the context.

A prompt is rendered in the worker thread with the loaded runner (which tokenizes, to fit the
context, and knows the BOS/EOS text Jinja templates use), or without one for
``_debug_render_only``, when BOS/EOS come from the GGUF vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..engine import Runner
from ..prompt import PromptFormat, truncate_chat
from ..templates import Limits

__all__ = ["ChatPrompt", "GeneratePrompt", "Prompt", "starts_with_bos"]

SpecialTokens = Callable[[], tuple[str, str]]


class Prompt(Protocol):
    def render(self, runner: Runner | None, thought: str = "") -> str:
        """The prompt text; ``thought`` is thinking to continue from as the assistant."""
        ...


def _render(
    fmt: PromptFormat,
    runner: Runner | None,
    special_tokens: SpecialTokens,
    messages: list[dict[str, Any]],
    tools: list[Any] | None,
    think: bool | str | None,
    limits: Limits,
) -> str:
    bos = eos = ""
    if fmt.kind == "jinja":
        if runner is not None:
            bos = runner.detokenize([runner.token_bos()])
            eos = runner.detokenize([runner.token_eos()])
        else:
            bos, eos = special_tokens()
    return fmt.render_messages(
        messages, tools=tools, think=think, bos_token=bos, eos_token=eos, limits=limits
    )


@dataclass
class ChatPrompt:
    """A chat. With ``truncate``, the oldest turns (never system messages or the last
    message) are dropped until the prompt fits, as Ollama's ``chatPrompt`` does, in O(log n)
    renderings (``prompt.truncate_chat``). ``limits`` bound the template's work and carry the
    request's cancel flag (``prompt.render_limits``)."""

    fmt: PromptFormat
    limits: Limits
    special_tokens: SpecialTokens
    messages: list[dict[str, Any]]
    tools: list[Any] | None
    think: bool | str | None
    truncate: bool
    num_predict: int

    def render(self, runner: Runner | None, thought: str = "") -> str:
        current = list(self.messages)
        if thought:
            current.append({"role": "assistant", "content": "", "thinking": thought})
        if not self.truncate or runner is None:
            return self._render(runner, current)
        room = self.num_predict if self.num_predict > 0 else 256
        limit = runner.n_ctx - max(1, min(room, runner.n_ctx // 4))
        return truncate_chat(
            current,
            lambda part: self._render(runner, part),
            lambda text: len(runner.tokenize(text)),
            limit,
            self.limits.cancel,
        )

    def _render(self, runner: Runner | None, messages: list[dict[str, Any]]) -> str:
        return _render(
            self.fmt, runner, self.special_tokens, messages, self.tools, self.think, self.limits
        )


@dataclass
class GeneratePrompt:
    """``/api/generate``: the prompt as a user turn after the system prompt and the model's
    messages; raw as given; ``suffix`` for fill-in-the-middle; ``context`` (the tokens of an
    earlier answer) in front."""

    fmt: PromptFormat
    limits: Limits
    special_tokens: SpecialTokens
    prompt: str
    suffix: str
    system: str
    model_messages: list[dict[str, Any]]
    context: list[int]
    raw: bool
    think: bool | str | None

    def render(self, runner: Runner | None, thought: str = "") -> str:
        if self.raw:
            return self.prompt
        if self.suffix:
            text = self.fmt.render_prompt(
                self.prompt, suffix=self.suffix, think=self.think, limits=self.limits
            )
        else:
            messages: list[dict[str, Any]] = []
            if self.system:
                messages.append({"role": "system", "content": self.system})
            if not self.context:
                messages.extend(self.model_messages)
            messages.append({"role": "user", "content": self.prompt})
            text = _render(
                self.fmt, runner, self.special_tokens, messages, None, self.think, self.limits
            )
        if self.context and runner is not None:
            text = runner.detokenize(self.context) + text
        return text


def starts_with_bos(runner: Runner, text: str) -> bool:
    """Whether the rendered prompt already begins with the BOS text (so none is added)."""
    bos = runner.token_bos()
    if bos < 0:
        return False
    piece = runner.detokenize([bos])
    return bool(piece) and text.startswith(piece)
