"""Modelfiles: parse and render them exactly as Ollama does, and plan the ``/api/create`` request.

:func:`parse_modelfile` is a port of Ollama's character state machine (``parser/parser.go``,
``ParseFile``), quirks included, because a Modelfile that ``ollama create`` accepts must mean
the same thing here, and one it rejects must fail with the same message:

* instructions are case-insensitive letters; a ``#`` is a comment only where an instruction
  could start, so ``SYSTEM a # b`` keeps ``# b``;
* a value runs to the end of the line and is trimmed; a value in double or triple double quotes
  may span lines and is taken verbatim (there are no escapes), and empty quotes give "";
* ``PARAMETER`` takes its name after exactly one space (a second space makes the name empty);
* non-printable characters are dropped, and line numbers count every CR and every LF, so an
  error in a CRLF file reports the line number Ollama reports, not the editor's.

:meth:`Modelfile.render` is Ollama's ``Command.String`` serialisation, the text ``/api/show``
returns. :meth:`Modelfile.to_create_plan` is ``Modelfile.CreateRequest`` without the hashing:
it types the parameters, resolves ``FROM`` / ``ADAPTER`` / ``DRAFT`` paths (choosing the files of
a model directory as Ollama does, content sniffing included) and returns the request body plus
the local files to upload, already keyed by the names the request must use. Hashing and
uploading are left to the client.
"""

from __future__ import annotations

import codecs
import math
import os
import re
import stat
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ._errors import ModelfileError

__all__ = [
    "DEPRECATED_PARAMETERS",
    "PARAMETER_TYPES",
    "Command",
    "CreatePlan",
    "Modelfile",
    "parse_modelfile",
]

ParameterType = Literal["int", "float", "bool", "list"]

PARAMETER_TYPES: Mapping[str, ParameterType] = {
    "num_keep": "int",
    "seed": "int",
    "num_predict": "int",
    "top_k": "int",
    "top_p": "float",
    "min_p": "float",
    "typical_p": "float",
    "repeat_last_n": "int",
    "temperature": "float",
    "repeat_penalty": "float",
    "presence_penalty": "float",
    "frequency_penalty": "float",
    "stop": "list",
    "num_ctx": "int",
    "num_batch": "int",
    "num_gpu": "int",
    "main_gpu": "int",
    "use_mmap": "bool",
    "num_thread": "int",
    "draft_num_predict": "int",
}
"""The options a ``PARAMETER`` may set (case-sensitive), with the type its value is parsed as."""

DEPRECATED_PARAMETERS: frozenset[str] = frozenset(
    {
        "penalize_newline",
        "low_vram",
        "f16_kv",
        "logits_all",
        "vocab_only",
        "use_mlock",
        "mirostat",
        "mirostat_tau",
        "mirostat_eta",
    }
)
"""Removed options that a Modelfile may still name: dropped with a warning instead of failing."""

_COMMANDS = frozenset(
    {
        "from",
        "license",
        "template",
        "system",
        "adapter",
        "draft",
        "renderer",
        "parser",
        "parameter",
        "message",
        "requires",
    }
)
_QUOTED_COMMANDS = frozenset(
    {"license", "template", "system", "adapter", "renderer", "parser", "requires", "draft"}
)
_ROLES = frozenset({"system", "user", "assistant"})

_ERR_COMMAND = (
    'command must be one of "from", "license", "template", "system", "adapter", "draft", '
    '"renderer", "parser", "parameter", "message", or "requires"'
)
_ERR_ROLE = 'message role must be one of "system", "user", or "assistant"'
_ERR_EOF = "unexpected EOF"
_ERR_NO_FROM = "no FROM line"
_ERR_NO_MODEL = "no Modelfile or safetensors files found"
_ERR_REQUIRES = "requires must be a valid semver (e.g. 0.14.0)"


@dataclass(frozen=True)
class Command:
    """One Modelfile instruction.

    ``name`` is ``"model"`` for FROM, the parameter name for PARAMETER, otherwise the lower-cased
    instruction; a MESSAGE keeps its role in ``args`` as ``"role: content"``.
    """

    name: str
    args: str

    def render(self) -> str:
        """The instruction as one Modelfile line (Ollama's ``Command.String``)."""
        if self.name == "model":
            return f"FROM {self.args}"
        if self.name in _QUOTED_COMMANDS:
            return f"{self.name.upper()} {_quote(self.args)}"
        if self.name == "message":
            role, _, content = self.args.partition(": ")
            return f"MESSAGE {role} {_quote(content)}"
        return f"PARAMETER {self.name} {_quote(self.args)}"

    def __str__(self) -> str:
        return self.render()


