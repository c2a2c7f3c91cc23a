"""Callable classes for ``Dataset.map_batches``: :class:`Embed`, :class:`Generate`, :class:`Chat`.

Ray builds one instance per actor. Each instance keeps its own event loop and one
:class:`~ollamakit.AsyncClient` per host (see :mod:`._hosts`), and answers a batch by sending
its rows' requests concurrently, at most ``max_in_flight`` at a time. The batch comes back as
an Arrow table: the input columns, then the typed output columns, then (by default) an
``error`` column that is null for every row that succeeded. A row that fails never fails the
job unless ``on_error="raise"``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa

from .. import AsyncClient, ChatResponse, GenerateResponse, OllamaError, ParseError
from .._tasks import all_or_nothing
from ._columns import RecordColumns, embedding_array
from ._hosts import Failover, HostPool, RowError, retryable
from ._template import NullValueError, Template

__all__ = ["Chat", "Embed", "Generate", "as_table"]

OnError = Literal["column", "raise"]
Hosts = str | Sequence[str | None] | None
METRICS = ("done_reason", "prompt_eval_count", "eval_count", "total_duration")


def as_table(batch: Any) -> pa.Table:
    """A batch in any of Ray's formats (``pyarrow``, ``pandas``, ``numpy``) as an Arrow table."""
    if isinstance(batch, pa.Table):
        return batch
    if isinstance(batch, Mapping):
        columns = {}
        for name, values in batch.items():
            # numpy arrays of more than one dimension (tensor columns) become lists
            columns[name] = list(values) if getattr(values, "ndim", 1) > 1 else values
        return pa.table(columns)
    if type(batch).__name__ == "DataFrame" and hasattr(batch, "columns"):
        return pa.Table.from_pandas(batch, preserve_index=False)
    raise TypeError(
        f"cannot read a batch of type {type(batch).__name__}: use batch_format='pyarrow'"
    )


def _host_list(hosts: Hosts) -> list[str | None]:
    if hosts is None:
        return [None]
    if isinstance(hosts, str):
        return [part.strip() for part in hosts.split(",") if part.strip()] or [None]
    listed = list(hosts)
    if not listed:
        raise ValueError("hosts is empty: give at least one host, or None for the local one")
    for host in listed:
        if host is not None and not isinstance(host, str):
            raise TypeError(f"a host is a str such as 'gpu-1:11434', not {type(host).__name__}")
    return listed


def _describe(error: BaseException, attempts: int = 1) -> str:
    text = f"{type(error).__name__}: {error}"
    return f"{text} (after {attempts} attempts)" if attempts > 1 else text


