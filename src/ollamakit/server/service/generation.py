"""Running a plan: the model generates in a worker thread and the output comes back as events.

A :class:`GenerationPlan` holds everything decided before the model runs; :class:`Generation`
runs it on a leased runner and turns the raw text into :class:`~.events.Delta` events
(thinking split off, tool calls parsed out), then :class:`~.events.Done` or
:class:`~.events.Failed`. ``cancel()`` stops the model within one token; every surface calls
it when its client goes away.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from ..engine import GenerationResult, LoadOptions, Runner, SamplingOptions
from ..grammar import make_grammar
from ..output import OutputShaper, ThinkingParser
from ..scheduler import Lease
from ..store import StoredModel
from ..toolcalls import ToolCallParser
from .events import Delta, Done, Event, Failed
from .jobs import AnyEvent, Job
from .prompts import Prompt, starts_with_bos

__all__ = ["Generation", "GenerationPlan"]


@dataclass
class GenerationPlan:
    """A checked generation request, ready to run.

    ``thinking_tags`` split thinking from content; ``tool_names`` (with the template's
    ``tool_tag``) turn on tool-call parsing. ``defer_format``: a thinking model thinks
    freely and the ``format`` grammar applies from the answer on (Ollama's structured outputs
    with thinking: stop when the answer starts, then restart constrained with the thinking as
    an assistant message)."""

    model: StoredModel
    model_text: str
    load: LoadOptions
    keep_alive_ns: int
    prompt: Prompt | None  # None: the request only loads (or unloads) the model
    sampling: SamplingOptions
    truncate: bool
    grammar: tuple[str, str] | None
    thinking_tags: tuple[str, str] | None
    tool_tag: str
    tool_names: list[str] | None
    logprobs: int | None
    include_context: bool
    defer_format: bool
    started_ns: int
    cancel: threading.Event  # set when the client goes away; stops rendering and generating

    def shaper(self) -> OutputShaper:
        tools = ToolCallParser(self.tool_tag, self.tool_names) if self.tool_names else None
        return OutputShaper(self.thinking_tags, tools)


class Generation:
    """One running generation; iterate it for its events (exactly once)."""

    def __init__(self, plan: GenerationPlan, lease: Lease) -> None:
        self.plan = plan
        self.lease = lease
        self.job = Job(plan.cancel)
        self.shaper = plan.shaper()
        # The prompt's length in tokens, known before the first event (0 until then).
        self.prompt_tokens = 0
        self.job.start(self._work, lease)

    def cancel(self) -> None:
        self.job.cancel.set()

    # -- the worker thread ------------------------------------------------------------------

    def _work(self, job: Job) -> GenerationResult:
        plan = self.plan
        prompt = plan.prompt
        if prompt is None:
            raise ValueError("a plan without a prompt only loads the model")
        runner = self.lease.runner
        text = prompt.render(runner)
        job.put("prompt", text)

        def emit(piece: str) -> None:
            job.put("text", piece)

        if not plan.defer_format or plan.thinking_tags is None:
            return self._run(runner, text, emit, plan.grammar, job.cancel)
        opening, closing = plan.thinking_tags
        watcher = ThinkingParser(opening, closing)
        if text.strip().endswith(opening):
            watcher.open()
        thought: list[str] = []
        answering = threading.Event()

        def watch(piece: str) -> None:
            if answering.is_set():
                return
            thinking, content = watcher.feed(piece)
            thought.append(thinking)
            if content and any(thought):
                answering.set()
                # The unconstrained start of the answer is dropped; it is regenerated.
                piece = piece[: max(0, len(piece) - len(content))]
            if piece:
                emit(piece)

        result = self._run(runner, text, watch, None, AnyEvent(job.cancel, answering))
        if not answering.is_set() or job.cancel.is_set():
            return result
        again = prompt.render(runner, "".join(thought))
        return self._run(runner, again, emit, plan.grammar, job.cancel)

    def _run(
        self,
        runner: Runner,
        text: str,
        emit: Callable[[str], None],
        grammar: tuple[str, str] | None,
        cancel: threading.Event,
    ) -> GenerationResult:
        plan = self.plan
        tokens = runner.tokenize(text, add_bos=not starts_with_bos(runner, text))
        tokens = runner.fit_prompt(tokens, plan.sampling, truncate=plan.truncate)
        self.job.put("prompt_tokens", len(tokens))
        return runner.generate(
            tokens,
            plan.sampling,
            emit,
            cancel,
            grammar=make_grammar(grammar),
            logprobs=plan.logprobs,
            emit_logprobs=lambda items: self.job.put("logprobs", items),
        )

    # -- the event loop ---------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def _events(self) -> AsyncIterator[Event]:
        shaper = self.shaper
        passthrough = shaper.passthrough
        pending: list[dict[str, Any]] = []
        while True:
            kind, value = await self.job.next()
            if kind == "text":
                if passthrough and not pending:
                    yield Delta(value)
                    continue
                piece = shaper.feed(value)
                if piece:
                    yield Delta(piece.content, piece.thinking, piece.tool_calls, pending or None)
                    pending = []
            elif kind == "logprobs":
                pending += value
            elif kind == "prompt":
                shaper.prompt_rendered(value)
            elif kind == "prompt_tokens":
                self.prompt_tokens = self.prompt_tokens or value
            elif kind == "error":
                yield Failed(value)
                return
            else:
                piece = shaper.finish()
                if piece:
                    yield Delta(piece.content, piece.thinking, piece.tool_calls, pending or None)
                    pending = []
                yield self._done(value, pending or None)
                return

    def _done(self, result: GenerationResult, logprobs: list[dict[str, Any]] | None) -> Done:
        plan = self.plan
        return Done(
            reason=result.done_reason,
            prompt_eval_count=result.prompt_eval_count,
            prompt_eval_ns=result.prompt_eval_ns,
            eval_count=result.eval_count,
            eval_ns=result.eval_ns,
            load_ns=self.lease.load_ns,
            total_ns=time.perf_counter_ns() - plan.started_ns,
            context=result.prompt_tokens + result.output_tokens if plan.include_context else None,
            logprobs=logprobs,
            stop_sequence=result.stop_sequence,
        )
