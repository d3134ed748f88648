"""``agent`` in compose mode: the program draws the call, the teacher writes the request.

A small teacher cannot invent a toolbox of JSON schemas, but it can write one line a user
might type, and it can answer the function-calling prompt. In compose mode each item is:

1. a toolbox drawn from a catalogue of functions (``data/functions.yaml``, or the file
   ``functions_path`` names), one function of it the target, and values for its
   parameters drawn from each parameter's ``examples`` (:func:`draw_call`);
2. the teacher writes the user's request stating those values (``agent_request.txt``,
   read by :func:`parse_request`, which rejects a request that leaves a value out);
3. the teacher answers the airoboros function-calling prompt built from the toolbox, as
   in write mode; the answer must call the target with exactly the drawn values
   (:func:`airloom.formats.values.argument_problems`).

What is kept is therefore a call whose every value the input states: the record teaches
the right function *and* the right arguments, not only a schema-valid guess.

Example:
    >>> catalogue = load_catalogue()
    >>> drawn = draw_call(random.Random(3), catalogue, 3, 3)
    >>> len(drawn.functions), drawn.target in [f["name"] for f in drawn.functions]
    (3, True)
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from airloom.errors import AirloomError, ConfigError
from airloom.formats.values import argument_problems
from airloom.instructors.base import Rejected
from airloom.instructors.parsing import strip_markdown_debris
from airloom.reasons import Reason
from airloom.runtime.functions import FunctionCall, FunctionCallError, FunctionRegistry

__all__ = [
    "DrawnCall",
    "check_values",
    "draw_call",
    "load_catalogue",
    "parse_request",
    "render_values",
]

_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|[a-z]+", re.I)
_NUMBER_WORDS = {
    word: number
    for number, word in enumerate(
        ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"), 1
    )
}
_LABEL = re.compile(r"^\W*(?:user(?:'s)?\s+)?(?:message|request|input|user)\s*:\s*", re.I)


@dataclass(frozen=True)
class DrawnCall:
    """A toolbox (schemas without ``examples``), its target function and the values."""

    functions: list[dict[str, Any]]
    target: str
    values: dict[str, Any]


def _public(function: Mapping[str, Any]) -> dict[str, Any]:
    """The schema as prompts and records show it: the parameters' ``examples`` removed."""
    schema = copy.deepcopy(dict(function))
    for spec in schema.get("parameters", {}).get("properties", {}).values():
        spec.pop("examples", None)
    return schema


