"""``ollamakit create``: Modelfile to blobs to ``/api/create``, with progress.

Each local file is hashed (one read, with a bar), skipped when the server already has the blob,
otherwise uploaded by ``Client.create_blob`` with a byte bar (given the digest, it does not read
the file a second time to hash it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._progress import ProgressView, follow

if TYPE_CHECKING:
    from .._stream import Stream
    from .._sync_client import Client
    from .._types import ProgressResponse

__all__ = ["create_model", "hash_file"]

_CHUNK = 1 << 20
# /api/create fields that Client.create takes as parameters (``from`` is spelt ``from_``).
_CREATE_PARAMETERS = {
    "quantize": "quantize",
    "from": "from_",
    "files": "files",
    "adapters": "adapters",
    "template": "template",
    "license": "license",
    "system": "system",
    "parameters": "parameters",
    "messages": "messages",
}


def hash_file(path: Path, progress: Callable[[int], None] | None = None) -> str:
    digest = hashlib.sha256()
    done = 0
    with path.open("rb") as file:
        while block := file.read(_CHUNK):
            digest.update(block)
            done += len(block)
            if progress is not None:
                progress(done)
    return "sha256:" + digest.hexdigest()


def _blob(client: Client, path: Path, view: ProgressView) -> str:
    size = path.stat().st_size
    hash_key = f"hash:{path}"
    digest = hash_file(path, lambda done: view.bar(hash_key, f"hashing {path.name}", size, done))
    view.bar(hash_key, f"hashing {path.name}", size, size)
    if client.blob_exists(digest):
        view.status(f"using existing blob {digest[:19]}")
        return digest
    label = f"copying file {digest[:19]}"
    view.bar(digest, label, size, 0)
    client.create_blob(
        path, digest=digest, progress=lambda sent, total: view.bar(digest, label, total, sent)
    )
    return digest


def _create_stream(
    client: Client, name: str, request: dict[str, Any], modelfile: Path
) -> Stream[ProgressResponse]:
    arguments = {_CREATE_PARAMETERS[key]: value for key, value in request.items()
                 if key in _CREATE_PARAMETERS}  # fmt: skip
    if len(arguments) == len(request):
        # With the arguments as a mapping, no overload of create is chosen: say which it is.
        created: Stream[ProgressResponse] = client.create(name, **arguments, stream=True)
        return created
    # RENDERER, PARSER, REQUIRES and DRAFT have no Client.create parameter; create(modelfile=)
    # sends them. It hashes the files again, but the blobs are already there, so nothing is
    # uploaded twice.
    return client.create(name, quantize=request.get("quantize"), modelfile=modelfile, stream=True)


def create_model(
    client: Client,
    name: str,
    modelfile_path: Path,
    quantize: str | None,
    warn: Callable[[str], None],
) -> None:
    from ..modelfile import Modelfile

    plan = Modelfile.from_path(modelfile_path).to_create_plan()
    for warning in plan.warnings:
        warn(warning)
    with ProgressView() as view:
        view.status("gathering model components")
        digests = {path: _blob(client, path, view) for path in plan.local_paths()}
        request = plan.request_with_digests(digests)
        if quantize:
            request["quantize"] = quantize
        with _create_stream(client, name, request, modelfile_path) as stream:
            follow(stream, view)
