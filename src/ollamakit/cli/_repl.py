"""The interactive chat of ``ollamakit run MODEL``: Ollama's REPL, command for command.

Input goes through readline (line editing, history in ``~/.ollamakit/history`` unless
``OLLAMA_NOHISTORY``). Ctrl-C while an answer streams closes the stream, which makes the server
stop generating, and keeps what was already said as the assistant's turn, so the conversation
stays consistent; Ctrl-C at the prompt only clears the line; Ctrl-D or ``/bye`` leaves.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TextIO

from .. import _env
from .._errors import NotFoundError, OllamaError
from ._format import metrics_summary, show_info
from ._options import THINK_LEVELS, RunOptions, think_level, wrap_width
from ._render import AnswerRenderer, Spinner, extract_images, styled

if TYPE_CHECKING:
    from .._sync_client import Client
    from .._types import ShowResponse

__all__ = ["Repl", "history_disabled", "history_path"]

HISTORY_LIMIT = 1000

HELP = '''Available Commands:
  /set            Set session variables
  /show           Show model information
  /load <model>   Load a session or model
  /save <model>   Save your current session
  /clear          Clear session context
  /bye            Exit
  /?, /help       Help for a command
  /? shortcuts    Help for keyboard shortcuts

Use """ to begin a multi-line message.
'''

VISION_HELP = "Use /path/to/file to include .jpg, .png, or .webp images.\n"

SET_HELP = """Available Commands:
  /set parameter ...     Set a parameter
  /set system <string>   Set system message
  /set history           Enable history
  /set nohistory         Disable history
  /set wordwrap          Enable wordwrap
  /set nowordwrap        Disable wordwrap
  /set format json       Enable JSON mode
  /set noformat          Disable formatting
  /set verbose           Show LLM stats
  /set quiet             Disable LLM stats
  /set think [level]     Enable thinking (level: low, medium, high)
  /set nothink           Disable thinking
"""

SHOW_HELP = """Available Commands:
  /show info         Show details for this model
  /show license      Show model license
  /show modelfile    Show Modelfile for this model
  /show parameters   Show parameters for this model
  /show system       Show system message
  /show template     Show prompt template
"""

PARAMETER_HELP = """Available Parameters:
  /set parameter seed <int>             Random number seed
  /set parameter num_predict <int>      Max number of tokens to predict
  /set parameter top_k <int>            Pick from top k num of tokens
  /set parameter top_p <float>          Pick token based on sum of probabilities
  /set parameter min_p <float>          Pick token based on top token probability * min_p
  /set parameter num_ctx <int>          Set the context size
  /set parameter temperature <float>    Set creativity level
  /set parameter repeat_penalty <float> How strongly to penalize repetitions
  /set parameter repeat_last_n <int>    Set how far back to look for repetitions
  /set parameter num_gpu <int>          The number of layers to send to the GPU
  /set parameter stop <string> <string> ...   Set the stop parameters
"""

SHORTCUTS_HELP = """Available keyboard shortcuts:
  Ctrl + a            Move to the beginning of the line (Home)
  Ctrl + e            Move to the end of the line (End)
   Alt + b            Move back (left) one word
   Alt + f            Move forward (right) one word
  Ctrl + k            Delete the sentence after the cursor
  Ctrl + u            Delete the sentence before the cursor
  Ctrl + w            Delete the word before the cursor

  Ctrl + l            Clear the screen
  Ctrl + c            Stop the model from responding
  Ctrl + d            Exit ollamakit (/bye)
"""

_MULTILINE = '"""'


def history_path() -> Path:
    return Path.home() / ".ollamakit" / "history"


history_disabled = _env.history_disabled


def _load_readline() -> ModuleType | None:
    try:
        import readline
    except ImportError:  # Windows without pyreadline: plain input() still works
        return None
    return readline


_GO_BOOLS = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}


def parse_parameter(name: str, values: list[str]) -> dict[str, Any]:
    """Type ``/set parameter`` values as Ollama does: by the option's type, first value only
    (every value for ``stop``). Raises ValueError with Ollama's wording."""
    import math

    from ..modelfile import PARAMETER_TYPES

    kind = PARAMETER_TYPES.get(name)
    if kind is None:
        raise ValueError(f"unknown parameter '{name}'")
    if kind == "list":
        return {name: list(values)}
    text = values[0]
    try:
        if kind == "int":
            return {name: int(text)}
        if kind == "float":
            number = float(text)
            if math.isfinite(number):
                return {name: number}
            raise ValueError
    except ValueError:
        raise ValueError(f"invalid {kind} value [{text}]") from None
    if text not in _GO_BOOLS:
        raise ValueError(f"invalid bool value [{text}]")
    return {name: _GO_BOOLS[text]}


class Repl:
    def __init__(
        self,
        client: Client,
        options: RunOptions,
        info: ShowResponse,
        out: TextIO | None = None,
    ) -> None:
        self.client = client
        self.options = options
        self.info = info
        self.out = out or sys.stdout
        self.messages: list[dict[str, Any]] = []
        self.system: str | None = None
        self.parameters: dict[str, Any] = {}
        self.keep_history = not history_disabled()
        self._history_file = None if history_disabled() else history_path()
        self._readline: ModuleType | None = None

    # -- I/O ------------------------------------------------------------------------------

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _setup_readline(self) -> None:
        readline = self._readline = _load_readline()
        if readline is None:
            return
        readline.set_auto_history(False)
        path = self._history_file
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(exist_ok=True)
            readline.read_history_file(str(path))
        except OSError:
            self._history_file = None

    def _save_history(self) -> None:
        if self._readline is None or self._history_file is None:
            return
        try:
            self._readline.set_history_length(HISTORY_LIMIT)
            self._readline.write_history_file(str(self._history_file))
        except OSError:
            pass

    def _remember(self, line: str) -> None:
        if self._readline is None or not line.strip() or not self.keep_history:
            return
        self._readline.add_history(line)
        if self._history_file is not None:
            try:
                self._readline.append_history_file(1, str(self._history_file))
            except OSError:
                pass

    def _input(self, prompt: str) -> str:
        line = input(prompt)
        self._remember(line)
        return line

    def _multiline(self, first: str) -> str | None:
        """The rest of a message opened with triple quotes; None when cancelled by Ctrl-C."""
        if first.rstrip().endswith(_MULTILINE):
            return first.rstrip()[: -len(_MULTILINE)]
        parts = [first] if first else []
        while True:
            try:
                line = self._input("... ")
            except KeyboardInterrupt:
                self.say()
                return None
            if line.rstrip().endswith(_MULTILINE):
                last = line.rstrip()[: -len(_MULTILINE)]
                if last:
                    parts.append(last)
                return "\n".join(parts)
            parts.append(line)

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> int:
        self._setup_readline()
        try:
            self._load()
            while True:
                try:
                    line = self._input(">>> ")
                except KeyboardInterrupt:
                    buffered = self._readline.get_line_buffer() if self._readline else ""
                    self.say()
                    if not buffered:
                        self.say("Use Ctrl + d or /bye to exit.")
                    continue
                except EOFError:
                    self.say()
                    return 0
                try:
                    if not self.handle(line):
                        return 0
                except KeyboardInterrupt:  # a slow /show, /load or /save: back to the prompt
                    self.say()
        finally:
            self._save_history()

    def _load(self) -> None:
        with Spinner(sys.stderr):
            self.client.preload(self.options.model, keep_alive=self.options.keep_alive)

    def handle(self, line: str) -> bool:
        """Act on one input line; False to leave."""
        stripped = line.strip()
        if not stripped:
            return True
        if stripped.startswith(_MULTILINE):
            text = self._multiline(stripped[len(_MULTILINE) :])
            if text is not None:
                self.chat(text)
            return True
        if not stripped.startswith("/"):
            self.chat(line)
            return True
        words = stripped.split()
        command = words[0]
        if command in ("/bye", "/exit"):
            return False
        if command in ("/?", "/help"):
            self._help(words[1:])
        elif command == "/set":
            self._set(stripped, words)
        elif command == "/show":
            self._show(words)
        elif command == "/load":
            self._load_model(words)
        elif command == "/save":
            self._save(words)
        elif command == "/clear":
            self.messages = self._system_messages()
            self.say("Cleared session context")
        elif Path(command).expanduser().is_file():
            self.chat(line)  # a prompt that starts with a file path (an image)
        else:
            self.say(f"Unknown command '{command}'. Type /? for help")
        return True

    # -- commands -------------------------------------------------------------------------

    def _help(self, topic: list[str]) -> None:
        if topic and topic[0] in ("shortcut", "shortcuts"):
            self.out.write(SHORTCUTS_HELP)
        elif topic and topic[0] == "set":
            self.out.write(SET_HELP)
        elif topic and topic[0] == "show":
            self.out.write(SHOW_HELP)
        else:
            self.out.write(HELP)
            if "vision" in (self.info.capabilities or []):
                self.out.write(VISION_HELP)
        self.say()

    def _system_messages(self) -> list[dict[str, Any]]:
        return [{"role": "system", "content": self.system}] if self.system else []

    def _set(self, stripped: str, words: list[str]) -> None:
        if len(words) < 2:
            self.out.write(SET_HELP + "\n")
            return
        what = words[1]
        options = self.options
        if what == "parameter":
            self._set_parameter(words[2:])
        elif what == "system":
            parts = stripped.split(None, 2)
            text = parts[2] if len(parts) > 2 else ""
            if text.startswith(_MULTILINE):
                collected = self._multiline(text[len(_MULTILINE) :])
                if collected is None:
                    return
                text = collected
            if not text:
                self.say("Usage:\n  /set system <string>")
                return
            self.system = text
            message = {"role": "system", "content": text}
            if self.messages and self.messages[-1]["role"] == "system":
                self.messages[-1] = message
            else:
                self.messages.append(message)
            self.say("Set system message.")
        elif what == "history":
            self.keep_history = True
            self.say("Set history mode.")
        elif what == "nohistory":
            self.keep_history = False
            self.say("Set 'nohistory' mode.")
        elif what == "wordwrap":
            options.word_wrap = True
            self.say("Set 'wordwrap' mode.")
        elif what == "nowordwrap":
            options.word_wrap = False
            self.say("Set 'nowordwrap' mode.")
        elif what == "verbose":
            options.verbose = True
            self.say("Set 'verbose' mode.")
        elif what == "quiet":
            options.verbose = False
            self.say("Set 'quiet' mode.")
        elif what == "format":
            if len(words) < 3 or words[2] != "json":
                self.say("Invalid or missing format. For 'json' mode use '/set format json'")
            else:
                options.format = "json"
                self.say("Set format to 'json' mode.")
        elif what == "noformat":
            options.format = None
            self.say("Disabled format.")
        elif what == "think":
            level = think_level(words[2]) if len(words) > 2 else None
            if len(words) > 2 and level is None:
                self.say(f"Invalid think level '{words[2]}': use {', '.join(THINK_LEVELS)}")
                return
            options.think = level or True
            self.say(f"Set 'think' mode to '{level}'." if level else "Set 'think' mode.")
        elif what == "nothink":
            options.think = False
            self.say("Set 'nothink' mode.")
        else:
            self.say(f"Unknown command '/set {what}'. Type /? for help")

    def _set_parameter(self, args: list[str]) -> None:
        if not args:
            self.out.write(PARAMETER_HELP + "\n")
            return
        if len(args) < 2:
            self.say("Usage:\n  /set parameter <name> <value>")
            return
        name, values = args[0], args[1:]
        try:
            parsed = parse_parameter(name, values)
        except ValueError as exc:
            self.say(f"Couldn't set parameter: {exc}")
            return
        self.parameters.update(parsed)
        self.say(f"Set parameter '{name}' to '{', '.join(values)}'")

    def _show(self, words: list[str]) -> None:
        if len(words) < 2:
            self.out.write(SHOW_HELP + "\n")
            return
        what = words[1]
        if what not in ("info", "license", "modelfile", "parameters", "system", "template"):
            self.say(f"Unknown command '/show {what}'. Type /? for help")
            return
        try:
            info = self.client.show(self.options.model)
        except OllamaError as exc:
            self.say(f"error: {_message(exc)}")
            return
        if what == "info":
            self.out.write(show_info(info))
        elif what == "license":
            self.say(info.license or "No license was specified for this model.")
        elif what == "modelfile":
            self.say(info.modelfile or "")
        elif what == "parameters":
            if not info.parameters and not self.parameters:
                self.say("No parameters were specified for this model.")
                return
            if self.parameters:
                self.say("User defined parameters:")
                for key, value in self.parameters.items():
                    self.say(f"{key:<30} {value}")
                self.say()
            if info.parameters:
                self.say("Model defined parameters:")
                self.say(info.parameters)
        elif what == "system":
            system = self.system or info.system
            self.say(system + "\n" if system else "No system message was specified for this model.")
        else:
            template = info.template
            self.say(template if template else "No prompt template was specified for this model.")

    def _load_model(self, words: list[str]) -> None:
        if len(words) != 2:
            self.say("Usage:\n  /load <modelname>")
            return
        name = words[1]
        self.say(f"Loading model '{name}'")
        try:
            info = self.client.show(name)
            self.options.model = name
            self.info = info
            self.messages = self._system_messages()
            self._load()
        except NotFoundError:
            self.say(f"error: model '{name}' not found")
        except OllamaError as exc:
            self.say(f"error: {_message(exc)}")

    def _save(self, words: list[str]) -> None:
        if len(words) != 2:
            self.say("Usage:\n  /save <modelname>")
            return
        name = words[1]
        try:
            self.client.create(
                name,
                from_=self.options.model,
                system=self.system,
                parameters=self.parameters or None,
                messages=self.messages or None,
            )
        except OllamaError as exc:
            self.say(f"error: {_message(exc)}")
            return
        self.say(f"Created new model '{name}'")

    # -- one turn -------------------------------------------------------------------------

    def chat(self, text: str) -> None:
        message: dict[str, Any] = {"role": "user", "content": text}
        if "vision" in (self.info.capabilities or []):
            extracted = extract_images(text)
            for path in extracted.paths:
                self.say(f"Added image '{path}'")
            if extracted.images:
                message = {"role": "user", "content": extracted.prompt,
                           "images": extracted.images}  # fmt: skip
        self.messages.append(message)
        options = self.options
        width = wrap_width(self.out) if options.word_wrap else None
        renderer = AnswerRenderer(
            self.out, style=styled(self.out), wrap_width=width, hide_thinking=options.hide_thinking
        )
        last = None
        interrupted = False
        spinner = Spinner(sys.stderr).start()
        try:
            stream = self.client.chat(
                options.model,
                self.messages,
                stream=True,
                think=options.think,
                format=options.format,
                options=self.parameters or None,
                keep_alive=options.keep_alive,
            )
            with stream:
                for chunk in stream:
                    if chunk.message.thinking or chunk.message.content:
                        spinner.stop()
                    renderer.add_thinking(chunk.message.thinking or "")
                    renderer.add_content(chunk.message.content or "")
                    last = chunk
        except KeyboardInterrupt:
            interrupted = True
        except OllamaError as exc:
            spinner.stop()
            renderer.finish()
            self.messages.pop()
            sys.stderr.write(f"Error: {_message(exc)}\n\n")
            return
        finally:
            spinner.stop()
        renderer.finish(blank_line=True)
        content = "".join(renderer.content)
        if interrupted and not content:
            self.messages.pop()
            return
        self.messages.append({"role": "assistant", "content": content})
        if options.verbose and last is not None and last.done:
            sys.stderr.write(metrics_summary(last) + "\n")


def _message(exc: OllamaError) -> str:
    error = getattr(exc, "error", None)
    return error if isinstance(error, str) else str(exc)
