"""Anthropic's Messages API on ``ollamakit serve``: the ``anthropic`` package (``pip install
anthropic``) pointed at the server, for a message, a stream, a stop sequence and a token count.

Run ``ollamakit serve`` (and ``ollamakit pull gemma3:270m``) first; ``OLLAMA_HOST`` says
where it listens.
"""

import os

import anthropic
from _common import MODEL

host = os.environ.get("OLLAMA_HOST", "127.0.0.1:11434")
client = anthropic.Anthropic(
    base_url=host if "://" in host else f"http://{host}",
    api_key="ollama",  # required by the package, ignored by the server
)
question = [{"role": "user", "content": "Name three primary colours."}]
# anthropic 2.x takes sampling parameters only through the body.
greedy = {"temperature": 0}

message = client.messages.create(
    model=MODEL,
    system="Answer in one short line.",
    messages=question,
    max_tokens=24,
    extra_body=greedy,
)
print(message.content[0].text if message.content else "")
usage = message.usage
print(f"stop_reason={message.stop_reason} in={usage.input_tokens} out={usage.output_tokens}")

with client.messages.stream(
    model=MODEL, messages=question, max_tokens=24, extra_body=greedy
) as stream:
    for text in stream.text_stream:
        print(text, end="", flush=True)
    final = stream.get_final_message()
print(f"\nstream stop_reason={final.stop_reason}")

stopped = client.messages.create(
    model=MODEL, messages=question, max_tokens=24, stop_sequences=["\n"], extra_body=greedy
)
print(f"stop_reason={stopped.stop_reason} stop_sequence={stopped.stop_sequence!r}")

count = client.messages.count_tokens(model=MODEL, messages=question)
print(f"the question is {count.input_tokens} tokens for {MODEL}")
