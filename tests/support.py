"""Test helpers shared by the client tests."""

from __future__ import annotations

from typing import Any

from ollamakit import AsyncClient, Client


class Api:
    """Runs the same test body against Client and AsyncClient."""

    def __init__(self, mode: str, host: str, **kwargs: Any) -> None:
        self.mode = mode
        self.client: Client | AsyncClient = (
            Client(host, **kwargs) if mode == "sync" else AsyncClient(host, **kwargs)
        )

    async def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        result = getattr(self.client, method)(*args, **kwargs)
        if self.mode == "async":
            result = await result
        return result

    async def collect(self, stream: Any) -> list[Any]:
        if self.mode == "sync":
            return list(stream)
        return [item async for item in stream]

    async def collect_one(self, stream: Any) -> Any:
        if self.mode == "sync":
            return next(stream)
        return await stream.__anext__()

    async def final(self, stream: Any) -> Any:
        result = stream.final()
        if self.mode == "async":
            result = await result
        return result

    async def close_stream(self, stream: Any) -> None:
        result = stream.close()
        if self.mode == "async":
            await result

    async def aclose(self) -> None:
        if isinstance(self.client, AsyncClient):
            await self.client.close()
        else:
            self.client.close()
