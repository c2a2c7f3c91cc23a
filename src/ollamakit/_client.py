"""``Client`` and ``AsyncClient``: one thin method per Ollama endpoint.

Each method builds its request with code shared by both classes (:class:`_BaseClient`, no I/O),
hands it to the network layer (:mod:`ollamakit._http`) and decodes the answer with shared code.
The two classes differ only where they wait.

Signatures, parameter order and defaults match the official ``ollama`` package; everything
added (``timeout=``, ``verbose=``, ``truncate=``, ...) is a new keyword argument.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, TypeVar, overload

import msgspec

from ._errors import NotFoundError, OllamaError, RequestError
from ._images import encode_images
from ._structured import format_schema
from ._types import (
    NOT_GIVEN,
    ChatResponse,
    EmbeddingsResponse,
    EmbedResponse,
    GenerateResponse,
    ListResponse,
    Message,
    Options,
    ProcessResponse,
    ProgressResponse,
    ShowResponse,
    StatusResponse,
    SubscriptableBaseModel,
    SystemOneContent,
    SystemOneResponse,
    Tool,
    UserResponse,
    VersionResponse,
    WebFetchResponse,
    WebSearchResponse,
    decode_response,
    decode_system_one,
)
from .names import check_model_name

if TYPE_CHECKING:
    import httpx

    from ._http import AsyncHTTP, SyncHTTP
    from ._stream import AsyncStream, Stream
    from .modelfile import CreatePlan

__all__ = ["AsyncClient", "Client"]

R = TypeVar("R", bound=SubscriptableBaseModel)
R2 = TypeVar("R2")

JsonSchema = dict[str, Any]
Format = Literal["", "json"] | JsonSchema | type[Any] | None
"""``"json"``, a JSON schema, or a class (pydantic model, dataclass, TypedDict, ...)."""
ThinkOption = bool | Literal["low", "medium", "high", "max"] | None
OptionsArg = Mapping[str, Any] | Options | None
MessagesArg = Sequence[Mapping[str, Any] | Message] | None
ToolsArg = Sequence[Mapping[str, Any] | Tool | Callable[..., Any]] | None
KeepAliveArg = float | str | None


class _Call:
    """A request ready to send: what the shared builders hand to the network layer."""

    __slots__ = ("body", "cls", "consume", "finish", "method", "on_chunk", "path", "result",
                 "stream", "timeout")  # fmt: skip

    def __init__(
        self,
        method: str,
        path: str,
        cls: type[Any],
        body: bytes | None = None,
        stream: bool = False,
        timeout: Any = NOT_GIVEN,
        result: Callable[[Any], Any] | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.cls = cls
        self.body = body
        self.stream = stream
        self.timeout = timeout
        self.result = result
        self.on_chunk: Callable[[Any], Any] | None = None
        self.consume = False
        """Stream internally (for ``on_chunk``) and return the merged final response."""
        self.finish: Callable[[Any], Any] | None = None
        """Applied to the final response (structured-output parsing)."""


ChunkCallback = Callable[[Any], Any]
"""Called with each chunk of a streamed call (may be a coroutine function for AsyncClient)."""


def _streamable(
    path: str,
    cls: type[Any],
    body: dict[str, Any],
    stream: bool,
    timeout: Any,
    on_chunk: ChunkCallback | None,
) -> _Call:
    call = _Call("POST", path, cls, _encode(body), stream or on_chunk is not None, timeout)
    call.on_chunk = on_chunk
    call.consume = on_chunk is not None and not stream
    return call


def _parse_chat(parse: Callable[[str], Any]) -> Callable[[ChatResponse], ChatResponse]:
    def finish(response: ChatResponse) -> ChatResponse:
        response.message.__dict__["_parsed"] = parse(response.message.content or "")
        return response

    return finish


def _parse_generate(
    parse: Callable[[str], Any],
) -> Callable[[GenerateResponse], GenerateResponse]:
    def finish(response: GenerateResponse) -> GenerateResponse:
        response.__dict__["_parsed"] = parse(response.response)
        return response

    return finish


def _to_wire(value: Any) -> Any:
    """Our models and nested containers as plain JSON values (None fields dropped)."""
    if isinstance(value, SubscriptableBaseModel):
        return value.model_dump(exclude_none=True)
    if isinstance(value, Mapping):
        return {key: _to_wire(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_to_wire(item) for item in value]
    return value


def _encode(body: dict[str, Any]) -> bytes:
    try:
        return msgspec.json.encode({key: value for key, value in body.items() if value is not None})
    except (TypeError, msgspec.EncodeError) as exc:
        raise RequestError(f"request is not JSON-serialisable: {exc}") from None


def _options(options: OptionsArg) -> Any:
    if options is None:
        return None
    if isinstance(options, Options):
        return options.wire()
    if isinstance(options, Mapping):
        return options  # passed through untouched, unknown keys included
    raise RequestError(f"options must be a dict or ollamakit.Options, not {type(options).__name__}")


# Key order of the official package's models: with it, a request body is byte-identical to the
# one the official client sends, so recorded cassettes and exact-body expectations keep matching.
_MESSAGE_KEYS = ("role", "content", "thinking", "images", "tool_name", "tool_calls")
_QUESTION_KEYS = ("type", "instructions", "criteria")
_CREATE_KEYS = ("quantize", "files", "adapters", "template", "license", "system", "parameters",
                "messages", "from")  # fmt: skip


def _ordered(fields: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """``fields`` with ``keys`` first, in that order, then the others as given."""
    ordered = {key: fields[key] for key in keys if key in fields}
    ordered.update(fields)
    return ordered


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | tuple | dict) and not value)


def _message(message: Mapping[str, Any] | Message) -> dict[str, Any]:
    if isinstance(message, Message):
        fields: Mapping[str, Any] = message.model_dump(exclude_none=True)
        images = message.images
    elif isinstance(message, Mapping):
        fields = message
        images = message.get("images")
    else:
        raise RequestError(
            f"each message must be a dict or ollamakit.Message, not {type(message).__name__}"
        )
    # Empty values are left out, as the official package does (``content: ""`` on a tool-call
    # message, ``images: []``); Ollama reads a missing field as empty.
    wire = {key: _to_wire(value) for key, value in fields.items() if not _empty(value)}
    if "role" not in wire:
        raise RequestError(f"message without a role: {wire!r}")
    if "images" in wire:
        wire["images"] = encode_images(images)
    return _ordered(wire, _MESSAGE_KEYS)


def _messages(messages: MessagesArg) -> list[dict[str, Any]] | None:
    if messages is None:
        return None
    if isinstance(messages, str | bytes | Mapping | Message):
        raise RequestError("messages must be a list of messages, e.g. [{'role': 'user', ...}]")
    return [_message(message) for message in messages]


def _tools(tools: ToolsArg) -> list[Any]:
    if not tools:
        return []  # sent as "tools": [] like the official package
    from ._tools import tool_schemas

    return tool_schemas(tools)


def _keep_alive(keep_alive: KeepAliveArg) -> float | str | None:
    # A number of seconds goes out as a float (``0`` as ``0.0``), as the official package's
    # ``Union[float, str]`` field sends it; Ollama reads both.
    if isinstance(keep_alive, int) and not isinstance(keep_alive, bool):
        return float(keep_alive)
    return keep_alive


def _model(model: str) -> str:
    if not isinstance(model, str):
        raise RequestError(f"model must be a string, not {type(model).__name__}")
    check_model_name(model)
    return model


def _status(_: Any) -> StatusResponse:
    return StatusResponse(status="success")


DEFAULT_WEB_URL = "https://ollama.com"
_BLOB_CHUNK = 1 << 20

BlobSource = str | Path | bytes | bytearray | memoryview | BinaryIO
BlobProgress = Callable[[int, int], Any]
"""Called as ``progress(bytes_sent, total_bytes)`` while a blob uploads."""


class _Blob:
    """A blob ready to upload: its digest, size and how to read it (no I/O done yet)."""

    __slots__ = ("data", "digest", "path", "size")

    def __init__(
        self, digest: str, size: int, path: Path | None = None, data: bytes | None = None
    ) -> None:
        self.digest = digest
        self.size = size
        self.path = path
        self.data = data

    def chunks(self, progress: BlobProgress | None = None) -> Iterator[bytes]:
        sent = 0
        if self.data is not None:
            pieces: Iterator[bytes] = iter([self.data])
        else:
            assert self.path is not None
            pieces = _read_pieces(self.path)
        for chunk in pieces:
            yield chunk
            sent += len(chunk)
            if progress is not None:
                progress(sent, self.size)


def _read_pieces(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(_BLOB_CHUNK):
            yield chunk


def _prepare_blob(source: BlobSource) -> tuple[_Blob, Path | None]:
    """Hash a blob in constant memory. Returns the blob and a temp file to delete afterwards."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        return _Blob("sha256:" + hashlib.sha256(data).hexdigest(), len(data), data=data), None
    if isinstance(source, str | Path):
        path = Path(source).expanduser()
        if not path.is_file():
            raise RequestError(f"blob file not found: {path}")
        digest = hashlib.sha256()
        with path.open("rb") as file:
            while chunk := file.read(_BLOB_CHUNK):
                digest.update(chunk)
        return _Blob("sha256:" + digest.hexdigest(), path.stat().st_size, path=path), None
    read = getattr(source, "read", None)
    if not callable(read):
        raise RequestError(f"create_blob takes a path, bytes or a binary file, not {source!r}")
    # A file object may not be seekable (a pipe): spool it to disk while hashing.
    import tempfile

    digest = hashlib.sha256()
    size = 0
    with tempfile.NamedTemporaryFile(prefix="ollamakit-blob-", delete=False) as spool:
        while chunk := read(_BLOB_CHUNK):
            if isinstance(chunk, str):
                raise RequestError("create_blob needs a file opened in binary mode ('rb')")
            digest.update(chunk)
            spool.write(chunk)
            size += len(chunk)
    path = Path(spool.name)
    return _Blob("sha256:" + digest.hexdigest(), size, path=path), path


