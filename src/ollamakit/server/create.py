"""``/api/create``: build a model from an existing one and/or uploaded GGUF blobs.

Layers follow Ollama's ``createModel``: the base model's layers are inherited (their ``from``
records the parent), uploaded GGUFs become model/adapter/projector layers according to their
metadata, and TEMPLATE/SYSTEM/LICENSE/params/messages layers replace inherited ones (params are
merged, request keys winning). ``quantize`` rewrites an F16/BF16/F32 model layer with
llama.cpp's quantizer (:mod:`.quantize`). Progress statuses are Ollama's: ``parsing GGUF``,
``quantizing F16 model to Q4_K_M`` and ``verifying conversion`` when quantizing, one
``using existing layer`` / ``creating new layer`` per layer, ``writing manifest``,
``success``. The manifest is written last and atomically, so an interrupted create leaves
nothing behind but unreferenced blobs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..names import ModelName
from . import prompt as prompting
from .demo import install_demo_model, is_demo_name
from .engine import OptionError, parse_options
from .quantize import check_source, parse_level, quantize_layer
from .store import (
    MEDIA_ADAPTER,
    MEDIA_LICENSE,
    MEDIA_MESSAGES,
    MEDIA_MODEL,
    MEDIA_PARAMS,
    MEDIA_PROJECTOR,
    MEDIA_SYSTEM,
    MEDIA_TEMPLATE,
    DigestError,
    Layer,
    Manifest,
    Pins,
    Store,
    human_number,
    parse_digest,
)
from .validate import BadRequest

__all__ = ["CreatePlan", "check_create_request", "create_model"]

Report = Callable[[dict[str, Any]], None]


@dataclass
class CreatePlan:
    """A checked create request."""

    name: ModelName
    body: dict[str, Any]
    licenses: list[str]


def check_create_request(body: dict[str, Any]) -> CreatePlan:
    """Everything that can be rejected before streaming starts (answered with a status)."""
    text = body.get("model") or body.get("name") or ""
    name = ModelName.parse(text)
    if not text or not name.is_valid:
        raise BadRequest("invalid model name")
    source = body.get("from") or ""
    files = body.get("files") or {}
    adapters = body.get("adapters") or {}
    if not source and not files:
        raise BadRequest("neither 'from' or 'files' was specified")
    for mapping in (files, adapters):
        for path, digest in mapping.items():
            if not _valid_fs_path(path):
                raise BadRequest("file path must be relative")
            if not digest:
                raise BadRequest("invalid digest format")
            try:
                parse_digest(digest)
            except DigestError:
                raise BadRequest("invalid digest format") from None
    if len(adapters) > 1:
        raise BadRequest("only one adapter is currently supported")
    if any(key.endswith(".safetensors") for key in files):
        raise BadRequest("converting safetensors models is not supported by this server")
    template = body.get("template")
    if template:
        try:
            prompting.parse_go_template(template)
        except prompting.TemplateError as exc:
            raise BadRequest(f"template error: {exc}") from None
    license_value = body.get("license")
    licenses: list[str] = []
    if isinstance(license_value, str):
        licenses = [license_value] if license_value else []
    elif isinstance(license_value, list):
        licenses = [item for item in license_value if isinstance(item, str) and item]
    elif license_value is not None:
        raise BadRequest(
            "json: cannot unmarshal into Go struct field CreateRequest.license of type string"
        )
    parameters = body.get("parameters")
    if parameters is not None:
        try:
            parse_options(parameters)
        except OptionError as exc:
            raise BadRequest(str(exc)) from None
    return CreatePlan(name=name, body=body, licenses=licenses)


def create_model(
    store: Store,
    plan: CreatePlan,
    report_item: Report,
    *,
    cancel: threading.Event | None = None,
    threads: int = 1,
) -> None:
    """Build and write the model; blocking, reports progress through ``report_item``.
    ``cancel`` stops a quantization in progress; ``threads`` is what it may use.

    Every blob the manifest will reference is pinned until the manifest is written, so that
    deleting a model that shares them (or the base itself) meanwhile cannot leave the new
    manifest pointing at a removed blob.
    """
    store.manifest_path(plan.name)  # a name the filesystem cannot hold fails before any write
    with store.pinned() as pins:
        _create_model(store, plan, report_item, pins, cancel, threads)


def _create_model(
    store: Store,
    plan: CreatePlan,
    report_item: Report,
    pins: Pins,
    cancel: threading.Event | None,
    threads: int,
) -> None:
    name, body, licenses = plan.name, plan.body, plan.licenses

    def report(status: str) -> None:
        report_item({"status": status})

    layers: list[tuple[Layer, str]] = []
    config: dict[str, Any] = {}
    source_text = body.get("from") or ""
    if source_text:
        base_name = ModelName.parse(source_text)
        if not base_name.is_valid:
            raise BadRequest("invalid model name")
        base = store.load(base_name)
        if base is None:
            if is_demo_name(base_name):
                install_demo_model(store, report_item, base_name)
                base = store.load(base_name)
            if base is None:
                raise BadRequest("pull model manifest: file does not exist", 404)
        config = {key: value for key, value in base.config.items() if key not in ("rootfs",)}
        short = base.short_name
        for layer in base.manifest.layers:
            pins.add(layer.digest)
            inherited = Layer(layer.media_type, layer.digest, layer.size, short, layer.name)
            layers.append((inherited, f"using existing layer {layer.digest}"))
    files: dict[str, str] = body.get("files") or {}
    if files:
        report("parsing GGUF")
        for path, digest in sorted(files.items()):
            pins.add(digest)
            if not store.has_blob(digest):
                raise BadRequest(f"blob {digest} not found; upload it with /api/blobs first")
            try:
                info = store.gguf_info(digest)
            except Exception as exc:
                raise BadRequest(f"{path}: not a GGUF file ({exc})") from None
            media = {"adapter": MEDIA_ADAPTER, "projector": MEDIA_PROJECTOR}.get(
                info.kind, MEDIA_MODEL
            )
            size = store.blob_path(digest).stat().st_size
            layer = Layer(media, f"sha256:{parse_digest(digest)}", size)
            if media == MEDIA_MODEL:
                layers = [item for item in layers if item[0].media_type != MEDIA_MODEL]
                config.update(
                    {
                        "model_format": "gguf",
                        "model_family": info.architecture,
                        "model_families": [info.architecture],
                        "model_type": human_number(info.parameter_count),
                        "file_type": info.file_type,
                    }
                )
            layers.append((layer, f"using existing layer {layer.digest}"))
    for path, digest in sorted((body.get("adapters") or {}).items()):
        del path
        pins.add(digest)
        if not store.has_blob(digest):
            raise BadRequest(f"blob {digest} not found; upload it with /api/blobs first")
        size = store.blob_path(digest).stat().st_size
        layers = [item for item in layers if item[0].media_type != MEDIA_ADAPTER]
        layer = Layer(MEDIA_ADAPTER, f"sha256:{parse_digest(digest)}", size)
        layers.append((layer, f"using existing layer {layer.digest}"))
    requested = body.get("quantize") or body.get("quantization") or ""
    if requested:
        for index, (layer, _status) in enumerate(layers):
            if layer.media_type != MEDIA_MODEL:
                continue
            level = parse_level(requested)
            source_type = store.gguf_info(layer.digest).file_type
            check_source(source_type)
            if source_type == level:
                continue
            new_layer, new = quantize_layer(
                store,
                layer,
                source_type,
                level,
                report=report_item,
                pins=pins,
                cancel=cancel,
                threads=threads,
            )
            verb = "creating new layer" if new else "using existing layer"
            layers[index] = (new_layer, f"{verb} {new_layer.digest}")
            config["file_type"] = level

    def replace(media: str, data: bytes) -> None:
        nonlocal layers
        layers = [item for item in layers if item[0].media_type != media]
        layer, new = store.blob_layer(data, media, pins)
        verb = "creating new layer" if new else "using existing layer"
        layers.append((layer, f"{verb} {layer.digest}"))

    if body.get("template"):
        replace(MEDIA_TEMPLATE, body["template"].encode())
    if body.get("system"):
        replace(MEDIA_SYSTEM, body["system"].encode())
    if licenses:
        layers = [item for item in layers if item[0].media_type != MEDIA_LICENSE]
        for text in licenses:
            layer, new = store.blob_layer(text.encode(), MEDIA_LICENSE, pins)
            verb = "creating new layer" if new else "using existing layer"
            layers.append((layer, f"{verb} {layer.digest}"))
    params: dict[str, Any] = dict(body.get("parameters") or {})
    for layer, _ in layers:
        if layer.media_type == MEDIA_PARAMS:
            existing = store.read_json_layer(layer)
            if isinstance(existing, dict):
                for key, value in existing.items():
                    params.setdefault(key, value)
    if params:
        layers = [item for item in layers if item[0].media_type != MEDIA_PARAMS]
        layer, new = store.json_layer(params, MEDIA_PARAMS, pins)
        verb = "creating new layer" if new else "using existing layer"
        layers.append((layer, f"{verb} {layer.digest}"))
    messages = body.get("messages")
    if messages:
        layers = [item for item in layers if item[0].media_type != MEDIA_MESSAGES]
        layer, new = store.json_layer(messages, MEDIA_MESSAGES, pins)
        verb = "creating new layer" if new else "using existing layer"
        layers.append((layer, f"{verb} {layer.digest}"))
    for key in ("renderer", "parser", "requires"):
        if body.get(key):
            config[key] = body[key]
    config.setdefault("model_format", "gguf")
    config.setdefault("model_family", "")
    config.setdefault("model_families", None)
    config.setdefault("model_type", "")
    config.setdefault("file_type", "")
    config["architecture"] = "amd64"
    config["os"] = "linux"
    config_layer, _ = store.config_layer(config, pins)
    for _layer, status in layers:
        report(status)
    report("writing manifest")
    store.write_manifest(name, Manifest(config=config_layer, layers=[item[0] for item in layers]))
    report("success")


def _valid_fs_path(path: str) -> bool:
    """Go's ``fs.ValidPath``: relative, slash-separated, no empty, ``.`` or ``..`` parts."""
    if path == ".":
        return True
    if not path or path.startswith("/") or "\\" in path:
        return False
    return all(part not in ("", ".", "..") for part in path.split("/"))
