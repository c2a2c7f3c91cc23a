"""Pull a model with progress (the embedded server installs gemma3:270m offline)."""

from _common import MODEL

from ollamakit import Client

client = Client()
for progress in client.pull(MODEL, stream=True):
    if progress.total:
        print(f"{progress.status}: {progress.completed or 0}/{progress.total} bytes")
    else:
        print(progress.status)
