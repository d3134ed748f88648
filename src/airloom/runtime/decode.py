"""Decode a model's structured answer (JSON or YAML, possibly wrapped in prose) safely.

The ladder, first success wins, and the rung used is reported:

1. ``json``: strict JSON of the unwrapped text (fences and a prose preface removed);
   ``NaN``/``Infinity`` and duplicate keys are rejected;
2. ``json-extracted``: the first balanced ``{...}`` of the text, strict JSON;
3. ``json-repaired``: the same object read as a Python-style literal (single quotes,
   trailing commas, ``True``/``None``) by a tiny evaluator over the syntax tree; never
   ``eval``;
4. ``yaml``: YAML read with every scalar kept as a string (:class:`YamlScalar`), after
   rejecting anchors and aliases; the schema later decides what ``no`` or ``010`` mean.

With ``prefer="yaml"`` the YAML rung comes first unless the text starts with ``{``.
Size and nesting are capped before any parser runs.

Example:
    >>> decoded = decode_structured('Sure:\\n```json\\n{"function": "f", "params": {}}\\n```')
    >>> decoded.value, decoded.rung
    ({'function': 'f', 'params': {}}, 'json')
    >>> decode_structured("function: f\\nparams:\\n  when: 12:30").value
    {'function': 'f', 'params': {'when': '12:30'}}
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from airloom.errors import ParseError
from airloom.formats.fences import first_fenced_block
from airloom.runtime.schema import YamlScalar

__all__ = [
    "MAX_CHARS",
    "MAX_DEPTH",
    "Decoded",
    "Format",
    "balanced_span",
    "check_limits",
    "decode_structured",
    "first_fenced_block",
    "loads_json",
    "loads_lenient",
    "loads_yaml",
    "unwrap",
]

MAX_CHARS = 200_000
MAX_DEPTH = 32
Format = Literal["json", "yaml"]

_CALL_LINE_RE = re.compile(
    r"^[ \t]*[\"']?(?:function|name|function_name|tool|tool_name)[\"']?[ \t]*:", re.MULTILINE
)


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded value, the ladder rung that produced it, and what was tolerated."""

    value: Any
    rung: str
    notes: tuple[str, ...] = field(default=())


def unwrap(text: str) -> tuple[str, list[str]]:
    """Remove code fences and a prose preface; return the candidate text and notes.

    Example:
        >>> unwrap("Here you go:\\nfunction: search\\nparams: {}")
        ('function: search\\nparams: {}', ['prose before the call ignored'])
    """
    notes: list[str] = []
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip().lstrip("\ufeff")
    fenced = first_fenced_block(text)
    if fenced is not None:
        notes.append("code fence removed")
        text = fenced.strip()
    starts = [m.start() for m in (_CALL_LINE_RE.search(text),) if m]
    brace = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if brace >= 0:
        starts.append(brace)
    first = min(starts, default=0)
    if first > 0 and text[:first].strip():
        notes.append("prose before the call ignored")
        text = text[first:]
    return text.strip(), notes


def _depth_ok(text: str) -> bool:
    depth = 0
    quote = ""
    escaped = False
    for char in text:
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "{[":
            depth += 1
            if depth > MAX_DEPTH:
                return False
        elif char in "}]":
            depth -= 1
    return True


def check_limits(text: str) -> None:
    """Refuse input too large or too deeply nested to parse safely.

    Example:
        >>> check_limits("[" * 100)
        Traceback (most recent call last):
        ...
        airloom.errors.ParseError: structured answer nested deeper than 32 levels
    """
    if len(text) > MAX_CHARS:
        raise ParseError(f"structured answer of {len(text)} characters is over {MAX_CHARS}")
    if not _depth_ok(text):
        raise ParseError(f"structured answer nested deeper than {MAX_DEPTH} levels")


# ------------------------------------------------------------------------------ JSON


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def loads_json(text: str) -> Any:
    """Strict JSON: no NaN/Infinity, no duplicate keys, bounded size and depth.

    Example:
        >>> loads_json('{"a": 1, "a": 2}')
        Traceback (most recent call last):
        ...
        airloom.errors.ParseError: invalid JSON: duplicate key 'a'
    """
    check_limits(text)
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise ParseError(f"invalid JSON: {reason}", raw=text) from None


def balanced_span(text: str, start: int = 0, opener: str = "{") -> tuple[int, int] | None:
    """``(start, end)`` of the first balanced ``{...}`` (or ``[...]``) from ``start``.

    Quotes (double and single) are honoured, so braces inside strings do not count.

    Example:
        >>> text = 'say {"a": "}", "b": {"c": 1}} after'
        >>> a, b = balanced_span(text)
        >>> text[a:b]
        '{"a": "}", "b": {"c": 1}}'
    """
    closer = "}" if opener == "{" else "]"
    begin = text.find(opener, start)
    if begin < 0:
        return None
    depth, quote, escaped = 0, "", False
    for index in range(begin, len(text)):
        char = text[index]
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == opener:
            depth += 1
        elif char == closer:
            depth -= 1
            if depth == 0:
                return begin, index + 1
    return None


