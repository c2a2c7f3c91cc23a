"""Wire types: responses, messages, tools and options, under the official package's names.

Every model is a :class:`msgspec.Struct` behind a small base class that gives it the official
package's dict-style access (``r["message"]["content"]``, ``.get``, ``in``, ``model_dump()``).

Decoding is tolerant in two steps. The fast path decodes a line straight into the typed struct
and rejects unknown fields; when a server sends something the struct does not know (a newer
Ollama, a proxy), the slow path decodes to plain values, keeps what fits and stores the rest as
extras, reachable as attributes, by key and in ``model_extra``. A field the server omits is None.
"""

from __future__ import annotations

import builtins
import datetime
import functools
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar, cast

import msgspec

from ._errors import ProtocolError

__all__ = [
    "ChatResponse",
    "EmbedResponse",
    "EmbeddingsResponse",
    "GenerateResponse",
    "Image",
    "ListResponse",
    "Logprob",
    "Message",
    "ModelDetails",
    "Options",
    "ProcessResponse",
    "ProgressResponse",
    "ShowResponse",
    "StatusResponse",
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
    "TokenLogprob",
    "Tool",
    "ToolCall",
    "UserResponse",
    "VersionResponse",
    "WebFetchResponse",
    "WebSearchResponse",
    "WebSearchResult",
    "decode_response",
]


class _NotGiven:
    """Marks an argument the caller did not pass (for ``timeout``, None means "no limit")."""

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Any = _NotGiven()

_renamed_fields: dict[type[Any], dict[str, str]] = {}


def _dump(value: Any, exclude_none: bool) -> Any:
    if isinstance(value, SubscriptableBaseModel):
        return value.model_dump(exclude_none=exclude_none)
    if isinstance(value, list):
        return [_dump(item, exclude_none) for item in value]
    if isinstance(value, dict):
        return {key: _dump(item, exclude_none) for key, item in value.items()}
    return value


