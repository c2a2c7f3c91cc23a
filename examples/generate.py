"""Generate: complete a prompt, with options as a typed object."""

from _common import MODEL

from ollamakit import Client, Options

with Client() as client:
    result = client.generate(
        MODEL, "The capital of France is", options=Options(temperature=0, num_predict=16)
    )
    print(result.response)
    print("done because:", result.done_reason)
