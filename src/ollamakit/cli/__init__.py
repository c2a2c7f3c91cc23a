"""The ``ollamakit`` command line (extra ``[cli]``): Ollama's commands, with progress bars.

``ollamakit run llama3.2``, ``ollamakit pull``, ``list``, ``ps``, ``show``, ``create``, ``cp``,
``rm``, ``stop``, ``serve``, ``version`` and ``embed``; ``python -m ollamakit`` is the same.
This module only imports click when :func:`main` runs, so that the package stays light.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]

_MISSING_EXTRA = (
    "Error: the ollamakit command line needs the [cli] extra "
    "(click and rich). Install it with: pip install 'ollamakit[cli]'\n"
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    try:
        from .commands import cli
    except ImportError as exc:
        if getattr(exc, "name", None) != "click":
            raise
        sys.stderr.write(_MISSING_EXTRA)
        return 1
    try:
        cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="ollamakit",
            standalone_mode=True,
        )
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        sys.stderr.write(f"{code}\n")
        return 1
    return 0
