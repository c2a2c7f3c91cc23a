"""Batch jobs over many Ollama hosts with Ray Data (``pip install 'ollamakit[ray]'``).

Three callable classes for ``Dataset.map_batches`` -- :class:`Embed`, :class:`Generate` and
:class:`Chat` -- and a function for each that makes the ``map_batches`` call::

    import ray
    from ollamakit.ray import embed, chat

    ds = ray.data.read_parquet("docs/")
    ds = embed(ds, "nomic-embed-text", column="text", hosts=["gpu-1", "gpu-2"], concurrency=4)
    ds = chat(ds, "qwen3:4b", prompt="Classify as spam or ham: {text}", format=Label)
    ds.write_parquet("out/")

Every actor holds one :class:`~ollamakit.AsyncClient` per host with at most ``max_in_flight``
requests under way; a row whose request fails gets its reason in the ``error`` column instead of
failing the job (``on_error="raise"`` to fail it), after ``retries`` more attempts on the other
hosts (``retries=0`` by default). ``hosts=None`` means the Ollama on the node the actor runs on
(``OLLAMA_HOST`` there, else ``127.0.0.1:11434``). ``python -m ollamakit.ray`` runs a job from
Parquet to Parquet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._batches import Chat, Embed, Generate, as_table
from ._template import Template

if TYPE_CHECKING:
    from ray.data import Dataset

__all__ = ["Chat", "Embed", "Generate", "Template", "as_table", "chat", "embed", "generate"]

Concurrency = int | tuple[int, int]
"""How many actors: a number, or ``(min, max)`` for a pool that Ray grows and shrinks."""

# The actors mostly wait on the network: a quarter of a CPU each lets Ray place them next to
# the work that does need cores (reading and writing Parquet, the servers themselves).
ACTOR_CPUS = 0.25


def _map(
    dataset: Dataset,
    udf: type[Embed | Generate | Chat],
    constructor: dict[str, Any],
    concurrency: Concurrency,
    batch_size: int,
    num_cpus: float,
    map_batches: dict[str, Any] | None,
) -> Dataset:
    import ray.data

    udf(**constructor).close()  # a mistake in the arguments fails here, not in every actor
    if isinstance(concurrency, tuple):
        low, high = concurrency
        pool = ray.data.ActorPoolStrategy(min_size=low, max_size=high)
    else:
        pool = ray.data.ActorPoolStrategy(size=concurrency)
    return dataset.map_batches(
        udf,
        fn_constructor_kwargs=constructor,
        compute=pool,
        batch_size=batch_size,
        batch_format="pyarrow",
        num_cpus=num_cpus,
        **(map_batches or {}),
    )


def embed(
    dataset: Dataset,
    model: str,
    *,
    column: str = "text",
    concurrency: Concurrency = 1,
    batch_size: int = 256,
    num_cpus: float = ACTOR_CPUS,
    map_batches: dict[str, Any] | None = None,
    **options: Any,
) -> Dataset:
    """``dataset`` with an embedding column: ``map_batches(Embed, ...)`` on ``concurrency``
    actors. ``options`` go to :class:`Embed`, ``map_batches`` to Ray."""
    constructor = {"model": model, "column": column, **options}
    return _map(dataset, Embed, constructor, concurrency, batch_size, num_cpus, map_batches)


def generate(
    dataset: Dataset,
    model: str,
    *,
    prompt: str = "{prompt}",
    concurrency: Concurrency = 1,
    batch_size: int = 32,
    num_cpus: float = ACTOR_CPUS,
    map_batches: dict[str, Any] | None = None,
    **options: Any,
) -> Dataset:
    """``dataset`` with a completion per row: ``map_batches(Generate, ...)``; ``options`` go to
    :class:`Generate`."""
    constructor = {"model": model, "prompt": prompt, **options}
    return _map(dataset, Generate, constructor, concurrency, batch_size, num_cpus, map_batches)


def chat(
    dataset: Dataset,
    model: str,
    *,
    prompt: str = "{prompt}",
    concurrency: Concurrency = 1,
    batch_size: int = 32,
    num_cpus: float = ACTOR_CPUS,
    map_batches: dict[str, Any] | None = None,
    **options: Any,
) -> Dataset:
    """``dataset`` with a chat reply per row: ``map_batches(Chat, ...)``; ``options`` go to
    :class:`Chat`."""
    constructor = {"model": model, "prompt": prompt, **options}
    return _map(dataset, Chat, constructor, concurrency, batch_size, num_cpus, map_batches)