@dataclass
class Modelfile:
    """A parsed Modelfile: its commands in file order.

    ``path`` is the file it was read from, when it was; relative FROM, ADAPTER and DRAFT paths
    are resolved against its directory by default.
    """

    commands: list[Command] = field(default_factory=list)
    path: Path | None = field(default=None, compare=False)

    @classmethod
    def parse(cls, data: str | bytes | bytearray | memoryview) -> Modelfile:
        """Same as :func:`parse_modelfile`."""
        return parse_modelfile(data)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> Modelfile:
        """Read and parse a Modelfile (UTF-8, or UTF-16 with a byte-order mark)."""
        file = Path(path)
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise ModelfileError(f"open {file}: {_os_reason(exc)}") from exc
        modelfile = parse_modelfile(data)
        modelfile.path = file
        return modelfile

    def render(self) -> str:
        """The Modelfile as text, one command per line (what ``/api/show`` returns)."""
        return "".join(f"{command.render()}\n" for command in self.commands)

    def __str__(self) -> str:
        return self.render()

    def to_create_plan(self, base_dir: str | os.PathLike[str] | None = None) -> CreatePlan:
        """Turn the Modelfile into an ``/api/create`` body plus the local files it needs.

        ``base_dir`` is where relative paths start: by default the directory of :attr:`path`,
        or the working directory. Raises :class:`ModelfileError` for a bad parameter value, an
        unknown parameter, an invalid REQUIRES version or an unusable local path.
        """
        if base_dir is None:
            base_dir = self.path.parent if self.path is not None else Path(".")
        return _Planner(os.fspath(base_dir)).plan(self.commands)


@dataclass
class CreatePlan:
    """What a Modelfile asks of ``/api/create``.

    ``request`` is the body without ``model`` and without the three file maps; ``files``,
    ``adapters`` and ``draft_files`` map the name each file must have in the request to the
    local file to hash and upload. ``warnings`` lists what was accepted but ignored.
    """

    request: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)
    adapters: dict[str, Path] = field(default_factory=dict)
    draft_files: dict[str, Path] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def local_paths(self) -> list[Path]:
        """Every local file to upload, each once."""
        seen: dict[Path, None] = {}
        for group in (self.files, self.adapters, self.draft_files):
            seen.update(dict.fromkeys(group.values()))
        return list(seen)

    def request_with_digests(self, digests: Mapping[Path, str]) -> dict[str, Any]:
        """The complete body once every local file has a digest (``sha256:<hex>``)."""
        request = dict(self.request)
        for key, group in (
            ("files", self.files),
            ("adapters", self.adapters),
            ("draft_files", self.draft_files),
        ):
            if group:
                request[key] = {name: digests[path] for name, path in group.items()}
        return request


def parse_modelfile(data: str | bytes | bytearray | memoryview) -> Modelfile:
    """Parse Modelfile text (or its undecoded bytes) the way ``ollama create`` does.

    Raises :class:`ModelfileError`; ``line`` is set for the errors Ollama reports with a line
    number (an unknown instruction, a bad MESSAGE role) and None for the others.
    """
    text = _decode(data) if not isinstance(data, str) else data.removeprefix("\ufeff")
    return Modelfile(_parse_commands(text))


# --- decoding -------------------------------------------------------------------------------


def _replace_per_byte(exc: UnicodeError) -> tuple[str, int]:
    # Go's decoders write one U+FFFD per invalid byte; Python's "replace" writes one per
    # maximal invalid sequence.
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "\ufffd" * (exc.end - exc.start), exc.end


_DECODE_ERRORS = "ollamakit.modelfile.replace"
codecs.register_error(_DECODE_ERRORS, _replace_per_byte)


def _decode(data: bytes | bytearray | memoryview) -> str:
    raw = bytes(data)
    if raw.startswith(codecs.BOM_UTF8):
        return raw[3:].decode("utf-8", _DECODE_ERRORS)
    if raw.startswith(codecs.BOM_UTF16_BE):
        return raw[2:].decode("utf-16-be", "replace")
    if raw.startswith(codecs.BOM_UTF16_LE):
        return raw[2:].decode("utf-16-le", "replace")
    return raw.decode("utf-8", _DECODE_ERRORS)


# --- parsing --------------------------------------------------------------------------------

_NIL, _NAME, _VALUE, _PARAMETER, _MESSAGE, _COMMENT = range(6)
_VALUE_RUN = re.compile(r"[^ \t\r\n]+")
_LINE_END = re.compile(r"[\r\n]")
_ASCII_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_PARAMETER_CHARS = _ASCII_LETTERS | frozenset("0123456789_")


