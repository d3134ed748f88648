"""Functions a model may call with `airloom call --registry examples/funcs.py "..."`.

What the registry needs from each function: type hints on every parameter (str, int,
float, bool, a Literal of choices, or a list of those) and a docstring whose first line
says what it does and whose ``Args:`` section describes each parameter. Functions
without them are skipped (``airloom call -v`` says why); names starting with ``_`` are
never offered. The model's call is validated against these signatures before it runs.
"""

from __future__ import annotations

from typing import Literal


def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Current weather of a city.

    Args:
        city: The city name, e.g. "Oslo".
        unit: Temperature unit.
    """
    temperature = 21 if unit == "celsius" else 70
    return f"{city}: {temperature} degrees {unit}, light wind"


def count_words(text: str, minimum_length: int = 0) -> int:
    """Count the words of a text.

    Args:
        text: The text.
        minimum_length: Ignore words shorter than this many letters.
    """
    return len([word for word in text.split() if len(word) >= minimum_length])


def _helper() -> None:
    """Not offered to the model: its name starts with an underscore."""
