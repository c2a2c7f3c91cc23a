"""Async: three questions answered concurrently by one AsyncClient."""

import asyncio

from _common import MODEL

from ollamakit import AsyncClient


async def ask(client: AsyncClient, question: str) -> str:
    stream = await client.chat(
        MODEL, [{"role": "user", "content": question}], stream=True, options={"num_predict": 32}
    )
    parts = [chunk.message.content or "" async for chunk in stream]
    return "".join(parts)


async def main() -> None:
    async with AsyncClient() as client:
        questions = ["What is 2+2?", "Name a planet.", "Say hello in French."]
        answers = await asyncio.gather(*(ask(client, q) for q in questions))
        for question, answer in zip(questions, answers, strict=True):
            print(f"{question} -> {answer.strip()}")


asyncio.run(main())
