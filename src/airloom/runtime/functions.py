"""Function calling in the airoboros style: listing, parsing, validation, dispatch.

The model is shown an "Available functions:" listing (YAML-ish: name, description,
params with one description per leaf) and answers with ``{"function": ..., "params":
{...}}`` in JSON or YAML. The typed :class:`FunctionRegistry` is the source of truth:
it is built from documented, type-hinted Python callables (or JSON schemas), renders
the listing, parses an answer with the tolerant ladder of :mod:`airloom.runtime.decode`,
validates it against the schema (listing every problem), and dispatches to the
registered callable only.

Example:
    >>> def count_occurrences(keyword: str, case_sensitive: bool = False) -> int:
    ...     '''Count how often a word appears in the text file.
    ...
    ...     Args:
    ...         keyword: The word or phrase we want to search for.
    ...         case_sensitive: Whether case matters.
    ...     '''
    ...     return 3
    >>> registry = FunctionRegistry.from_callables([count_occurrences])
    >>> print(registry.listing())
    count_occurrences:
      description: Count how often a word appears in the text file.
      params:
        keyword: The word or phrase we want to search for.
        case_sensitive: Whether case matters. (optional, default: false)
    >>> call = registry.parse("function: count_occurrences\\nparams:\\n  keyword: Python\\n"
    ...                       "  case_sensitive: no")
    >>> call.name, call.arguments
    ('count_occurrences', {'keyword': 'Python', 'case_sensitive': False})
    >>> import asyncio
    >>> asyncio.run(registry.dispatch(call))
    3
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import importlib
import importlib.util
import inspect
import json
import re
import sys
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from airloom.errors import AirloomError, ParseError, ToolError
from airloom.runtime.decode import (
    Format,
    balanced_span,
    decode_structured,
    loads_json,
    loads_lenient,
)
from airloom.runtime.schema import (
    YamlScalar,
    check_schema,
    coerce,
    object_schema,
    schema_for_type,
    to_python,
    validate,
)

__all__ = [
    "ARG_KEYS",
    "NAME_KEYS",
    "NO_CALL_NAMES",
    "PROMPT_TEMPLATE",
    "FunctionCall",
    "FunctionCallError",
    "FunctionRegistry",
    "FunctionSpec",
    "NoCall",
    "count_call_objects",
    "load_registry",
    "parse_docstring",
    "render_listing",
    "serialise_result",
    "spec_from_callable",
    "spec_from_schema",
    "split_call",
]

NAME_KEYS = ("function", "name", "function_name", "tool", "tool_name")


def count_call_objects(text: str) -> int:
    """How many balanced ``{...}`` objects in ``text`` name a function.

    Example:
        >>> count_call_objects('{"function": "a", "params": {}} then {"function": "b"}')
        2
        >>> count_call_objects('{"function": "a", "params": {"x": {"y": 1}}}')
        1
    """
    count, start = 0, 0
    while (span := balanced_span(text, start)) is not None:
        try:
            value = loads_lenient(text[span[0] : span[1]])
        except ParseError:
            value = None
        if isinstance(value, Mapping) and set(value) & set(NAME_KEYS):
            count += 1
        start = span[1]
    return count


ARG_KEYS = ("params", "parameters", "arguments", "args")
NO_CALL_NAMES = frozenset({"none", "no_function", "no_call", "null", "nothing"})
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")

PROMPT_TEMPLATE = (
    "As an AI assistant, please select the most suitable function and parameters from the "
    "list of available functions below, based on the user's input. Provide your response "
    "in {format} format.\n\nInput: {input}\n\nAvailable functions:\n{listing}"
)


class FunctionCallError(ParseError):
    """A call was read but is not acceptable; ``problems`` lists every reason."""

    def __init__(self, message: str, *, raw: str = "", problems: Sequence[str] = ()) -> None:
        self.problems = list(problems)
        super().__init__(
            message, raw=raw, hint="answer again with a listed function and valid params"
        )


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """One callable function: its name, description, parameters schema and callable."""

    name: str
    description: str
    parameters: dict[str, Any]
    func: Callable[..., Any] | None = None
    annotations: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FunctionCall:
    """A validated call: arguments coerced to the schema's types."""

    name: str
    arguments: dict[str, Any]
    rung: str = "json"
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The airoboros answer form.

        Example:
            >>> FunctionCall("f", {"a": 1}).to_dict()
            {'function': 'f', 'params': {'a': 1}}
        """
        return {"function": self.name, "params": self.arguments}


@dataclass(frozen=True, slots=True)
class NoCall:
    """The model chose no function (``"function": "none"`` and similar)."""

    reason: str
    rung: str = "json"


# ----------------------------------------------------------------------- docstrings

_SECTION_RE = re.compile(
    r"^\s*(Args|Arguments|Parameters|Params|Keyword Args|Returns?|Raises|Yields|"
    r"Examples?|Notes?|See Also)\s*:?\s*$"
)
_GOOGLE_ARG_RE = re.compile(r"^(\s+)(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_SPHINX_RE = re.compile(r"^\s*:param\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)$")
_NUMPY_ARG_RE = re.compile(r"^(\s*)(\w+)\s*(?::\s*.*)?$")


def _summary(lines: list[str]) -> str:
    summary: list[str] = []
    for line in lines:
        if not line.strip() or _SECTION_RE.match(line) or line.strip().startswith(":"):
            if summary:
                break
            continue
        summary.append(line.strip())
    return " ".join(summary)


def _google_args(lines: list[str], start: int) -> dict[str, str]:
    found: dict[str, str] = {}
    current = ""
    base_indent: int | None = None
    for line in lines[start:]:
        if line.strip() and _SECTION_RE.match(line):
            break
        match = _GOOGLE_ARG_RE.match(line)
        indent = len(line) - len(line.lstrip())
        if match and (base_indent is None or indent == base_indent):
            base_indent = indent
            current = match.group(2).lstrip("*")
            found[current] = match.group(3).strip()
        elif current and line.strip() and base_indent is not None and indent > base_indent:
            found[current] = f"{found[current]} {line.strip()}".strip()
        elif line.strip() and base_indent is not None and indent < base_indent:
            break
    return found


def _numpy_args(lines: list[str], start: int) -> dict[str, str]:
    found: dict[str, str] = {}
    current = ""
    for line in lines[start:]:
        if not line.strip():
            continue
        if set(line.strip()) == {"-"} and current:
            found.pop(current, None)  # that "parameter" was the next section's title
            break
        indent = len(line) - len(line.lstrip())
        match = _NUMPY_ARG_RE.match(line)
        if indent == 0 and match:
            current = match.group(2)
            found[current] = ""
        elif current and indent > 0:
            found[current] = f"{found[current]} {line.strip()}".strip()
    return found


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The summary and per-parameter descriptions of a Google, Sphinx or NumPy docstring.

    Example:
        >>> parse_docstring("Search the web.\\n\\nArgs:\\n    query: What to look for.\\n")
        ('Search the web.', {'query': 'What to look for.'})
        >>> parse_docstring("Add.\\n\\n:param a: first\\n:param int b: second")[1]
        {'a': 'first', 'b': 'second'}
    """
    lines = inspect.cleandoc(doc).split("\n")
    params: dict[str, str] = {}
    for index, line in enumerate(lines):
        header = _SECTION_RE.match(line)
        if header and header.group(1) in ("Args", "Arguments", "Parameters", "Params"):
            underline = index + 1 < len(lines) and set(lines[index + 1].strip()) == {"-"}
            params.update(
                _numpy_args(lines, index + 2) if underline else _google_args(lines, index + 1)
            )
        sphinx = _SPHINX_RE.match(line)
        if sphinx:
            params[sphinx.group(1)] = sphinx.group(2).strip()
    return _summary(lines), params


