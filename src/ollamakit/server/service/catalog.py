"""The models in the store, as requests see them: finding one by the name a client sent, its
options and load options, and managing the store (list, show, copy, delete, blobs).
"""

from __future__ import annotations

import asyncio
from typing import Any

from ...names import ModelName, split_source_suffix
from ..engine import LoadOptions, OptionError, kv_cache_type_for, parse_options, usable_threads
from ..gguf import GGUFInfo
from ..settings import ServerConfig
from ..show import list_models, show_model
from ..store import (
    BlobWriter,
    DamagedModelError,
    DigestError,
    ModelEntry,
    Store,
    StoredModel,
    parse_digest,
)
from ..validate import BadRequest

__all__ = ["Catalog", "capability_name"]


def capability_name(text: str) -> str:
    """The model name as Ollama prints it in "does not support" errors."""
    return str(ModelName.parse(split_source_suffix(text)[0]))


class Catalog:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.store = Store(config.models_dir, prune=config.prune)
        self._kv_cache_type = kv_cache_type_for(config.kv_cache_type, config.flash_attention)

    # -- finding a model ------------------------------------------------------------------

    async def find(self, text: str, *, empty_status: int, empty_message: str) -> StoredModel:
        """The model ``text`` names; :class:`BadRequest` (400/404) when there is none."""
        if not text:
            raise BadRequest(empty_message, empty_status)
        base, source = split_source_suffix(text)
        if source == "cloud" or base.endswith("-cloud"):
            raise BadRequest("cloud models are not supported by this server", 400)
        name = ModelName.parse(base)
        if not name.is_valid:
            raise BadRequest("invalid model name")
        model = await asyncio.to_thread(self.store.load, name, complete=True)
        if model is None:
            raise BadRequest(f"model '{text}' not found", 404)
        return model

    def gguf(self, model: StoredModel, *, verbose: bool = False) -> GGUFInfo | None:
        return self.store.model_gguf(model, verbose=verbose)

    # -- options --------------------------------------------------------------------------

    def options(self, model: StoredModel, options: dict[str, Any] | None) -> dict[str, Any]:
        """The request's options over the model's parameters over Ollama's defaults."""
        try:
            return parse_options(model.params, options)
        except OptionError as exc:
            raise BadRequest(str(exc), 500) from None

    def load_options(self, model: StoredModel, options: dict[str, Any]) -> LoadOptions:
        gguf = self.gguf(model)
        num_ctx = options.get("num_ctx") or self.config.num_ctx
        trained = gguf.arch_value("context_length") if gguf is not None else None
        if isinstance(trained, int) and trained > 0:
            num_ctx = min(num_ctx, trained)
        num_ctx = max(num_ctx, 16)
        num_batch = max(1, min(int(options.get("num_batch") or 512), num_ctx))
        num_thread = usable_threads(int(options.get("num_thread") or self.config.num_thread))
        # Weights are read into memory unless the request asks for mmap: mapped pages can be
        # reclaimed while the model sits idle (this machine's proactive reclaim did), and
        # faulting them back made a 12-token prompt take anywhere from 30 ms to 3.6 s.
        return LoadOptions(
            num_ctx=num_ctx,
            num_batch=num_batch,
            num_thread=num_thread,
            use_mmap=bool(options.get("use_mmap")),
            num_parallel=max(0, self.config.num_parallel),  # 0: decided when loading
            flash_attention=self.config.flash_attention,
            kv_cache_type=self._kv_cache_type,
        )

    def keep_alive(self, requested_ns: int | None) -> int:
        return self.config.keep_alive_ns if requested_ns is None else requested_ns

    def special_tokens(self, model: StoredModel) -> tuple[str, str]:
        """BOS and EOS text from the GGUF vocabulary, for rendering without a loaded model."""
        gguf = self.gguf(model, verbose=True)
        if gguf is None:
            return "", ""
        tokens = gguf.metadata.get("tokenizer.ggml.tokens")
        texts = []
        for key in ("tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"):
            index = gguf.metadata.get(key)
            ok = isinstance(tokens, list) and isinstance(index, int) and 0 <= index < len(tokens)
            texts.append(str(tokens[index]) if ok else "")  # type: ignore[index]
        return texts[0], texts[1]

    # -- the store ------------------------------------------------------------------------

    async def list_models(self) -> list[dict[str, Any]]:
        """``/api/tags`` entries, newest first."""
        return await asyncio.to_thread(list_models, self.store)

    async def entries(self) -> list[ModelEntry]:
        return await asyncio.to_thread(self.store.entries)

    async def show(self, model: StoredModel, body: dict[str, Any], verbose: bool) -> dict[str, Any]:
        return await asyncio.to_thread(show_model, self.store, model, body, verbose)

    async def copy(self, source_text: str, destination_text: str) -> None:
        source = ModelName.parse(source_text)
        if not source_text or not source.is_valid:
            raise BadRequest(f'source "{source_text}" is invalid')
        destination = ModelName.parse(destination_text)
        if not destination_text or not destination.is_valid:
            raise BadRequest(f'destination "{destination_text}" is invalid')
        if not await asyncio.to_thread(self.store.copy, source, destination):
            raise BadRequest(f'model "{source_text}" not found', 404)

    async def existing(self, text: str) -> tuple[ModelName, StoredModel | None]:
        """The model to delete: its name must be valid and present. The model is None when
        its manifest is damaged: nothing of it can be loaded, yet it can be deleted."""
        name = ModelName.parse(text)
        if not text or not name.is_valid:
            raise BadRequest(f'name "{text}" is invalid')
        try:
            model = await asyncio.to_thread(self.store.load, name)
        except DamagedModelError:
            return name, None
        if model is None:
            raise BadRequest(f"model '{text}' not found", 404)
        return name, model

    async def delete(self, name: ModelName, text: str) -> None:
        if not await asyncio.to_thread(self.store.delete, name):
            raise BadRequest(f"model '{text}' not found", 404)

    # -- blobs ----------------------------------------------------------------------------

    @staticmethod
    def blob_digest(text: str) -> str:
        """The hex digest a ``/api/blobs/:digest`` path names; 400 when malformed."""
        try:
            return parse_digest(text)
        except DigestError as exc:
            raise BadRequest(str(exc)) from None

    def has_blob(self, hexdigest: str) -> bool:
        return self.store.has_blob(hexdigest)

    def blob_writer(self, hexdigest: str) -> BlobWriter:
        return self.store.blob_writer(f"sha256:{hexdigest}")

    @staticmethod
    async def commit_blob(writer: BlobWriter, text: str, hexdigest: str) -> None:
        """Publish an uploaded blob once its content matches the digest the path named.

        Ollama compares the path text exactly against ``sha256:<hex>``, so the right content
        under another spelling of its digest (``sha256-<hex>``) is a mismatch too."""
        if text.lower() != f"sha256:{hexdigest}" and writer.hexdigest == hexdigest:
            writer.abort()
            raise BadRequest(f'digest mismatch, expected "{text}", got "sha256:{hexdigest}"')
        try:
            await asyncio.to_thread(writer.commit)
        except DigestError as exc:
            raise BadRequest(
                f'digest mismatch, expected "{text}", got "sha256:{writer.hexdigest}"'
            ) from exc
