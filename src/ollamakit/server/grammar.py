"""``format`` as a llama.cpp grammar.

``"json"`` is llama.cpp's JSON grammar; a JSON schema goes through llama-cpp-python's schema
converter (a port of llama.cpp's ``json_schema_to_grammar``), extended with what Ollama's
C++ converter also enforces and the Python port leaves out: ``minimum``, ``maximum``,
``exclusiveMinimum`` and ``exclusiveMaximum`` on integers.
"""

from __future__ import annotations

import importlib
import json
import math
from typing import Any

__all__ = ["integer_range_rule", "make_grammar", "schema_to_gbnf"]

# Unbounded integers get at most this many digits, as in llama.cpp's own integer rule.
_MAX_DIGITS = 16


def _same_length(low: str, high: str) -> str:
    """GBNF for the decimal numbers from ``low`` to ``high``, both with the same length."""
    if not low:
        return ""
    if low == high:
        return f'"{low}"'
    rest = len(low) - 1
    if rest == 0:
        return f"[{low}-{high}]"
    first_low, first_high = low[0], high[0]
    if first_low == first_high:
        return f'"{first_low}" ({_same_length(low[1:], high[1:])})'
    parts = [f'"{first_low}" ({_same_length(low[1:], "9" * rest)})']
    if int(first_high) - int(first_low) > 1:
        parts.append(f"[{int(first_low) + 1}-{int(first_high) - 1}] [0-9]{{{rest}}}")
    parts.append(f'"{first_high}" ({_same_length("0" * rest, high[1:])})')
    return " | ".join(parts)


def _natural_range(low: int, high: int | None) -> str:
    """GBNF for the integers ``low..high`` (``high`` None: no bound), ``low >= 0``, written
    without leading zeros."""
    parts = []
    longest = len(str(high)) if high is not None else max(len(str(low)), _MAX_DIGITS)
    for length in range(len(str(low)), longest + 1):
        start = max(low, 10 ** (length - 1) if length > 1 else 0)
        end = 10**length - 1 if high is None else min(high, 10**length - 1)
        if start > end:
            continue
        if high is None and start == 10 ** (length - 1) and length > 1:
            # Every longer number is in range too: one rule for the rest.
            most = max(length, _MAX_DIGITS) - 1
            parts.append(f"[1-9] [0-9]{{{length - 1},{most}}}")
            break
        parts.append(f"({_same_length(str(start), str(end))})")
    return " | ".join(parts)


def integer_range_rule(low: int | None, high: int | None) -> str:
    """GBNF for the integers between ``low`` and ``high`` (inclusive; None: unbounded);
    ``low <= high`` when both are given."""
    parts = []
    if high is None or high >= 0:
        parts.append(_natural_range(max(low, 0) if low is not None else 0, high))
    if low is None or low < 0:
        smallest = max(1, -high) if high is not None else 1
        parts.append(f'"-" ({_natural_range(smallest, None if low is None else -low)})')
    return " | ".join(f"({part})" for part in parts)


def _bounds(schema: dict[str, Any]) -> tuple[int | None, int | None]:
    low = high = None
    for key, exclusive in (("minimum", False), ("exclusiveMinimum", True)):
        value = schema.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            bound = math.floor(value) + 1 if exclusive else math.ceil(value)
            low = bound if low is None else max(low, bound)
    for key, exclusive in (("maximum", False), ("exclusiveMaximum", True)):
        value = schema.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            bound = math.ceil(value) - 1 if exclusive else math.floor(value)
            high = bound if high is None else min(high, bound)
    return low, high


def _converter_class() -> Any:
    # llama_cpp's converter is unannotated; it is used as an untyped base.
    module: Any = importlib.import_module("llama_cpp.llama_grammar")
    reserved = module.RESERVED_NAMES

    class Converter(module.SchemaConverter):  # type: ignore[misc]
        def visit(self, schema: Any, name: str) -> Any:
            if isinstance(schema, dict) and schema.get("type") == "integer":
                low, high = _bounds(schema)
                empty = low is not None and high is not None and low > high
                if (low is not None or high is not None) and not empty:
                    rule_name = name + "-" if name in reserved else name or "root"
                    body = integer_range_rule(low, high)
                    return self._add_rule(rule_name, f"({body}) space")
            return super().visit(schema, name)

    return Converter


def schema_to_gbnf(schema: str) -> str:
    """The grammar of a JSON schema (given as JSON text)."""
    converter = _converter_class()(
        prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False
    )
    resolved = converter.resolve_refs(json.loads(schema), "stdin")
    converter.visit(resolved, "")
    return str(converter.format_grammar())


def make_grammar(spec: tuple[str, str] | None) -> Any:
    """A ``LlamaGrammar`` for ``("json", "")`` or ``("schema", <json text>)``; None for None."""
    if spec is None:
        return None
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

    if spec[0] == "json":
        return LlamaGrammar.from_string(JSON_GBNF, verbose=False)
    return LlamaGrammar.from_string(schema_to_gbnf(spec[1]), verbose=False)
