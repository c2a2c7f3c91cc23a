"""Generation events -> OpenAI Responses objects and ``response.*`` server-sent events, as
Ollama's ``openai/responses.go`` writes them.

Not streamed: one ``response`` object whose output is a reasoning item (when the model
thought), then either the function calls or one assistant message. Streamed: ``event:
<type>`` / ``data: <json>`` pairs, numbered by ``sequence_number``: ``response.created`` and
``response.in_progress``; then per output item ``response.output_item.added``, its deltas
(``response.reasoning_summary_text.delta``, ``response.output_text.delta`` after a
``response.content_part.added``, or a whole ``response.function_call_arguments.delta``) and
its ``.done`` events; and ``response.completed`` with the usage. Ollama stops streaming text
once the model has called a function, and so does this.

A failure after the stream started ends it with ``response.failed``, whose response carries
the error (the ``openai`` client yields it like any event; Ollama itself has no such event
for a failed generation and just stops).

Pure translation: no I/O.
"""

from __future__ import annotations

import random
import time
from typing import Any

import msgspec

from ..service.errors import message_for
from ..service.events import Delta, Done, Event, Failed
from .openai import openai_tool_calls
from .responses_request import ResponsesEcho

__all__ = ["ResponsesStream", "new_ids", "response_object", "whole_response"]

# Ollama writes stream events from Go maps, whose keys encoding/json sorts.
_SORTED = msgspec.json.Encoder(order="sorted")


def new_ids() -> tuple[str, str]:
    """A response id and its message item's id, numbered as Ollama numbers them (random,
    not unique)."""
    return f"resp_{random.randrange(999999)}", f"msg_{random.randrange(999999)}"


def usage(done: Done) -> dict[str, Any]:
    return {
        "input_tokens": done.prompt_eval_count,
        "output_tokens": done.eval_count,
        "total_tokens": done.prompt_eval_count + done.eval_count,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": 0},
    }


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [_text_part(text)],
    }


def _reasoning_item(item_id: str, thinking: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": thinking}],
        "encrypted_content": thinking,  # plain text: what a client sends back as history
    }


def _function_call_items(
    calls: list[dict[str, Any]], ids: list[str], status: str = "completed"
) -> list[dict[str, Any]]:
    return [
        {
            "id": item_id,
            "type": "function_call",
            "status": status,
            "call_id": call["id"],
            "name": call["function"]["name"],
            "arguments": call["function"]["arguments"],
        }
        for item_id, call in zip(ids, openai_tool_calls(calls))
    ]


def response_object(
    echo: ResponsesEcho,
    response_id: str,
    model: str,
    *,
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    created_at: int,
    completed_at: int | None = None,
) -> dict[str, Any]:
    """The ``response`` object, with the request's settings echoed and the fields Ollama
    does not support at their neutral values."""
    reasoning = {key: echo.reasoning[key] for key in ("effort", "summary") if key in echo.reasoning}
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "completed_at": completed_at,
        "status": status,
        "incomplete_details": None,
        "model": model,
        "previous_response_id": None,  # stateless: never stored, never continued
        "instructions": echo.instructions,
        "output": output,
        "error": None,
        "tools": echo.tools,
        "tool_choice": echo.tool_choice,
        "truncation": echo.truncation,
        "parallel_tool_calls": True,
        "text": {"format": echo.text_format or {"type": "text"}},
        "top_p": echo.top_p,
        "presence_penalty": 0,
        "frequency_penalty": 0,
        "top_logprobs": 0,
        "temperature": echo.temperature,
        "reasoning": reasoning or None,
        "usage": usage,
        "max_output_tokens": echo.max_output_tokens,
        "max_tool_calls": None,
        "store": False,
        "background": echo.background,
        "service_tier": "default",
        "metadata": {},
        "safety_identifier": None,
        "prompt_cache_key": None,
    }


def whole_response(
    echo: ResponsesEcho, response_id: str, item_id: str, model: str, delta: Delta, done: Done
) -> dict[str, Any]:
    """A whole generation as one ``response``: the reasoning, then the function calls if
    the model made any, else the assistant message (even an empty one)."""
    output: list[dict[str, Any]] = []
    if delta.thinking:
        output.append(_reasoning_item(f"rs_{response_id}", delta.thinking))
    if delta.tool_calls:
        ids = [f"fc_{response_id}_{index}" for index in range(len(delta.tool_calls))]
        output += _function_call_items(delta.tool_calls, ids)
    else:
        output.append(_message_item(item_id, delta.content))
    now = int(time.time())
    return response_object(
        echo,
        response_id,
        model,
        status="completed",
        output=output,
        usage=usage(done),
        created_at=now,
        completed_at=now,
    )


