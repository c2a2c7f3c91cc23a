"""Model management: list, show, copy, delete, and what is loaded."""

from _common import MODEL

import ollamakit
from ollamakit import Client

client = Client()
print("server version:", client.version().version)
for model in client.list().models:
    details = model.details
    print(
        f"{model.name:30} {model.size or 0:>12,} bytes  {details.parameter_size if details else ''}"
    )

info = client.show(MODEL)
print("capabilities:", info.capabilities)

client.copy(MODEL, "example-copy:latest")
print("copy exists:", client.exists("example-copy:latest"))
client.delete("example-copy:latest")
print("copy exists after delete:", client.exists("example-copy:latest"))

try:
    client.show("no-such-model:latest")
except ollamakit.NotFoundError as error:
    print("as expected:", error.error)
print("loaded:", [m.name for m in client.ps().models])