def _check_digest(digest: str) -> str:
    text = digest.replace("sha256-", "sha256:", 1)
    if not (text.startswith("sha256:") and len(text) == 71):
        raise RequestError(f"invalid digest {digest!r}: expected sha256:<64 hex characters>")
    try:
        int(text[7:], 16)
    except ValueError:
        raise RequestError(
            f"invalid digest {digest!r}: expected sha256:<64 hex characters>"
        ) from None
    return text.lower()


class _BaseClient:
    """Request building and response decoding shared by Client and AsyncClient. No I/O."""

    _http: SyncHTTP | AsyncHTTP
    _web_url: str = DEFAULT_WEB_URL

    def __repr__(self) -> str:
        return f"{type(self).__name__}(host={self._http.base_url!r})"

    @property
    def base_url(self) -> str:
        """The server address in use, e.g. ``http://127.0.0.1:11434``."""
        return self._http.base_url

    # -- builders ---------------------------------------------------------------------------

    def _generate_call(
        self,
        model: str,
        prompt: str | None,
        suffix: str | None,
        *,
        system: str | None,
        template: str | None,
        context: Sequence[int] | None,
        stream: bool,
        think: ThinkOption,
        logprobs: bool | None,
        top_logprobs: int | None,
        raw: bool | None,
        format: Format,
        images: Any,
        options: OptionsArg,
        keep_alive: KeepAliveArg,
        width: int | None,
        height: int | None,
        steps: int | None,
        truncate: bool | None,
        shift: bool | None,
        timeout: Any,
        on_chunk: ChunkCallback | None,
    ) -> _Call:
        schema, parse = format_schema(format)
        # Keys in the official package's order (see _MESSAGE_KEYS); ours last.
        body = {
            "model": _model(model),
            "stream": stream or on_chunk is not None,
            "options": _options(options),
            "format": schema,
            "keep_alive": _keep_alive(keep_alive),
            "prompt": prompt,
            "suffix": suffix,
            "system": system,
            "template": template,
            "context": list(context) if context is not None else None,
            "raw": raw,
            "images": encode_images(images) or None,
            "think": think,
            "logprobs": logprobs,
            "top_logprobs": top_logprobs,
            "width": width,
            "height": height,
            "steps": steps,
            "truncate": truncate,
            "shift": shift,
        }
        call = _streamable("/api/generate", GenerateResponse, body, stream, timeout, on_chunk)
        if parse is not None:
            call.finish = _parse_generate(parse)
        return call

    def _chat_call(
        self,
        model: str,
        messages: MessagesArg,
        *,
        tools: ToolsArg,
        stream: bool,
        think: ThinkOption,
        logprobs: bool | None,
        top_logprobs: int | None,
        format: Format,
        options: OptionsArg,
        keep_alive: KeepAliveArg,
        truncate: bool | None,
        shift: bool | None,
        timeout: Any,
        on_chunk: ChunkCallback | None,
    ) -> _Call:
        schema, parse = format_schema(format)
        body = {
            "model": _model(model),
            "stream": stream or on_chunk is not None,
            "options": _options(options),
            "format": schema,
            "keep_alive": _keep_alive(keep_alive),
            "messages": _messages(messages) or [],
            "tools": _tools(tools),
            "think": think,
            "logprobs": logprobs,
            "top_logprobs": top_logprobs,
            "truncate": truncate,
            "shift": shift,
        }
        call = _streamable("/api/chat", ChatResponse, body, stream, timeout, on_chunk)
        if parse is not None:
            call.finish = _parse_chat(parse)
        return call

    def _embed_call(
        self,
        model: str,
        input: str | Sequence[str],
        truncate: bool | None,
        options: OptionsArg,
        keep_alive: KeepAliveArg,
        dimensions: int | None,
        timeout: Any,
    ) -> _Call:
        if not isinstance(input, str):
            input = list(input)
        body = {
            "model": _model(model),
            "input": input,
            "truncate": truncate,
            "options": _options(options),
            "keep_alive": _keep_alive(keep_alive),
            "dimensions": dimensions,
        }
        return _Call("POST", "/api/embed", EmbedResponse, _encode(body), timeout=timeout)

    def _embeddings_call(
        self,
        model: str,
        prompt: str | None,
        options: OptionsArg,
        keep_alive: KeepAliveArg,
        timeout: Any,
    ) -> _Call:
        body = {
            "model": _model(model),
            "prompt": prompt,
            "options": _options(options),
            "keep_alive": _keep_alive(keep_alive),
        }
        return _Call("POST", "/api/embeddings", EmbeddingsResponse, _encode(body), timeout=timeout)

    def _transfer_call(
        self,
        path: str,
        model: str,
        insecure: bool,
        stream: bool,
        timeout: Any,
        on_chunk: ChunkCallback | None,
    ) -> _Call:
        body = {
            "model": _model(model),
            "stream": stream or on_chunk is not None,
            "insecure": insecure,
        }
        return _streamable(path, ProgressResponse, body, stream, timeout, on_chunk)

    def _create_call(
        self,
        model: str,
        quantize: str | None,
        from_: str | None,
        files: Mapping[str, str] | None,
        adapters: Mapping[str, str] | None,
        template: str | None,
        license: str | Sequence[str] | None,
        system: str | None,
        parameters: OptionsArg,
        messages: MessagesArg,
        stream: bool,
        timeout: Any,
        on_chunk: ChunkCallback | None,
        from_modelfile: Mapping[str, Any] | None = None,
    ) -> _Call:
        explicit = {
            "quantize": quantize,
            "files": dict(files) if files is not None else None,
            "adapters": dict(adapters) if adapters is not None else None,
            "template": template,
            "license": license if isinstance(license, str | None) else list(license),
            "system": system,
            "parameters": _options(parameters),
            "messages": _messages(messages),
            "from": from_,
        }
        # Arguments given explicitly win over what the Modelfile says.
        merged = dict(from_modelfile or {})
        merged.update({key: value for key, value in explicit.items() if value is not None})
        body = {"model": _model(model), "stream": stream or on_chunk is not None}
        # The official package sends "from" last (its serializer renames from_ at the end).
        body.update(_ordered(merged, _CREATE_KEYS))
        return _streamable("/api/create", ProgressResponse, body, stream, timeout, on_chunk)

    @staticmethod
    def _modelfile_plan(modelfile: str | Path) -> CreatePlan:
        """Parse a Modelfile given as text or as a path (no network I/O)."""
        from .modelfile import Modelfile, parse_modelfile

        if isinstance(modelfile, Path) or (
            "\n" not in modelfile and len(modelfile) < 4096 and Path(modelfile).is_file()
        ):
            return Modelfile.from_path(modelfile).to_create_plan()
        return parse_modelfile(modelfile).to_create_plan(Path.cwd())

    def _show_call(self, model: str, verbose: bool | None, timeout: Any) -> _Call:
        body = {"model": _model(model), "verbose": verbose}
        return _Call("POST", "/api/show", ShowResponse, _encode(body), timeout=timeout)

    def _copy_call(self, source: str, destination: str, timeout: Any) -> _Call:
        body = {"source": _model(source), "destination": _model(destination)}
        return _Call(
            "POST", "/api/copy", StatusResponse, _encode(body), timeout=timeout, result=_status
        )

    def _delete_call(self, model: str, timeout: Any) -> _Call:
        body = {"model": _model(model)}
        return _Call(
            "DELETE", "/api/delete", StatusResponse, _encode(body), timeout=timeout, result=_status
        )

    def _signout_call(self, timeout: Any) -> _Call:
        # The answer is JSON null: report success like copy and delete.
        return _Call("POST", "/api/signout", StatusResponse, timeout=timeout, result=_status)

    def _web_call(
        self, kind: str, path: str, body: dict[str, Any], cls: type[Any], timeout: Any
    ) -> _Call:
        if not self._http.has_bearer_token():
            # The official package's words first: code written for it matches on them.
            raise RequestError(
                f"Authorization header with Bearer token is required for web {kind}: it uses "
                "the hosted API at ollama.com; set OLLAMA_API_KEY to an ollama.com API key or "
                "pass headers={'Authorization': 'Bearer <key>'}"
            )
        url = self._web_url.rstrip("/") + path
        return _Call("POST", url, cls, _encode(body), timeout=timeout)

    def _web_search_call(self, query: str, max_results: int, timeout: Any) -> _Call:
        if not query:
            raise RequestError("web_search needs a non-empty query")
        body = {"query": query, "max_results": max_results}
        return self._web_call("search", "/api/web_search", body, WebSearchResponse, timeout)

    def _web_fetch_call(self, url: str, timeout: Any) -> _Call:
        if not url:
            raise RequestError("web_fetch needs a URL")
        return self._web_call("fetch", "/api/web_fetch", {"url": url}, WebFetchResponse, timeout)

    def _systemone_call(
        self,
        model: str,
        state: SystemOneContent,
        questions: Mapping[str, Any],
        keep_alive: KeepAliveArg,
        timeout: Any,
    ) -> _Call:
        body = {
            "model": _model(model),
            "state": _to_wire(state),
            "questions": {
                key: _ordered(_to_wire(question), _QUESTION_KEYS)
                for key, question in questions.items()
            },
            "keep_alive": _keep_alive(keep_alive),
        }
        return _Call("POST", "/v1/systemone", SystemOneResponse, _encode(body), timeout=timeout,
                     result=decode_system_one)  # fmt: skip

    def _load_call(self, model: str, keep_alive: KeepAliveArg, timeout: Any) -> _Call:
        body = {"model": _model(model), "stream": False, "keep_alive": _keep_alive(keep_alive)}
        return _Call("POST", "/api/generate", GenerateResponse, _encode(body), timeout=timeout)

    @staticmethod
    def _decode(call: _Call, content: bytes) -> Any:
        if call.result is not None:
            return call.result(content)
        response = decode_response(call.cls, content)
        return response if call.finish is None else call.finish(response)


