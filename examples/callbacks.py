"""Stream callbacks: hand each chunk to a function (a GUI, a websocket) without a loop."""

import sys

from _common import MODEL

from ollamakit import Client


def show(chunk) -> None:  # type: ignore[no-untyped-def]
    sys.stdout.write(chunk.message.content or "")
    sys.stdout.flush()


client = Client()
final = client.chat(
    MODEL,
    [{"role": "user", "content": "Count from one to five."}],
    on_chunk=show,  # streams internally; returns the merged response
    options={"num_predict": 32},
)
print(f"\n[{final.eval_count} tokens]")
