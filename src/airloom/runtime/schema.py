"""JSON Schema for function parameters: derive it from type hints, coerce, validate.

A deliberately small subset of JSON Schema, enough for tool parameters: ``type`` (one
or a list), ``enum``, ``const``, ``properties``, ``required``, ``additionalProperties``
(false by default for the schemas built here), ``items``, ``minimum``, ``maximum``,
``exclusiveMinimum``, ``exclusiveMaximum``, ``minLength``, ``maxLength``, ``minItems``,
``maxItems``, ``pattern``, ``anyOf``. Unknown keywords are ignored.

``bool`` is never an integer or a number here (``isinstance(True, int)`` is true in
Python, a classic validator bug), ``0`` and ``""`` are real values, not "missing".

Example:
    >>> schema = schema_for_type(int)
    >>> validate(True, schema)
    ['$: expected integer, got boolean']
    >>> validate(0, schema)
    []
"""

from __future__ import annotations

import dataclasses
import enum
import math
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Union, get_args, get_origin

from airloom.errors import AirloomError

JSON_TYPES = ("string", "integer", "number", "boolean", "object", "array", "null")
MAX_STRING = 100_000
MAX_ITEMS = 10_000


class YamlScalar(str):
    """A string that came from YAML; ``plain`` is True when it was unquoted.

    Only such strings are coerced by schema (``"010"`` to ``10`` for an integer, an
    unquoted ``no`` to ``False`` for a boolean, an unquoted ``null`` to ``None``).
    """

    plain: bool

    def __new__(cls, value: str, plain: bool = True) -> YamlScalar:
        obj = super().__new__(cls, value)
        obj.plain = plain
        return obj


# ------------------------------------------------------------------ schema from types


def _literal_schema(values: tuple[Any, ...]) -> dict[str, Any]:
    kinds = {json_type_of(v) for v in values}
    schema: dict[str, Any] = {"enum": list(values)}
    if len(kinds) == 1:
        schema["type"] = kinds.pop()
    return schema


def _enum_schema(annotation: type[enum.Enum]) -> dict[str, Any]:
    return _literal_schema(tuple(member.value for member in annotation))


def _object_schema(annotation: type) -> dict[str, Any]:
    hints = typing.get_type_hints(annotation, include_extras=True)
    required: list[str] = []
    properties: dict[str, Any] = {}
    if dataclasses.is_dataclass(annotation):
        for item in dataclasses.fields(annotation):
            properties[item.name] = schema_for_type(hints[item.name])
            no_default = item.default is dataclasses.MISSING
            if no_default and item.default_factory is dataclasses.MISSING:
                required.append(item.name)
    else:  # TypedDict
        optional: frozenset[str] = getattr(annotation, "__optional_keys__", frozenset())
        for key, hint in hints.items():
            properties[key] = schema_for_type(hint)
            if key not in optional:
                required.append(key)
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _is_typeddict(annotation: Any) -> bool:
    return isinstance(annotation, type) and hasattr(annotation, "__required_keys__")


def _union_schema(members: tuple[Any, ...]) -> dict[str, Any]:
    schemas = [schema_for_type(member) for member in members]
    simple = [s.get("type") for s in schemas if set(s) == {"type"}]
    if len(simple) == len(schemas) and all(isinstance(t, str) for t in simple):
        return {"type": list(dict.fromkeys(typing.cast(list[str], simple)))}
    nullable = [s for s in schemas if s != {"type": "null"}]
    if len(nullable) == 1 and isinstance(nullable[0].get("type"), str):
        widened = dict(nullable[0])
        widened["type"] = [widened["type"], "null"]
        if "enum" in widened:
            widened["enum"] = [*widened["enum"], None]
        return widened
    return {"anyOf": schemas}


