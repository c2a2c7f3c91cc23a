"""The arguments a model sends, made into a call of the tool: converted to the annotated types
where JSON differs (``"3"`` for an ``int``, an object for a dataclass) and bound to the
signature; what does not fit becomes a message for the model rather than an exception.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import msgspec

from ._schema import inspect_callable, json_schema_for, peel, pydantic_dataclass, pydantic_model

__all__ = ["BadArguments", "Binder", "callable_binder", "class_binder", "coerce_argument",
           "dec_hook", "problem"]  # fmt: skip

_EMPTY: Any = inspect.Parameter.empty


class BadArguments(Exception):
    """Arguments from the model that cannot be bound to the tool; the text goes to the model."""


@functools.lru_cache(maxsize=256)
def _pydantic_adapter(tp: Any) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(tp)


def dec_hook(tp: Any, obj: Any) -> Any:
    """Builds the types msgspec has no native support for, without importing pydantic."""
    if pydantic_model(tp) or pydantic_dataclass(tp):
        return _pydantic_adapter(tp).validate_python(obj)
    if isinstance(tp, type):
        if isinstance(obj, tp):
            return obj
        return tp(**obj) if isinstance(obj, dict) else tp(obj)
    return obj  # a form such as Callable[...] that no JSON value can be checked against


def _convert(value: Any, annotation: Any, bare: Any) -> Any:
    if pydantic_model(bare) or pydantic_dataclass(bare):
        return _pydantic_adapter(bare).validate_python(value)
    return msgspec.convert(value, annotation, strict=False, dec_hook=dec_hook)


def coerce_argument(value: Any, annotation: Any) -> Any:
    """``value`` (decoded JSON) converted to ``annotation`` where the JSON type differs.

    Lax, as models write them: ``"3"`` for an int, ``"true"`` for a bool, an object for a
    dataclass or model, a JSON-encoded string for a list or object, a number for a string.
    Raises ``msgspec.ValidationError`` (or the ``ValueError`` of pydantic or a constructor)
    when the value cannot be the type; a type that cannot be checked passes the value through.
    """
    bare, _ = peel(annotation)
    if bare is _EMPTY or bare is Any or bare is object:
        return value
    if bare is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if bare in (bytes, bytearray) and isinstance(value, str):
        # The schema says "string"; msgspec would read it as base64.
        return bare(value.encode())
    try:
        return _convert(value, annotation, bare)
    except (msgspec.ValidationError, ValueError) as exc:
        if not (isinstance(value, str) and value.lstrip()[:1] in ("[", "{")):
            raise
        try:
            decoded = msgspec.json.decode(value)
        except msgspec.DecodeError:
            raise exc from None
        return _convert(decoded, annotation, bare)
    except TypeError:
        return value  # msgspec cannot handle this annotation at all


def problem(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _argument_problem(exc: BaseException, annotation: Any) -> str:
    text = problem(exc)
    if isinstance(exc, msgspec.ValidationError):
        # msgspec names the bad value but not the allowed ones, which the model needs to retry.
        try:
            values = json_schema_for(annotation).get("enum")
        except Exception:
            values = None
        if isinstance(values, list) and values:
            text += f" (expected one of {', '.join(map(repr, values))})"
    return text


Binder = Callable[[dict[str, Any]], Callable[[], Any]]


def callable_binder(obj: Callable[..., Any]) -> Binder:
    info = inspect_callable(obj)
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        signature = None
    open_keywords = signature is not None and any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()
    )
    known = [p.name for p in info.parameters]

    def bind(arguments: dict[str, Any]) -> Callable[[], Any]:
        unexpected = [key for key in arguments if key not in known]
        if unexpected and not open_keywords:
            expected = ", ".join(known) if known else "none"
            raise BadArguments(
                f"unexpected argument{'s' if len(unexpected) > 1 else ''} "
                f"{', '.join(map(repr, unexpected))} (the parameters are: {expected})"
            )
        args: list[Any] = []
        kwargs: dict[str, Any] = {key: arguments[key] for key in unexpected}
        problems: list[str] = []
        for param in info.parameters:
            if param.name in arguments:
                try:
                    value = coerce_argument(arguments[param.name], param.annotation)
                except Exception as exc:
                    problems.append(f"{param.name!r}: {_argument_problem(exc, param.annotation)}")
                    continue
            elif param.default is _EMPTY:
                problems.append(f"missing required argument {param.name!r}")
                continue
            elif param.kind is inspect.Parameter.POSITIONAL_ONLY:
                value = param.default  # keeps the place of the positional arguments after it
            else:
                continue
            if param.kind is inspect.Parameter.POSITIONAL_ONLY:
                args.append(value)
            else:
                kwargs[param.name] = value
        if problems:
            raise BadArguments("; ".join(problems))
        return functools.partial(obj, *args, **kwargs)

    return bind


def class_binder(cls: type) -> Binder:
    # A pydantic model, msgspec Struct, dataclass or TypedDict used as a tool: its fields are
    # the parameters, so the arguments are validated into an instance, which is the result.
    def bind(arguments: dict[str, Any]) -> Callable[[], Any]:
        try:
            instance = coerce_argument(arguments, cls)
        except Exception as exc:
            raise BadArguments(problem(exc)) from None
        return lambda: instance

    return bind
