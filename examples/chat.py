"""Chat: one question, then a follow-up that reuses the first answer."""

from _common import MODEL

import ollamakit as ollama

messages = [{"role": "user", "content": "Name three primary colours, comma-separated."}]
reply = ollama.chat(MODEL, messages, options={"temperature": 0, "num_predict": 48})
print(reply.message.content)

messages.append(reply.message)
messages.append({"role": "user", "content": "Now name one secondary colour."})
reply = ollama.chat(MODEL, messages, options={"temperature": 0, "num_predict": 48})
print(reply["message"]["content"])
print(f"({reply.eval_count} tokens in {(reply.eval_duration or 0) / 1e9:.2f} s)")
