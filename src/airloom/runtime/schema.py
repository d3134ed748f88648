"""JSON Schema for function parameters: derive it from type hints, coerce, validate.

Schemas are derived from type hints (``type``, ``enum``, ``properties``, ``required``,
``additionalProperties`` false by default, ``items``, ``anyOf``); validation is full JSON
Schema 2020-12 by ``jsonschema``, with plain ``path: reason`` wording for the keywords
tools use, so a teacher or a user reads exactly what to fix. Coercion of YAML-born
strings is ours: only YAML's unquoted scalars are converted, as the schema asks.

``bool`` is never an integer or a number (``isinstance(True, int)`` is true in Python,
a classic validator bug), ``0`` and ``""`` are real values, not "missing".

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
import functools
import json
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Union, get_args, get_origin

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError

from airloom.errors import AirloomError

__all__ = [
    "JSON_TYPES",
    "MAX_ITEMS",
    "MAX_STRING",
    "YamlScalar",
    "check_schema",
    "coerce",
    "json_type_of",
    "object_schema",
    "schema_for_type",
    "to_python",
    "validate",
]

JSON_TYPES = ("string", "integer", "number", "boolean", "object", "array", "null")
MAX_STRING = 100_000
MAX_ITEMS = 10_000
# Caps every value obeys whatever its schema says: a runaway answer fails fast and clearly.
_LIMITS = Draft202012Validator(
    {
        "$defs": {
            "value": {
                "maxLength": MAX_STRING,
                "maxItems": MAX_ITEMS,
                "maxProperties": MAX_ITEMS,
                "items": {"$ref": "#/$defs/value"},
                "additionalProperties": {"$ref": "#/$defs/value"},
            }
        },
        "$ref": "#/$defs/value",
    }
)


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
    return bool(_validator_for(schema).is_valid(value))


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


def _types(schema: Mapping[str, Any]) -> list[str]:
    wanted = schema.get("type")
    if wanted is None:
        return []
    return [wanted] if isinstance(wanted, str) else list(wanted)


def _options(values: Sequence[Any]) -> str:
    return ", ".join(repr(option) for option in values)


def _describe(error: ValidationError, path: str) -> list[str]:
    """``path: reason`` lines for one error; plain words for the keywords tools use."""
    where = path + error.json_path[1:]
    value, keyword, bound = error.instance, error.validator, error.validator_value
    if keyword == "required":
        return [f"{where}.{key}: required parameter missing" for key in bound if key not in value]
    if keyword == "additionalProperties" and bound is False:
        known = list(error.schema.get("properties", {}))
        patterns = list(error.schema.get("patternProperties", {}))
        extra = [
            key
            for key in value
            if key not in known and not any(re.search(p, key) for p in patterns)
        ]
        shown = ", ".join(known) or "none"
        return [f"{where}.{key}: unknown parameter (known: {shown})" for key in extra]
    messages = {
        "type": lambda: f"expected {' or '.join(_types(error.schema))}, got {json_type_of(value)}",
        "enum": lambda: f"{value!r} is not one of {_options(bound)}",
        "const": lambda: f"must be {bound!r}",
        "minimum": lambda: f"{value!r} must be >= {bound!r}",
        "maximum": lambda: f"{value!r} must be <= {bound!r}",
        "exclusiveMinimum": lambda: f"{value!r} must be > {bound!r}",
        "exclusiveMaximum": lambda: f"{value!r} must be < {bound!r}",
        "minLength": lambda: f"text is shorter than {bound} characters",
        "maxLength": lambda: f"text of {len(value)} characters is longer than {bound}",
        "pattern": lambda: f"{value[:60]!r} does not match the pattern {bound!r}",
        "minItems": lambda: f"{len(value)} items, at least {bound} needed",
        "maxItems": lambda: f"{len(value)} items, at most {bound} allowed",
        "maxProperties": lambda: f"{len(value)} keys, at most {bound} allowed",
        "anyOf": lambda: f"{json_type_of(value)} value matches none of the allowed forms",
        "oneOf": lambda: f"{json_type_of(value)} value must match exactly one allowed form",
    }
    describe = messages.get(str(keyword))
    return [f"{where}: {describe() if describe is not None else error.message}"]


@functools.lru_cache(maxsize=256)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json))


def _validator_for(schema: Mapping[str, Any]) -> Draft202012Validator:
    try:
        key = json.dumps(schema)
    except (TypeError, ValueError):  # not JSON (a tuple key, a set): build it uncached
        return Draft202012Validator(schema)
    return _validator(key)


def check_schema(schema: Mapping[str, Any], what: str = "parameters") -> None:
    """Raise :class:`AirloomError` unless ``schema`` is a valid JSON Schema (2020-12).

    Example:
        >>> check_schema({"type": "object", "properties": {"n": {"type": "integer"}}})
        >>> check_schema({"type": "integr"})
        Traceback (most recent call last):
        ...
        airloom.errors.AirloomError: the parameters schema is not valid JSON Schema: ...
    """
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = exc.json_path if exc.json_path != "$" else "the top level"
        raise AirloomError(
            f"the {what} schema is not valid JSON Schema: {exc.message} (at {where})",
            hint="fix the schema, e.g. 'type' must be one of " + ", ".join(JSON_TYPES),
        ) from None


def validate(value: Any, schema: Mapping[str, Any], path: str = "$") -> list[str]:
    """Every problem of ``value`` against the JSON Schema ``schema``, as ``path: reason``.

    Full JSON Schema 2020-12 (``$ref``, ``oneOf``, ``allOf``, ``patternProperties``…);
    the keywords tool schemas use most get plain wording, sorted by path.

    Example:
        >>> schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}},
        ...           "required": ["n", "q"], "additionalProperties": False}
        >>> for problem in validate({"n": 0, "x": 1}, schema):
        ...     print(problem)
        $.n: 0 must be >= 1
        $.q: required parameter missing
        $.x: unknown parameter (known: n)
    """
    errors = list(_LIMITS.iter_errors(value)) or _validator_for(schema).iter_errors(value)
    return sorted({line for error in errors for line in _describe(error, path)})


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