class _ValueBuffer:
    """The text of a value being read, tracking just enough to tell whether it is complete.

    Ollama trims and re-checks the whole value at every line end, which is quadratic on a long
    multi-line TEMPLATE or LICENSE; the check only needs the length of the trimmed text and its
    first and last three characters, which are kept up to date here.
    """

    __slots__ = ("first", "head", "last", "length", "parts", "recent", "tail")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.first = -1
        self.last = -1
        self.head = ""
        self.tail = ""
        self.recent = ""

    def add(self, piece: str, blank: bool) -> None:
        """Append ``piece``: one blank character, or a run of non-blank ones."""
        if not blank and self.first < 0:
            self.first = self.length
        if self.first >= 0 and len(self.head) < 3:
            self.head += piece[: 3 - len(self.head)]
        self.recent = (self.recent + piece)[-3:]
        if not blank:
            self.last = self.length + len(piece) - 1
            self.tail = self.recent
        self.parts.append(piece)
        self.length += len(piece)

    def complete(self) -> bool:
        """Whether the trimmed text is unquoted or has its closing quote."""
        if self.first < 0:
            return True
        size = self.last - self.first + 1
        if self.head.startswith('"""'):
            return size >= 6 and self.tail == '"""'
        if self.head.startswith('"'):
            return size >= 2 and self.tail.endswith('"')
        return True

    def value(self) -> str:
        text = "".join(self.parts).strip(" \t\r\n")
        if text.startswith('"""'):
            return text[3:-3]
        if text.startswith('"'):
            return text[1:-1]
        return text


def _parse_commands(text: str) -> list[Command]:
    commands: list[Command] = []
    state = _NIL
    line = 1
    word: list[str] = []
    value = _ValueBuffer()
    name = ""
    role = ""
    i = 0
    size = len(text)
    while i < size:
        if state == _VALUE:
            run = _VALUE_RUN.match(text, i)
            if run is not None:
                piece = run.group()
                if not piece.isprintable():
                    # str.isprintable has the same definition as Go's strconv.IsPrint.
                    piece = "".join(ch for ch in piece if ch.isprintable())
                if piece:
                    value.add(piece, blank=False)
                i = run.end()
                continue
            ch = text[i]
            i += 1
            if ch == " " or ch == "\t":
                value.add(ch, blank=True)
                continue
            line += 1
            if not value.complete():
                value.add(ch, blank=True)
                continue
            args = value.value()
            if role:
                args = f"{role}: {args}"
                role = ""
            commands.append(Command(name, args))
            value = _ValueBuffer()
            state = _NIL
            continue

        ch = text[i]
        i += 1
        newline = ch == "\n" or ch == "\r"
        if newline:
            line += 1
        blank = ch == " " or ch == "\t"
        if state == _NIL:
            if ch == "#":
                state = _COMMENT
                end = _LINE_END.search(text, i)
                i = end.start() if end is not None else size
            elif not blank and not newline:
                state = _NAME
                word = [ch] if ch.isprintable() else []
        elif state == _COMMENT:
            if newline:
                state = _NIL
        elif state == _NAME:
            if ch in _ASCII_LETTERS:
                word.append(ch)
            elif blank:
                keyword = "".join(word).lower()
                word = []
                if keyword not in _COMMANDS:
                    raise ModelfileError(_ERR_COMMAND, line)
                if keyword == "from":
                    name, state = "model", _VALUE
                elif keyword == "parameter":
                    state = _PARAMETER
                elif keyword == "message":
                    name, state = "message", _MESSAGE
                else:
                    name, state = keyword, _VALUE
            else:
                raise ModelfileError(_ERR_COMMAND, line)
        elif state == _PARAMETER:
            if ch in _PARAMETER_CHARS:
                word.append(ch)
            elif blank:
                name, word, state = "".join(word), [], _VALUE
            else:
                raise ModelfileError(f"{_ERR_EOF}: {''.join(word)}")
        elif ch in _ASCII_LETTERS:  # _MESSAGE
            word.append(ch)
        elif blank:
            role, word = "".join(word), []
            if role not in _ROLES:
                raise ModelfileError(_ERR_ROLE, line)
            state = _VALUE
        else:
            raise ModelfileError(f"{_ERR_EOF}: {''.join(word)}")

    if state == _VALUE:
        if not value.complete():
            raise ModelfileError(_ERR_EOF)
        args = value.value()
        if role:
            args = f"{role}: {args}"
        commands.append(Command(name, args))
    elif state in (_NAME, _PARAMETER, _MESSAGE):
        raise ModelfileError(_ERR_EOF)

    if not any(command.name == "model" for command in commands):
        raise ModelfileError(_ERR_NO_FROM)
    return commands


def _quote(text: str) -> str:
    if "\n" in text or text.startswith(" ") or text.endswith(" "):
        if '"' in text:
            return f'"""{text}"""'
        return f'"{text}"'
    return text