class Client(_BaseClient):
    """A blocking Ollama client.

    ``host`` defaults to ``$OLLAMA_HOST`` (then ``http://127.0.0.1:11434``). ``timeout`` is
    seconds, ``None`` (no limit) or an ``httpx.Timeout``; the default fails fast when the server
    is unreachable (10 s connect) and allows 10 minutes between two bytes. ``retries`` (default
    0) retries connection failures and 429/503 answers with backoff. Other keyword arguments
    go to ``httpx.Client`` (``verify``, ``proxy``, ``transport``, ...).
    """

    _http: SyncHTTP

    def __init__(
        self,
        host: str | None = None,
        *,
        timeout: Any = NOT_GIVEN,
        headers: Mapping[str, str] | None = None,
        follow_redirects: bool = True,
        retries: int = 0,
        web_url: str = DEFAULT_WEB_URL,
        **httpx_kwargs: Any,
    ) -> None:
        from ._http import SyncHTTP

        if host is None:
            import os

            host = os.environ.get("OLLAMA_HOST")
        self._http = SyncHTTP(
            host,
            timeout=timeout,
            headers=headers,
            follow_redirects=follow_redirects,
            retries=retries,
            httpx_kwargs=httpx_kwargs,
        )
        self._web_url = web_url

    @property
    def _client(self) -> httpx.Client:
        """The underlying ``httpx.Client``, under the official package's name (frameworks read
        ``client._client.base_url``)."""
        return self._http.client

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _send(self, call: _Call) -> Any:
        timeout = call.timeout
        if call.stream:
            from ._stream import Stream

            response = self._http.open_stream(
                call.method, call.path, content=call.body, timeout=timeout
            )
            stream = Stream(
                response, call.cls, self._http.iter_body(response), call.on_chunk,
                redact=self._http.redact,
            )  # fmt: skip
            stream.finish = call.finish
            return stream.final() if call.consume else stream
        content = self._http.request(call.method, call.path, content=call.body, timeout=timeout)
        try:
            return self._decode(call, content)
        except OllamaError as exc:
            raise self._http.redact(exc) from None

    # -- generate ---------------------------------------------------------------------------

    @overload
    def generate(
        self,
        model: str = "",
        prompt: str | None = None,
        suffix: str | None = None,
        *,
        system: str | None = None,
        template: str | None = None,
        context: Sequence[int] | None = None,
        stream: Literal[False] = False,
        think: ThinkOption = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        raw: bool | None = None,
        format: Format = None,
        images: Any = None,
        options: OptionsArg = None,
        keep_alive: KeepAliveArg = None,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> GenerateResponse: ...

    @overload
    def generate(
        self,
        model: str = "",
        prompt: str | None = None,
        suffix: str | None = None,
        *,
        system: str | None = None,
        template: str | None = None,
        context: Sequence[int] | None = None,
        stream: Literal[True],
        think: ThinkOption = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        raw: bool | None = None,
        format: Format = None,
        images: Any = None,
        options: OptionsArg = None,
        keep_alive: KeepAliveArg = None,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> Stream[GenerateResponse]: ...

    @overload
    def generate(
        self,
        model: str = "",
        prompt: str | None = None,
        suffix: str | None = None,
        *,
        system: str | None = None,
        template: str | None = None,
        context: Sequence[int] | None = None,
        stream: bool = False,
        think: ThinkOption = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        raw: bool | None = None,
        format: Format = None,
        images: Any = None,
        options: OptionsArg = None,
        keep_alive: KeepAliveArg = None,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> GenerateResponse | Stream[GenerateResponse]: ...

    def generate(
        self,
        model: str = "",
        prompt: str | None = None,
        suffix: str | None = None,
        *,
        system: str | None = None,
        template: str | None = None,
        context: Sequence[int] | None = None,
        stream: bool = False,
        think: ThinkOption = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        raw: bool | None = None,
        format: Format = None,
        images: Any = None,
        options: OptionsArg = None,
        keep_alive: KeepAliveArg = None,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> GenerateResponse | Stream[GenerateResponse]:
        """Complete ``prompt`` (``POST /api/generate``). ``stream=True`` returns a Stream.

        With no prompt the model is loaded and kept for ``keep_alive``; see :meth:`preload`.
        """
        call = self._generate_call(
            model, prompt, suffix, system=system, template=template, context=context,
            stream=stream, think=think, logprobs=logprobs, top_logprobs=top_logprobs, raw=raw,
            format=format, images=images, options=options, keep_alive=keep_alive, width=width,
            height=height, steps=steps, truncate=truncate, shift=shift, timeout=timeout,
            on_chunk=on_chunk,
        )  # fmt: skip
        return self._send(call)  # type: ignore[no-any-return]

    # -- chat -------------------------------------------------------------------------------

    @overload
    def chat(
        self,
        model: str = "",
        messages: MessagesArg = None,
        *,
        tools: ToolsArg = None,
        stream: Literal[False] = False,
        think: ThinkOption = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        format: Format = None,
        options: OptionsArg = None,
        keep_alive: KeepAliveArg = None,
        truncate: bool | None = None,
        shift: bool | None = None,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> ChatResponse: ...

    @overload
    def chat(
        self,
        model: str = "",
        messages: MessagesArg = None,
        *,
        tools: ToolsArg = None,
        stream: Literal[True],
        think: ThinkOption = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        format: Format = None,
        options: OptionsArg = None,
        keep_alive: KeepAliveArg = None,
        truncate: bool | None = None,
        shift: bool | None = None,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> Stream[ChatResponse]: ...

    @overload
    def chat(
        self,
        model: str = "",
        messages: MessagesArg = None,
        *,
        tools: ToolsArg = None,
        stream: bool = False,
        think: ThinkOption = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        format: Format = None,
        options: OptionsArg = None,
        keep_alive: KeepAliveArg = None,
        truncate: bool | None = None,
        shift: bool | None = None,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> ChatResponse | Stream[ChatResponse]: ...

    def chat(
        self,
        model: str = "",
        messages: MessagesArg = None,
        *,
        tools: ToolsArg = None,
        stream: bool = False,
        think: ThinkOption = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        format: Format = None,
        options: OptionsArg = None,
        keep_alive: KeepAliveArg = None,
        truncate: bool | None = None,
        shift: bool | None = None,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> ChatResponse | Stream[ChatResponse]:
        """Chat (``POST /api/chat``). ``stream=True`` returns a Stream of chunks.

        ``messages`` are dicts or :class:`Message` objects (a previous response's ``message``
        can be appended as is); ``tools`` are dicts, :class:`Tool` objects or Python functions.
        """
        call = self._chat_call(
            model, messages, tools=tools, stream=stream, think=think, logprobs=logprobs,
            top_logprobs=top_logprobs, format=format, options=options, keep_alive=keep_alive,
            truncate=truncate, shift=shift, timeout=timeout, on_chunk=on_chunk,
        )  # fmt: skip
        return self._send(call)  # type: ignore[no-any-return]

    # -- embeddings -------------------------------------------------------------------------

    def systemone(
        self,
        model: str,
        state: SystemOneContent,
        questions: Mapping[str, Any],
        keep_alive: KeepAliveArg = None,
        *,
        timeout: Any = NOT_GIVEN,
    ) -> SystemOneResponse:
        """Score choice, yes/no and score questions with a System One model (``/v1/systemone``)."""
        call = self._systemone_call(model, state, questions, keep_alive, timeout)
        return self._send(call)  # type: ignore[no-any-return]

    def embed(
        self,
        model: str = "",
        input: str | Sequence[str] = "",
        truncate: bool | None = None,
        options: OptionsArg = None,
        keep_alive: KeepAliveArg = None,
        dimensions: int | None = None,
        *,
        timeout: Any = NOT_GIVEN,
    ) -> EmbedResponse:
        """Embed one text or a list of texts (``POST /api/embed``); vectors are L2-normalised."""
        call = self._embed_call(model, input, truncate, options, keep_alive, dimensions, timeout)
        return self._send(call)  # type: ignore[no-any-return]

    def embeddings(
        self,
        model: str = "",
        prompt: str | None = None,
        options: OptionsArg = None,
        keep_alive: KeepAliveArg = None,
        *,
        timeout: Any = NOT_GIVEN,
    ) -> EmbeddingsResponse:
        """Legacy single-text embedding (``POST /api/embeddings``); prefer :meth:`embed`."""
        call = self._embeddings_call(model, prompt, options, keep_alive, timeout)
        return self._send(call)  # type: ignore[no-any-return]

    # -- model management -------------------------------------------------------------------

    @overload
    def pull(
        self,
        model: str,
        *,
        insecure: bool = False,
        stream: Literal[False] = False,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> ProgressResponse: ...

    @overload
    def pull(
        self,
        model: str,
        *,
        insecure: bool = False,
        stream: Literal[True],
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> Stream[ProgressResponse]: ...

    @overload
    def pull(
        self,
        model: str,
        *,
        insecure: bool = False,
        stream: bool = False,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> ProgressResponse | Stream[ProgressResponse]: ...

    def pull(
        self,
        model: str,
        *,
        insecure: bool = False,
        stream: bool = False,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> ProgressResponse | Stream[ProgressResponse]:
        """Download a model from its registry (``POST /api/pull``)."""
        call = self._transfer_call("/api/pull", model, insecure, stream, timeout, on_chunk)
        return self._send(call)  # type: ignore[no-any-return]

    @overload
    def push(
        self,
        model: str,
        *,
        insecure: bool = False,
        stream: Literal[False] = False,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> ProgressResponse: ...

    @overload
    def push(
        self,
        model: str,
        *,
        insecure: bool = False,
        stream: Literal[True],
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> Stream[ProgressResponse]: ...

    @overload
    def push(
        self,
        model: str,
        *,
        insecure: bool = False,
        stream: bool = False,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> ProgressResponse | Stream[ProgressResponse]: ...

    def push(
        self,
        model: str,
        *,
        insecure: bool = False,
        stream: bool = False,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> ProgressResponse | Stream[ProgressResponse]:
        """Upload a model to its registry (``POST /api/push``)."""
        call = self._transfer_call("/api/push", model, insecure, stream, timeout, on_chunk)
        return self._send(call)  # type: ignore[no-any-return]

    def create(
        self,
        model: str,
        quantize: str | None = None,
        from_: str | None = None,
        files: Mapping[str, str] | None = None,
        adapters: Mapping[str, str] | None = None,
        template: str | None = None,
        license: str | Sequence[str] | None = None,
        system: str | None = None,
        parameters: OptionsArg = None,
        messages: MessagesArg = None,
        *,
        stream: bool = False,
        modelfile: str | Path | None = None,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> Any:
        """Create a model (``POST /api/create``) from an existing one, uploaded blobs or a
        Modelfile.

        ``modelfile`` is Modelfile text or a path to one: local files it names (FROM, ADAPTER)
        are uploaded as blobs first (skipped when the server has them) and explicit arguments
        override its instructions. ``on_chunk`` receives upload progress too.
        """
        from_modelfile = None
        if modelfile is not None:
            plan = self._modelfile_plan(modelfile)
            digests = {
                path: self._upload_with_progress(path, on_chunk, timeout)
                for path in plan.local_paths()
            }
            from_modelfile = plan.request_with_digests(digests)
        call = self._create_call(
            model, quantize, from_, files, adapters, template, license, system, parameters,
            messages, stream, timeout, on_chunk, from_modelfile,
        )  # fmt: skip
        return self._send(call)

    def _upload_with_progress(
        self, path: Path, on_chunk: ChunkCallback | None, timeout: Any
    ) -> str:
        status = f"uploading {path.name}"

        def report(sent: int, total: int) -> None:
            if on_chunk is not None:
                on_chunk(ProgressResponse(status=status, total=total, completed=sent))

        report(0, path.stat().st_size)
        return self.create_blob(path, timeout=timeout, progress=report)

    def list(self, *, timeout: Any = NOT_GIVEN) -> ListResponse:
        """Models in the local store (``GET /api/tags``)."""
        return self._send(_Call("GET", "/api/tags", ListResponse, timeout=timeout))  # type: ignore[no-any-return]

    def show(
        self, model: str, *, verbose: bool | None = None, timeout: Any = NOT_GIVEN
    ) -> ShowResponse:
        """Details of a model (``POST /api/show``); ``verbose`` includes long metadata arrays."""
        return self._send(self._show_call(model, verbose, timeout))  # type: ignore[no-any-return]

    def ps(self, *, timeout: Any = NOT_GIVEN) -> ProcessResponse:
        """Models loaded in memory (``GET /api/ps``)."""
        return self._send(_Call("GET", "/api/ps", ProcessResponse, timeout=timeout))  # type: ignore[no-any-return]

    def copy(self, source: str, destination: str, *, timeout: Any = NOT_GIVEN) -> StatusResponse:
        """Copy a model under a new name (``POST /api/copy``)."""
        return self._send(self._copy_call(source, destination, timeout))  # type: ignore[no-any-return]

    def delete(self, model: str, *, timeout: Any = NOT_GIVEN) -> StatusResponse:
        """Delete a model (``DELETE /api/delete``)."""
        return self._send(self._delete_call(model, timeout))  # type: ignore[no-any-return]

    def version(self, *, timeout: Any = NOT_GIVEN) -> VersionResponse:
        """The server's version (``GET /api/version``)."""
        return self._send(_Call("GET", "/api/version", VersionResponse, timeout=timeout))  # type: ignore[no-any-return]

    def whoami(self, *, timeout: Any = NOT_GIVEN) -> UserResponse:
        """The ollama.com account the server is signed in to (``POST /api/me``). When it is
        not signed in, :class:`AuthenticationError` carries the ``signin_url`` to visit."""
        return self._send(_Call("POST", "/api/me", UserResponse, timeout=timeout))  # type: ignore[no-any-return]

    def signout(self, *, timeout: Any = NOT_GIVEN) -> StatusResponse:
        """Disconnect the server's key from its ollama.com account (``POST /api/signout``)."""
        return self._send(self._signout_call(timeout))  # type: ignore[no-any-return]

    # -- blobs, helpers and the hosted web API ----------------------------------------------

    def create_blob(
        self,
        path: BlobSource,
        *,
        timeout: Any = NOT_GIVEN,
        progress: BlobProgress | None = None,
    ) -> str:
        """Upload a file (path, bytes or binary file object) as a blob; returns its digest.

        The content is hashed and sent in 1 MiB pieces, so memory stays flat for multi-GB
        files, and nothing is sent when the server already has the blob (``progress`` is then
        called once, complete). ``progress(sent, total)`` follows the upload.
        """
        blob, spool = _prepare_blob(path)
        try:
            if self.blob_exists(blob.digest, timeout=timeout):
                if progress is not None:
                    progress(blob.size, blob.size)
            else:
                self._http.request(
                    "POST",
                    f"/api/blobs/{blob.digest}",
                    content=blob.chunks(progress),
                    timeout=timeout,
                    headers={"Content-Length": str(blob.size)},
                    whole=False,  # as long as the file takes: the timeout is per read/write
                )
        finally:
            if spool is not None:
                spool.unlink(missing_ok=True)
        return blob.digest

    def blob_exists(self, digest: str, *, timeout: Any = NOT_GIVEN) -> bool:
        """Whether the server has the blob ``sha256:<hex>`` (``HEAD /api/blobs/:digest``)."""
        try:
            self._http.request("HEAD", f"/api/blobs/{_check_digest(digest)}", timeout=timeout)
        except NotFoundError:
            return False
        return True

    def preload(
        self, model: str, keep_alive: KeepAliveArg = None, *, timeout: Any = NOT_GIVEN
    ) -> GenerateResponse:
        """Load ``model`` into memory and keep it for ``keep_alive`` (server default: 5m)."""
        return self._send(self._load_call(model, keep_alive, timeout))  # type: ignore[no-any-return]

    def unload(self, model: str, *, timeout: Any = NOT_GIVEN) -> GenerateResponse:
        """Unload ``model`` from memory now."""
        return self._send(self._load_call(model, 0, timeout))  # type: ignore[no-any-return]

    def exists(self, model: str, *, timeout: Any = NOT_GIVEN) -> bool:
        """Whether ``model`` is in the server's store."""
        try:
            self.show(model, timeout=timeout)
        except NotFoundError:
            return False
        return True

    def web_search(
        self, query: str, max_results: int = 3, *, timeout: Any = NOT_GIVEN
    ) -> WebSearchResponse:
        """Search the web through ollama.com (needs ``OLLAMA_API_KEY``); usable as a tool.

        Args:
            query: What to search for.
            max_results: How many results to return (1-10).
        """
        return self._send(self._web_search_call(query, max_results, timeout))  # type: ignore[no-any-return]

    def web_fetch(self, url: str, *, timeout: Any = NOT_GIVEN) -> WebFetchResponse:
        """Fetch a web page's text through ollama.com (needs ``OLLAMA_API_KEY``); usable as a tool.

        Args:
            url: The address of the page to fetch.
        """
        return self._send(self._web_fetch_call(url, timeout))  # type: ignore[no-any-return]


class AsyncClient(_BaseClient):
    """The asyncio twin of :class:`Client`: same arguments, every method is a coroutine.

    One instance can be shared by many tasks, and reused across ``asyncio.run`` calls.
    """

    _http: AsyncHTTP

    def __init__(
        self,
        host: str | None = None,
        *,
        timeout: Any = NOT_GIVEN,
        headers: Mapping[str, str] | None = None,
        follow_redirects: bool = True,
        retries: int = 0,
        web_url: str = DEFAULT_WEB_URL,
        **httpx_kwargs: Any,
    ) -> None:
        from ._http import AsyncHTTP

        if host is None:
            import os

            host = os.environ.get("OLLAMA_HOST")
        self._http = AsyncHTTP(
            host,
            timeout=timeout,
            headers=headers,
            follow_redirects=follow_redirects,
            retries=retries,
            httpx_kwargs=httpx_kwargs,
        )
        self._web_url = web_url

    @property
    def _client(self) -> httpx.AsyncClient:
        """The underlying ``httpx.AsyncClient``, under the official package's name (frameworks
        read ``client._client.base_url``)."""
        return self._http.client

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _send(self, call: _Call) -> Any:
        timeout = call.timeout
        if call.stream:
            from ._stream import AsyncStream

            response = await self._http.open_stream(
                call.method, call.path, content=call.body, timeout=timeout
            )
            astream = AsyncStream(
                response, call.cls, self._http.iter_body(response), call.on_chunk,
                redact=self._http.redact,
            )  # fmt: skip
            astream.finish = call.finish
            return await astream.final() if call.consume else astream
        content = await self._http.request(
            call.method, call.path, content=call.body, timeout=timeout
        )
        try:
            return self._decode(call, content)
        except OllamaError as exc:
            raise self._http.redact(exc) from None

    # -- generate ---------------------------------------------------------------------------

    @overload
    async def generate(
        self,
        model: str = "",
        prompt: str | None = None,
        suffix: str | None = None,
        *,
        system: str | None = None,
        template: str | None = None,
        context: Sequence[int] | None = None,
        stream: Literal[False] = False,
        think: ThinkOption = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        raw: bool | None = None,
        format: Format = None,
        images: Any = None,
        options: OptionsArg = None,
        keep_alive: KeepAliveArg = None,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> GenerateResponse: ...

    @overload
    async def generate(
        self,
        model: str = "",
        prompt: str | None = None,
        suffix: str | None = None,
        *,
        system: str | None = None,
        template: str | None = None,
        context: Sequence[int] | None = None,
        stream: Literal[True],
        think: ThinkOption = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        raw: bool | None = None,
        format: Format = None,
        images: Any = None,
        options: OptionsArg = None,
        keep_alive: KeepAliveArg = None,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> AsyncStream[GenerateResponse]: ...

    @overload
    async def generate(
        self,
        model: str = "",
        prompt: str | None = None,
        suffix: str | None = None,
        *,
        system: str | None = None,
        template: str | None = None,
        context: Sequence[int] | None = None,
        stream: bool = False,
        think: ThinkOption = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        raw: bool | None = None,
        format: Format = None,
        images: Any = None,
        options: OptionsArg = None,
        keep_alive: KeepAliveArg = None,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> GenerateResponse | AsyncStream[GenerateResponse]: ...

    async def generate(
        self,
        model: str = "",
        prompt: str | None = None,
        suffix: str | None = None,
        *,
        system: str | None = None,
        template: str | None = None,
        context: Sequence[int] | None = None,
        stream: bool = False,
        think: ThinkOption = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        raw: bool | None = None,
        format: Format = None,
        images: Any = None,
        options: OptionsArg = None,
        keep_alive: KeepAliveArg = None,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> GenerateResponse | AsyncStream[GenerateResponse]:
        """Complete ``prompt`` (``POST /api/generate``). ``stream=True`` returns an AsyncStream."""
        call = self._generate_call(
            model, prompt, suffix, system=system, template=template, context=context,
            stream=stream, think=think, logprobs=logprobs, top_logprobs=top_logprobs, raw=raw,
            format=format, images=images, options=options, keep_alive=keep_alive, width=width,
            height=height, steps=steps, truncate=truncate, shift=shift, timeout=timeout,
            on_chunk=on_chunk,
        )  # fmt: skip
        return await self._send(call)  # type: ignore[no-any-return]

    # -- chat -------------------------------------------------------------------------------

    @overload
    async def chat(
        self,
        model: str = "",
        messages: MessagesArg = None,
        *,
        tools: ToolsArg = None,
        stream: Literal[False] = False,
        think: ThinkOption = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        format: Format = None,
        options: OptionsArg = None,
        keep_alive: KeepAliveArg = None,
        truncate: bool | None = None,
        shift: bool | None = None,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> ChatResponse: ...

    @overload
    async def chat(
        self,
        model: str = "",
        messages: MessagesArg = None,
        *,
        tools: ToolsArg = None,
        stream: Literal[True],
        think: ThinkOption = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        format: Format = None,
        options: OptionsArg = None,
        keep_alive: KeepAliveArg = None,
        truncate: bool | None = None,
        shift: bool | None = None,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> AsyncStream[ChatResponse]: ...

    @overload
    async def chat(
        self,
        model: str = "",
        messages: MessagesArg = None,
        *,
        tools: ToolsArg = None,
        stream: bool = False,
        think: ThinkOption = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        format: Format = None,
        options: OptionsArg = None,
        keep_alive: KeepAliveArg = None,
        truncate: bool | None = None,
        shift: bool | None = None,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> ChatResponse | AsyncStream[ChatResponse]: ...

    async def chat(
        self,
        model: str = "",
        messages: MessagesArg = None,
        *,
        tools: ToolsArg = None,
        stream: bool = False,
        think: ThinkOption = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        format: Format = None,
        options: OptionsArg = None,
        keep_alive: KeepAliveArg = None,
        truncate: bool | None = None,
        shift: bool | None = None,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> ChatResponse | AsyncStream[ChatResponse]:
        """Chat (``POST /api/chat``). ``stream=True`` returns an AsyncStream of chunks."""
        call = self._chat_call(
            model, messages, tools=tools, stream=stream, think=think, logprobs=logprobs,
            top_logprobs=top_logprobs, format=format, options=options, keep_alive=keep_alive,
            truncate=truncate, shift=shift, timeout=timeout, on_chunk=on_chunk,
        )  # fmt: skip
        return await self._send(call)  # type: ignore[no-any-return]

    # -- embeddings -------------------------------------------------------------------------

    async def systemone(
        self,
        model: str,
        state: SystemOneContent,
        questions: Mapping[str, Any],
        keep_alive: KeepAliveArg = None,
        *,
        timeout: Any = NOT_GIVEN,
    ) -> SystemOneResponse:
        """Score choice, yes/no and score questions with a System One model (``/v1/systemone``)."""
        call = self._systemone_call(model, state, questions, keep_alive, timeout)
        return await self._send(call)  # type: ignore[no-any-return]

    async def embed(
        self,
        model: str = "",
        input: str | Sequence[str] = "",
        truncate: bool | None = None,
        options: OptionsArg = None,
        keep_alive: KeepAliveArg = None,
        dimensions: int | None = None,
        *,
        timeout: Any = NOT_GIVEN,
    ) -> EmbedResponse:
        """Embed one text or a list of texts (``POST /api/embed``)."""
        call = self._embed_call(model, input, truncate, options, keep_alive, dimensions, timeout)
        return await self._send(call)  # type: ignore[no-any-return]

    async def embeddings(
        self,
        model: str = "",
        prompt: str | None = None,
        options: OptionsArg = None,
        keep_alive: KeepAliveArg = None,
        *,
        timeout: Any = NOT_GIVEN,
    ) -> EmbeddingsResponse:
        """Legacy single-text embedding (``POST /api/embeddings``); prefer :meth:`embed`."""
        call = self._embeddings_call(model, prompt, options, keep_alive, timeout)
        return await self._send(call)  # type: ignore[no-any-return]

    # -- model management -------------------------------------------------------------------

    @overload
    async def pull(
        self,
        model: str,
        *,
        insecure: bool = False,
        stream: Literal[False] = False,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> ProgressResponse: ...

    @overload
    async def pull(
        self,
        model: str,
        *,
        insecure: bool = False,
        stream: Literal[True],
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> AsyncStream[ProgressResponse]: ...

    @overload
    async def pull(
        self,
        model: str,
        *,
        insecure: bool = False,
        stream: bool = False,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> ProgressResponse | AsyncStream[ProgressResponse]: ...

    async def pull(
        self,
        model: str,
        *,
        insecure: bool = False,
        stream: bool = False,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> ProgressResponse | AsyncStream[ProgressResponse]:
        """Download a model from its registry (``POST /api/pull``)."""
        call = self._transfer_call("/api/pull", model, insecure, stream, timeout, on_chunk)
        return await self._send(call)  # type: ignore[no-any-return]

    @overload
    async def push(
        self,
        model: str,
        *,
        insecure: bool = False,
        stream: Literal[False] = False,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> ProgressResponse: ...

    @overload
    async def push(
        self,
        model: str,
        *,
        insecure: bool = False,
        stream: Literal[True],
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> AsyncStream[ProgressResponse]: ...

    @overload
    async def push(
        self,
        model: str,
        *,
        insecure: bool = False,
        stream: bool = False,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> ProgressResponse | AsyncStream[ProgressResponse]: ...

    async def push(
        self,
        model: str,
        *,
        insecure: bool = False,
        stream: bool = False,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> ProgressResponse | AsyncStream[ProgressResponse]:
        """Upload a model to its registry (``POST /api/push``)."""
        call = self._transfer_call("/api/push", model, insecure, stream, timeout, on_chunk)
        return await self._send(call)  # type: ignore[no-any-return]

    async def create(
        self,
        model: str,
        quantize: str | None = None,
        from_: str | None = None,
        files: Mapping[str, str] | None = None,
        adapters: Mapping[str, str] | None = None,
        template: str | None = None,
        license: str | Sequence[str] | None = None,
        system: str | None = None,
        parameters: OptionsArg = None,
        messages: MessagesArg = None,
        *,
        stream: bool = False,
        modelfile: str | Path | None = None,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> Any:
        """Create a model (``POST /api/create``) from an existing one, uploaded blobs or a
        Modelfile (see :meth:`Client.create`)."""
        from_modelfile = None
        if modelfile is not None:
            plan = await _to_thread(self._modelfile_plan, modelfile)
            digests = {
                path: await self._upload_with_progress(path, on_chunk, timeout)
                for path in plan.local_paths()
            }
            from_modelfile = plan.request_with_digests(digests)
        call = self._create_call(
            model, quantize, from_, files, adapters, template, license, system, parameters,
            messages, stream, timeout, on_chunk, from_modelfile,
        )  # fmt: skip
        return await self._send(call)

    async def _upload_with_progress(
        self, path: Path, on_chunk: ChunkCallback | None, timeout: Any
    ) -> str:
        import asyncio

        status = f"uploading {path.name}"
        loop = asyncio.get_running_loop()
        pending: list[Any] = []

        def report(sent: int, total: int) -> None:
            # Called from the upload's worker thread: hand the record to the event loop.
            if on_chunk is not None:
                record = ProgressResponse(status=status, total=total, completed=sent)
                pending.append(asyncio.run_coroutine_threadsafe(_call_back(on_chunk, record), loop))

        if on_chunk is not None:
            size = (await _to_thread(path.stat)).st_size
            await _call_back(on_chunk, ProgressResponse(status=status, total=size, completed=0))
        digest = await self.create_blob(path, timeout=timeout, progress=report)
        for future in pending:
            await asyncio.wrap_future(future)
        return digest

    async def list(self, *, timeout: Any = NOT_GIVEN) -> ListResponse:
        """Models in the local store (``GET /api/tags``)."""
        return await self._send(_Call("GET", "/api/tags", ListResponse, timeout=timeout))  # type: ignore[no-any-return]

    async def show(
        self, model: str, *, verbose: bool | None = None, timeout: Any = NOT_GIVEN
    ) -> ShowResponse:
        """Details of a model (``POST /api/show``)."""
        return await self._send(self._show_call(model, verbose, timeout))  # type: ignore[no-any-return]

    async def ps(self, *, timeout: Any = NOT_GIVEN) -> ProcessResponse:
        """Models loaded in memory (``GET /api/ps``)."""
        return await self._send(_Call("GET", "/api/ps", ProcessResponse, timeout=timeout))  # type: ignore[no-any-return]

    async def copy(
        self, source: str, destination: str, *, timeout: Any = NOT_GIVEN
    ) -> StatusResponse:
        """Copy a model under a new name (``POST /api/copy``)."""
        return await self._send(self._copy_call(source, destination, timeout))  # type: ignore[no-any-return]

    async def delete(self, model: str, *, timeout: Any = NOT_GIVEN) -> StatusResponse:
        """Delete a model (``DELETE /api/delete``)."""
        return await self._send(self._delete_call(model, timeout))  # type: ignore[no-any-return]

    async def version(self, *, timeout: Any = NOT_GIVEN) -> VersionResponse:
        """The server's version (``GET /api/version``)."""
        return await self._send(_Call("GET", "/api/version", VersionResponse, timeout=timeout))  # type: ignore[no-any-return]

    async def whoami(self, *, timeout: Any = NOT_GIVEN) -> UserResponse:
        """The ollama.com account the server is signed in to (``POST /api/me``). When it is
        not signed in, :class:`AuthenticationError` carries the ``signin_url`` to visit."""
        return await self._send(_Call("POST", "/api/me", UserResponse, timeout=timeout))  # type: ignore[no-any-return]

    async def signout(self, *, timeout: Any = NOT_GIVEN) -> StatusResponse:
        """Disconnect the server's key from its ollama.com account (``POST /api/signout``)."""
        return await self._send(self._signout_call(timeout))  # type: ignore[no-any-return]

    # -- blobs, helpers and the hosted web API ----------------------------------------------

    async def create_blob(
        self,
        path: BlobSource,
        *,
        timeout: Any = NOT_GIVEN,
        progress: BlobProgress | None = None,
    ) -> str:
        """Upload a file (path, bytes or binary file object) as a blob; returns its digest.

        See :meth:`Client.create_blob`; ``progress`` is called from a worker thread.
        """
        blob, spool = await _to_thread(_prepare_blob, path)
        try:
            if await self.blob_exists(blob.digest, timeout=timeout):
                if progress is not None:
                    progress(blob.size, blob.size)
            else:
                await self._http.request(
                    "POST",
                    f"/api/blobs/{blob.digest}",
                    content=_aiter_in_thread(blob.chunks(progress)),
                    timeout=timeout,
                    headers={"Content-Length": str(blob.size)},
                    whole=False,  # as long as the file takes: the timeout is per read/write
                )
        finally:
            if spool is not None:
                spool.unlink(missing_ok=True)
        return blob.digest

    async def blob_exists(self, digest: str, *, timeout: Any = NOT_GIVEN) -> bool:
        """Whether the server has the blob ``sha256:<hex>`` (``HEAD /api/blobs/:digest``)."""
        try:
            await self._http.request("HEAD", f"/api/blobs/{_check_digest(digest)}", timeout=timeout)
        except NotFoundError:
            return False
        return True

    async def preload(
        self, model: str, keep_alive: KeepAliveArg = None, *, timeout: Any = NOT_GIVEN
    ) -> GenerateResponse:
        """Load ``model`` into memory and keep it for ``keep_alive`` (server default: 5m)."""
        return await self._send(self._load_call(model, keep_alive, timeout))  # type: ignore[no-any-return]

    async def unload(self, model: str, *, timeout: Any = NOT_GIVEN) -> GenerateResponse:
        """Unload ``model`` from memory now."""
        return await self._send(self._load_call(model, 0, timeout))  # type: ignore[no-any-return]

    async def exists(self, model: str, *, timeout: Any = NOT_GIVEN) -> bool:
        """Whether ``model`` is in the server's store."""
        try:
            await self.show(model, timeout=timeout)
        except NotFoundError:
            return False
        return True

    async def web_search(
        self, query: str, max_results: int = 3, *, timeout: Any = NOT_GIVEN
    ) -> WebSearchResponse:
        """Search the web through ollama.com (needs ``OLLAMA_API_KEY``); usable as a tool.

        Args:
            query: What to search for.
            max_results: How many results to return (1-10).
        """
        return await self._send(self._web_search_call(query, max_results, timeout))  # type: ignore[no-any-return]

    async def web_fetch(self, url: str, *, timeout: Any = NOT_GIVEN) -> WebFetchResponse:
        """Fetch a web page's text through ollama.com (needs ``OLLAMA_API_KEY``); usable as a tool.

        Args:
            url: The address of the page to fetch.
        """
        return await self._send(self._web_fetch_call(url, timeout))  # type: ignore[no-any-return]


async def _to_thread(function: Callable[..., R2], *args: Any) -> R2:
    # asyncio is imported here rather than at module level: it costs a third of the
    # import time of ollamakit, and sync users never need it.
    import asyncio

    return await asyncio.to_thread(function, *args)


async def _call_back(callback: ChunkCallback, value: Any) -> None:
    result = callback(value)
    if isinstance(result, Awaitable):
        await result


async def _aiter_in_thread(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Read a blob's pieces in a worker thread so the event loop never blocks on disk."""
    done = object()
    while (chunk := await _to_thread(next, chunks, done)) is not done:
        yield chunk
