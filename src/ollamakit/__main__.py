"""``python -m ollamakit``: the command line, as the ``ollamakit`` script."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
