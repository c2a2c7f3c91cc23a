"""The pipeline behind every API surface, free of HTTP.

A surface builds a validated request (``requests``), the service plans it (``planning``:
model, options, prompt, sampling, grammar, output parsers) and runs the plan
(``generation``), yielding events (``events``) that the surface translates into its own wire
format. ``errors.status_for`` gives every surface the same status for the same failure.
"""

from __future__ import annotations

from .errors import RequestCanceled, message_for, status_for
from .events import Delta, Done, Event, Failed, collect
from .generation import Generation, GenerationPlan
from .requests import ChatRequest, EmbedRequest, GenerateRequest
from .server import Service

__all__ = [
    "ChatRequest",
    "Delta",
    "Done",
    "EmbedRequest",
    "Event",
    "Failed",
    "GenerateRequest",
    "Generation",
    "GenerationPlan",
    "RequestCanceled",
    "Service",
    "collect",
    "message_for",
    "status_for",
]
