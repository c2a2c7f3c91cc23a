"""The ``ollamakit`` commands. Each is a thin layer over one or two :class:`ollamakit.Client` calls.

Heavy modules (rich, readline, the Modelfile parser, the HTTP stack) are imported inside the
commands that need them, so ``ollamakit --help`` costs little more than importing click.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import click

from .._errors import OllamaError

if TYPE_CHECKING:
    from .._sync_client import Client

__all__ = ["cli", "error_message"]


def error_message(exc: OllamaError) -> str:
    """The server's own message for response errors (``model 'x' not found``), else the text."""
    error = getattr(exc, "error", None)
    if isinstance(error, str) and error:
        return error
    return str(exc) or type(exc).__name__


@dataclass
class State:
    """What the group passes to its commands: the server address and a client made on demand."""

    host: str | None = None
    _client: Client | None = field(default=None, repr=False)

    def client(self) -> Client:
        if self._client is None:
            from .._sync_client import Client

            self._client = Client(self.host)
        return self._client


pass_state = click.make_pass_decorator(State, ensure=True)


class _Group(click.Group):
    """Commands listed in Ollama's order, with aliases, and errors printed without tracebacks."""

    aliases: ClassVar[dict[str, str]] = {
        "ls": "list",
        "remove": "rm",
        "copy": "cp",
        "delete": "rm",
        "login": "signin",
        "logout": "signout",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, self.aliases.get(cmd_name, cmd_name))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OllamaError as exc:
            click.echo(f"Error: {error_message(exc)}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo(err=True)
            ctx.exit(130)


class _RunCommand(click.Command):
    """Accepts ``--think`` alone (``--think[=LEVEL]``), so it never swallows the model name."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        fixed: list[str] = []
        for index, arg in enumerate(args):
            if arg == "--":
                fixed.extend(args[index:])
                break
            fixed.append("--think=true" if arg == "--think" else arg)
        return super().parse_args(ctx, fixed)


@click.group(
    cls=_Group,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--host",
    metavar="URL",
    help="Ollama server address (default: $OLLAMA_HOST, else 127.0.0.1:11434).",
)
@click.option("-v", "--version", "show_version", is_flag=True, help="Show version information.")
@click.pass_context
def cli(ctx: click.Context, host: str | None, show_version: bool) -> None:
    """Large language model runner: an Ollama-compatible command line."""
    ctx.obj = State(host)
    if show_version:
        ctx.invoke(version)
        ctx.exit(0)
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
        ctx.exit(0)


# -- serve ------------------------------------------------------------------------------------


_SERVER_MODULES = ("starlette", "uvicorn", "llama_cpp")


@cli.command(short_help="Start the embedded Ollama-compatible server.")
@click.option("--host", "bind_host", metavar="HOST", help="Bind address (default 127.0.0.1).")
@click.option("--port", type=int, help="Port (default 11434).")
@click.option("--models", metavar="DIR", help="Models directory (default ~/.ollamakit/models).")
@pass_state
def serve(state: State, bind_host: str | None, port: int | None, models: str | None) -> None:
    """Start the embedded Ollama-compatible server (needs the [server] extra).

    OLLAMA_HOST sets the bind address, as for Ollama; --host and --port win.
    """
    import importlib.util

    missing = [name for name in _SERVER_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        click.echo(
            "Error: the embedded server needs the [server] extra "
            f"(missing: {', '.join(missing)}). Install it with: pip install 'ollamakit[server]'",
            err=True,
        )
        raise SystemExit(1)
    from .. import server

    if bind_host is None and state.host is not None:
        bind_host, bound_port = server.parse_bind(state.host)
        port = bound_port if port is None else port
    argv: list[str] = []
    if bind_host is not None:
        argv += ["--host", bind_host]
    if port is not None:
        argv += ["--port", str(port)]
    if models is not None:
        argv += ["--models", models]
    raise SystemExit(server.main(argv))


# -- create / show ----------------------------------------------------------------------------


@cli.command()
@click.argument("model")
@click.option(
    "-f",
    "--file",
    "modelfile",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("Modelfile"),
    show_default=True,
    help="Name of the Modelfile.",
)
@click.option(
    "-q", "--quantize", metavar="TYPE", help="Quantize the model to this level (e.g. q4_K_M)."
)
@pass_state
def create(state: State, model: str, modelfile: Path, quantize: str | None) -> None:
    """Create a model from a Modelfile."""
    from ._create import create_model

    def warn(text: str) -> None:
        click.echo(f"Warning: {text}", err=True)

    create_model(state.client(), model, modelfile, quantize, warn)


_SHOW_FIELDS = ("license", "modelfile", "parameters", "system", "template")


@cli.command()
@click.argument("model")
@click.option("--license", "show_license", is_flag=True, help="Show the license.")
@click.option("--modelfile", "show_modelfile", is_flag=True, help="Show the Modelfile.")
@click.option("--parameters", "show_parameters", is_flag=True, help="Show the parameters.")
@click.option("--system", "show_system", is_flag=True, help="Show the system message.")
@click.option("--template", "show_template", is_flag=True, help="Show the prompt template.")
@click.option("-v", "--verbose", is_flag=True, help="Show metadata and tensors too.")
@click.option("--json", "as_json", is_flag=True, help="Print the server's answer as JSON.")
@pass_state
def show(
    state: State,
    model: str,
    show_license: bool,
    show_modelfile: bool,
    show_parameters: bool,
    show_system: bool,
    show_template: bool,
    verbose: bool,
    as_json: bool,
) -> None:
    """Show information for a model."""
    flags = dict(zip(_SHOW_FIELDS, (show_license, show_modelfile, show_parameters,
                                    show_system, show_template)))  # fmt: skip
    chosen = [name for name, on in flags.items() if on]
    if len(chosen) > 1:
        raise click.UsageError(
            "only one of '--license', '--modelfile', '--parameters', '--system', "
            "or '--template' can be specified"
        )
    response = state.client().show(model, verbose=verbose or None)
    if as_json:
        click.echo(response.model_dump_json(exclude_none=True, indent=2))
        return
    if chosen:
        click.echo(getattr(response, chosen[0]) or "")
        return
    from ._format import show_info

    click.echo(show_info(response, verbose), nl=False)


# -- run / stop -------------------------------------------------------------------------------


@cli.command(cls=_RunCommand, short_help="Run a model.")
@click.argument("model")
@click.argument("prompt", nargs=-1)
@click.option(
    "--format", "format_", metavar="FORMAT", help="Response format: json, or a JSON schema."
)
@click.option(
    "--think",
    metavar="[=LEVEL]",
    help="Think before answering: --think, --think=false, or --think=low|medium|high.",
)
@click.option("--hidethinking", is_flag=True, help="Do not print the thinking.")
@click.option("--verbose", is_flag=True, help="Print timings and token rates after each answer.")
@click.option(
    "--keepalive", metavar="DURATION", help="How long to keep the model loaded (e.g. 5m)."
)
@click.option("--nowordwrap", is_flag=True, help="Do not wrap words at the terminal width.")
@pass_state
def run(
    state: State,
    model: str,
    prompt: tuple[str, ...],
    format_: str | None,
    think: str | None,
    hidethinking: bool,
    verbose: bool,
    keepalive: str | None,
    nowordwrap: bool,
) -> None:
    """Run a model: answer PROMPT (or piped input), or chat interactively.

    In the chat, type /? for help, \"\"\" to start a multi-line message, Ctrl-C to stop an
    answer and Ctrl-D or /bye to leave.
    """
    from . import _options, _run

    try:
        think_value = _options.parse_think(think)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--think'") from None
    try:
        format_value = _options.parse_format(format_)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--format'") from None
    options = _options.RunOptions(
        model=model,
        format=format_value,
        think=think_value,
        hide_thinking=hidethinking,
        verbose=verbose,
        keep_alive=_options.parse_keep_alive(keepalive),
        word_wrap=not nowordwrap,
    )
    from ._autostart import ensure_server

    client = state.client()
    ensure_server(client)
    code = _run.run(client, options, prompt)
    if code:
        raise SystemExit(code)


@cli.command()
@click.argument("model")
@pass_state
def stop(state: State, model: str) -> None:
    """Stop a running model (unload it from memory)."""
    from .._errors import NotFoundError

    try:
        state.client().unload(model)
    except NotFoundError:
        click.echo(f'Error: couldn\'t find model "{model}" to stop', err=True)
        raise SystemExit(1) from None


# -- pull / push ------------------------------------------------------------------------------


@cli.command()
@click.argument("model")
@click.option("--insecure", is_flag=True, help="Use an insecure registry.")
@pass_state
def pull(state: State, model: str, insecure: bool) -> None:
    """Pull a model from a registry."""
    from ._run import pull_with_progress

    pull_with_progress(state.client(), model, insecure)


@cli.command()
@click.argument("model")
@click.option("--insecure", is_flag=True, help="Use an insecure registry.")
@pass_state
def push(state: State, model: str, insecure: bool) -> None:
    """Push a model to a registry."""
    from ._account import needs_signin_for_push
    from ._progress import ProgressView, follow

    client = state.client()
    if needs_signin_for_push(client, model):
        return
    with ProgressView() as view, client.push(model, insecure=insecure, stream=True) as stream:
        follow(stream, view)


# -- signin / signout -------------------------------------------------------------------------


@cli.command()
@pass_state
def signin(state: State) -> None:
    """Sign in to ollama.com."""
    from ._account import signin as run

    run(state.client())


@cli.command()
@pass_state
def signout(state: State) -> None:
    """Sign out from ollama.com."""
    from ._account import signout as run

    run(state.client())


# -- list / ps --------------------------------------------------------------------------------


@cli.command(name="list", short_help="List models (alias: ls).")
@click.argument("prefix", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the server's answer as JSON.")
@pass_state
def list_(state: State, prefix: str | None, as_json: bool) -> None:
    """List models (alias: ls), optionally those whose name starts with PREFIX."""
    response = state.client().list()
    if as_json:
        if prefix:
            response.models = [
                model for model in response.models
                if (model.name or model.model or "").lower().startswith(prefix.lower())
            ]  # fmt: skip
        click.echo(response.model_dump_json(exclude_none=True, indent=2))
        return
    from ._format import list_table

    click.echo(list_table(response, prefix), nl=False)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the server's answer as JSON.")
@pass_state
def ps(state: State, as_json: bool) -> None:
    """List running models."""
    response = state.client().ps()
    if as_json:
        click.echo(response.model_dump_json(exclude_none=True, indent=2))
        return
    from ._format import ps_table

    click.echo(ps_table(response), nl=False)


# -- cp / rm ----------------------------------------------------------------------------------


@cli.command()
@click.argument("source")
@click.argument("destination")
@pass_state
def cp(state: State, source: str, destination: str) -> None:
    """Copy a model."""
    state.client().copy(source, destination)
    click.echo(f"copied '{source}' to '{destination}'")


@cli.command()
@click.argument("models", nargs=-1, required=True)
@pass_state
def rm(state: State, models: tuple[str, ...]) -> None:
    """Remove one or more models.

    Every name is tried; the exit status is 1 when any of them failed.
    """
    client = state.client()
    failed = False
    for model in models:
        try:
            client.delete(model)
        except OllamaError as exc:
            from .._errors import TransportError

            if isinstance(exc, TransportError):
                raise  # the server is unreachable: the other names would fail the same way
            click.echo(f"Error: {error_message(exc)}", err=True)
            failed = True
            continue
        click.echo(f"deleted '{model}'")
    if failed:
        raise SystemExit(1)


# -- embed / version --------------------------------------------------------------------------


@cli.command(short_help="Embed texts; print the vectors as JSON.")
@click.argument("model")
@click.argument("text", nargs=-1)
@click.option("--dimensions", type=int, help="Truncate the vectors to this many dimensions.")
@click.option("--keepalive", metavar="DURATION", help="How long to keep the model loaded.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole answer as one JSON object.")
@pass_state
def embed(
    state: State,
    model: str,
    text: tuple[str, ...],
    dimensions: int | None,
    keepalive: str | None,
    as_json: bool,
) -> None:
    """Embed each TEXT (or each line of piped input): one JSON vector per line."""
    import json

    from ._options import parse_keep_alive
    from ._render import is_tty

    inputs = list(text)
    if not inputs and not is_tty(sys.stdin):
        inputs = [line for line in sys.stdin.read().splitlines() if line.strip()]
    if not inputs:
        raise click.UsageError("give the text to embed as arguments or on standard input")
    response = state.client().embed(
        model, inputs, dimensions=dimensions, keep_alive=parse_keep_alive(keepalive)
    )
    if as_json:
        click.echo(response.model_dump_json(exclude_none=True))
        return
    for vector in response.embeddings:
        click.echo(json.dumps(vector))


@cli.command()
@pass_state
def version(state: State) -> None:
    """Show the server's and the client's versions."""
    from .._errors import TransportError
    from .._version import __version__

    client = state.client()
    try:
        server_version = client.version(timeout=5).version
    except TransportError:
        click.echo(f"Warning: could not connect to a running Ollama instance at {client.base_url}")
    except OllamaError as exc:
        click.echo(f"Warning: could not get the server version: {error_message(exc)}")
    else:
        click.echo(f"ollama version is {server_version}")
    click.echo(f"ollamakit version is {__version__}")
