"""From a validated request to a plan: the model and what it can do, options, load options,
the prompt, sampling, grammar and output parsers. Everything that can be refused is refused
here, before a runner is loaded or a byte is sent.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .. import prompt as prompting
from ..engine import LoadOptions, SamplingOptions
from ..store import StoredModel
from ..templates import Limits
from ..toolcalls import tool_names
from ..validate import BadRequest
from .catalog import Catalog, capability_name
from .generation import GenerationPlan
from .prompts import ChatPrompt, GeneratePrompt, Prompt
from .requests import ChatRequest, GenerateRequest, GenerationRequest

__all__ = ["plan_chat", "plan_generate"]


@dataclass
class _Opening:
    """What chat and generate decide the same way, before their prompts."""

    model: StoredModel
    caps: list[str]
    think: bool | str | None
    options: dict[str, Any]
    load: LoadOptions
    fmt: prompting.PromptFormat
    started_ns: int
    # Set when the client goes away: stops the template rendering and the generation.
    cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def template_think(self) -> bool | str | None:
        """``think`` as the template sees it (only for models that can think)."""
        return self.think if "thinking" in self.caps else None

    def limits(self) -> Limits:
        return prompting.render_limits(self.load.num_ctx, self.cancel)


async def _open(
    catalog: Catalog,
    request: GenerationRequest,
    model: StoredModel,
    action: str,
    needs: str | None,
    started: int,
) -> _Opening:
    """The model's capabilities (it must generate text, and have ``needs`` when given),
    ``think``, the options, load options and prompt format."""
    gguf = catalog.gguf(model)
    # Parses the model's template: in a worker, as all template work.
    caps = await asyncio.to_thread(prompting.capabilities, model, gguf)
    text = request.model
    if "completion" not in caps:
        raise BadRequest(f'"{text}" does not support {action}')
    if needs is not None and needs not in caps:
        raise BadRequest(f"{capability_name(text)} does not support {needs}")
    think = request.think
    if think and "thinking" not in caps:
        if not request.relax_thinking:
            raise BadRequest(f'"{text}" does not support thinking')
        think = None
    if think is None and "thinking" in caps:
        think = True  # Ollama turns thinking on by default for models that can think
    if isinstance(request, GenerateRequest):
        prompting.check_images([{"images": request.images}], caps)
    elif isinstance(request, ChatRequest):
        # A chat may hold millions of messages: looked through in a worker.
        await asyncio.to_thread(prompting.check_images, request.messages, caps)
    options = catalog.options(model, request.options)
    load = catalog.load_options(model, options)
    fmt = prompting.prompt_format(model, gguf)
    return _Opening(model, caps, think, options, load, fmt, started)


def _plan(
    catalog: Catalog,
    request: GenerationRequest,
    opening: _Opening,
    prompt: Prompt | None,
    *,
    tools: list[dict[str, Any]] | None,
    include_context: bool,
    defer_format: bool,
) -> GenerationPlan:
    fmt = opening.fmt
    thinking_tags = fmt.thinking_tags() if opening.think and prompt is not None else None
    return GenerationPlan(
        model=opening.model,
        model_text=request.model,
        load=opening.load,
        keep_alive_ns=catalog.keep_alive(request.keep_alive_ns),
        prompt=prompt,
        sampling=SamplingOptions.from_options(opening.options, shift=request.shift),
        truncate=request.truncate,
        grammar=request.format,
        thinking_tags=thinking_tags,
        tool_tag=fmt.tool_tag() if tools else "",
        tool_names=tool_names(tools) if tools else None,
        logprobs=request.logprobs,
        include_context=include_context,
        defer_format=defer_format and thinking_tags is not None and request.format is not None,
        started_ns=opening.started_ns,
        cancel=opening.cancel,
    )


async def plan_generate(catalog: Catalog, request: GenerateRequest) -> GenerationPlan:
    """``/api/generate``. No prompt (and no images) only loads or unloads the model."""
    started = time.perf_counter_ns()
    text = request.model
    model = await catalog.find(text, empty_status=404, empty_message=f"model '{text}' not found")
    needs = "insert" if request.suffix else None
    opening = await _open(catalog, request, model, "generate", needs, started)
    prompt: Prompt | None = None
    if request.prompt or request.images:
        if request.template:
            try:
                opening.fmt = prompting.PromptFormat("go", request.template)
                # Parsed now (in a worker) so a bad template is a 400 before loading.
                await asyncio.to_thread(prompting.parse_go_template, request.template)
            except prompting.TemplateError as exc:
                raise BadRequest(f"template: {exc}") from None
        prompt = GeneratePrompt(
            fmt=opening.fmt,
            limits=opening.limits(),
            special_tokens=lambda: catalog.special_tokens(model),
            prompt=request.prompt,
            suffix=request.suffix,
            system=request.system or model.system,
            model_messages=model.messages,
            context=request.context,
            raw=request.raw,
            think=opening.template_think,
        )
    return _plan(
        catalog,
        request,
        opening,
        prompt,
        tools=None,
        include_context=not request.raw,
        defer_format=False,
    )


async def plan_chat(catalog: Catalog, request: ChatRequest) -> GenerationPlan:
    """``/api/chat``. No messages only loads or unloads the model."""
    started = time.perf_counter_ns()
    text = request.model
    model = await catalog.find(text, empty_status=400, empty_message="model is required")
    needs = "tools" if request.tools else None
    opening = await _open(catalog, request, model, "chat", needs, started)
    prompt: Prompt | None = None
    if request.messages:
        messages = [*model.messages, *request.messages]
        if request.messages[0].get("role") != "system" and model.system:
            messages.insert(0, {"role": "system", "content": model.system})
        prompt = ChatPrompt(
            fmt=opening.fmt,
            limits=opening.limits(),
            special_tokens=lambda: catalog.special_tokens(model),
            messages=messages,
            tools=request.tools,
            think=opening.template_think,
            truncate=request.truncate,
            num_predict=int(opening.options["num_predict"]),
        )
    return _plan(
        catalog,
        request,
        opening,
        prompt,
        tools=request.tools,
        include_context=False,
        # Ollama lets a thinking model think freely and applies `format` from the answer on.
        defer_format="thinking" in opening.caps,
    )