@dataclass
class _Row:
    """What became of one row: the value, or why there is none, and the host that answered."""

    value: Any = None
    error: str | None = None
    host: str | None = None
    attempts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class _OllamaBatches:
    """What :class:`Embed`, :class:`Generate` and :class:`Chat` share: hosts, concurrency,
    retries, error handling and the assembly of the output table.

    ``hosts``: a list of hosts (any ``OLLAMA_HOST`` form), a comma-separated string, or ``None``
    for the server on the actor's own node. ``max_in_flight``: requests under way per actor.
    ``retries``: further attempts for a row that failed in a way that may pass (see
    :mod:`._hosts`). ``timeout``: seconds per request (default: the client's, 10 s to connect
    and 600 s to read); ``client_options``: anything else :class:`~ollamakit.AsyncClient`
    takes. ``cooldown``: seconds a host that failed at the transport level is set aside.
    ``on_error``: ``"column"`` (the reason in ``error_column``) or ``"raise"``.
    ``host_column``/``attempts_column``: columns for the host that answered and the number of
    attempts, when named.
    """

    def __init__(
        self,
        model: str,
        *,
        hosts: Hosts = None,
        max_in_flight: int = 4,
        retries: int = 0,
        timeout: Any = None,
        cooldown: float = 5.0,
        on_error: OnError = "column",
        error_column: str = "error",
        host_column: str | None = None,
        attempts_column: str | None = None,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(model, str) or not model:
            raise ValueError("model is required, e.g. model='gemma3:270m'")
        if on_error not in ("column", "raise"):
            raise ValueError(f"on_error must be 'column' or 'raise', not {on_error!r}")
        if not error_column:
            raise ValueError("error_column must name a column")
        self.model = model
        self._on_error = on_error
        self._error_column = error_column
        self._host_column = host_column
        self._attempts_column = attempts_column
        options = dict(client_options or {})
        if timeout is not None:
            options["timeout"] = timeout
        self._failover = Failover(
            HostPool(_host_list(hosts), cooldown=cooldown),
            max_in_flight=max_in_flight,
            retries=retries,
            client_options=options,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        # Ray calls an actor from one thread, unless told to allow more (max_concurrency).
        self._lock = threading.Lock()

    def __call__(self, batch: Any) -> pa.Table:
        table = as_table(batch)
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
            self._check_input(table)
            rows = self._loop.run_until_complete(self._answer(table))
        return self._assemble(table, rows)

    def close(self) -> None:
        """Close the connections and the event loop (Ray ends the actor's process anyway)."""
        with self._lock:
            if self._loop is not None:
                self._loop.run_until_complete(self._failover.close())
                self._loop.close()
                self._loop = None

    def __del__(self) -> None:
        # Ray Data drops the instance when it retires the actor: close the connections then,
        # so that no "unclosed connection" warning ends the job's log.
        try:
            self.close()
        except Exception:  # the interpreter may be shutting down
            pass

    # -- for subclasses ---------------------------------------------------------------------

    def _input_columns(self) -> Sequence[str]:
        raise NotImplementedError

    async def _answer(self, table: pa.Table) -> list[_Row]:
        raise NotImplementedError

    def _output(self, rows: list[_Row]) -> list[tuple[str, pa.Array]]:
        raise NotImplementedError

    # -- shared -----------------------------------------------------------------------------

    def _check_input(self, table: pa.Table) -> None:
        missing = [name for name in self._input_columns() if name not in table.column_names]
        if missing:
            raise KeyError(
                f"{type(self).__name__} reads column(s) {', '.join(map(repr, missing))}, which "
                f"the dataset does not have; it has {', '.join(map(repr, table.column_names))}"
            )

    def _record(self, row: _Row, host: int, attempts: int) -> None:
        row.host = self._failover.base_url(host)
        row.attempts = attempts

    def _fail(self, row: _Row, error: BaseException, attempts: int = 1) -> None:
        if self._on_error == "raise":
            raise error
        row.error = _describe(error, attempts)

    def _assemble(self, table: pa.Table, rows: list[_Row]) -> pa.Table:
        columns = self._output(rows)
        if self._host_column:
            columns.append((self._host_column, pa.array([row.host for row in rows], pa.string())))
        if self._attempts_column:
            attempts = pa.array([row.attempts for row in rows], pa.int64())
            columns.append((self._attempts_column, attempts))
        if self._on_error == "column":
            errors = pa.array([row.error for row in rows], pa.string())
            columns.append((self._error_column, errors))
        taken = [name for name, _ in columns if name in table.column_names]
        if taken:
            raise ValueError(
                f"{type(self).__name__} would overwrite the input column(s) "
                f"{', '.join(map(repr, taken))}: choose other output column names"
            )
        for name, array in columns:
            table = table.append_column(name, array)
        return table


class Embed(_OllamaBatches):
    """Embeddings of one text column, as ``fixed_size_list<float32>`` in ``output_column``.

    Rows go to the server ``inputs_per_request`` at a time (``/api/embed`` takes a list). When
    such a request is refused for a reason retrying cannot fix, its rows are sent one by one,
    so that only the rows at fault get an error. ``dimensions`` (for models that can shorten
    their embeddings) also fixes the column type from the first batch; otherwise it is learnt
    from the first answer.
    """

    def __init__(
        self,
        model: str,
        *,
        column: str = "text",
        output_column: str = "embedding",
        inputs_per_request: int = 16,
        truncate: bool | None = None,
        dimensions: int | None = None,
        options: Mapping[str, Any] | None = None,
        keep_alive: float | str | None = None,
        **common: Any,
    ) -> None:
        super().__init__(model, **common)
        if inputs_per_request < 1:
            raise ValueError(f"inputs_per_request must be at least 1, not {inputs_per_request}")
        self._column = column
        self._output_column = output_column
        self._per_request = inputs_per_request
        self._request: dict[str, Any] = {
            "truncate": truncate,
            "dimensions": dimensions,
            "options": dict(options) if options else None,
            "keep_alive": keep_alive,
        }
        self._size = dimensions

    def _input_columns(self) -> Sequence[str]:
        return (self._column,)

    async def _answer(self, table: pa.Table) -> list[_Row]:
        texts = table.column(self._column).to_pylist()
        rows = [_Row() for _ in texts]
        ready: list[int] = []
        for index, text in enumerate(texts):
            if isinstance(text, str):
                ready.append(index)
            else:
                problem = "is null" if text is None else f"holds {type(text).__name__}, not text"
                self._fail(rows[index], NullValueError(f"column {self._column!r} {problem}"))
        groups = [
            ready[at : at + self._per_request] for at in range(0, len(ready), self._per_request)
        ]
        await all_or_nothing([self._embed(group, texts, rows) for group in groups])
        return rows

    async def _embed(self, group: list[int], texts: list[Any], rows: list[_Row]) -> None:
        inputs = [texts[index] for index in group]

        def request(client: AsyncClient) -> Awaitable[Any]:
            return client.embed(self.model, inputs, **self._request)

        try:
            answer = await self._failover.send(request)
        except RowError as failure:
            if len(group) > 1 and not retryable(failure.error) and self._on_error == "column":
                await all_or_nothing([self._embed([one], texts, rows) for one in group])
                return
            for one in group:
                self._record(rows[one], failure.host, failure.attempts)
                self._fail(rows[one], failure.error, failure.attempts)
            return
        for one in group:
            self._record(rows[one], answer.host, answer.attempts)
        vectors = answer.result.embeddings or []
        for position, one in enumerate(group):
            row = rows[one]
            if len(vectors) != len(group):
                self._fail(row, OllamaError(f"{len(vectors)} embeddings for {len(group)} inputs"))
                continue
            vector = vectors[position]
            if self._size is None:
                self._size = len(vector)
            if len(vector) != self._size:
                self._fail(
                    row,
                    OllamaError(f"an embedding of {len(vector)} values; earlier: {self._size}"),
                )
                continue
            row.value = vector

    def _output(self, rows: list[_Row]) -> list[tuple[str, pa.Array]]:
        vectors = [row.value for row in rows]
        return [(self._output_column, embedding_array(vectors, self._size))]


class _Completion(_OllamaBatches):
    """:class:`Generate` and :class:`Chat`: a prompt template over columns, an optional
    ``format=`` class parsed into columns, optional thinking and metrics columns."""

    def __init__(
        self,
        model: str,
        *,
        prompt: str,
        system: str | None = None,
        format: Any = None,
        output_column: str = "response",
        parsed_prefix: str = "",
        thinking_column: str | None = None,
        metrics: bool = False,
        think: bool | str | None = None,
        options: Mapping[str, Any] | None = None,
        keep_alive: float | str | None = None,
        **common: Any,
    ) -> None:
        super().__init__(model, **common)
        self._prompt = Template(prompt)
        self._system = None if system is None else Template(system)
        self._parsed = RecordColumns(format, parsed_prefix) if isinstance(format, type) else None
        self._output_column = output_column
        self._thinking_column = thinking_column
        self._metrics = metrics
        self._request: dict[str, Any] = {
            "format": format,
            "think": think,
            "options": dict(options) if options else None,
            "keep_alive": keep_alive,
        }

    def _input_columns(self) -> Sequence[str]:
        system = self._system.columns if self._system is not None else ()
        return tuple(dict.fromkeys((*self._prompt.columns, *system)))

    def _call(self, prompt: str, system: str | None) -> Callable[[AsyncClient], Awaitable[Any]]:
        raise NotImplementedError

    async def _answer(self, table: pa.Table) -> list[_Row]:
        values = {name: table.column(name).to_pylist() for name in self._input_columns()}
        rows = [_Row() for _ in range(table.num_rows)]
        await all_or_nothing([
            self._complete({name: column[at] for name, column in values.items()}, row)
            for at, row in enumerate(rows)
        ])  # fmt: skip
        return rows

    async def _complete(self, values: dict[str, Any], row: _Row) -> None:
        try:
            prompt = self._prompt.render(values)
            system = None if self._system is None else self._system.render(values)
        except NullValueError as exc:
            self._fail(row, exc)
            return
        try:
            answer = await self._failover.send(self._call(prompt, system))
        except RowError as failure:
            if isinstance(failure.error, ParseError):  # keep what the model wrote
                row.extra["text"] = failure.error.raw
            self._record(row, failure.host, failure.attempts)
            self._fail(row, failure.error, failure.attempts)
            return
        self._record(row, answer.host, answer.attempts)
        response = answer.result
        text, thinking = self._text(response)
        row.value = response.parsed if self._parsed is not None else None
        row.extra = {"text": text, "thinking": thinking}
        if self._metrics:
            row.extra.update({name: getattr(response, name, None) for name in METRICS})

    def _text(self, response: Any) -> tuple[str, str | None]:
        raise NotImplementedError

    def _output(self, rows: list[_Row]) -> list[tuple[str, pa.Array]]:
        def column(key: str, kind: pa.DataType) -> pa.Array:
            return pa.array([row.extra.get(key) for row in rows], kind)

        columns = [(self._output_column, column("text", pa.string()))]
        if self._thinking_column:
            columns.append((self._thinking_column, column("thinking", pa.string())))
        if self._parsed is not None:
            arrays = self._parsed.arrays([row.value for row in rows])
            columns.extend(zip(self._parsed.names, arrays))
        if self._metrics:
            columns.append(("done_reason", column("done_reason", pa.string())))
            columns.extend(
                (name, column(name, pa.int64())) for name in METRICS if name != "done_reason"
            )
        return columns


class Generate(_Completion):
    """Completions (``/api/generate``) of a prompt template over columns, into
    ``output_column``; with ``format=`` a record class, its fields as typed columns too.

    ``prompt`` and ``system`` are templates: ``"Title: {title}\nSummary:"`` (see
    :class:`~._template.Template`). ``raw=True`` sends the prompt without the model's template.
    """

    def __init__(
        self,
        model: str,
        *,
        prompt: str = "{prompt}",
        raw: bool | None = None,
        **options: Any,
    ) -> None:
        super().__init__(model, prompt=prompt, **options)
        self._raw = raw

    def _call(self, prompt: str, system: str | None) -> Callable[[AsyncClient], Awaitable[Any]]:
        def request(client: AsyncClient) -> Awaitable[Any]:
            return client.generate(
                self.model, prompt, system=system, raw=self._raw, **self._request
            )

        return request

    def _text(self, response: GenerateResponse) -> tuple[str, str | None]:
        return response.response, response.thinking


class Chat(_Completion):
    """One chat turn (``/api/chat``) per row: an optional system message and a user message,
    both templates over columns; the reply in ``output_column``, and with ``format=`` a record
    class its fields as typed columns too."""

    def __init__(self, model: str, *, prompt: str = "{prompt}", **options: Any) -> None:
        super().__init__(model, prompt=prompt, **options)

    def _call(self, prompt: str, system: str | None) -> Callable[[AsyncClient], Awaitable[Any]]:
        messages = [{"role": "user", "content": prompt}]
        if system is not None:
            messages.insert(0, {"role": "system", "content": system})

        def request(client: AsyncClient) -> Awaitable[Any]:
            return client.chat(self.model, messages, **self._request)

        return request

    def _text(self, response: ChatResponse) -> tuple[str, str | None]:
        return response.message.content or "", response.message.thinking