_LITERAL_NAMES = {"true": True, "false": False, "null": None, "True": True, "False": False}
_LITERAL_NAMES["None"] = None


def _literal(node: ast.AST) -> Any:
    if isinstance(node, ast.Dict):
        result: dict[str, Any] = {}
        for key_node, value_node in zip(node.keys, node.values, strict=True):
            key = _literal(key_node) if key_node is not None else None
            if not isinstance(key, str):
                raise ValueError("object keys must be strings")
            if key in result:
                raise ValueError(f"duplicate key {key!r}")
            result[key] = _literal(value_node)
        return result
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(item) for item in node.elts]
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float)):
        if isinstance(node.value, float) and node.value != node.value:  # pragma: no cover
            raise ValueError("NaN is not allowed")
        return node.value
    if isinstance(node, ast.Name) and node.id in _LITERAL_NAMES:
        return _LITERAL_NAMES[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _literal(node.operand)
        if isinstance(operand, (int, float)) and not isinstance(operand, bool):
            return -operand if isinstance(node.op, ast.USub) else operand
    raise ValueError(f"{type(node).__name__} is not a literal value")


def loads_lenient(text: str) -> Any:
    """JSON-like text with single quotes, trailing commas, Python literals; no ``eval``.

    Example:
        >>> loads_lenient("{'function': 'f', 'params': {'ok': True, 'n': -2,},}")
        {'function': 'f', 'params': {'ok': True, 'n': -2}}
    """
    check_limits(text)
    try:
        tree = ast.parse(text.strip(), mode="eval")
        return _literal(tree.body)
    except (SyntaxError, ValueError, RecursionError, MemoryError, TypeError) as exc:
        raise ParseError(f"not a literal object: {exc}", raw=text) from None


# ------------------------------------------------------------------------------ YAML


def _check_yaml_events(text: str) -> None:
    for event in yaml.parse(text, Loader=yaml.BaseLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise ParseError("YAML anchors and aliases are not accepted", raw=text)


def _from_node(node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _from_node(key_node)
            if not isinstance(key, str):
                raise ParseError("YAML mapping keys must be plain text")
            if key in result:
                raise ParseError(f"YAML key {str(key)!r} appears twice")
            result[str(key)] = _from_node(value_node)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_from_node(item) for item in node.value]
    if not isinstance(node, yaml.ScalarNode):
        raise ParseError(f"unexpected YAML node {type(node).__name__}")
    return YamlScalar(str(node.value), plain=node.style in (None, ""))


def loads_yaml(text: str) -> Any:
    """YAML where every scalar stays a string (:class:`YamlScalar`); no anchors/aliases.

    Example:
        >>> loads_yaml("enabled: no\\nn: 010\\nd: 2024-01-01")
        {'enabled': 'no', 'n': '010', 'd': '2024-01-01'}
    """
    check_limits(text)
    try:
        _check_yaml_events(text)
        node = yaml.compose(text, Loader=yaml.BaseLoader)
    except yaml.YAMLError as exc:
        reason = str(exc).split("\n")[0]
        raise ParseError(f"invalid YAML: {reason}", raw=text) from None
    except RecursionError:
        raise ParseError("YAML nested too deeply", raw=text) from None
    if node is None:
        raise ParseError("empty YAML document", raw=text)
    return _from_node(node)


# ---------------------------------------------------------------------------- ladder


def _extracted(text: str, loader: Callable[[str], Any]) -> Any:
    span = balanced_span(text)
    if span is None:
        raise ParseError("no balanced {...} object found", raw=text)
    return loader(text[span[0] : span[1]])


def decode_structured(text: str, *, prefer: Format = "json") -> Decoded:
    """Decode a JSON or YAML answer, tolerating fences, prose and common drift.

    Raises :class:`airloom.errors.ParseError` listing why each rung failed.

    Example:
        >>> decode_structured("The call is {'function': 'f', 'params': {},}").rung
        'json-repaired'
    """
    candidate, notes = unwrap(text)
    if not candidate:
        raise ParseError("the answer is empty", raw=text, hint="expected a JSON or YAML object")
    json_rungs: list[tuple[str, Callable[[str], Any]]] = [
        ("json", loads_json),
        ("json-extracted", lambda t: _extracted(t, loads_json)),
        ("json-repaired", lambda t: _extracted(t, loads_lenient)),
    ]
    yaml_rung: tuple[str, Callable[[str], Any]] = ("yaml", loads_yaml)
    looks_json = candidate.startswith(("{", "["))
    rungs = [*json_rungs, yaml_rung] if prefer == "json" or looks_json else [yaml_rung, *json_rungs]
    failures: list[str] = []
    for name, loader in rungs:
        try:
            value = loader(candidate)
        except ParseError as exc:
            failures.append(f"{name}: {exc.message}")
            continue
        if isinstance(value, (dict, list)):
            return Decoded(value=value, rung=name, notes=tuple(notes))
        failures.append(f"{name}: a {type(value).__name__} is not an object")
    raise ParseError(
        "could not read the answer as JSON or YAML: " + "; ".join(failures),
        raw=text,
        hint='answer with one object such as {"function": ..., "params": {...}}',
    )