# -------------------------------------------------------------------- from callables


def _json_default(value: Any) -> tuple[bool, Any]:
    if isinstance(value, enum.Enum):
        value = value.value
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False, None
    return True, value


def _param_schema(
    parameter: inspect.Parameter, hint: Any, description: str | None
) -> dict[str, Any]:
    schema = dict(schema_for_type(hint))
    if description:
        schema["description"] = description
    if parameter.default is not inspect.Parameter.empty:
        ok, default = _json_default(parameter.default)
        if ok:
            schema["default"] = default
    return schema


def spec_from_callable(
    func: Callable[..., Any], *, name: str | None = None, description: str | None = None
) -> FunctionSpec:
    """A :class:`FunctionSpec` from a documented, fully type-hinted callable.

    Raises :class:`airloom.errors.AirloomError` saying what is missing (docstring, a
    type hint, ``*args``).

    Example:
        >>> def hide(location: str) -> None:
        ...     '''Quickly hide to avoid detection.'''
        >>> spec_from_callable(hide).parameters["required"]
        ['location']
    """
    label = str(name or getattr(func, "__name__", "function"))
    doc = inspect.getdoc(func)
    if not doc:
        raise AirloomError(f"{label} has no docstring", hint="describe what it does in one line")
    summary, arg_docs = parse_docstring(doc)
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception as exc:  # unresolvable forward references and the like
        raise AirloomError(f"{label}: cannot read its type hints ({exc})") from exc
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as exc:  # a type alias or a builtin without a signature
        raise AirloomError(f"{label}: not a function with a readable signature ({exc})") from exc
    properties: dict[str, Any] = {}
    required: list[str] = []
    annotations: dict[str, Any] = {}
    for parameter in signature.parameters.values():
        if parameter.kind in (
            parameter.VAR_POSITIONAL,
            parameter.VAR_KEYWORD,
            parameter.POSITIONAL_ONLY,
        ):
            raise AirloomError(
                f"{label}: parameter {parameter.name!r} cannot be passed by name",
                hint="use ordinary or keyword-only parameters",
            )
        if parameter.name not in hints:
            raise AirloomError(
                f"{label}: parameter {parameter.name!r} has no type hint",
                hint="annotate every parameter (str, int, Literal[...], ...)",
            )
        annotations[parameter.name] = hints[parameter.name]
        try:
            properties[parameter.name] = _param_schema(
                parameter, hints[parameter.name], arg_docs.get(parameter.name)
            )
        except AirloomError as exc:
            raise AirloomError(
                f"{label}: parameter {parameter.name!r}: {exc.message}", hint=exc.hint
            ) from exc
        if parameter.default is inspect.Parameter.empty:
            required.append(parameter.name)
    return FunctionSpec(
        name=label,
        description=description or summary,
        parameters=object_schema(properties, required),
        func=func,
        annotations=annotations,
    )


