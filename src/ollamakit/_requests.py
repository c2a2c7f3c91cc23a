"""What a client sends and how it reads the answer: everything a call does but wait. No I/O.

Each public method of :class:`~ollamakit.AsyncClient` (and of :class:`~ollamakit.Client`,
generated from it) builds a :class:`Call` here, hands it to the network layer and decodes the
answer with :meth:`Call.decode`. Request bodies carry the official package's keys in its
order, so they are byte-identical to what it sends.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Generic, Literal, TypeVar

import msgspec

from ._errors import RequestError
from ._images import encode_images
from ._structured import format_schema
from ._types import (
    NOT_GIVEN,
    ChatResponse,
    EmbeddingsResponse,
    EmbedResponse,
    GenerateResponse,
    Message,
    Options,
    ProgressResponse,
    ShowResponse,
    StatusResponse,
    SubscriptableBaseModel,
    SystemOneContent,
    SystemOneResponse,
    Tool,
    WebFetchResponse,
    WebSearchResponse,
    decode_response,
    decode_system_one,
)
from .names import check_model_name

if TYPE_CHECKING:
    from ._http import AsyncHTTP, SyncHTTP
    from .modelfile import CreatePlan

__all__ = [
    "DEFAULT_WEB_URL",
    "BlobProgress",
    "BlobSource",
    "Call",
    "ChunkCallback",
    "ClientBase",
    "Format",
    "KeepAliveArg",
    "MessagesArg",
    "OptionsArg",
    "ThinkOption",
    "ToolsArg",
    "check_digest",
    "prepare_blob",
]

R = TypeVar("R", bound=SubscriptableBaseModel)

JsonSchema = dict[str, Any]
Format = Literal["", "json"] | JsonSchema | type[Any] | None
"""``"json"``, a JSON schema, or a class (pydantic model, dataclass, TypedDict, ...)."""
ThinkOption = bool | Literal["low", "medium", "high", "max"] | None
OptionsArg = Mapping[str, Any] | Options | None
MessagesArg = Sequence[Mapping[str, Any] | Message] | None
ToolsArg = Sequence[Mapping[str, Any] | Tool | Callable[..., Any]] | None
KeepAliveArg = float | str | None


class Call(Generic[R]):
    """A request ready to send, and how to read its answer."""

    __slots__ = ("body", "cls", "consume", "finish", "method", "on_chunk", "path", "reader",
                 "stream", "timeout")  # fmt: skip

    def __init__(
        self,
        method: str,
        path: str,
        cls: type[R],
        body: bytes | None = None,
        stream: bool = False,
        timeout: Any = NOT_GIVEN,
        reader: Callable[[bytes], R] | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.cls = cls
        self.body = body
        self.stream = stream
        self.timeout = timeout
        self.reader = reader
        """Decodes the answer instead of ``cls`` (an empty body, typed System One answers)."""
        self.on_chunk: ChunkCallback | None = None
        self.consume = False
        """Stream internally (for ``on_chunk``) and return the merged final response."""
        self.finish: Callable[[R], R] | None = None
        """Applied to the final response (structured-output parsing)."""

    def decode(self, content: bytes) -> R:
        """The answer of a non-streaming call."""
        if self.reader is not None:
            return self.reader(content)
        response = decode_response(self.cls, content)
        return response if self.finish is None else self.finish(response)


ChunkCallback = Callable[[Any], Any]
"""Called with each chunk of a streamed call (may be a coroutine function for AsyncClient)."""


def _streamable(
    path: str,
    cls: type[R],
    body: dict[str, Any],
    stream: bool,
    timeout: Any,
    on_chunk: ChunkCallback | None,
) -> Call[R]:
    call = Call("POST", path, cls, _encode(body), stream or on_chunk is not None, timeout)
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
    from ._schema import tool_schemas

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


class Blob:
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
            sent += len(chunk)
            # Reported as each piece is handed to the transport: a transport that stops
            # reading at Content-Length never resumes the generator after the last piece.
            if progress is not None:
                progress(sent, self.size)
            yield chunk


def _read_pieces(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(_BLOB_CHUNK):
            yield chunk


def prepare_blob(source: BlobSource, known: str | None = None) -> tuple[Blob, Path | None]:
    """Hash a blob in constant memory, unless its digest is ``known``. Returns the blob and a
    temp file to delete afterwards."""
    if known is not None:
        known = check_digest(known)
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        digest = known or "sha256:" + hashlib.sha256(data).hexdigest()
        return Blob(digest, len(data), data=data), None
    if isinstance(source, str | Path):
        path = Path(source).expanduser()
        if not path.is_file():
            raise RequestError(f"blob file not found: {path}")
        if known is None:
            hashed = hashlib.sha256()
            with path.open("rb") as file:
                while chunk := file.read(_BLOB_CHUNK):
                    hashed.update(chunk)
            known = "sha256:" + hashed.hexdigest()
        return Blob(known, path.stat().st_size, path=path), None
    read = getattr(source, "read", None)
    if not callable(read):
        raise RequestError(f"create_blob takes a path, bytes or a binary file, not {source!r}")
    # A file object may not be seekable (a pipe): spool it to disk while hashing.
    import tempfile

    spooled = hashlib.sha256()
    size = 0
    with tempfile.NamedTemporaryFile(prefix="ollamakit-blob-", delete=False) as spool:
        while chunk := read(_BLOB_CHUNK):
            if isinstance(chunk, str):
                raise RequestError("create_blob needs a file opened in binary mode ('rb')")
            spooled.update(chunk)
            spool.write(chunk)
            size += len(chunk)
    path = Path(spool.name)
    return Blob(known or "sha256:" + spooled.hexdigest(), size, path=path), path


def check_digest(digest: str) -> str:
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


class ClientBase:
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
    ) -> Call[GenerateResponse]:
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
    ) -> Call[ChatResponse]:
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
    ) -> Call[EmbedResponse]:
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
        return Call("POST", "/api/embed", EmbedResponse, _encode(body), timeout=timeout)

    def _embeddings_call(
        self,
        model: str,
        prompt: str | None,
        options: OptionsArg,
        keep_alive: KeepAliveArg,
        timeout: Any,
    ) -> Call[EmbeddingsResponse]:
        body = {
            "model": _model(model),
            "prompt": prompt,
            "options": _options(options),
            "keep_alive": _keep_alive(keep_alive),
        }
        return Call("POST", "/api/embeddings", EmbeddingsResponse, _encode(body), timeout=timeout)

    def _transfer_call(
        self,
        path: str,
        model: str,
        insecure: bool,
        stream: bool,
        timeout: Any,
        on_chunk: ChunkCallback | None,
    ) -> Call[ProgressResponse]:
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
    ) -> Call[ProgressResponse]:
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

    def _show_call(self, model: str, verbose: bool | None, timeout: Any) -> Call[ShowResponse]:
        body = {"model": _model(model), "verbose": verbose}
        return Call("POST", "/api/show", ShowResponse, _encode(body), timeout=timeout)

    def _copy_call(self, source: str, destination: str, timeout: Any) -> Call[StatusResponse]:
        body = {"source": _model(source), "destination": _model(destination)}
        return Call(
            "POST", "/api/copy", StatusResponse, _encode(body), timeout=timeout, reader=_status
        )

    def _delete_call(self, model: str, timeout: Any) -> Call[StatusResponse]:
        body = {"model": _model(model)}
        return Call(
            "DELETE", "/api/delete", StatusResponse, _encode(body), timeout=timeout, reader=_status
        )

    def _signout_call(self, timeout: Any) -> Call[StatusResponse]:
        # The answer is JSON null: report success like copy and delete.
        return Call("POST", "/api/signout", StatusResponse, timeout=timeout, reader=_status)

    def _web_call(
        self, kind: str, path: str, body: dict[str, Any], cls: type[R], timeout: Any
    ) -> Call[R]:
        if not self._http.has_bearer_token():
            # The official package's words first: code written for it matches on them.
            raise RequestError(
                f"Authorization header with Bearer token is required for web {kind}: it uses "
                "the hosted API at ollama.com; set OLLAMA_API_KEY to an ollama.com API key or "
                "pass headers={'Authorization': 'Bearer <key>'}"
            )
        url = self._web_url.rstrip("/") + path
        return Call("POST", url, cls, _encode(body), timeout=timeout)

    def _web_search_call(
        self, query: str, max_results: int, timeout: Any
    ) -> Call[WebSearchResponse]:
        if not query:
            raise RequestError("web_search needs a non-empty query")
        body = {"query": query, "max_results": max_results}
        return self._web_call("search", "/api/web_search", body, WebSearchResponse, timeout)

    def _web_fetch_call(self, url: str, timeout: Any) -> Call[WebFetchResponse]:
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
    ) -> Call[SystemOneResponse]:
        body = {
            "model": _model(model),
            "state": _to_wire(state),
            "questions": {
                key: _ordered(_to_wire(question), _QUESTION_KEYS)
                for key, question in questions.items()
            },
            "keep_alive": _keep_alive(keep_alive),
        }
        return Call("POST", "/v1/systemone", SystemOneResponse, _encode(body), timeout=timeout,
                     reader=decode_system_one)  # fmt: skip

    def _load_call(
        self, model: str, keep_alive: KeepAliveArg, timeout: Any
    ) -> Call[GenerateResponse]:
        body = {"model": _model(model), "stream": False, "keep_alive": _keep_alive(keep_alive)}
        return Call("POST", "/api/generate", GenerateResponse, _encode(body), timeout=timeout)
