"""``ollamakit signin`` / ``signout``, and the sign-in check before a push to ollama.com, with
Ollama's wording (``cmd/cmd.go``: ``SigninHandler``, ``SignoutHandler``, ``PushHandler``).

The server holds the key and talks to ollama.com (``POST /api/me``, ``POST /api/signout``); the
command only shows what it answers. When the server is not signed in, its answer carries the
page that connects the server's public key to an account: it is printed, and opened in the
browser when there is a graphical one (a text browser would take over the terminal).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from .. import _env
from .._errors import AuthenticationError, OllamaError
from ..names import ModelName

if TYPE_CHECKING:
    from .._sync_client import Client

__all__ = ["needs_signin_for_push", "signin", "signout"]

_CONNECT = "If your browser did not open, navigate to:\n    {}\n"


def signin(client: Client) -> None:
    try:
        user = client.whoami()
    except AuthenticationError as exc:
        click.echo("You need to be signed in to Ollama to run Cloud models.\n")
        _connect(exc.signin_url, open_browser=True)
        return
    if user.name:
        click.echo(f"You are already signed in as user '{user.name}'\n")


def signout(client: Client) -> None:
    try:
        client.signout()
    except AuthenticationError:
        click.echo("You are not signed in to ollama.com\n")
        return
    click.echo("You have signed out of ollama.com\n")


def needs_signin_for_push(client: Client, model: str) -> bool:
    """Before a push to ollama.com: True (with the instructions printed) when the server is
    not signed in, as Ollama's CLI checks. Other failures of the check (a server without
    ``/api/me``, or offline) do not stop the push, unlike Ollama: the registry's own answer
    is the better error then."""
    host = ModelName.parse(model).host.lower()
    if not host.endswith((".ollama.ai", ".ollama.com")):
        return False
    try:
        client.whoami()
    except AuthenticationError as exc:
        click.echo("You need to be signed in to push models to ollama.com.\n")
        _connect(exc.signin_url, open_browser=False)
        return True
    except OllamaError:
        return False
    return False


def _connect(url: str | None, *, open_browser: bool) -> None:
    if not url:
        return
    if open_browser and _graphical():
        import webbrowser

        webbrowser.open(url)
    click.echo(_CONNECT.format(url))


def _graphical() -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return _env.graphical_session()