class SubscriptableBaseModel(
    msgspec.Struct, kw_only=True, dict=True, forbid_unknown_fields=True, repr_omit_defaults=True
):
    """Base of every ollamakit model: attribute access plus the official dict-style access.

    Unlike the official models, ``r["field"]`` returns None for a known field the server left
    out instead of raising ``KeyError``, and fields this version does not know stay reachable.
    """

    def _attribute_name(self, key: str) -> str | None:
        if key in self.__struct_fields__:
            return key
        cls = type(self)
        renamed = _renamed_fields.get(cls)
        if renamed is None:
            renamed = _renamed_fields[cls] = {
                encode: name
                for encode, name in zip(cls.__struct_encode_fields__, cls.__struct_fields__)
                if encode != name
            }
        return renamed.get(key)

    def __getitem__(self, key: str) -> Any:
        name = self._attribute_name(key)
        if name is not None:
            return getattr(self, name)
        extras = self.__dict__
        if key in extras:
            return extras[key]
        raise KeyError(key)

    def __setitem__(self, key: str, value: Any) -> None:
        setattr(self, self._attribute_name(key) or key, value)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        name = self._attribute_name(key)
        if name is not None:
            return getattr(self, name) is not None
        return key in self.__dict__

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default`` when it is absent or None."""
        try:
            value = self[key]
        except KeyError:
            return default
        return default if value is None else value

    def keys(self) -> list[str]:
        """Wire names of the fields that are set, then the extras (so ``dict(r)`` works)."""
        names = [
            encode
            for encode, name in zip(self.__struct_encode_fields__, self.__struct_fields__)
            if getattr(self, name) is not None
        ]
        names.extend(key for key in self.__dict__ if not key.startswith("_"))
        return names

    def values(self) -> list[Any]:
        return [self[key] for key in self.keys()]

    def items(self) -> list[tuple[str, Any]]:
        return [(key, self[key]) for key in self.keys()]

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        # pydantic models iterate as (name, value) pairs; code written for the official
        # package relies on ``for key, value in response``.
        for name in self.__struct_fields__:
            yield name, getattr(self, name)
        for key, value in self.__dict__.items():
            if not key.startswith("_"):
                yield key, value

    @property
    def model_extra(self) -> dict[str, Any]:
        """Fields the server sent that this version of ollamakit does not model."""
        return {key: value for key, value in self.__dict__.items() if not key.startswith("_")}

    def model_dump(self, *, exclude_none: bool = False, by_alias: bool = True) -> dict[str, Any]:
        """A plain dict (nested models included), keyed by wire names, extras included."""
        fields = self.__struct_encode_fields__ if by_alias else self.__struct_fields__
        result: dict[str, Any] = {}
        for key, name in zip(fields, self.__struct_fields__, strict=True):
            value = getattr(self, name)
            if value is None and exclude_none:
                continue
            result[key] = _dump(value, exclude_none)
        for key, value in self.model_extra.items():
            result[key] = _dump(value, exclude_none)
        return result

    def model_dump_json(self, *, exclude_none: bool = False, indent: int | None = None) -> str:
        """JSON text of :meth:`model_dump`."""
        encoded = msgspec.json.encode(self.model_dump(exclude_none=exclude_none))
        if indent is not None:
            encoded = msgspec.json.format(encoded, indent=indent)
        return encoded.decode()

    def model_copy(self: _M, *, update: Mapping[str, Any] | None = None) -> _M:
        copied = msgspec.structs.replace(self)
        copied.__dict__.update(self.__dict__)
        for key, value in (update or {}).items():
            copied[key] = value
        return copied


_M = TypeVar("_M", bound=SubscriptableBaseModel)


# --------------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------------


class Options(SubscriptableBaseModel, omit_defaults=True):
    """Model options (Modelfile parameters). Every field is optional; unset ones are not sent.

    The fields are in the official package's order, its fields first, so a request carrying
    Options is byte-identical to the official client's. Some of them (``mirostat``,
    ``penalize_newline``, ...) were removed from Ollama and are kept so that code written for
    older servers keeps running; current servers ignore them.
    """

    # load time
    numa: bool | None = None  # removed from current servers
    num_ctx: int | None = None
    num_batch: int | None = None
    num_gpu: int | None = None
    main_gpu: int | None = None
    low_vram: bool | None = None  # removed
    f16_kv: bool | None = None  # removed
    logits_all: bool | None = None  # removed
    vocab_only: bool | None = None  # removed
    use_mmap: bool | None = None
    use_mlock: bool | None = None  # removed
    embedding_only: bool | None = None  # removed
    num_thread: int | None = None
    # run time
    num_keep: int | None = None
    seed: int | None = None
    num_predict: int | None = None
    top_k: int | None = None
    top_p: float | None = None
    tfs_z: float | None = None  # removed
    typical_p: float | None = None
    repeat_last_n: int | None = None
    temperature: float | None = None
    repeat_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    mirostat: int | None = None  # removed
    mirostat_tau: float | None = None  # removed
    mirostat_eta: float | None = None  # removed
    penalize_newline: bool | None = None  # removed
    stop: list[str] | None = None
    # not in the official package
    min_p: float | None = None
    draft_num_predict: int | None = None

    def wire(self) -> dict[str, Any]:
        """The options as sent: set fields only, numbers of float fields as floats (``1.0``)."""
        floats = _float_options()
        return {
            name: float(value) if name in floats and type(value) is int else value
            for name, value in self.model_dump(exclude_none=True).items()
        }


@functools.cache
def _float_options() -> frozenset[str]:
    return frozenset(
        field.name for field in msgspec.structs.fields(Options) if "float" in str(field.type)
    )


# --------------------------------------------------------------------------------------------
# Messages, tools, images
# --------------------------------------------------------------------------------------------


class Image(SubscriptableBaseModel):
    """An image for a message or a generate call: a path, raw bytes or a base64 string."""

    value: str | bytes | Path  # normalised to base64 before sending


class ToolCallFunction(SubscriptableBaseModel):
    name: str = ""
    arguments: dict[str, Any] = msgspec.field(default_factory=dict)
    index: int | None = None


class ToolCall(SubscriptableBaseModel):
    """A call the model asked for; ``id`` is sent by servers that number their calls."""

    function: ToolCallFunction
    id: str | None = None
    type: str | None = None

    Function: ClassVar[builtins.type[ToolCallFunction]] = ToolCallFunction


class Message(SubscriptableBaseModel):
    """A chat message. Requests also accept plain dicts; responses carry this type."""

    role: str
    content: str | None = None
    thinking: str | None = None
    images: list[Any] | None = None
    tool_name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None

    ToolCall: ClassVar[builtins.type[ToolCall]] = ToolCall

    @property
    def parsed(self) -> Any:
        """The reply validated against the class passed as ``format=`` (None otherwise)."""
        return self.__dict__.get("_parsed")


class ToolProperty(SubscriptableBaseModel, omit_defaults=True):
    type: str | list[str] | None = None
    description: str | None = None
    enum: list[Any] | None = None
    items: Any = None
    properties: dict[str, Any] | None = None
    required: list[str] | None = None
    anyOf: list[Any] | None = None


class ToolParameters(SubscriptableBaseModel, omit_defaults=True):
    type: str = "object"
    defs: dict[str, Any] | None = msgspec.field(default=None, name="$defs")
    items: Any = None
    required: list[str] | None = None
    properties: dict[str, ToolProperty] | None = None

    Property: ClassVar[builtins.type[ToolProperty]] = ToolProperty


class ToolFunction(SubscriptableBaseModel, omit_defaults=True):
    name: str | None = None
    description: str | None = None
    parameters: ToolParameters | None = None

    Parameters: ClassVar[builtins.type[ToolParameters]] = ToolParameters


class Tool(SubscriptableBaseModel, omit_defaults=True):
    """A tool definition. Plain dicts and Python functions are accepted wherever a Tool is."""

    type: str = "function"
    function: ToolFunction | None = None
    items: Any = None

    Function: ClassVar[builtins.type[ToolFunction]] = ToolFunction


class TokenLogprob(SubscriptableBaseModel):
    token: str = ""
    logprob: float = 0.0
    bytes: list[int] | None = None


class Logprob(SubscriptableBaseModel):
    token: str = ""
    logprob: float = 0.0
    bytes: list[int] | None = None
    top_logprobs: list[TokenLogprob] | None = None


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------


class _Metrics(SubscriptableBaseModel):
    model: str | None = None
    created_at: str | None = None
    done: bool | None = None
    done_reason: str | None = None
    total_duration: int | None = None
    load_duration: int | None = None
    prompt_eval_count: int | None = None
    prompt_eval_duration: int | None = None
    eval_count: int | None = None
    eval_duration: int | None = None
    remote_model: str | None = None
    remote_host: str | None = None


class GenerateResponse(_Metrics):
    """One chunk of ``generate`` (or the whole answer when not streaming)."""

    response: str = ""
    thinking: str | None = None
    context: list[int] | None = None
    logprobs: list[Logprob] | None = None
    tool_calls: list[ToolCall] | None = None
    image: str | None = None
    completed: int | None = None
    total: int | None = None

    @property
    def parsed(self) -> Any:
        """The response validated against the class passed as ``format=`` (None otherwise)."""
        return self.__dict__.get("_parsed")


class ChatResponse(_Metrics):
    """One chunk of ``chat`` (or the whole answer when not streaming)."""

    message: Message = msgspec.field(default_factory=lambda: Message(role="assistant"))
    logprobs: list[Logprob] | None = None

    @property
    def parsed(self) -> Any:
        """``message.parsed``: the reply validated against the ``format=`` class."""
        return self.message.parsed


class EmbedResponse(_Metrics):
    embeddings: list[list[float]] = msgspec.field(default_factory=list)


class EmbeddingsResponse(SubscriptableBaseModel):
    embedding: list[float] = msgspec.field(default_factory=list)


class StatusResponse(SubscriptableBaseModel):
    status: str | None = None


class ProgressResponse(StatusResponse):
    completed: int | None = None
    total: int | None = None
    digest: str | None = None


class ModelDetails(SubscriptableBaseModel):
    parent_model: str | None = None
    format: str | None = None
    family: str | None = None
    families: list[str] | None = None
    parameter_size: str | None = None
    quantization_level: str | None = None
    context_length: int | None = None
    embedding_length: int | None = None


class ListModel(SubscriptableBaseModel):
    name: str | None = None
    model: str | None = None
    modified_at: datetime.datetime | None = None
    digest: str | None = None
    size: int | None = None
    details: ModelDetails | None = None
    capabilities: list[str] | None = None
    remote_model: str | None = None
    remote_host: str | None = None


class ListResponse(SubscriptableBaseModel):
    models: list[ListModel] = msgspec.field(default_factory=list)

    Model: ClassVar[builtins.type[ListModel]] = ListModel


class ShowResponse(SubscriptableBaseModel):
    modified_at: datetime.datetime | None = None
    template: str | None = None
    modelfile: str | None = None
    license: str | None = None
    details: ModelDetails | None = None
    modelinfo: dict[str, Any] | None = msgspec.field(default=None, name="model_info")
    parameters: str | None = None
    capabilities: list[str] | None = None
    system: str | None = None
    renderer: str | None = None
    parser: str | None = None
    messages: list[Message] | None = None
    projector_info: dict[str, Any] | None = None
    tensors: list[dict[str, Any]] | None = None
    requires: str | None = None
    remote_model: str | None = None
    remote_host: str | None = None


class ProcessModel(SubscriptableBaseModel):
    name: str | None = None
    model: str | None = None
    digest: str | None = None
    expires_at: datetime.datetime | None = None
    size: int | None = None
    size_vram: int | None = None
    details: ModelDetails | None = None
    context_length: int | None = None


class ProcessResponse(SubscriptableBaseModel):
    models: list[ProcessModel] = msgspec.field(default_factory=list)

    Model: ClassVar[builtins.type[ProcessModel]] = ProcessModel


class VersionResponse(SubscriptableBaseModel):
    version: str = ""


class UserResponse(SubscriptableBaseModel):
    """The ollama.com account the server's key is connected to (``POST /api/me``)."""

    id: str = ""
    email: str = ""
    name: str = ""
    bio: str | None = None
    avatarurl: str | None = None
    firstname: str | None = None
    lastname: str | None = None
    plan: str | None = None


