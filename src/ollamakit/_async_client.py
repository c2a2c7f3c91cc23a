"""``AsyncClient``: one thin method per Ollama endpoint, each a coroutine.

This file is the source of both clients: ``ci/unasync.py`` writes ``_sync_client.py``
(:class:`~ollamakit.Client`) from it, and ``make check`` fails when the two disagree. Edit
this file, then run ``python ci/unasync.py``.

Each method builds its request with code shared by both (:mod:`._requests`, no I/O), hands it
to the network layer (:mod:`._http`) and decodes the answer; the few things that wait
differently are the mode's (:mod:`._modes`). Signatures, parameter order and defaults match
the official ``ollama`` package; everything added (``timeout=``, ``verbose=``, ...) is a new
keyword argument.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from . import _env
from ._errors import NotFoundError, OllamaError
from ._modes import AsyncMode
from ._requests import (
    DEFAULT_WEB_URL,
    BlobProgress,
    BlobSource,
    Call,
    ChunkCallback,
    ClientBase,
    Format,
    KeepAliveArg,
    MessagesArg,
    OptionsArg,
    ThinkOption,
    ToolsArg,
    check_digest,
    prepare_blob,
)
from ._types import (
    NOT_GIVEN,
    ChatResponse,
    EmbeddingsResponse,
    EmbedResponse,
    GenerateResponse,
    ListResponse,
    ProcessResponse,
    ProgressResponse,
    ShowResponse,
    StatusResponse,
    SubscriptableBaseModel,
    SystemOneContent,
    SystemOneResponse,
    UserResponse,
    VersionResponse,
    WebFetchResponse,
    WebSearchResponse,
)

if TYPE_CHECKING:
    import httpx

    from ._http import AsyncHTTP
    from ._stream import AsyncStream

__all__ = ["AsyncClient"]

R = TypeVar("R", bound=SubscriptableBaseModel)


class AsyncClient(AsyncMode, ClientBase):
    """An Ollama client whose methods are coroutines.

    ``host`` defaults to ``$OLLAMA_HOST`` (then ``http://127.0.0.1:11434``). ``timeout`` is
    seconds, ``None`` (no limit) or an ``httpx.Timeout``; the default fails fast when the server
    is unreachable (10 s connect) and allows 10 minutes between two bytes. ``retries`` (default
    0) retries connection failures and 429/503 answers with backoff. Other keyword arguments
    go to ``httpx.AsyncClient`` (``verify``, ``proxy``, ``transport``, ...).

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

        self._http = AsyncHTTP(
            _env.host() if host is None else host,
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

    async def _fetch(self, call: Call[R]) -> R:
        """Send a non-streaming call and decode its answer."""
        content = await self._http.request(
            call.method, call.path, content=call.body, timeout=call.timeout
        )
        try:
            return call.decode(content)
        except OllamaError as exc:
            raise self._http.redact(exc) from None

    async def _send(self, call: Call[R]) -> R | AsyncStream[R]:
        """Send a call that may stream: a stream, or the decoded (or merged) answer."""
        if not call.stream:
            return await self._fetch(call)
        from ._stream import AsyncStream

        response = await self._http.open_stream(
            call.method, call.path, content=call.body, timeout=call.timeout
        )
        stream = AsyncStream(
            response, call.cls, self._http.iter_body(response), call.on_chunk,
            redact=self._http.redact,
        )  # fmt: skip
        stream.finish = call.finish
        return await stream.final() if call.consume else stream

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
        """Complete ``prompt`` (``POST /api/generate``). ``stream=True`` returns an AsyncStream.

        With no prompt the model is loaded and kept for ``keep_alive``; see :meth:`preload`.
        """
        call = self._generate_call(
            model, prompt, suffix, system=system, template=template, context=context,
            stream=stream, think=think, logprobs=logprobs, top_logprobs=top_logprobs, raw=raw,
            format=format, images=images, options=options, keep_alive=keep_alive, width=width,
            height=height, steps=steps, truncate=truncate, shift=shift, timeout=timeout,
            on_chunk=on_chunk,
        )  # fmt: skip
        return await self._send(call)

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
        """Chat (``POST /api/chat``). ``stream=True`` returns an AsyncStream of chunks.

        ``messages`` are dicts or :class:`Message` objects (a previous response's ``message``
        can be appended as is); ``tools`` are dicts, :class:`Tool` objects or Python functions.
        """
        call = self._chat_call(
            model, messages, tools=tools, stream=stream, think=think, logprobs=logprobs,
            top_logprobs=top_logprobs, format=format, options=options, keep_alive=keep_alive,
            truncate=truncate, shift=shift, timeout=timeout, on_chunk=on_chunk,
        )  # fmt: skip
        return await self._send(call)

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
        return await self._fetch(call)

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
        """Embed one text or a list of texts (``POST /api/embed``); vectors are L2-normalised."""
        call = self._embed_call(model, input, truncate, options, keep_alive, dimensions, timeout)
        return await self._fetch(call)

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
        return await self._fetch(call)

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
        return await self._send(call)

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
        return await self._send(call)

    @overload
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
        stream: Literal[False] = False,
        modelfile: str | Path | None = None,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> ProgressResponse: ...

    @overload
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
        stream: Literal[True],
        modelfile: str | Path | None = None,
        timeout: Any = NOT_GIVEN,
        on_chunk: ChunkCallback | None = None,
    ) -> AsyncStream[ProgressResponse]: ...

    @overload
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
    ) -> ProgressResponse | AsyncStream[ProgressResponse]: ...

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
    ) -> ProgressResponse | AsyncStream[ProgressResponse]:
        """Create a model (``POST /api/create``) from an existing one, uploaded blobs or a
        Modelfile.

        ``modelfile`` is Modelfile text or a path to one: local files it names (FROM, ADAPTER)
        are uploaded as blobs first (skipped when the server has them) and explicit arguments
        override its instructions. ``on_chunk`` receives upload progress too.
        """
        from_modelfile = None
        if modelfile is not None:
            plan = await self._in_worker(self._modelfile_plan, modelfile)
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
        if on_chunk is None:
            return await self.create_blob(path, timeout=timeout)
        status = f"uploading {path.name}"
        size = (await self._in_worker(path.stat)).st_size
        await self._call_back(on_chunk, ProgressResponse(status=status, total=size, completed=0))
        relay = self._relay(on_chunk)

        def report(sent: int, total: int) -> None:  # called where the blob is read
            relay(ProgressResponse(status=status, total=total, completed=sent))

        digest = await self.create_blob(path, timeout=timeout, progress=report)
        await relay.drain()
        return digest

    async def list(self, *, timeout: Any = NOT_GIVEN) -> ListResponse:
        """Models in the local store (``GET /api/tags``)."""
        return await self._fetch(Call("GET", "/api/tags", ListResponse, timeout=timeout))

    async def show(
        self, model: str, *, verbose: bool | None = None, timeout: Any = NOT_GIVEN
    ) -> ShowResponse:
        """Details of a model (``POST /api/show``); ``verbose`` includes long metadata arrays."""
        return await self._fetch(self._show_call(model, verbose, timeout))

    async def ps(self, *, timeout: Any = NOT_GIVEN) -> ProcessResponse:
        """Models loaded in memory (``GET /api/ps``)."""
        return await self._fetch(Call("GET", "/api/ps", ProcessResponse, timeout=timeout))

    async def copy(
        self, source: str, destination: str, *, timeout: Any = NOT_GIVEN
    ) -> StatusResponse:
        """Copy a model under a new name (``POST /api/copy``)."""
        return await self._fetch(self._copy_call(source, destination, timeout))

    async def delete(self, model: str, *, timeout: Any = NOT_GIVEN) -> StatusResponse:
        """Delete a model (``DELETE /api/delete``)."""
        return await self._fetch(self._delete_call(model, timeout))

    async def version(self, *, timeout: Any = NOT_GIVEN) -> VersionResponse:
        """The server's version (``GET /api/version``)."""
        return await self._fetch(Call("GET", "/api/version", VersionResponse, timeout=timeout))

    async def whoami(self, *, timeout: Any = NOT_GIVEN) -> UserResponse:
        """The ollama.com account the server is signed in to (``POST /api/me``). When it is
        not signed in, :class:`AuthenticationError` carries the ``signin_url`` to visit."""
        return await self._fetch(Call("POST", "/api/me", UserResponse, timeout=timeout))

    async def signout(self, *, timeout: Any = NOT_GIVEN) -> StatusResponse:
        """Disconnect the server's key from its ollama.com account (``POST /api/signout``)."""
        return await self._fetch(self._signout_call(timeout))

    # -- blobs, helpers and the hosted web API ----------------------------------------------

    async def create_blob(
        self,
        path: BlobSource,
        *,
        timeout: Any = NOT_GIVEN,
        progress: BlobProgress | None = None,
        digest: str | None = None,
    ) -> str:
        """Upload a file (path, bytes or binary file object) as a blob; returns its digest.

        The content is hashed and sent in 1 MiB pieces, so memory stays flat for multi-GB
        files, and nothing is sent when the server already has the blob (``progress`` is then
        called once, complete). ``progress(sent, total)`` follows the upload; with
        AsyncClient it is called from the worker thread that reads the file. A ``digest``
        already computed (``sha256:<hex>``) saves reading the file to hash it; the server
        refuses the upload if the bytes do not match it.
        """
        blob, spool = await self._in_worker(prepare_blob, path, digest)
        try:
            if await self.blob_exists(blob.digest, timeout=timeout):
                if progress is not None:
                    progress(blob.size, blob.size)
            else:
                await self._http.request(
                    "POST",
                    f"/api/blobs/{blob.digest}",
                    content=self._upload_body(blob.chunks(progress)),
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
            await self._http.request("HEAD", f"/api/blobs/{check_digest(digest)}", timeout=timeout)
        except NotFoundError:
            return False
        return True

    async def preload(
        self, model: str, keep_alive: KeepAliveArg = None, *, timeout: Any = NOT_GIVEN
    ) -> GenerateResponse:
        """Load ``model`` into memory and keep it for ``keep_alive`` (server default: 5m)."""
        return await self._fetch(self._load_call(model, keep_alive, timeout))

    async def unload(self, model: str, *, timeout: Any = NOT_GIVEN) -> GenerateResponse:
        """Unload ``model`` from memory now."""
        return await self._fetch(self._load_call(model, 0, timeout))

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
        return await self._fetch(self._web_search_call(query, max_results, timeout))

    async def web_fetch(self, url: str, *, timeout: Any = NOT_GIVEN) -> WebFetchResponse:
        """Fetch a web page's text through ollama.com (needs ``OLLAMA_API_KEY``); usable as a tool.

        Args:
            url: The address of the page to fetch.
        """
        return await self._fetch(self._web_fetch_call(url, timeout))