def spec_from_schema(
    definition: Mapping[str, Any], func: Callable[..., Any] | None = None
) -> FunctionSpec:
    """A :class:`FunctionSpec` from a JSON definition.

    Accepts OpenAI tools (``{"type": "function", "function": {...}}``), plain
    ``{"name", "description", "parameters"}`` with a JSON Schema object, and the
    character-card form where ``parameters`` maps names straight to
    ``{"type", "description"}`` (then every parameter is required).

    Example:
        >>> spec = spec_from_schema({"name": "scan", "description": "Scan.", "parameters": {}})
        >>> spec.parameters
        {'type': 'object', 'properties': {}, 'required': [], 'additionalProperties': False}
    """
    body = definition.get("function", definition)
    if not isinstance(body, Mapping) or not isinstance(body.get("name"), str):
        raise AirloomError("a function definition needs a 'name'", hint=f"got {definition!r:.80}")
    params = body.get("parameters", body.get("params")) or {}
    if not isinstance(params, Mapping):
        raise AirloomError(f"function {body['name']!r}: 'parameters' must be an object")
    if params.get("type") == "object" or "properties" in params:
        schema = {"type": "object", "properties": {}, "additionalProperties": False, **params}
        schema.setdefault("required", [])
    else:
        schema = object_schema(params)
    check_schema(schema, what=f"function {body['name']!r} parameters")
    return FunctionSpec(
        name=body["name"],
        description=str(body.get("description", "")),
        parameters=dict(schema),
        func=func,
    )


# ---------------------------------------------------------------------------- listing


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _leaf_text(schema: Mapping[str, Any], required: bool) -> str:
    text = _one_line(schema.get("description", ""))
    if not text:
        kind = schema.get("type", "value")
        text = kind if isinstance(kind, str) else " or ".join(kind)
    options = [option for option in schema.get("enum", []) if option is not None]
    if options:
        text += " (one of: " + ", ".join(json.dumps(option) for option in options) + ")"
    if not required:
        extra = f", default: {json.dumps(schema['default'])}" if "default" in schema else ""
        text += f" (optional{extra})"
    return text


