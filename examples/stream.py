"""Streaming: print tokens as they arrive, then the merged final response."""

from _common import MODEL

from ollamakit import Client

client = Client()
messages = [{"role": "user", "content": "Write one sentence about the sea."}]
with client.chat(MODEL, messages, stream=True, options={"num_predict": 64}) as stream:
    for chunk in stream:
        print(chunk.message.content, end="", flush=True)
print()
final = stream.final()
print(f"{final.eval_count} tokens, done_reason={final.done_reason}")
