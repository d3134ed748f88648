"""Agent (function selection): the answer is one valid call to a listed function.

An agent record's instruction is the airoboros function-calling prompt ("… Provide your
response in JSON format. / Input: … / Available functions: <listing>") and its
response is ``{"function": ..., "params": {...}}`` in the requested format, bare.

The registry the answer is validated against is ``meta["functions"]`` (the JSON
schemas the generator offered) when stored, else it is rebuilt from the listing
itself by :func:`registry_from_listing` (names, nesting, required/optional, enums).

Example:
    >>> from airloom.formats.records import make_record
    >>> prompt = ("As an AI assistant, please select the most suitable function and "
    ...           "parameters from the list of available functions below, based on the user's "
    ...           "input. Provide your response in JSON format.\\n\\nInput: Count 'Python'.\\n\\n"
    ...           "Available functions:\\nfile_analytics:\\n  description: Text file tools.\\n"
    ...           "  params:\\n    action: What to do.\\n    filters:\\n      keyword: Word.")
    >>> answer = ('{"function": "file_analytics", "params": {"action": "count_occurrences", '
    ...           '"filters": {"keyword": "Python"}}}')
    >>> check_function_call(make_record(instruction=prompt, response=answer))
    Verdict(ok=True, reason='')
    >>> check_function_call(make_record(instruction=prompt, response='{"function": "grep"}')).reason
    "unknown function 'grep'"
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from airloom.checks import Verdict
from airloom.errors import AirloomError, ParseError
from airloom.formats.records import Record
from airloom.runtime.functions import FunctionCall, FunctionCallError, FunctionRegistry

__all__ = ["call_verdict", "check_function_call", "registry_from_listing", "requested_format"]

_FORMAT_RE = re.compile(r"response in (JSON|YAML) format", re.IGNORECASE)
_HEADER = "Available functions:"
_ENUM_RE = re.compile(r"\s*\(one of: (.*?)\)")
_OPTIONAL_RE = re.compile(r"\s*\(optional(?:, default: .*)?\)\s*$")


def requested_format(instruction: str) -> str:
    """``json`` or ``yaml``: the format the prompt asks for (json when unstated).

    Example:
        >>> requested_format("Provide your response in YAML format.")
        'yaml'
    """
    match = _FORMAT_RE.search(instruction)
    return match.group(1).lower() if match else "json"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _leaf(text: str) -> tuple[dict[str, Any], bool]:
    schema: dict[str, Any] = {}
    optional = _OPTIONAL_RE.search(text) is not None
    text = _OPTIONAL_RE.sub("", text)
    enum = _ENUM_RE.search(text)
    if enum:
        with contextlib.suppress(json.JSONDecodeError):
            schema["enum"] = json.loads(f"[{enum.group(1)}]")
        text = _ENUM_RE.sub("", text)
    schema["description"] = text.strip()
    return schema, not optional


def _object(lines: Sequence[str], start: int, indent: int) -> tuple[dict[str, Any], int]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    index = start
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            index += 1
            continue
        if _indent(line) < indent:
            break
        key, _, value = line.strip().partition(":")
        if value.strip():
            properties[key], needed = _leaf(value.strip())
            index += 1
        else:
            properties[key], index = _object(lines, index + 1, _indent(line) + 1)
            needed = bool(properties[key]["required"])  # listings mark only leaves optional
        if needed:
            required.append(key)
    schema = {"type": "object", "properties": properties, "required": required}
    return {**schema, "additionalProperties": False}, index


def registry_from_listing(instruction: str) -> FunctionRegistry:
    """A registry rebuilt from an "Available functions:" listing (leaf types unknown).

    Example:
        >>> reg = registry_from_listing("Available functions:\\nscan:\\n  description: Scan."
        ...                             "\\n  params: {}\\nhide:\\n  description: Hide.\\n"
        ...                             "  params:\\n    where: Place. (optional)")
        >>> reg.names, reg["hide"].parameters["required"]
        (['scan', 'hide'], [])
    """
    if _HEADER not in instruction:
        raise AirloomError("no 'Available functions:' listing in the instruction")
    lines = instruction.split(_HEADER, 1)[1].replace("\r\n", "\n").split("\n")
    definitions = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.strip() or _indent(line) > 0:
            index += 1
            continue
        name = line.strip().rstrip(":")
        description, params = "", {"type": "object", "properties": {}, "required": []}
        index += 1
        while index < len(lines) and (not lines[index].strip() or _indent(lines[index]) > 0):
            key, _, value = lines[index].strip().partition(":")
            if key == "description":
                description = value.strip()
                index += 1
            elif key == "params" and value.strip() in ("", "{}"):
                if value.strip() == "{}":
                    index += 1
                else:
                    params, index = _object(lines, index + 1, _indent(lines[index]) + 1)
            else:
                index += 1
        definitions.append({"name": name, "description": description, "parameters": params})
    return FunctionRegistry.from_schemas(definitions)


def _registry(record: Record, instruction: str) -> FunctionRegistry:
    meta = record.meta
    functions = meta.get("functions") if isinstance(meta, Mapping) else None
    if isinstance(functions, list) and functions:
        return FunctionRegistry.from_schemas(functions)
    return registry_from_listing(instruction)


def call_verdict(
    registry: FunctionRegistry, response: str, fmt: str, expected: str | None = None
) -> tuple[Verdict, FunctionCall | None]:
    """Check an answer: the requested format, bare; a valid call; the expected function.

    Example:
        >>> reg = FunctionRegistry.from_schemas([{"name": "scan", "parameters": {}}])
        >>> call_verdict(reg, "function: scan\\nparams: {}", "json")[0].reason
        'the answer is not bare JSON'
    """
    text = response.strip()
    if fmt == "json":
        try:
            json.loads(text)
        except json.JSONDecodeError:
            return Verdict.failed("the answer is not bare JSON"), None
    elif text.startswith(("{", "`")):
        return Verdict.failed("the answer is not bare YAML"), None
    try:
        call = registry.parse(text, prefer="yaml" if fmt == "yaml" else "json")
    except FunctionCallError as exc:
        return Verdict.failed(exc.message), None
    except ParseError as exc:
        return Verdict.failed(f"the answer cannot be read: {exc.message}"), None
    if not isinstance(call, FunctionCall):
        return Verdict.failed("the answer chooses no function"), None
    if expected is not None and call.name != expected:
        return Verdict.failed(f"the answer calls {call.name}, the input needs {expected}"), call
    return Verdict.passed(), call


def check_function_call(record: Record) -> Verdict:
    """An agent record's answer is one valid call to a listed function, bare, as asked.

    ``meta["function"]``, when stored, is the function the input was written for.

    Example:
        >>> from airloom.formats.records import make_record
        >>> check_function_call(make_record(instruction="Input: x", response="{}")).reason
        "no 'Available functions:' listing in the instruction"
    """
    instruction = record.instruction
    try:
        registry = _registry(record, instruction)
    except AirloomError as exc:
        return Verdict.failed(exc.message)
    meta = record.meta
    expected = meta.get("function") if isinstance(meta, Mapping) else None
    verdict, _ = call_verdict(
        registry,
        record.response,
        requested_format(instruction),
        expected if isinstance(expected, str) else None,
    )
    return verdict