def _listing_lines(schema: Mapping[str, Any], indent: int) -> list[str]:
    lines: list[str] = []
    required = set(schema.get("required", []))
    pad = " " * indent
    for key, sub in schema.get("properties", {}).items():
        kinds = sub.get("type")
        is_object = kinds == "object" or (isinstance(kinds, list) and "object" in kinds)
        if is_object and sub.get("properties"):
            lines.append(f"{pad}{key}:")
            lines.extend(_listing_lines(sub, indent + 2))
        else:
            lines.append(f"{pad}{key}: {_leaf_text(sub, key in required)}")
    return lines


def render_listing(specs: Iterable[FunctionSpec]) -> str:
    """The "Available functions" body in the airoboros style (no header line).

    Example:
        >>> spec = spec_from_schema({"name": "file_analytics",
        ...     "description": "This tool performs various operations on a text file.",
        ...     "parameters": {"type": "object", "properties": {
        ...         "action": {"type": "string", "enum": ["count_occurrences", "find_line"],
        ...                    "description": "The operation to perform."},
        ...         "filters": {"type": "object", "properties": {"keyword": {
        ...             "type": "string", "description": "The word to search for."}}}},
        ...     "required": ["action", "filters"]}})
        >>> print(render_listing([spec]))
        file_analytics:
          description: This tool performs various operations on a text file.
          params:
            action: The operation to perform. (one of: "count_occurrences", "find_line")
            filters:
              keyword: The word to search for. (optional)
    """
    lines: list[str] = []
    for spec in specs:
        lines.append(f"{spec.name}:")
        lines.append(f"  description: {_one_line(spec.description)}")
        body = _listing_lines(spec.parameters, 4)
        lines.extend(["  params:", *body] if body else ["  params: {}"])
    return "\n".join(lines)


# --------------------------------------------------------------------------- parsing


def _arguments(value: Any, raw: str) -> tuple[dict[str, Any], list[str]]:
    if value is None or (
        isinstance(value, YamlScalar) and value.plain and value in ("", "~", "null")
    ):
        return {}, []
    if isinstance(value, dict):
        return value, []
    if isinstance(value, str):
        for loader, note in (
            (loads_json, "params given as a JSON string"),
            (loads_lenient, "params given as a quoted literal"),
        ):
            try:
                decoded = loader(value)
            except ParseError:
                continue
            if isinstance(decoded, dict):
                return decoded, [note]
    raise FunctionCallError(
        f"params must be an object, got {type(value).__name__}",
        raw=raw,
        problems=[f"$.params: expected object, got {type(value).__name__}"],
    )


def _pick(
    mapping: Mapping[str, Any], keys: Sequence[str], what: str, raw: str
) -> tuple[str | None, Any]:
    present = [key for key in keys if key in mapping]
    if len(present) > 1:
        raise FunctionCallError(
            f"the answer gives the {what} twice ({', '.join(present)})",
            raw=raw,
            problems=[f"$: both {' and '.join(present)} given"],
        )
    return (present[0], mapping[present[0]]) if present else (None, None)


def split_call(value: Any, raw: str = "") -> tuple[str, dict[str, Any], list[str]]:
    """Name, raw arguments and notes from a decoded answer, tolerating key drift.

    Accepts ``function|name|function_name|tool`` for the name and
    ``params|parameters|arguments|args`` for the arguments (an object, a JSON string,
    or null), and the OpenAI shape ``{"function": {"name", "arguments"}}``.

    Example:
        >>> name, arguments, notes = split_call({"name": "f", "arguments": '{"a": 1}'})
        >>> name, arguments
        ('f', {'a': 1})
        >>> notes
        ['name key was name', 'params key was arguments', 'params given as a JSON string']
    """
    if not isinstance(value, Mapping):
        raise FunctionCallError(
            "the answer is not an object", raw=raw, problems=["$: expected object"]
        )
    name_key, name = _pick(value, NAME_KEYS, "function name", raw)
    if isinstance(name, Mapping):  # {"function": {"name": ..., "arguments": ...}}
        inner_name, inner_args, inner_notes = split_call(name, raw)
        return inner_name, inner_args, ["nested function object", *inner_notes]
    if name_key is None or not isinstance(name, str) or not name.strip():
        raise FunctionCallError(
            "the answer names no function",
            raw=raw,
            problems=["$.function: required, the name of one listed function"],
        )
    notes = [] if name_key == "function" else [f"name key was {name_key}"]
    args_key, args_value = _pick(value, ARG_KEYS, "params", raw)
    if args_key not in (None, "params"):
        notes.append(f"params key was {args_key}")
    arguments, arg_notes = _arguments(args_value, raw)
    ignored = sorted(set(value) - set(NAME_KEYS) - set(ARG_KEYS))
    if ignored:
        notes.append("ignored keys: " + ", ".join(ignored))
    return str(name).strip(), arguments, notes + arg_notes