class WebSearchResult(SubscriptableBaseModel):
    title: str | None = None
    url: str | None = None
    content: str | None = None


class WebSearchResponse(SubscriptableBaseModel):
    results: list[WebSearchResult] = msgspec.field(default_factory=list)


class WebFetchResponse(SubscriptableBaseModel):
    title: str | None = None
    content: str | None = None
    links: list[str] | None = None


# System One (``POST /v1/systemone``): scored answers to choice / yes-no / score questions.

SystemOneContent = str | dict[str, Any] | list[Any]
"""Text or a JSON object/array, rendered as text by System One."""


class SystemOneChoiceQuestion(SubscriptableBaseModel, kw_only=True, omit_defaults=True):
    type: str = "choice"
    instructions: SystemOneContent
    criteria: dict[str, str | None]


class SystemOneNoulQuestion(SubscriptableBaseModel, kw_only=True, omit_defaults=True):
    type: str = "noul"
    instructions: SystemOneContent
    criteria: dict[str, str] | None = None


class SystemOneScoreQuestion(SubscriptableBaseModel, kw_only=True, omit_defaults=True):
    type: str = "score"
    instructions: SystemOneContent
    criteria: list[str]


SystemOneQuestion = SystemOneChoiceQuestion | SystemOneNoulQuestion | SystemOneScoreQuestion


