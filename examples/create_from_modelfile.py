"""Create a model from a Modelfile (text or path); local FROM/ADAPTER files are uploaded."""

from _common import MODEL

from ollamakit import Client

MODELFILE = f"""
FROM {MODEL}
PARAMETER temperature 0.2
PARAMETER stop "<end_of_turn>"
SYSTEM You are a pirate. Answer in one short sentence.
"""

client = Client()
for progress in client.create("pirate", modelfile=MODELFILE, stream=True):
    print(progress.status)
print(client.show("pirate").system)
client.delete("pirate")
