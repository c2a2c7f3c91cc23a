"""The tool-calling loop: chat, run the tools the model asked for, send their results back,
until the model answers (:func:`run_tools` for a ``Client``, :func:`arun_tools` for an
``AsyncClient``). The only tool module that talks to a client, through the one it is given.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import types
from collections.abc import Awaitable, Callable, Mapping, MutableSequence, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from ._coerce import BadArguments, Binder, callable_binder, class_binder, problem
from ._errors import OllamaError, RequestError
from ._schema import is_typeddict, pydantic_model, tool_schemas

if TYPE_CHECKING:
    from ._async_client import AsyncClient
    from ._sync_client import Client
    from ._types import ChatResponse, Tool

__all__ = ["ToolCallHook", "ToolLoopLimitError", "arun_tools", "result_text", "run_tools"]

ToolCallHook = Callable[[str, dict[str, Any]], object]
"""Called with the tool name and the arguments the model sent, before the tool runs."""


class ToolLoopLimitError(OllamaError):
    """The model was still calling tools after ``max_steps`` chat rounds.

    ``response`` is the last answer, ``messages`` the conversation (the caller's list). The tool
    calls of the last round have been run and their results appended, so the conversation is
    complete: pass ``messages`` to :func:`run_tools` again to continue, or to ``chat`` without
    tools to ask for an answer.
    """

    def __init__(
        self,
        max_steps: int,
        response: ChatResponse | None = None,
        messages: MutableSequence[Any] | None = None,
    ) -> None:
        super().__init__(
            f"the model was still calling tools after {max_steps} chat rounds (max_steps)"
        )
        self.max_steps = max_steps
        self.response = response
        self.messages: MutableSequence[Any] = messages if messages is not None else []

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.max_steps, self.response, self.messages))


def _is_async(obj: Any) -> bool:
    if inspect.iscoroutinefunction(obj):
        return True
    if isinstance(obj, (type, types.FunctionType, types.MethodType, functools.partial)):
        return False
    return inspect.iscoroutinefunction(type(obj).__call__)


def _implementation(tool: Any) -> Callable[..., Any] | None:
    """What runs a tool; None for a definition only (dict, Tool). Mirrors tool_schema."""
    if isinstance(tool, (Mapping, msgspec.Struct, classmethod)):
        return None
    if isinstance(tool, type):
        return tool
    if isinstance(tool, staticmethod):
        func: Callable[..., Any] = tool.__func__
        return func
    if callable(getattr(tool, "model_dump", None)) or callable(getattr(tool, "to_dict", None)):
        return None
    return tool if callable(tool) else None


class _Runner:
    """How to run one tool: its binder and whether it is a coroutine function."""

    __slots__ = ("bind", "mode")

    def __init__(self, tool: Callable[..., Any]) -> None:
        self.bind: Binder
        if isinstance(tool, type) and (
            is_typeddict(tool)
            or pydantic_model(tool)
            or issubclass(tool, msgspec.Struct)
            or dataclasses.is_dataclass(tool)
        ):
            self.bind = class_binder(tool)
            self.mode = "inline"
        else:
            self.bind = callable_binder(tool)
            self.mode = "async" if _is_async(tool) else "thread"


def _registry(tools: Sequence[Any]) -> tuple[list[dict[str, Any]], dict[str, _Runner | None]]:
    schemas = tool_schemas(tools)
    runners: dict[str, _Runner | None] = {}
    for tool, schema in zip(tools, schemas):
        function = schema.get("function")
        name = function.get("name") if isinstance(function, Mapping) else None
        if not isinstance(name, str) or not name:
            continue  # a definition the model cannot call by name; sent as given
        if name in runners:
            raise RequestError(f"two tools are named {name!r}: the model calls tools by name")
        implementation = _implementation(tool)
        runners[name] = _Runner(implementation) if implementation is not None else None
    return schemas, runners


def _result_hook(obj: Any) -> Any:
    model_dump = getattr(obj, "model_dump", None)
    if callable(model_dump):
        try:
            return model_dump(mode="json")
        except TypeError:
            return model_dump()
    return str(obj)


def result_text(result: Any) -> str:
    """A tool's return value as message content: strings as they are, anything else as JSON."""
    if isinstance(result, str):
        return result
    if isinstance(result, (bytes, bytearray, memoryview)):
        return bytes(result).decode("utf-8", "replace")
    try:
        return msgspec.json.encode(result, enc_hook=_result_hook).decode()
    except Exception:
        return str(result)


def _error_result(exc: BaseException) -> str:
    return f"Error: {problem(exc)}"


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _wait_here(result: Any, name: str) -> Any:
    """The value of an awaitable returned by a tool, for the synchronous loop."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_awaited(result))
    close = getattr(result, "close", None)
    if callable(close):
        close()
    raise RuntimeError(
        f"tool {name!r} is a coroutine and an event loop is already running in this thread; "
        "use arun_tools with an AsyncClient"
    )


class _PendingCall:
    """One tool call of the model, bound to its implementation (or to the error to report)."""

    __slots__ = ("arguments", "call_id", "error", "mode", "name", "thunk")

    def __init__(self, call: Any, runners: Mapping[str, _Runner | None]) -> None:
        function = getattr(call, "function", None)
        name = getattr(function, "name", None)
        self.name: str = name if isinstance(name, str) else ""
        call_id = getattr(call, "id", None)
        self.call_id: str | None = call_id if call_id else None
        self.thunk: Callable[[], Any] | None = None
        self.error: str | None = None
        self.mode = "inline"
        raw = getattr(function, "arguments", None)
        if isinstance(raw, str):
            try:
                raw = msgspec.json.decode(raw) if raw.strip() else {}
            except msgspec.DecodeError:
                pass
        self.arguments: dict[str, Any] = raw if isinstance(raw, dict) else {}

        if self.name not in runners:
            available = ", ".join(sorted(runners)) or "none"
            self.error = f"Error: unknown tool {self.name!r} (the tools are: {available})"
            return
        runner = runners[self.name]
        if runner is None:
            self.error = f"Error: no implementation for tool {self.name!r}"
            return
        if raw is not None and not isinstance(raw, dict):
            self.error = (
                f"Error: invalid arguments for tool {self.name!r}: expected a JSON object, "
                f"got {raw!r:.200}"
            )
            return
        try:
            self.thunk = runner.bind(self.arguments)
        except BadArguments as exc:
            self.error = f"Error: invalid arguments for tool {self.name!r}: {exc}"
            return
        self.mode = runner.mode

    def run(self) -> str:
        if self.thunk is None:
            return self.error or ""
        try:
            result = self.thunk()
            if inspect.isawaitable(result):
                result = _wait_here(result, self.name)
        except Exception as exc:
            return _error_result(exc)
        return result_text(result)

    async def arun(self) -> str:
        if self.thunk is None:
            return self.error or ""
        import asyncio

        try:
            if self.mode == "thread":
                # A tool must not block the event loop; its context variables go along.
                result = await asyncio.to_thread(self.thunk)
            else:
                result = self.thunk()
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            return _error_result(exc)
        return result_text(result)

    def message(self, content: str) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "tool", "content": content, "tool_name": self.name}
        if self.call_id is not None:
            message["tool_call_id"] = self.call_id
        return message


def _check_loop_arguments(
    messages: Any, max_steps: Any, chat_kwargs: dict[str, Any]
) -> dict[str, Any]:
    if not isinstance(messages, MutableSequence):
        raise RequestError(
            f"messages must be a list (the conversation is appended to it), not "
            f"{type(messages).__name__}"
        )
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise RequestError(f"max_steps must be a positive integer, not {max_steps!r}")
    kwargs = dict(chat_kwargs)
    if kwargs.pop("stream", False):
        raise RequestError("the tool loop does not stream: drop stream=True")
    return kwargs


def _record(response: ChatResponse, messages: MutableSequence[Any]) -> list[Any]:
    """Appends the assistant's message to the conversation; returns the tool calls it asks for."""
    message = response.message
    if message is None:  # the tolerant decoder keeps a malformed message as None
        return []
    messages.append(message)
    return list(message.tool_calls or [])


def run_tools(
    client: Client,
    model: str,
    messages: MutableSequence[Any],
    tools: Sequence[Callable[..., Any] | Mapping[str, Any] | Tool],
    *,
    max_steps: int = 8,
    on_tool_call: ToolCallHook | None = None,
    **chat_kwargs: Any,
) -> ChatResponse:
    """Chat with tools until the model answers without calling one; returns that answer.

    Each round sends ``messages`` with ``tools`` to ``client.chat`` (not streamed; the other
    keyword arguments, e.g. ``options`` or ``think``, are passed on), then runs the tools the
    model called, in order, and sends their results back.

    ``messages`` is extended in place: every assistant message (including the final answer) and
    every tool result (``{"role": "tool", "content": ..., "tool_name": ..., "tool_call_id": ...}``)
    is appended, so the whole exchange stays visible and can be continued.

    ``tools`` are what ``chat`` accepts. A function (or callable object, bound method, partial)
    is called with the model's arguments, converted to the annotated types where JSON differs
    (``"3"`` for an ``int``, an object for a dataclass); a pydantic model, msgspec Struct,
    dataclass or TypedDict class is validated from them. The result is sent as text: strings as
    they are, anything else as JSON. An exception, arguments that do not fit, an unknown tool
    name or a definition without code (a dict or :class:`Tool`) do not stop the loop: the model
    receives ``"Error: ..."`` as the result and can try again.

    ``on_tool_call(name, arguments)`` is called before each tool runs (for logging or a UI).
    Raises :class:`ToolLoopLimitError` when the model still calls tools after ``max_steps``
    rounds; errors of ``chat`` itself propagate.
    """
    kwargs = _check_loop_arguments(messages, max_steps, chat_kwargs)
    schemas, runners = _registry(tools)
    response: ChatResponse | None = None
    for _ in range(max_steps):
        reply: Any = client.chat(model, messages, tools=schemas, stream=False, **kwargs)
        if inspect.isawaitable(reply):
            close = getattr(reply, "close", None)
            if callable(close):
                close()
            raise RequestError("run_tools needs a Client; use arun_tools with an AsyncClient")
        response = reply
        calls = _record(response, messages)
        if not calls:
            return response
        for call in calls:
            pending = _PendingCall(call, runners)
            if on_tool_call is not None:
                on_tool_call(pending.name, pending.arguments)
            messages.append(pending.message(pending.run()))
    raise ToolLoopLimitError(max_steps, response, messages)


async def arun_tools(
    client: AsyncClient,
    model: str,
    messages: MutableSequence[Any],
    tools: Sequence[Callable[..., Any] | Mapping[str, Any] | Tool],
    *,
    max_steps: int = 8,
    on_tool_call: ToolCallHook | None = None,
    **chat_kwargs: Any,
) -> ChatResponse:
    """:func:`run_tools` for an :class:`AsyncClient`.

    The calls of one round run concurrently: coroutine functions are awaited, plain functions
    run in worker threads (``asyncio.to_thread``) so that they do not block the event loop.
    Results are appended in the order of the calls. ``on_tool_call`` may be a coroutine
    function; it is called for every call of a round before any of them starts.
    """
    import asyncio

    kwargs = _check_loop_arguments(messages, max_steps, chat_kwargs)
    schemas, runners = _registry(tools)
    response: ChatResponse | None = None
    for _ in range(max_steps):
        reply: Any = client.chat(model, messages, tools=schemas, stream=False, **kwargs)
        if not inspect.isawaitable(reply):
            raise RequestError("arun_tools needs an AsyncClient; use run_tools with a Client")
        answer: ChatResponse = await reply
        response = answer
        calls = _record(answer, messages)
        if not calls:
            return answer
        pending = [_PendingCall(call, runners) for call in calls]
        if on_tool_call is not None:
            for item in pending:
                hooked = on_tool_call(item.name, item.arguments)
                if inspect.isawaitable(hooked):
                    await hooked
        results = await asyncio.gather(*(item.arun() for item in pending))
        messages.extend(item.message(text) for item, text in zip(pending, results))
    raise ToolLoopLimitError(max_steps, response, messages)