# --- typed parameter values (Go strconv semantics) -----------------------------------------

_DIGITS = r"[0-9](?:_?[0-9])*"
_HEX_DIGITS = r"[0-9a-fA-F](?:_?[0-9a-fA-F])*"
_DECIMAL_FLOAT = re.compile(
    rf"[+-]?(?:{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})(?:[eE][+-]?{_DIGITS})?"
)
_HEX_FLOAT = re.compile(
    rf"[+-]?0[xX](?:_?{_HEX_DIGITS}(?:\.(?:{_HEX_DIGITS})?)?|\.{_HEX_DIGITS})[pP][+-]?{_DIGITS}"
)
_SPECIAL_FLOAT = re.compile(r"[+-]?inf(?:inity)?|nan", re.IGNORECASE)
_INTEGER = re.compile(r"[+-]?[0-9]+")
_BOOLS = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _to_float32(number: float) -> float:
    """The float32 nearest ``number``, as the shortest decimal that reads back as it.

    That is the value Go puts on the wire for a float32 option: 0.1 stays 0.1.
    """
    single: float = struct.unpack("<f", struct.pack("<f", number))[0]
    if not math.isfinite(single):
        return single
    for digits in range(1, 10):
        shortest = float(f"{single:.{digits}g}")
        try:
            if struct.unpack("<f", struct.pack("<f", shortest))[0] == single:
                return shortest
        except OverflowError:  # rounding the largest float32 up can leave its range
            continue
    return single


def _parse_float32(text: str) -> float | None:
    """Go's ``strconv.ParseFloat(text, 32)``; None where it reports an error."""
    if _SPECIAL_FLOAT.fullmatch(text):
        return float(text)
    if _DECIMAL_FLOAT.fullmatch(text):
        number = float(text.replace("_", ""))
    elif _HEX_FLOAT.fullmatch(text):
        number = float.fromhex(text.replace("_", ""))
    else:
        return None
    if math.isinf(number):
        return None
    try:
        return _to_float32(number)
    except OverflowError:
        return None


def _parse_int64(text: str) -> int | None:
    """Go's ``strconv.ParseInt(text, 10, 64)``; None where it reports an error."""
    if not _INTEGER.fullmatch(text):
        return None
    number = int(text)
    return number if _INT64_MIN <= number <= _INT64_MAX else None


def _parameter_value(kind: ParameterType, text: str) -> Any:
    if kind == "int":
        integer = _parse_int64(text)
        if integer is None:
            raise ModelfileError(f"invalid int value [{text}]")
        return integer
    if kind == "float":
        number = _parse_float32(text)
        if number is None:
            raise ModelfileError(f"invalid float value [{text}]")
        if not math.isfinite(number):
            # Go accepts the value, then its JSON encoder refuses to send it.
            spelled = "NaN" if math.isnan(number) else ("+Inf" if number > 0 else "-Inf")
            raise ModelfileError(f"json: unsupported value: {spelled}")
        return number
    if kind == "bool":
        if text not in _BOOLS:
            raise ModelfileError(f"invalid bool value [{text}]")
        return _BOOLS[text]
    return [text]


# --- REQUIRES (golang.org/x/mod/semver.IsValid) ---------------------------------------------

_SEMVER_NUMBER = r"(?:0|[1-9][0-9]*)"
_SEMVER = re.compile(
    rf"v{_SEMVER_NUMBER}(?:\.{_SEMVER_NUMBER}(?:\.{_SEMVER_NUMBER}"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)?)?"
)


def _valid_semver(version: str) -> bool:
    match = _SEMVER.fullmatch(version)
    if match is None:
        return False
    prerelease = match.group("pre")
    if prerelease is None:
        return True
    for identifier in prerelease.split("."):
        if not identifier:
            return False
        if identifier.isdigit() and len(identifier) > 1 and identifier.startswith("0"):
            return False
    return True


# --- local files ----------------------------------------------------------------------------


class _NotFoundError(Exception):
    """A local path that does not exist: FROM then names a model instead."""


class _BadPatternError(Exception):
    pass


def _os_reason(exc: OSError) -> str:
    # Go spells errno texts in lower case ("no such file or directory").
    reason = exc.strerror or str(exc)
    return reason[:1].lower() + reason[1:]


def _expand_path(path: str, base_dir: str) -> str:
    """Ollama's ``expandPath``: absolute, ``~`` / ``~user``, or relative to ``base_dir``."""
    if os.path.isabs(path) or path.startswith(("\\", "/")):
        return os.path.abspath(path)
    if path.startswith("~"):
        if path == "~" or path.startswith("~/"):
            home = os.path.expanduser("~")
            rest = path[1:]
        else:
            user, _, rest = path[1:].partition("/")
            home = _user_home(user)
        return os.path.abspath(os.path.join(home, rest.lstrip("/")))
    return os.path.abspath(os.path.join(base_dir, path))


