"""Tools: the model calls Python functions; run_tools loops until it has an answer."""

from typing import Literal

from _common import MODEL

from ollamakit import Client, run_tools


def add(a: int, b: int) -> int:
    """Add two whole numbers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


def convert_temperature(value: float, unit: Literal["celsius", "fahrenheit"] = "celsius") -> float:
    """Convert a temperature to the other unit.

    Args:
        value: The temperature to convert.
        unit: The unit ``value`` is in.
    """
    return value * 9 / 5 + 32 if unit == "celsius" else (value - 32) * 5 / 9


client = Client()
messages = [{"role": "user", "content": "What is 2 + 3? Use the add tool."}]
answer = run_tools(client, MODEL, messages, [add, convert_temperature], max_steps=4)
print(answer.message.content)
for message in messages:
    role = message["role"] if isinstance(message, dict) else message.role
    print(
        " ", role, "->", (message.get("content") if isinstance(message, dict) else message.content)
    )
