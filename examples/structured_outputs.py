"""Structured outputs: pass a class as format=, get a validated instance back."""

import dataclasses

from _common import MODEL

import ollamakit


@dataclasses.dataclass
class Country:
    name: str
    capital: str
    languages: list[str]


response = ollamakit.chat(
    MODEL,
    [{"role": "user", "content": "Tell me about Canada as JSON."}],
    format=Country,  # a pydantic model, dataclass, TypedDict or msgspec Struct
    options={"temperature": 0, "num_predict": 128},
)
try:
    country = response.message.parsed
    print(country)
except ollamakit.ParseError as error:  # raised at the call when the output does not validate
    print("the model did not follow the schema:", error.raw)