class ResponsesStream:
    """Events -> ``response.*`` server-sent events (Ollama's ResponsesStreamConverter)."""

    def __init__(self, echo: ResponsesEcho, response_id: str, item_id: str, model: str) -> None:
        self.echo = echo
        self.response_id = response_id
        self.item_id = item_id
        self.model = model
        self.created_at = int(time.time())
        self.sequence = 0
        self.started = False
        self.output_index = 0
        self.items: list[dict[str, Any]] = []  # finished items, in output order
        self.text: list[str] = []
        self.text_started = False
        self.calls_sent = False
        self.thinking: list[str] = []
        self.reasoning_id = ""

    def _event(self, kind: str, data: dict[str, Any]) -> bytes:
        data["type"] = kind
        data["sequence_number"] = self.sequence
        self.sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + _SORTED.encode(data) + b"\n\n"

    def _response(self, status: str, output: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return response_object(
            self.echo,
            self.response_id,
            self.model,
            status=status,
            output=output,
            usage=extra.pop("usage", None),
            created_at=self.created_at,
            **extra,
        )

    def convert(self, event: Event) -> list[bytes]:
        out = []
        if not self.started:
            self.started = True
            for kind in ("response.created", "response.in_progress"):
                out.append(self._event(kind, {"response": self._response("in_progress", [])}))
        if isinstance(event, Failed):
            out += self._failed(event)
        elif isinstance(event, Delta):
            if event.thinking:
                out += self._thinking(event.thinking)
            if event.tool_calls:
                out += self._finish_reasoning()
                out += self._calls(event.tool_calls)
                self.calls_sent = True
            elif event.content and not self.calls_sent:
                out += self._content(event.content)
        else:
            out += self._completed(event)
        return out

    def _thinking(self, thinking: str) -> list[bytes]:
        out = []
        if not self.reasoning_id:
            self.reasoning_id = f"rs_{random.randrange(999999)}"
            item = {"id": self.reasoning_id, "type": "reasoning", "summary": []}
            out.append(
                self._event(
                    "response.output_item.added", {"output_index": self.output_index, "item": item}
                )
            )
        self.thinking.append(thinking)
        delta = {
            "item_id": self.reasoning_id,
            "output_index": self.output_index,
            "summary_index": 0,
            "delta": thinking,
        }
        out.append(self._event("response.reasoning_summary_text.delta", delta))
        return out

    def _finish_reasoning(self) -> list[bytes]:
        if not self.reasoning_id:
            return []
        thinking = "".join(self.thinking)
        item = _reasoning_item(self.reasoning_id, thinking)
        done = {
            "item_id": self.reasoning_id,
            "output_index": self.output_index,
            "summary_index": 0,
            "text": thinking,
        }
        out = [
            self._event("response.reasoning_summary_text.done", done),
            self._event(
                "response.output_item.done", {"output_index": self.output_index, "item": item}
            ),
        ]
        self.items.append(item)
        self.thinking = []
        self.reasoning_id = ""
        self.output_index += 1
        return out

    def _calls(self, calls: list[dict[str, Any]]) -> list[bytes]:
        ids = [f"fc_{random.randrange(999999)}_{index}" for index in range(len(calls))]
        out = []
        for offset, item in enumerate(_function_call_items(calls, ids)):
            index = self.output_index + offset
            added = {**item, "status": "in_progress", "arguments": ""}
            where = {"item_id": item["id"], "output_index": index}
            out += [
                self._event("response.output_item.added", {"output_index": index, "item": added}),
                self._event(
                    "response.function_call_arguments.delta", {**where, "delta": item["arguments"]}
                ),
                self._event(
                    "response.function_call_arguments.done",
                    {**where, "arguments": item["arguments"]},
                ),
                self._event("response.output_item.done", {"output_index": index, "item": item}),
            ]
            self.items.append(item)
        self.output_index += len(calls)
        return out

    def _content(self, text: str) -> list[bytes]:
        out = self._finish_reasoning()
        where = {"item_id": self.item_id, "output_index": self.output_index}
        if not self.text_started:
            self.text_started = True
            item = {
                "id": self.item_id,
                "type": "message",
                "status": "in_progress",
                "role": "assistant",
                "content": [],
            }
            out += [
                self._event(
                    "response.output_item.added", {"output_index": self.output_index, "item": item}
                ),
                self._event(
                    "response.content_part.added",
                    {**where, "content_index": 0, "part": _text_part("")},
                ),
            ]
        self.text.append(text)
        delta = {**where, "content_index": 0, "delta": text, "logprobs": []}
        out.append(self._event("response.output_text.delta", delta))
        return out

    def _output(self) -> list[dict[str, Any]]:
        if not self.text_started:
            return list(self.items)
        return [*self.items, _message_item(self.item_id, "".join(self.text))]

    def _completed(self, done: Done) -> list[bytes]:
        out = self._finish_reasoning()
        if self.text_started and not self.calls_sent:
            text = "".join(self.text)
            where = {"item_id": self.item_id, "output_index": self.output_index}
            out += [
                self._event(
                    "response.output_text.done",
                    {**where, "content_index": 0, "text": text, "logprobs": []},
                ),
                self._event(
                    "response.content_part.done",
                    {**where, "content_index": 0, "part": _text_part(text)},
                ),
                self._event(
                    "response.output_item.done",
                    {
                        "output_index": self.output_index,
                        "item": _message_item(self.item_id, text),
                    },
                ),
            ]
        response = self._response(
            "completed", self._output(), usage=usage(done), completed_at=int(time.time())
        )
        out.append(self._event("response.completed", {"response": response}))
        return out

    def _failed(self, failed: Failed) -> list[bytes]:
        response = self._response("failed", self._output())
        response["error"] = {"code": "api_error", "message": message_for(failed.error)}
        return [self._event("response.failed", {"response": response})]