def load_catalogue(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The function catalogue (packaged, or ``path``), checked: every function is a valid
    schema, and every parameter has ``examples`` its own schema accepts.

    Example:
        >>> len(load_catalogue()) >= 20
        True
    """
    if path is None:
        text = resources.files("airloom.instructors").joinpath("data", "functions.yaml")
        where, raw = "the packaged function catalogue", text.read_text("utf-8")
    else:
        where = str(path)
        try:
            raw = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read functions_path {where}: {exc.strerror}") from exc
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where} is not valid YAML: {exc}") from exc
    if not isinstance(value, list) or len(value) < 2:
        raise ConfigError(f"{where} must be a YAML list of at least 2 function definitions")
    for function in value:
        _check_function(function, where)
    return value


def _check_function(function: Any, where: str) -> None:
    name = function.get("name", "?") if isinstance(function, Mapping) else "?"
    try:
        registry = FunctionRegistry.from_schemas([_public(function)])
    except (AirloomError, AttributeError, TypeError) as exc:
        raise ConfigError(f"{where}: function {name!r} is not a valid definition: {exc}") from exc
    properties = function["parameters"].get("properties", {})
    if not properties:
        raise ConfigError(f"{where}: function {name!r} has no parameters to draw values for")
    for param, spec in properties.items():
        examples = spec.get("examples") if isinstance(spec, Mapping) else None
        if not isinstance(examples, list) or not examples:
            raise ConfigError(
                f"{where}: parameter {name}.{param} needs a non-empty 'examples' list"
            )
    base = {param: spec["examples"][0] for param, spec in properties.items()}
    for param, spec in properties.items():
        for example in spec["examples"]:
            try:
                registry.check(name, {**base, param: example})
            except FunctionCallError as exc:
                raise ConfigError(
                    f"{where}: example {example!r} of {name}.{param}: {'; '.join(exc.problems)}"
                ) from exc


def draw_call(
    rng: random.Random, catalogue: Sequence[Mapping[str, Any]], fewest: int, most: int
) -> DrawnCall:
    """A toolbox of ``fewest``–``most`` functions in a drawn order, its target, and values
    for the target's required parameters (each optional one with even odds).

    Example:
        >>> drawn = draw_call(random.Random(0), load_catalogue(), 2, 4)
        >>> spec = next(f for f in drawn.functions if f["name"] == drawn.target)
        >>> set(spec["parameters"]["required"]) <= set(drawn.values)
        True
    """
    size = min(len(catalogue), rng.randint(fewest, most))
    chosen = rng.sample(list(catalogue), size)
    target = rng.choice(chosen)
    parameters = target["parameters"]
    required = set(parameters.get("required", []))
    values = {
        param: rng.choice(spec["examples"])
        for param, spec in parameters["properties"].items()
        if param in required or rng.random() < 0.5
    }
    return DrawnCall([_public(f) for f in chosen], str(target["name"]), values)


def render_values(values: Mapping[str, Any]) -> str:
    """The values as the request prompt lists them (booleans as yes / no).

    Example:
        >>> print(render_values({"door": "garage", "locked": False}))
        - door: garage
        - locked: no
    """
    lines = []
    for key, value in values.items():
        shown = ("yes" if value else "no") if isinstance(value, bool) else value
        lines.append(f"- {key}: {shown}")
    return "\n".join(lines)


def _number_forms(value: float) -> set[str]:
    forms = {f"{value:g}", str(value), f"{value:,}"}
    if float(value).is_integer():
        forms |= {str(int(value)), f"{int(value):,}"}
        forms |= {word for word, number in _NUMBER_WORDS.items() if number == value}
    return forms


def _states(request: str, value: Any) -> bool:
    if isinstance(value, bool):
        return True  # said in words ("unlock", "only vegetarian"); the answer is checked
    if isinstance(value, int | float):
        found = {token.casefold() for token in _NUMBER.findall(request)}
        return bool(found & _number_forms(value))
    return " ".join(str(value).casefold().split()) in " ".join(request.casefold().split())


def parse_request(text: str, values: Mapping[str, Any]) -> str:
    """The user's request from the teacher's reply; raise :class:`Rejected` when there is
    none or it leaves out a drawn value.

    Example:
        >>> parse_request('Message: "Lock the garage door, please."', {"door": "garage"})
        'Lock the garage door, please.'
        >>> parse_request("Sure! Here is a message:\\n\\nPay 1,250 to Ana, 3 times.",
        ...               {"amount": 1250, "payee": "Ana", "times": 3})
        'Pay 1,250 to Ana, 3 times.'
        >>> parse_request("Book two nights in Porto.", {"city": "Porto", "nights": 2})
        'Book two nights in Porto.'
        >>> try:
        ...     parse_request("Please lock the door.", {"door": "garage"})
        ... except Rejected as exc:
        ...     print(exc)
        missing_values: door=garage not in: Please lock the door.
    """
    lines = [strip_markdown_debris(line) for line in text.strip().splitlines()]
    lines = [_LABEL.sub("", line).strip().strip("\"'“”").strip() for line in lines]
    # a line ending in ":" introduces the message ("Sure! Here is a message a user might
    # send:"); the request is the first other line that states every value
    candidates = [line for line in lines if line and not line.endswith(":")]
    request = next(
        (line for line in candidates if all(_states(line, v) for v in values.values())),
        candidates[0] if candidates else "",
    )
    if not 3 <= len(request.split()) <= 60:
        raise Rejected(Reason.NO_QUESTION, (request or text.strip())[:120] or "empty reply")
    missing = [f"{key}={value}" for key, value in values.items() if not _states(request, value)]
    if missing:
        raise Rejected(Reason.MISSING_VALUES, f"{', '.join(missing)} not in: {request[:120]}")
    return request


def check_values(call: FunctionCall, drawn: DrawnCall) -> None:
    """Raise :class:`Rejected` unless ``call`` is the target with exactly the drawn values.

    Example:
        >>> drawn = DrawnCall([], "lock_door", {"door": "garage", "locked": True})
        >>> check_values(FunctionCall("lock_door", {"door": "Garage", "locked": True}), drawn)
        >>> try:
        ...     check_values(FunctionCall("lock_door", {"door": "shed", "locked": True}), drawn)
        ... except Rejected as exc:
        ...     print(exc)
        wrong_arguments: door: expected 'garage', got 'shed'
    """
    if call.name != drawn.target:
        raise Rejected(Reason.WRONG_FUNCTION, f"called {call.name}, the input needs {drawn.target}")
    problems = argument_problems(drawn.values, call.arguments)
    if problems:
        raise Rejected(Reason.WRONG_ARGUMENTS, "; ".join(problems))