# ------------------------------------------------------------------------- registry


class FunctionRegistry:
    """The functions a model may call: name to :class:`FunctionSpec`, in listing order."""

    def __init__(self, specs: Iterable[FunctionSpec] = ()) -> None:
        self._specs: dict[str, FunctionSpec] = {}
        self.skipped: list[tuple[str, str]] = []
        for spec in specs:
            self.add(spec)

    @classmethod
    def from_callables(cls, funcs: Iterable[Callable[..., Any]]) -> FunctionRegistry:
        """A registry of documented, type-hinted callables.

        Example:
            >>> def ping() -> str:
            ...     '''Say pong.'''
            ...     return "pong"
            >>> FunctionRegistry.from_callables([ping]).names
            ['ping']
        """
        return cls(spec_from_callable(func) for func in funcs)

    @classmethod
    def from_schemas(
        cls,
        definitions: Iterable[Mapping[str, Any]],
        funcs: Mapping[str, Callable[..., Any]] | None = None,
    ) -> FunctionRegistry:
        """A registry of JSON definitions, with optional callables by name.

        Example:
            >>> reg = FunctionRegistry.from_schemas([{"name": "scan", "parameters": {}}])
            >>> "scan" in reg
            True
        """
        bound = dict(funcs or {})
        return cls(spec_from_schema(d, bound.get(str(d.get("name", "")))) for d in definitions)

    def add(self, spec: FunctionSpec) -> FunctionSpec:
        """Register one spec; names must be unique identifiers.

        Example:
            >>> FunctionRegistry().add(FunctionSpec("x", "X.", {"type": "object"})).name
            'x'
        """
        if not _NAME_RE.match(spec.name):
            raise AirloomError(f"function name {spec.name!r} is not a plain identifier")
        if spec.name in self._specs:
            raise AirloomError(f"function {spec.name!r} is registered twice")
        self._specs[spec.name] = spec
        return spec

    def register(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Decorator form of :meth:`add` for a documented, type-hinted callable.

        Example:
            >>> reg = FunctionRegistry()
            >>> @reg.register
            ... def scan() -> str:
            ...     '''Scan for wireless signals.'''
            ...     return "3 networks"
            >>> reg.names
            ['scan']
        """
        self.add(spec_from_callable(func))
        return func

    @property
    def names(self) -> list[str]:
        """Registered names in listing order.

        Example:
            >>> FunctionRegistry.from_schemas([{"name": "b"}, {"name": "a"}]).names
            ['b', 'a']
        """
        return list(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __getitem__(self, name: str) -> FunctionSpec:
        return self._specs[name]

    def __iter__(self) -> Iterator[FunctionSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def listing(self, names: Sequence[str] | None = None) -> str:
        """The "Available functions" body for all (or the named) functions.

        Example:
            >>> reg = FunctionRegistry.from_schemas([{"name": "scan", "description": "Scan."}])
            >>> print(reg.listing())
            scan:
              description: Scan.
              params: {}
        """
        chosen = self.names if names is None else list(names)
        return render_listing(self._specs[name] for name in chosen)

    def prompt(
        self, user_input: str, *, fmt: Format = "json", names: Sequence[str] | None = None
    ) -> str:
        """The full airoboros function-calling prompt for a user input.

        Example:
            >>> reg = FunctionRegistry.from_schemas([{"name": "scan", "description": "Scan."}])
            >>> reg.prompt("Any networks?").splitlines()[2]
            'Input: Any networks?'
        """
        return PROMPT_TEMPLATE.format(
            format=fmt.upper(), input=user_input.strip(), listing=self.listing(names)
        )

    def resolve(self, name: str, raw: str = "") -> tuple[str, list[str]]:
        """The registered name a model's name refers to (exact, else unique case-insensitive).

        Example:
            >>> FunctionRegistry.from_schemas([{"name": "scan"}]).resolve("Scan")
            ('scan', ['function name case corrected'])
        """
        if name in self._specs:
            return name, []
        folded = [known for known in self._specs if known.casefold() == name.casefold()]
        if len(folded) == 1:
            return folded[0], ["function name case corrected"]
        offered = ", ".join(self.names) or "none"
        raise FunctionCallError(
            f"unknown function {name[:80]!r}",
            raw=raw,
            problems=[f"$.function: {name[:80]!r} is not one of the listed functions ({offered})"],
        )

    def check(self, name: str, arguments: Mapping[str, Any], raw: str = "") -> dict[str, Any]:
        """Coerce YAML strings by schema, then validate; raise listing every problem.

        Example:
            >>> reg = FunctionRegistry.from_schemas([{"name": "f", "parameters": {
            ...     "n": {"type": "integer"}}}])
            >>> try:
            ...     reg.check("f", {"n": "5"})
            ... except FunctionCallError as exc:
            ...     print(exc.problems)
            ['$.params.n: expected integer, got string']
        """
        spec = self._specs[name]
        coerced = coerce(dict(arguments), spec.parameters)
        problems = validate(coerced, spec.parameters, "$.params")
        if problems:
            raise FunctionCallError(
                f"invalid call to {name!r}: " + "; ".join(problems), raw=raw, problems=problems
            )
        return typing.cast(dict[str, Any], coerced)

    def parse(
        self,
        answer: str,
        *,
        prefer: Format = "json",
        multiple: Literal["error", "first"] = "error",
    ) -> FunctionCall | NoCall:
        """Read, normalise and validate a model's answer into a call.

        Raises :class:`airloom.errors.ParseError` when the text cannot be read and
        :class:`FunctionCallError` (with ``problems``) when the call is not valid.

        Example:
            >>> reg = FunctionRegistry.from_schemas([{"name": "scan", "parameters": {}}])
            >>> reg.parse('```json\\n{"function": "scan", "params": null}\\n```').arguments
            {}
            >>> reg.parse('{"function": "none"}')
            NoCall(reason='the model chose no function', rung='json')
        """
        decoded = decode_structured(answer, prefer=prefer)
        value = decoded.value
        notes = list(decoded.notes)
        if multiple == "error" and decoded.rung.startswith("json-"):
            found = count_call_objects(answer)
            if found > 1:  # one object was picked out of prose that holds several calls
                raise FunctionCallError(
                    f"the answer holds {found} calls, expected exactly one",
                    raw=answer,
                    problems=["$: expected one call object, not several"],
                )
        if isinstance(value, list):
            if not value or (multiple == "error" and len(value) > 1):
                raise FunctionCallError(
                    f"the answer holds {len(value)} calls, expected exactly one",
                    raw=answer,
                    problems=["$: expected one call object"],
                )
            value = value[0]
            notes.append("first call of a list taken")
        value = self._unwrap_named_object(value, notes)
        name, raw_args, call_notes = split_call(value, answer)
        if name.casefold() in NO_CALL_NAMES:
            return NoCall(reason="the model chose no function", rung=decoded.rung)
        resolved, name_notes = self.resolve(name, answer)
        arguments = self.check(resolved, raw_args, answer)
        return FunctionCall(
            name=resolved,
            arguments=arguments,
            rung=decoded.rung,
            notes=tuple(notes + call_notes + name_notes),
        )

    def _unwrap_named_object(self, value: Any, notes: list[str]) -> Any:
        """``{"search": {...}}`` (the function's name as the only key) is a call too."""
        if isinstance(value, Mapping) and len(value) == 1:
            ((key, inner),) = value.items()
            if (
                key in self._specs
                and isinstance(inner, Mapping)
                and not set(inner) & set(NAME_KEYS)
            ):
                notes.append("function name used as the key")
                return {"function": key, "params": inner}
        return value

    async def dispatch(self, call: FunctionCall, *, timeout: float | None = 30.0) -> Any:
        """Run a validated call's callable (sync ones in a thread) under a timeout.

        Only registered callables run; their failures become
        :class:`airloom.errors.ToolError`.

        Example:
            >>> reg = FunctionRegistry()
            >>> @reg.register
            ... async def add(a: int, b: int) -> int:
            ...     '''Add two numbers.'''
            ...     return a + b
            >>> asyncio.run(reg.dispatch(FunctionCall("add", {"a": 1, "b": 2})))
            3
        """
        spec = self._specs.get(call.name)
        if spec is None or spec.func is None:
            raise ToolError(
                f"no callable is registered for {call.name!r}",
                hint="register a Python function under that name",
            )
        kwargs = {
            key: to_python(value, spec.annotations.get(key, Any))
            for key, value in call.arguments.items()
        }
        return await _run(spec.func, kwargs, call.name, timeout)


async def _run(
    func: Callable[..., Any], kwargs: dict[str, Any], name: str, timeout: float | None
) -> Any:
    if inspect.iscoroutinefunction(func):
        pending = func(**kwargs)
    else:
        pending = asyncio.to_thread(func, **kwargs)
    try:
        result = await asyncio.wait_for(pending, timeout)
    except asyncio.TimeoutError:
        raise ToolError(f"function {name!r} timed out after {timeout} s") from None
    except AirloomError:
        raise
    except Exception as exc:
        raise ToolError(f"function {name!r} failed: {type(exc).__name__}: {exc}") from exc
    if inspect.isawaitable(result):
        result = await asyncio.wait_for(result, timeout)
    return result


def serialise_result(value: Any) -> str:
    """A function's result as text for the model; never fails (unknown types stringified).

    Example:
        >>> import datetime
        >>> serialise_result({"when": datetime.date(2024, 1, 1), "n": 2})
        '{"when": "2024-01-01", "n": 2}'
        >>> serialise_result("plain text")
        'plain text'
    """
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


# --------------------------------------------------------------------- load_registry


def _import_path(path: Path) -> ModuleType:
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    module_name = f"airloom_registry_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise AirloomError(f"cannot import {path}", hint="pass a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise AirloomError(
            f"importing {path} failed: {type(exc).__name__}: {exc}",
            hint="fix the file so that 'python FILE' runs",
        ) from exc
    return module


def _import(path_or_module: str | Path | ModuleType) -> ModuleType:
    if isinstance(path_or_module, ModuleType):
        return path_or_module
    text = str(path_or_module)
    path = Path(text)
    if text.endswith(".py") or path.exists():
        if not path.is_file():
            raise AirloomError(f"registry file {text} not found", hint="check the path")
        return _import_path(path)
    try:
        return importlib.import_module(text)
    except ImportError as exc:
        raise AirloomError(f"cannot import module {text!r}: {exc}") from exc


def _candidates(module: ModuleType) -> list[tuple[str, Any]]:
    exported = getattr(module, "__all__", None)
    if exported is not None:
        return [(str(name), getattr(module, str(name), None)) for name in exported]
    return [
        (name, value)
        for name, value in vars(module).items()
        if inspect.isfunction(value) and value.__module__ == module.__name__
    ]


def load_registry(path_or_module: str | Path | ModuleType) -> FunctionRegistry:
    """A registry of the public, typed, documented functions of a file or module.

    Private names and functions without a docstring or full type hints are skipped;
    ``registry.skipped`` says which and why. ``__all__`` is honoured when defined.

    Example:
        >>> import tempfile, pathlib
        >>> src = '''
        ... def weather(city: str) -> str:
        ...     \"\"\"Current weather of a city.\"\"\"
        ...     return "sunny"
        ... def _helper() -> None:
        ...     \"\"\"Not for the model.\"\"\"
        ... def untyped(x):
        ...     \"\"\"No hints.\"\"\"
        ... '''
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = pathlib.Path(tmp, "funcs.py")
        ...     _ = path.write_text(src)
        ...     registry = load_registry(path)
        >>> registry.names
        ['weather']
        >>> for name, reason in registry.skipped:
        ...     print(name, "-", reason)
        _helper - private name
        untyped - untyped: parameter 'x' has no type hint
    """
    module = _import(path_or_module)
    registry = FunctionRegistry()
    for name, value in _candidates(module):
        if name.startswith("_"):
            registry.skipped.append((name, "private name"))
            continue
        if not callable(value) or inspect.isclass(value):
            registry.skipped.append((name, "not a function"))
            continue
        try:
            registry.add(spec_from_callable(value, name=name))
        except AirloomError as exc:
            registry.skipped.append((name, exc.message))
    if not len(registry):
        reasons = "; ".join(f"{n}: {why}" for n, why in registry.skipped) or "no functions"
        raise AirloomError(
            f"{getattr(module, '__file__', module.__name__)} offers no usable function",
            hint=f"add typed, documented public functions ({reasons})",
        )
    return registry