def _generic_schema(origin: Any, args: tuple[Any, ...]) -> dict[str, Any] | None:
    if origin in (list, set, frozenset, tuple, Sequence, typing.Sequence):
        members = [arg for arg in args if arg is not Ellipsis]
        item = members[0] if members and len(set(members)) == 1 else None
        schema: dict[str, Any] = {"type": "array"}
        if item is not None:
            schema["items"] = schema_for_type(item)
        return schema
    if origin in (dict, Mapping, typing.Mapping):
        schema = {"type": "object"}
        if len(args) == 2:
            schema["additionalProperties"] = schema_for_type(args[1])
        return schema
    return None


_SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}


def schema_for_type(annotation: Any) -> dict[str, Any]:
    """JSON Schema for a Python type hint.

    Handles ``str``, ``int``, ``float``, ``bool``, ``None``, ``Literal``, ``Enum``,
    ``Optional``/unions, ``list``/``tuple``/``set``, ``dict[str, X]``, dataclasses and
    TypedDicts (nested objects), ``Annotated[X, "description"]`` and ``Any``.

    Example:
        >>> schema_for_type(Literal["a", "b"] | None)
        {'enum': ['a', 'b', None], 'type': ['string', 'null']}
        >>> schema_for_type(list[int])
        {'type': 'array', 'items': {'type': 'integer'}}
    """
    if annotation is Any:
        return {}
    if annotation in _SIMPLE:
        return {"type": _SIMPLE[annotation]}
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is typing.Annotated:
        schema = schema_for_type(args[0])
        notes = [a for a in args[1:] if isinstance(a, str)]
        return {**schema, "description": notes[0]} if notes else schema
    if origin is Literal:
        return _literal_schema(args)
    if origin is Union or origin is types.UnionType:
        return _union_schema(args)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _enum_schema(annotation)
    if dataclasses.is_dataclass(annotation) or _is_typeddict(annotation):
        return _object_schema(typing.cast(type, annotation))
    generic = _generic_schema(origin or annotation, args)
    if generic is not None:
        return generic
    raise AirloomError(
        f"type {annotation!r} cannot be described in JSON Schema",
        hint="use str, int, float, bool, Literal, Enum, list, dict, Optional, a dataclass "
        "or a TypedDict",
    )


def to_python(value: Any, annotation: Any) -> Any:
    """Turn validated JSON values back into the annotated types (Enum, dataclass).

    Example:
        >>> class Unit(enum.Enum):
        ...     C = "celsius"
        >>> to_python(["celsius"], list[Unit])
        [<Unit.C: 'celsius'>]
    """
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is typing.Annotated:
        return to_python(value, args[0])
    if value is None:
        return None
    if origin is Union or origin is types.UnionType:
        for member in args:
            if member is not type(None) and _matches(value, schema_for_type(member)):
                return to_python(value, member)
        return value
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return annotation(value)
    if dataclasses.is_dataclass(annotation) and isinstance(value, dict):
        hints = typing.get_type_hints(annotation, include_extras=True)
        converted = {key: to_python(val, hints.get(key, Any)) for key, val in value.items()}
        return typing.cast(Any, annotation)(**converted)
    if origin in (list, Sequence, typing.Sequence) and args and isinstance(value, list):
        return [to_python(item, args[0]) for item in value]
    if origin in (tuple, set, frozenset) and isinstance(value, list):
        item_type = args[0] if args else Any
        return origin(to_python(item, item_type) for item in value)
    return value


def _matches(value: Any, schema: Mapping[str, Any]) -> bool:
    return not validate(value, schema)


# ------------------------------------------------------------------------ validation


