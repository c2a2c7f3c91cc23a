"""ollamakit: a fast, complete and dependable Ollama client.

``import ollamakit as ollama`` works as a drop-in for the official package::

    import ollamakit as ollama

    response = ollama.chat("llama3.2", messages=[{"role": "user", "content": "Hi"}])
    print(response.message.content)

The module-level functions (``chat``, ``generate``, ``list``, ...) use a default
:class:`Client` created on first use from ``OLLAMA_HOST`` / ``OLLAMA_API_KEY``, never at import.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ._async_client import AsyncClient
from ._errors import (
    AuthenticationError,
    BadRequestError,
    ConnectionError,
    IncompleteStreamError,
    InternalServerError,
    ModelfileError,
    NotFoundError,
    OllamaError,
    ParseError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    RequestError,
    ResponseError,
    ServerBusyError,
    StreamError,
    TimeoutError,
    TransportError,
)
from ._stream import AsyncStream, Stream
from ._sync_client import Client
from ._types import (
    ChatResponse,
    EmbeddingsResponse,
    EmbedResponse,
    GenerateResponse,
    Image,
    ListResponse,
    Logprob,
    Message,
    ModelDetails,
    Options,
    ProcessResponse,
    ProgressResponse,
    ShowResponse,
    StatusResponse,
    SubscriptableBaseModel,
    SystemOneAnswer,
    SystemOneChoiceAnswer,
    SystemOneChoiceQuestion,
    SystemOneContent,
    SystemOneNoulAnswer,
    SystemOneNoulQuestion,
    SystemOneQuestion,
    SystemOneRequest,
    SystemOneResponse,
    SystemOneScoreAnswer,
    SystemOneScoreQuestion,
    SystemOneUsage,
    TokenLogprob,
    Tool,
    ToolCall,
    UserResponse,
    VersionResponse,
    WebFetchResponse,
    WebSearchResponse,
    WebSearchResult,
)
from ._version import __version__

__all__ = [
    "AsyncClient",
    "AsyncStream",
    "AuthenticationError",
    "BadRequestError",
    "ChatResponse",
    "Client",
    "ConnectionError",
    "EmbedResponse",
    "EmbeddingsResponse",
    "GenerateResponse",
    "Image",
    "IncompleteStreamError",
    "InternalServerError",
    "ListResponse",
    "Logprob",
    "Message",
    "ModelDetails",
    "ModelfileError",
    "NotFoundError",
    "OllamaError",
    "Options",
    "ParseError",
    "PermissionDeniedError",
    "ProcessResponse",
    "ProgressResponse",
    "ProtocolError",
    "RateLimitError",
    "RequestError",
    "ResponseError",
    "ServerBusyError",
    "ShowResponse",
    "StatusResponse",
    "Stream",
    "StreamError",
    "SubscriptableBaseModel",
    "SystemOneAnswer",
    "SystemOneChoiceAnswer",
    "SystemOneChoiceQuestion",
    "SystemOneContent",
    "SystemOneNoulAnswer",
    "SystemOneNoulQuestion",
    "SystemOneQuestion",
    "SystemOneRequest",
    "SystemOneResponse",
    "SystemOneScoreAnswer",
    "SystemOneScoreQuestion",
    "SystemOneUsage",
    "TimeoutError",
    "TokenLogprob",
    "ToolLoopLimitError",
    "Tool",
    "ToolCall",
    "TransportError",
    "UserResponse",
    "VersionResponse",
    "WebFetchResponse",
    "WebSearchResponse",
    "WebSearchResult",
    "__version__",
    "arun_tools",
    "run_tools",
    "tool_schema",
]

_CLIENT_FUNCTIONS = frozenset(
    {
        "chat",
        "copy",
        "create",
        "delete",
        "embed",
        "embeddings",
        "generate",
        "list",
        "ps",
        "pull",
        "push",
        "show",
        "version",
        "create_blob",
        "blob_exists",
        "preload",
        "unload",
        "exists",
        "web_search",
        "web_fetch",
        "systemone",
    }
)

_default_client: Client | None = None
_default_lock = threading.Lock()


def default_client() -> Client:
    """The client behind the module-level functions, created on first use."""
    global _default_client
    if _default_client is None:
        with _default_lock:
            if _default_client is None:
                _default_client = Client()
    return _default_client


def _module_function(name: str) -> Any:
    import inspect

    method = getattr(Client, name)

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(default_client(), name)(*args, **kwargs)

    signature = inspect.signature(method)
    call.__name__ = call.__qualname__ = name
    call.__doc__ = method.__doc__
    call.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=tuple(signature.parameters.values())[1:]
    )
    return call


# The tool machinery (inspect, typing introspection) loads only when first used.
_LAZY_TOOLS = {
    "ToolLoopLimitError": "_tool_loop",
    "arun_tools": "_tool_loop",
    "run_tools": "_tool_loop",
    "tool_schema": "_schema",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY_TOOLS:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY_TOOLS[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _CLIENT_FUNCTIONS:
        function = _module_function(name)
        globals()[name] = function
        return function
    raise AttributeError(f"module 'ollamakit' has no attribute {name!r}")


if TYPE_CHECKING:
    from ._schema import tool_schema
    from ._tool_loop import ToolLoopLimitError, arun_tools, run_tools

    _typed = Client()
    chat = _typed.chat
    copy = _typed.copy
    create = _typed.create
    delete = _typed.delete
    embed = _typed.embed
    embeddings = _typed.embeddings
    generate = _typed.generate
    list = _typed.list
    ps = _typed.ps
    pull = _typed.pull
    push = _typed.push
    show = _typed.show
    version = _typed.version
    create_blob = _typed.create_blob
    blob_exists = _typed.blob_exists
    preload = _typed.preload
    unload = _typed.unload
    exists = _typed.exists
    web_search = _typed.web_search
    web_fetch = _typed.web_fetch
    systemone = _typed.systemone
