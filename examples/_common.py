"""Shared settings for the examples: which model to use (``OLLAMAKIT_MODEL``).

The examples talk to ``OLLAMA_HOST`` (default ``http://127.0.0.1:11434``): a real Ollama, or
the embedded server (``python -m ollamakit.server``, then ``ollamakit.pull("gemma3:270m")``).
"""

import os

MODEL = os.environ.get("OLLAMAKIT_MODEL", "gemma3:270m")