def _user_home(user: str) -> str:
    try:
        import pwd
    except ImportError:  # pragma: no cover - Windows
        home = os.path.expanduser(f"~{user}")
        if home.startswith("~"):
            raise ModelfileError(
                f"failed to find user '{user}': user: unknown user {user}"
            ) from None
        return home
    try:
        return pwd.getpwnam(user).pw_dir
    except KeyError:
        raise ModelfileError(f"failed to find user '{user}': user: unknown user {user}") from None


def _has_meta(path: str) -> bool:
    return any(ch in path for ch in "*?[\\")


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    star = False
    while pattern.startswith("*"):
        pattern = pattern[1:]
        star = True
    in_range = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 < len(pattern):
                i += 1
        elif ch == "[":
            in_range = True
        elif ch == "]":
            in_range = False
        elif ch == "*" and not in_range:
            break
        i += 1
    return star, pattern[:i], pattern[i:]


def _class_char(chunk: str) -> tuple[str, str]:
    if not chunk or chunk[0] in "-]":
        raise _BadPatternError
    if chunk[0] == "\\":
        chunk = chunk[1:]
        if not chunk:
            raise _BadPatternError
    if len(chunk) == 1:
        raise _BadPatternError
    return chunk[0], chunk[1:]


def _match_chunk(chunk: str, text: str) -> str | None:
    """Go's ``matchChunk``: the rest of ``text`` after ``chunk`` matched, else None."""
    failed = False
    while chunk:
        if not failed and not text:
            failed = True
        ch = chunk[0]
        if ch == "[":
            current = ""
            if not failed:
                current, text = text[0], text[1:]
            chunk = chunk[1:]
            negated = chunk.startswith("^")
            if negated:
                chunk = chunk[1:]
            matched = False
            ranges = 0
            while True:
                if chunk.startswith("]") and ranges > 0:
                    chunk = chunk[1:]
                    break
                low, chunk = _class_char(chunk)
                high = low
                if chunk[0] == "-":
                    high, chunk = _class_char(chunk[1:])
                if not failed and low <= current <= high:
                    matched = True
                ranges += 1
            if matched == negated:
                failed = True
        elif ch == "?":
            if not failed:
                if text[0] == "/":
                    failed = True
                text = text[1:]
            chunk = chunk[1:]
        else:
            if ch == "\\":
                chunk = chunk[1:]
                if not chunk:
                    raise _BadPatternError
            if not failed:
                if chunk[0] != text[0]:
                    failed = True
                text = text[1:]
            chunk = chunk[1:]
    return None if failed else text


def _go_match(pattern: str, name: str) -> bool:
    """Go's ``path/filepath.Match`` (Unix flavour); raises _BadPatternError."""
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            return "/" not in name
        rest = _match_chunk(chunk, name)
        if rest is not None and (not rest or pattern):
            name = rest
            continue
        if star:
            advanced = False
            i = 0
            while i < len(name) and name[i] != "/":
                rest = _match_chunk(chunk, name[i + 1 :])
                if rest is not None and (pattern or not rest):
                    name = rest
                    advanced = True
                    break
                i += 1
            if advanced:
                continue
        while pattern:
            _, chunk, pattern = _scan_chunk(pattern)
            _match_chunk(chunk, "")
        return False
    return not name


def _glob_dir(directory: str, pattern: str, matches: list[str]) -> None:
    try:
        if not os.path.isdir(directory):
            return
        names = sorted(os.listdir(directory))
    except OSError:
        return
    matches.extend(
        os.path.normpath(os.path.join(directory, name))
        for name in names
        if _go_match(pattern, name)
    )


def _go_glob(pattern: str) -> list[str]:
    """Go's ``path/filepath.Glob``: no hidden-file rule, ``**`` is just ``*``, sorted per level."""
    _go_match(pattern, "")
    if not _has_meta(pattern):
        return [pattern] if os.path.lexists(pattern) else []
    cut = pattern.rfind("/") + 1
    directory, file = pattern[:cut], pattern[cut:]
    if directory == "":
        directory = "."
    elif directory != "/":
        directory = directory[:-1]
    matches: list[str] = []
    if not _has_meta(directory):
        _glob_dir(directory, file, matches)
        return matches
    if directory == pattern:
        raise _BadPatternError
    for parent in _go_glob(directory):
        _glob_dir(parent, file, matches)
    return matches


