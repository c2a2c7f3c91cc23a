"""Images: paths, bytes, base64 or file objects go in images= (for vision models)."""

import base64
import os
import tempfile
from pathlib import Path

from _common import MODEL

import ollamakit

# A 1x1 PNG, so the example needs no file of its own.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
path = Path(tempfile.mkdtemp()) / "pixel.png"
path.write_bytes(PNG)

model = os.environ.get("OLLAMAKIT_VISION_MODEL", MODEL)
try:
    response = ollamakit.generate(model, "Describe this image.", images=[path])
    print(response.response)
except ollamakit.ResponseError as error:  # e.g. a model without vision
    print("server said:", error.error)