class SystemOneRequest(SubscriptableBaseModel, omit_defaults=True):
    model: str
    state: SystemOneContent
    questions: dict[str, Any]
    keep_alive: float | str | None = None


class SystemOneNoulAnswer(SubscriptableBaseModel):
    type: str = "noul"
    noul: float = 0.0


class SystemOneChoiceAnswer(SubscriptableBaseModel):
    type: str = "choice"
    choice: str = ""
    probabilities: dict[str, float] = msgspec.field(default_factory=dict)
    confidence: float = 0.0


class SystemOneScoreAnswer(SubscriptableBaseModel):
    type: str = "score"
    score: float = 0.0
    legend: dict[str, str] = msgspec.field(default_factory=dict)
    probabilities: dict[str, float] = msgspec.field(default_factory=dict)
    confidence: float = 0.0


SystemOneAnswer = SystemOneNoulAnswer | SystemOneChoiceAnswer | SystemOneScoreAnswer
_SYSTEM_ONE_ANSWERS: dict[str, builtins.type[SubscriptableBaseModel]] = {
    "noul": SystemOneNoulAnswer,
    "choice": SystemOneChoiceAnswer,
    "score": SystemOneScoreAnswer,
}


class SystemOneUsage(SubscriptableBaseModel):
    input_tokens: int = 0
    output_tokens: int = 0


class SystemOneResponse(SubscriptableBaseModel):
    model: str = ""
    answers: dict[str, Any] = msgspec.field(default_factory=dict)
    usage: SystemOneUsage | None = None


def decode_system_one(data: bytes) -> SystemOneResponse:
    """Decode a System One answer, typing each answer by its ``type``."""
    response = decode_response(SystemOneResponse, data)
    for key, answer in response.answers.items():
        if isinstance(answer, dict):
            cls = _SYSTEM_ONE_ANSWERS.get(str(answer.get("type")))
            if cls is not None:
                response.answers[key] = build_tolerant(cls, answer)
    return response


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------

_T = TypeVar("_T", bound=SubscriptableBaseModel)
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def decoder_for(cls: type[_T]) -> msgspec.json.Decoder[_T]:
    """A cached typed decoder for ``cls`` (the fast path)."""
    decoder = _decoders.get(cls)
    if decoder is None:
        decoder = _decoders[cls] = msgspec.json.Decoder(cls)
    return decoder