def _glob_under(root: str, pattern: str) -> list[str]:
    """Glob ``pattern`` (slash-separated) inside the literal directory ``root``.

    Ollama globs ``Join(root, pattern)``, which reads a ``[`` or ``*`` in the directory's own
    name as a pattern and then finds nothing; here only the pattern part is a pattern.
    """
    current = [root]
    for part in pattern.split("/"):
        found: list[str] = []
        for base in current:
            if _has_meta(part):
                _glob_dir(base, part, found)
            elif os.path.lexists(os.path.join(base, part)):
                found.append(os.path.join(base, part))
        current = found
    return current


_HTML_TAGS = tuple(
    tag.encode()
    for tag in (
        "<!DOCTYPE HTML",
        "<HTML",
        "<HEAD",
        "<SCRIPT",
        "<IFRAME",
        "<H1",
        "<DIV",
        "<FONT",
        "<TABLE",
        "<A",
        "<STYLE",
        "<TITLE",
        "<B",
        "<BODY",
        "<BR",
        "<P",
        "<!--",
    )
)
_RIFF_MASK = b"\xff\xff\xff\xff\x00\x00\x00\x00\xff\xff\xff\xff"

# Go's sniffing table in order after the HTML tags: (mask, pattern, skip leading blanks, type).
# An empty mask means an exact prefix; "mp4" marks where the MP4 box check goes.
_SIGNATURES: tuple[tuple[bytes, bytes, bool, str], ...] = (
    (b"\xff" * 5, b"<?xml", True, "text/xml"),
    (b"", b"%PDF-", False, "application/pdf"),
    (b"", b"%!PS-Adobe-", False, "application/postscript"),
    (b"\xff\xff\x00\x00", b"\xfe\xff\x00\x00", False, "text/plain"),
    (b"\xff\xff\x00\x00", b"\xff\xfe\x00\x00", False, "text/plain"),
    (b"\xff\xff\xff\x00", b"\xef\xbb\xbf\x00", False, "text/plain"),
    (b"", b"\x00\x00\x01\x00", False, "image/x-icon"),
    (b"", b"\x00\x00\x02\x00", False, "image/x-icon"),
    (b"", b"BM", False, "image/bmp"),
    (b"", b"GIF87a", False, "image/gif"),
    (b"", b"GIF89a", False, "image/gif"),
    (_RIFF_MASK + b"\xff\xff", b"RIFF\0\0\0\0WEBPVP", False, "image/webp"),
    (b"", b"\x89PNG\r\n\x1a\n", False, "image/png"),
    (b"", b"\xff\xd8\xff", False, "image/jpeg"),
    (_RIFF_MASK, b"FORM\0\0\0\0AIFF", False, "audio/aiff"),
    (b"", b"ID3", False, "audio/mpeg"),
    (b"", b"OggS\x00", False, "application/ogg"),
    (b"", b"MThd\x00\x00\x00\x06", False, "audio/midi"),
    (_RIFF_MASK, b"RIFF\0\0\0\0AVI ", False, "video/avi"),
    (_RIFF_MASK, b"RIFF\0\0\0\0WAVE", False, "audio/wave"),
    (b"", b"", False, "mp4"),
    (b"", b"\x1a\x45\xdf\xa3", False, "video/webm"),
    (b"\x00" * 34 + b"\xff\xff", b"\x00" * 34 + b"LP", False, "application/vnd.ms-fontobject"),
    (b"", b"\x00\x01\x00\x00", False, "font/ttf"),
    (b"", b"OTTO", False, "font/otf"),
    (b"", b"ttcf", False, "font/collection"),
    (b"", b"wOFF", False, "font/woff"),
    (b"", b"wOF2", False, "font/woff2"),
    (b"", b"\x1f\x8b\x08", False, "application/x-gzip"),
    (b"", b"PK\x03\x04", False, "application/zip"),
    (b"", b"Rar!\x1a\x07\x00", False, "application/x-rar-compressed"),
    (b"", b"Rar!\x1a\x07\x01\x00", False, "application/x-rar-compressed"),
    (b"", b"\x00asm", False, "application/wasm"),
)
_BINARY_BYTES = frozenset([*range(0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)])


def _is_mp4(data: bytes) -> bool:
    if len(data) < 12:
        return False
    box = int.from_bytes(data[:4], "big")
    if box % 4 or len(data) < box or data[4:8] != b"ftyp":
        return False
    return any(data[at : at + 3] == b"mp4" for at in range(8, box, 4) if at != 12)