def json_type_of(value: Any) -> str:
    """The JSON type name of a Python value (``bool`` is ``boolean``, never integer).

    Example:
        >>> json_type_of(True), json_type_of(3), json_type_of(3.5), json_type_of(None)
        ('boolean', 'integer', 'number', 'null')
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


def _type_ok(value: Any, wanted: str) -> bool:
    actual = json_type_of(value)
    if wanted == "number":
        return actual in ("integer", "number") and not (
            isinstance(value, float) and not math.isfinite(value)
        )
    if wanted == "integer" and actual == "number":
        return bool(math.isfinite(value) and float(value).is_integer())
    return actual == wanted


def _types(schema: Mapping[str, Any]) -> list[str]:
    wanted = schema.get("type")
    if wanted is None:
        return []
    return [wanted] if isinstance(wanted, str) else list(wanted)


def _check_type(value: Any, schema: Mapping[str, Any], path: str) -> list[str]:
    wanted = _types(schema)
    if wanted and not any(_type_ok(value, kind) for kind in wanted):
        shown = " or ".join(wanted)
        return [f"{path}: expected {shown}, got {json_type_of(value)}"]
    return []


def _check_enum(value: Any, schema: Mapping[str, Any], path: str) -> list[str]:
    problems = []
    if "enum" in schema and not any(_same(value, option) for option in schema["enum"]):
        options = ", ".join(repr(option) for option in schema["enum"])
        problems.append(f"{path}: {value!r} is not one of {options}")
    if "const" in schema and not _same(value, schema["const"]):
        problems.append(f"{path}: must be {schema['const']!r}")
    return problems


def _same(a: Any, b: Any) -> bool:
    kinds = {json_type_of(a), json_type_of(b)}
    comparable = len(kinds) == 1 or kinds == {"integer", "number"}
    return comparable and a == b


def _check_number(value: Any, schema: Mapping[str, Any], path: str) -> list[str]:
    if json_type_of(value) not in ("integer", "number"):
        return []
    problems = []
    bounds = (
        ("minimum", lambda v, b: v >= b, ">="),
        ("maximum", lambda v, b: v <= b, "<="),
        ("exclusiveMinimum", lambda v, b: v > b, ">"),
        ("exclusiveMaximum", lambda v, b: v < b, "<"),
    )
    for keyword, ok, sign in bounds:
        if keyword in schema and not ok(value, schema[keyword]):
            problems.append(f"{path}: {value!r} must be {sign} {schema[keyword]!r}")
    return problems


def _check_string(value: Any, schema: Mapping[str, Any], path: str) -> list[str]:
    if not isinstance(value, str):
        return []
    problems = []
    longest = min(int(schema.get("maxLength", MAX_STRING)), MAX_STRING)
    if len(value) > longest:
        problems.append(f"{path}: text of {len(value)} characters is longer than {longest}")
    if len(value) < int(schema.get("minLength", 0)):
        problems.append(f"{path}: text is shorter than {schema['minLength']} characters")
    if "pattern" in schema and re.search(schema["pattern"], value) is None:
        problems.append(f"{path}: {value[:60]!r} does not match the pattern {schema['pattern']!r}")
    return problems


def _check_array(value: Any, schema: Mapping[str, Any], path: str) -> list[str]:
    if not isinstance(value, (list, tuple)):
        return []
    problems = []
    most = min(int(schema.get("maxItems", MAX_ITEMS)), MAX_ITEMS)
    if len(value) > most:
        problems.append(f"{path}: {len(value)} items, at most {most} allowed")
    if len(value) < int(schema.get("minItems", 0)):
        problems.append(f"{path}: {len(value)} items, at least {schema['minItems']} needed")
    items = schema.get("items")
    if isinstance(items, Mapping):
        for index, item in enumerate(value[:most]):
            problems.extend(validate(item, items, f"{path}[{index}]"))
    return problems


def _check_object(value: Any, schema: Mapping[str, Any], path: str) -> list[str]:
    if not isinstance(value, Mapping):
        return []
    problems = []
    properties: Mapping[str, Any] = schema.get("properties", {})
    for key in schema.get("required", []):
        if key not in value:
            problems.append(f"{path}.{key}: required parameter missing")
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in properties:
            problems.extend(validate(item, properties[key], f"{path}.{key}"))
        elif extra is False:
            known = ", ".join(properties) or "none"
            problems.append(f"{path}.{key}: unknown parameter (known: {known})")
        elif isinstance(extra, Mapping):
            problems.extend(validate(item, extra, f"{path}.{key}"))
    return problems


def validate(value: Any, schema: Mapping[str, Any], path: str = "$") -> list[str]:
    """Every problem of ``value`` against ``schema``, as ``path: reason`` strings.

    Example:
        >>> schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}},
        ...           "required": ["n", "q"], "additionalProperties": False}
        >>> for problem in validate({"n": 0, "x": 1}, schema):
        ...     print(problem)
        $.q: required parameter missing
        $.n: 0 must be >= 1
        $.x: unknown parameter (known: n)
    """
    if "anyOf" in schema:
        if not any(_matches(value, option) for option in schema["anyOf"]):
            return [f"{path}: {json_type_of(value)} value matches none of the allowed forms"]
        return []
    problems = _check_type(value, schema, path)
    if problems:
        return problems
    for check in (_check_enum, _check_number, _check_string, _check_array, _check_object):
        problems.extend(check(value, schema, path))
    return problems


# -------------------------------------------------------------------------- coercion

_INT_RE = re.compile(r"[+-]?\d+")
_FLOAT_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_TRUE = {"true", "yes", "on", "y"}
_FALSE = {"false", "no", "off", "n"}
_NULL = {"null", "~", "none", ""}
_MAX_DIGITS = 300


def _coerce_scalar(text: YamlScalar, wanted: list[str]) -> Any:
    lowered = text.strip().lower()
    for kind in wanted:
        if kind == "null" and text.plain and lowered in _NULL:
            return None
        if kind == "boolean" and lowered in _TRUE | _FALSE:
            return lowered in _TRUE
        if kind == "integer" and _INT_RE.fullmatch(lowered) and len(lowered) <= _MAX_DIGITS:
            return int(lowered, 10)
        if kind == "number" and _FLOAT_RE.fullmatch(lowered) and len(lowered) <= _MAX_DIGITS:
            number = float(lowered)
            return int(number) if _INT_RE.fullmatch(lowered) else number
        if kind == "string":
            return str(text)
    return str(text)


def _scalar_targets(schema: Mapping[str, Any]) -> list[str]:
    wanted = _types(schema)
    if not wanted and "enum" in schema:
        wanted = [json_type_of(option) for option in schema["enum"]]
    if not wanted and "anyOf" in schema:
        wanted = [kind for option in schema["anyOf"] for kind in _types(option)]
    order = ("null", "boolean", "integer", "number", "string")
    return sorted(set(wanted), key=lambda kind: order.index(kind) if kind in order else 9)


def coerce(value: Any, schema: Mapping[str, Any]) -> Any:
    """Convert YAML-born strings to the types the schema asks for; other values unchanged.

    Strings from JSON are left alone: ``"5"`` is not an integer there. Every YAML string
    left over becomes a plain ``str``.

    Example:
        >>> coerce({"n": YamlScalar("010"), "on": YamlScalar("no"), "t": YamlScalar("12:30")},
        ...        {"type": "object", "properties": {"n": {"type": "integer"},
        ...         "on": {"type": "boolean"}, "t": {"type": "string"}}})
        {'n': 10, 'on': False, 't': '12:30'}
    """
    if isinstance(value, YamlScalar):
        return _coerce_scalar(value, _scalar_targets(schema))
    if isinstance(value, Mapping):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        fallback = extra if isinstance(extra, Mapping) else {}
        return {
            str(key): coerce(item, properties.get(key, fallback)) for key, item in value.items()
        }
    if isinstance(value, list):
        items = schema.get("items")
        return [coerce(item, items if isinstance(items, Mapping) else {}) for item in value]
    return value


def object_schema(
    properties: Mapping[str, Any],
    required: Sequence[str] | None = None,
    *,
    additional: bool = False,
) -> dict[str, Any]:
    """A parameters schema: an object with these properties, all required by default.

    Example:
        >>> object_schema({"q": {"type": "string"}})["required"]
        ['q']
    """
    return {
        "type": "object",
        "properties": dict(properties),
        "required": list(properties if required is None else required),
        "additionalProperties": additional,
    }
