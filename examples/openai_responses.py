"""OpenAI's Responses API on ``ollamakit serve`` (or Ollama): the ``openai`` package's
``client.responses.create`` for an answer, a stream, a JSON-schema answer and a function-call
round trip. The API is stateless here, as in Ollama: each request carries the conversation.

Run ``ollamakit serve`` (and ``ollamakit pull gemma3:270m``) first; ``OLLAMA_HOST`` says
where it listens. Function calls need a model whose template supports tools
(``OLLAMAKIT_MODEL``); with the demo model the server says it does not.
"""

import json
import os

import openai
from _common import MODEL

host = os.environ.get("OLLAMA_HOST", "127.0.0.1:11434")
base = host if "://" in host else f"http://{host}"
client = openai.OpenAI(base_url=f"{base}/v1", api_key="ollama")  # the key is ignored
greedy = {"temperature": 0, "max_output_tokens": 32}

response = client.responses.create(
    model=MODEL, instructions="Answer in one short line.", input="Why is the sky blue?", **greedy
)
print(response.output_text)
usage = response.usage
if usage:
    print(f"status={response.status} in={usage.input_tokens} out={usage.output_tokens}")

for event in client.responses.create(
    model=MODEL, input="Name three primary colours.", stream=True, **greedy
):
    if event.type == "response.output_text.delta":
        print(event.delta, end="", flush=True)
    elif event.type == "response.completed":
        print(f"\n({event.response.usage.output_tokens if event.response.usage else 0} tokens)")

schema = {
    "type": "object",
    "properties": {"capital": {"type": "string"}},
    "required": ["capital"],
    "additionalProperties": False,
}
answer = client.responses.create(
    model=MODEL,
    input="What is the capital of France? Answer as JSON.",
    text={"format": {"type": "json_schema", "name": "capital", "schema": schema}},
    **greedy,
)
print("JSON:", answer.output_text)

tools = [
    {
        "type": "function",
        "name": "add",
        "description": "Add two whole numbers.",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    }
]
history: list = [{"role": "user", "content": "What is 2 + 3? Use the add tool."}]
try:
    first = client.responses.create(model=MODEL, input=history, tools=tools, **greedy)
except openai.BadRequestError as error:  # e.g. "... does not support tools"
    print("no function calls with this model:", error.body)
else:
    calls = [item for item in first.output if item.type == "function_call"]
    for call in calls:
        result = sum(json.loads(call.arguments).values())
        print(f"{call.name}({call.arguments}) = {result}")
        history += [
            call,
            {"type": "function_call_output", "call_id": call.call_id, "output": str(result)},
        ]
    final = (
        client.responses.create(model=MODEL, input=history, tools=tools, **greedy)
        if calls
        else first
    )
    print(final.output_text)