def _content_type(data: bytes) -> str:
    """Go's ``http.DetectContentType``, without parameters (``text/plain``, no charset).

    Ollama uses it to reject files that are not what their names say, such as a Git LFS
    pointer left in place of the weights.
    """
    data = data[:512]
    stripped = data.lstrip(b"\t\n\x0c\r ")
    for tag in _HTML_TAGS:
        if len(stripped) > len(tag) and stripped[len(tag)] in b" >":
            folded = bytes(b & 0xDF if 0x41 <= t <= 0x5A else b for b, t in zip(stripped, tag))
            if folded == tag:
                return "text/html"
    for mask, pattern, skip_blank, kind in _SIGNATURES:
        if kind == "mp4":
            if _is_mp4(data):
                return "video/mp4"
            continue
        sample = stripped if skip_blank else data
        if not mask:
            if sample.startswith(pattern):
                return kind
        elif len(sample) >= len(mask) and all(
            byte & bits == want for byte, bits, want in zip(sample, mask, pattern)
        ):
            return kind
    if not any(byte in _BINARY_BYTES for byte in stripped):
        return "text/plain"
    return "application/octet-stream"


def _sniff(path: str) -> str:
    try:
        with open(path, "rb") as file:
            return _content_type(file.read(512))
    except FileNotFoundError:
        raise _NotFoundError(f"open {path}: no such file or directory") from None
    except IsADirectoryError:
        raise ModelfileError(f"read {path}: is a directory") from None
    except OSError as exc:
        raise ModelfileError(f"open {path}: {_os_reason(exc)}") from None


def _checked_glob(root: str, pattern: str, content_type: str) -> list[str]:
    matches = _glob_under(root, pattern)
    for match in matches:
        found = _sniff(match)
        if content_type and found != content_type:
            raise ModelfileError(
                f"invalid content type: expected {content_type} but got {found} for {match}"
            )
    return matches


def _first_glob(root: str, candidates: Iterable[tuple[str, str]]) -> tuple[str, list[str]]:
    """The first candidate pattern that matches something, with its matches.

    A pattern whose files fail the content check counts as matching nothing, because Ollama
    ignores those errors while it looks for the weights.
    """
    for pattern, content_type in candidates:
        try:
            matches = _checked_glob(root, pattern, content_type)
        except (ModelfileError, _NotFoundError):
            continue
        if matches:
            return pattern, matches
    return "", []


_MODEL_PATTERNS = (
    ("model*.safetensors", ""),
    ("consolidated*.safetensors", ""),
    ("pytorch_model*.bin", "application/zip"),
    ("consolidated*.pth", "application/zip"),
    ("*.gguf", "application/octet-stream"),
    ("*.bin", "application/octet-stream"),
)


def _files_for_model(root: str) -> list[str]:
    """Ollama's ``filesForModel``: the weights by priority, then config and tokenizer files."""
    pattern, files = _first_glob(root, _MODEL_PATTERNS)
    if not files:
        raise ModelfileError(_ERR_NO_MODEL)
    if pattern == "model*.safetensors":
        files += _checked_glob(root, "*/model*.safetensors", "")
    files += _checked_glob(root, "*.json", "text/plain")
    files += _checked_glob(root, "**/*.json", "text/plain")
    files += _checked_glob(root, "chat_template.jinja", "text/plain")
    _, tokenizers = _first_glob(
        root,
        (("tokenizer.model", "application/octet-stream"), ("**/tokenizer.model", "text/plain")),
    )
    return files + tokenizers


def _is_local(relative: str) -> bool:
    return (
        relative != ""
        and not os.path.isabs(relative)
        and relative != ".."
        and not relative.startswith("../")
    )


def _real_path(path: str) -> str:
    try:
        return os.path.realpath(path, strict=True)
    except FileNotFoundError:
        raise _NotFoundError(f"lstat {path}: no such file or directory") from None
    except OSError as exc:
        raise ModelfileError(f"lstat {path}: {_os_reason(exc)}") from None


