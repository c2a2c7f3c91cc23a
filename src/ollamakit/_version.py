__version__ = "0.1.0"
#: The Ollama release whose API ollamakit implements: what the embedded server reports as its
#: ``version``, since clients compare it with Ollama's releases.
OLLAMA_VERSION = "0.33.0"
