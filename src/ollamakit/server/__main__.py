"""``python -m ollamakit.server``: run the embedded Ollama-compatible server."""

from __future__ import annotations

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