def _local_files(path: str) -> list[str]:
    """The files a FROM/ADAPTER/DRAFT path stands for (Ollama's ``fileDigestMap``)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if _has_meta(path):
            try:
                matches = _go_glob(path)
            except _BadPatternError:
                raise ModelfileError("syntax error in pattern") from None
            for match in matches:
                if os.path.isdir(match):
                    raise ModelfileError(f"read {match}: is a directory") from None
            if matches:
                return matches
        raise _NotFoundError(f"stat {path}: no such file or directory") from None
    except OSError as exc:
        raise ModelfileError(f"stat {path}: {_os_reason(exc)}") from None
    if not stat.S_ISDIR(info.st_mode):
        return [path]

    # Relative to the resolved directory, so that a symlink above the model directory
    # (e.g. /tmp -> /private/tmp) is not mistaken for a file escaping it.
    root = _real_path(path)
    files = []
    for file in _files_for_model(path):
        resolved = _real_path(file)
        relative = os.path.relpath(resolved, root)
        if not _is_local(relative):
            if ".cache" in relative:
                raise ModelfileError(
                    f"insecure path: {relative}\n\n"
                    "Use --local-dir <dir> when downloading model to disable caching"
                )
            raise ModelfileError(f"insecure path: {relative}")
        files.append(resolved)
    return files


def _same_local_path(a: str, b: str) -> bool:
    try:
        return os.path.realpath(a, strict=True) == os.path.realpath(b, strict=True)
    except OSError:
        return False


def _request_file_names(paths: Iterable[str]) -> dict[str, Path]:
    """Ollama's ``createRequestFileNames``: a lone file goes by its base name, several by
    their path below the deepest directory they share, with ``/`` separators."""
    absolute = {path: os.path.abspath(path) for path in paths}
    root = ""
    if len(absolute) >= 2:
        try:
            root = os.path.commonpath([os.path.dirname(path) for path in absolute.values()])
        except ValueError:
            root = ""
    names: dict[str, Path] = {}
    for path, full in absolute.items():
        name = os.path.basename(path)
        if root:
            relative = os.path.relpath(full, root)
            if relative not in (".", "..") and not relative.startswith(".." + os.sep):
                name = relative
        names[os.path.normpath(name).replace(os.sep, "/")] = Path(path)
    return names


class _Planner:
    """One run of ``Modelfile.CreateRequest``."""

    def __init__(self, base_dir: str) -> None:
        self.base_dir = base_dir
        self.model_paths: list[str] = []
        self.draft_paths: list[str] = []

    def plan(self, commands: Iterable[Command]) -> CreatePlan:
        model_from = ""
        template = system = renderer = parser = requires = ""
        licenses: list[str] = []
        messages: list[dict[str, str]] = []
        parameters: dict[str, Any] = {}
        files: dict[str, None] = {}
        adapters: dict[str, None] = {}
        draft_files: dict[str, None] = {}
        warnings: list[str] = []

        for command in commands:
            name, args = command.name, command.args
            if name == "model":
                path = _expand_path(args, self.base_dir)
                try:
                    found = _local_files(path)
                except _NotFoundError:
                    model_from = args
                    continue
                self._reject_same_path(path, self.draft_paths)
                self.model_paths.append(path)
                files.update(dict.fromkeys(found))
            elif name == "draft":
                path = _expand_path(args, self.base_dir)
                found = self._required_files(path)
                self._reject_same_path(path, self.model_paths)
                self.draft_paths.append(path)
                draft_files.update(dict.fromkeys(found))
            elif name == "adapter":
                # Each ADAPTER replaces the previous one, as in Ollama.
                adapters = dict.fromkeys(self._required_files(_expand_path(args, self.base_dir)))
            elif name == "template":
                template = args
            elif name == "system":
                system = args
            elif name == "license":
                licenses.append(args)
            elif name == "renderer":
                renderer = args
            elif name == "parser":
                parser = args
            elif name == "requires":
                version = args if args.startswith("v") else f"v{args}"
                if not _valid_semver(version):
                    raise ModelfileError(_ERR_REQUIRES)
                requires = version[1:]
            elif name == "message":
                role, _, content = args.partition(": ")
                messages.append({"role": role, "content": content})
            elif name in DEPRECATED_PARAMETERS:
                warnings.append(f"parameter {name} is deprecated")
            else:
                kind = PARAMETER_TYPES.get(name)
                if kind is None:
                    raise ModelfileError(f"unknown parameter '{name}'")
                value = _parameter_value(kind, args)
                if kind == "list" and isinstance(parameters.get(name), list):
                    parameters[name].extend(value)
                else:
                    parameters[name] = value

        # Empty strings are left out, as Go's omitempty does.
        request: dict[str, Any] = {}
        if model_from:
            request["from"] = model_from
        if template:
            request["template"] = template
        if licenses:
            request["license"] = licenses
        if system:
            request["system"] = system
        if parameters:
            request["parameters"] = parameters
        if messages:
            request["messages"] = messages
        if renderer:
            request["renderer"] = renderer
        if parser:
            request["parser"] = parser
        if requires:
            request["requires"] = requires
        return CreatePlan(
            request=request,
            files=_request_file_names(files),
            adapters=_request_file_names(adapters),
            draft_files=_request_file_names(draft_files),
            warnings=warnings,
        )

    @staticmethod
    def _required_files(path: str) -> list[str]:
        try:
            return _local_files(path)
        except _NotFoundError as exc:
            raise ModelfileError(str(exc)) from None

    @staticmethod
    def _reject_same_path(path: str, existing: Iterable[str]) -> None:
        for other in existing:
            if _same_local_path(path, other):
                raise ModelfileError(
                    f"DRAFT must not reference the same local path as FROM: {path}"
                )