def _malformed(data: bytes, exc: msgspec.DecodeError) -> ProtocolError:
    return ProtocolError(f"the server sent malformed JSON ({exc}): {data[:200]!r}")


def decode_response(cls: type[_T], data: bytes) -> _T:
    """Decode one JSON document into ``cls``: typed fast path, tolerant slow path.

    Errors are raised outside the ``except`` blocks so that msgspec's exception does not
    travel along as ``__context__``.
    """
    error: ProtocolError | None = None
    try:
        return decoder_for(cls).decode(data)
    except msgspec.ValidationError:
        # Valid JSON of another shape (a newer server, a proxy), or the typed decoder stopped
        # at a wrongly typed field before the syntax error after it: decode it untyped.
        pass
    except msgspec.DecodeError as exc:
        error = _malformed(data, exc)
    if error is not None:
        raise error
    try:
        raw = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        error = _malformed(data, exc)
    if error is not None:
        raise error
    if not isinstance(raw, dict):
        raise ProtocolError(f"expected a JSON object from the server, got: {data[:200]!r}")
    return build_tolerant(cls, raw)


def _struct_class(annotation: Any) -> tuple[type[SubscriptableBaseModel] | None, bool]:
    """For a field type, the model class it holds and whether it is a list of them."""
    info = msgspec.inspect.type_info(annotation)
    if isinstance(info, msgspec.inspect.UnionType):
        for member in info.types:
            if not isinstance(member, msgspec.inspect.NoneType):
                info = member
                break
    if isinstance(info, msgspec.inspect.StructType):
        return cast("type[SubscriptableBaseModel]", info.cls), False
    if isinstance(info, msgspec.inspect.ListType) and isinstance(
        info.item_type, msgspec.inspect.StructType
    ):
        return cast("type[SubscriptableBaseModel]", info.item_type.cls), True
    return None, False


_field_plans: dict[type[Any], dict[str, tuple[str, Any, type[Any] | None, bool]]] = {}


def _plan(cls: type[SubscriptableBaseModel]) -> dict[str, tuple[str, Any, type[Any] | None, bool]]:
    plan = _field_plans.get(cls)
    if plan is None:
        plan = {}
        for field in msgspec.structs.fields(cls):
            nested, is_list = _struct_class(field.type)
            plan[field.encode_name] = (field.name, field.type, nested, is_list)
        _field_plans[cls] = plan
    return plan


def _convert_field(annotation: Any, value: Any) -> Any:
    try:
        return msgspec.convert(value, annotation, strict=False)
    except msgspec.ValidationError:
        # Keep what the server sent rather than fail: e.g. tool arguments sent as a JSON string.
        if isinstance(value, str) and value[:1] in "{[":
            try:
                return msgspec.json.decode(value)
            except msgspec.DecodeError:
                return value
        return value


# Fields the client itself reads, so a value of another type is a broken protocol rather than
# something to keep as sent: nested objects, and the text that streams concatenate.
_TEXT_FIELDS = frozenset({"content", "thinking", "response"})


def _wrong_type(key: str, expected: str, value: Any) -> ProtocolError:
    shown = msgspec.json.encode(value)[:100].decode("utf-8", "replace")
    return ProtocolError(f"the server sent {key!r} as {shown}, where {expected} was expected")


def _nested(cls: type[_T], key: str, value: Any) -> _T:
    if not isinstance(value, dict):
        raise _wrong_type(key, "an object", value)
    return build_tolerant(cls, value)


def build_tolerant(cls: type[_T], raw: Mapping[str, Any]) -> _T:
    """Build ``cls`` from decoded JSON, keeping unknown fields as extras at every level."""
    known: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    for key, value in raw.items():
        entry = _plan(cls).get(key)
        if entry is None:
            extras[key] = value
            continue
        name, annotation, nested, is_list = entry
        if nested is not None and is_list and isinstance(value, list):
            known[name] = [_nested(nested, key, item) for item in value]
        elif nested is not None and value is not None:
            known[name] = _nested(nested, key, value)
        elif key in _TEXT_FIELDS and not isinstance(value, str | None):
            raise _wrong_type(key, "a string", value)
        else:
            known[name] = _convert_field(annotation, value)
    for field in msgspec.structs.fields(cls):
        if field.required and field.name not in known:
            known[field.name] = "" if field.type is str else None
    instance = cls(**known)
    instance.__dict__.update(extras)
    return instance


Think = bool | Literal["low", "medium", "high", "max"]
KeepAlive = float | str
