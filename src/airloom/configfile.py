"""Config files of every command: YAML read with line numbers, ``--set`` overrides, and
problems described one way (file and line, the closest valid key).

``load(path, Model, overrides)`` gives any pydantic model this treatment; the generation
config, the training config and the server config are all read through it.

Example:
    >>> class Section(Strict):
    ...     port: int = 8000
    ...     host: str = "127.0.0.1"
    >>> load_text("port: 9000\\n", Section, source="s.yaml", overrides=["host=::1"], hint="h")
    Section(port=9000, host='::1')
    >>> load_text("prot: 9000\\n", Section, source="s.yaml", hint="see the README")
    Traceback (most recent call last):
    ...
    airloom.errors.ConfigError: s.yaml line 1: unknown key 'prot' (did you mean 'port'?) \
(see the README)
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol, TypeVar, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from airloom.errors import ConfigError

__all__ = [
    "MAX_EXPANDED_VALUES",
    "LineMap",
    "Strict",
    "Validator",
    "apply_overrides",
    "config_folder",
    "describe_errors",
    "load",
    "load_text",
    "parse_override",
    "parse_yaml",
    "raise_problems",
    "read_config_file",
    "resolve_path",
    "validate_model",
]

M = TypeVar("M", bound=BaseModel)
M_co = TypeVar("M_co", bound=BaseModel, covariant=True)

#: Key path → line number in the file.
LineMap = dict[tuple[str, ...], int]


class Strict(BaseModel):
    """Base of every config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_default=True, populate_by_name=True)


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise ConfigError(
                f"the key at line {key_node.start_mark.line + 1} is a "
                f"{type(key).__name__}, not a name",
                hint="keys are plain names such as 'model'",
            ) from None
        if key in seen:
            raise ConfigError(
                f"duplicate key '{key}' at line {key_node.start_mark.line + 1} "
                f"(first at line {seen[key]})",
                hint="remove one of them",
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


#: Values a configuration may expand to through aliases (a "billion laughs" file of a few
#: lines would otherwise expand to billions).
MAX_EXPANDED_VALUES = 100_000


def _line_map(
    node: yaml.Node | None,
    path: tuple[str, ...] = (),
    active: frozenset[int] = frozenset(),
    seen: set[int] | None = None,
) -> LineMap:
    """Key path → line, each node visited once (paths reached again through an alias
    keep the line of the alias), so the cost is linear in the file."""
    lines: LineMap = {}
    if not isinstance(node, yaml.MappingNode | yaml.SequenceNode):
        return lines
    if id(node) in active:  # an alias to one of its own parents (&a [*a])
        raise ConfigError(
            f"'{'.'.join(path)}' at line {node.start_mark.line + 1} contains itself "
            "through an anchor",
            hint="remove the recursive alias",
        )
    seen = set() if seen is None else seen
    if id(node) in seen:
        return lines
    seen.add(id(node))
    active = active | {id(node)}
    if isinstance(node, yaml.MappingNode):
        children = [((*path, str(key.value)), key, value) for key, value in node.value]
    else:
        children = [((*path, str(i)), item, item) for i, item in enumerate(node.value)]
    for child_path, marker, child in children:
        lines[child_path] = marker.start_mark.line + 1
        lines.update(_line_map(child, child_path, active, seen))
    return lines


def _expanded_values(node: yaml.Node | None, sizes: dict[int, int]) -> int:
    """How many values ``node`` stands for once every alias is expanded (memoised: linear)."""
    if node is None or id(node) in sizes:
        return sizes.get(id(node), 0)
    total = 1
    if isinstance(node, yaml.MappingNode):
        total += sum(_expanded_values(value, sizes) for _, value in node.value)
    elif isinstance(node, yaml.SequenceNode):
        total += sum(_expanded_values(item, sizes) for item in node.value)
    sizes[id(node)] = total
    return total


def parse_yaml(text: str, source: str = "<config>") -> tuple[dict[str, Any], LineMap]:
    """Parse YAML into a mapping and a map from key path to line number.

    Example:
        >>> data, lines = parse_yaml("a:\\n  b: 1\\n")
        >>> data, lines[("a", "b")]
        ({'a': {'b': 1}}, 2)
    """
    try:
        node = yaml.compose(text, Loader=_LineLoader)
        lines = _line_map(node)
        if _expanded_values(node, {}) > MAX_EXPANDED_VALUES:
            raise ConfigError(
                f"the YAML expands to more than {MAX_EXPANDED_VALUES:,} values through "
                "its aliases (*name)",
                hint="write the values out, or use fewer nested aliases",
            )
        data = yaml.load(text, Loader=_LineLoader)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc.message}", hint=exc.hint) from None
    except RecursionError:
        raise ConfigError(f"{source}: the YAML is nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            f"{source}{where}: invalid YAML: {problem}", hint="fix the YAML syntax"
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: the top level must be a mapping of keys, not {type(data).__name__}",
            hint="write one `key: value` per line",
        )
    return data, lines


def parse_override(assignment: str) -> tuple[list[str], Any]:
    """Split ``dotted.key=value``; the value is read as a YAML scalar or flow value.

    Example:
        >>> parse_override("instructors.general.count=10")
        (['instructors', 'general', 'count'], 10)
        >>> parse_override("model=gpt-4o")
        (['model'], 'gpt-4o')
    """
    key, sep, raw = assignment.partition("=")
    if not sep or not key.strip():
        raise ConfigError(
            f"--set {assignment!r} is not of the form dotted.key=value",
            hint="for example --set instructors.general.count=10",
        )
    parts = [part.strip() for part in key.strip().split(".")]
    if any(not part for part in parts):
        raise ConfigError(f"--set {assignment!r} has an empty key part")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return parts, value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> set[tuple[str, ...]]:
    """Apply ``--set`` assignments to raw config data in place; return the paths set."""
    touched: set[tuple[str, ...]] = set()
    for assignment in overrides:
        parts, value = parse_override(assignment)
        cursor = data
        for depth, part in enumerate(parts[:-1]):
            nxt = cursor.get(part)
            if nxt is None:
                nxt = cursor[part] = {}
            if not isinstance(nxt, dict):
                where = ".".join(parts[: depth + 1])
                raise ConfigError(f"--set {assignment!r}: '{where}' is not a section")
            cursor = nxt
        cursor[parts[-1]] = value
        touched.add(tuple(parts))
    return touched


def _valid_keys(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def _field_model(model: type[BaseModel], path: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the last element of ``path`` (for key suggestions)."""
    current: Any = model
    parts = [str(part) for part in path[:-1]]
    index = 0
    while index < len(parts):
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(parts[index])
        if field is None:
            return None
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        candidates = [a for a in (annotation, *args) if isinstance(a, type)]
        current = next((c for c in candidates if issubclass(c, BaseModel)), None)
        # dict[str, Model] (endpoints, budget.prices): the next part is a mapping key
        index += 2 if get_origin(annotation) is dict else 1
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def describe_errors(
    error: ValidationError,
    *,
    model: type[BaseModel],
    prefix: tuple[str, ...],
    source: str,
    lines: LineMap,
    overridden: set[tuple[str, ...]],
) -> list[str]:
    messages = []
    for item in error.errors():
        loc = tuple(str(part) for part in item["loc"])
        full = (*prefix, *loc)
        dotted = ".".join(full)
        created = [path for path in overridden if path[: len(full)] == full]
        if full in overridden:
            where = f"--set {dotted}"
        elif full in lines:
            where = f"{source} line {lines[full]}"
        elif created:  # --set a.b=1 made 'a' a section where a value belongs
            where = f"--set {'.'.join(min(created))}"
        else:
            parent = next(
                (lines[full[:i]] for i in range(len(full) - 1, 0, -1) if full[:i] in lines), None
            )
            where = f"{source} line {parent}" if parent else source
        if item["type"] == "extra_forbidden":
            owner = _field_model(model, item["loc"])
            choices = _valid_keys(owner) if owner else []
            close = difflib.get_close_matches(loc[-1], choices, n=1, cutoff=0.5)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            messages.append(f"{where}: unknown key '{dotted}'{hint}")
        else:
            value = item.get("input")
            shown = "" if isinstance(value, dict | list) else f" (got {value!r})"
            messages.append(f"{where}: '{dotted}': {item['msg']}{shown}")
    return messages


def raise_problems(problems: list[str], *, hint: str) -> None:
    """Raise one :class:`ConfigError` listing every problem (nothing when there is none).

    Example:
        >>> raise_problems([], hint="h")
    """
    if problems:
        head = problems[0] if len(problems) == 1 else f"{len(problems)} problems in the config"
        detail = "" if len(problems) == 1 else "\n  " + "\n  ".join(problems)
        raise ConfigError(head + detail, hint=hint)


def validate_model(
    data: dict[str, Any],
    model: type[M],
    *,
    source: str,
    lines: LineMap | None = None,
    overridden: set[tuple[str, ...]] | None = None,
    hint: str,
) -> M:
    """Validate raw data against a config model; one :class:`ConfigError` lists every problem.

    Example:
        >>> class Retry(Strict):
        ...     attempts: int = 3
        >>> validate_model({"attempts": 5}, Retry, source="x", hint="h").attempts
        5
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = describe_errors(
            exc,
            model=model,
            prefix=(),
            source=source,
            lines=lines or {},
            overridden=overridden or set(),
        )
        raise_problems(problems, hint=hint)
        raise  # pragma: no cover - raise_problems raised


def read_config_file(path: str | Path, example: str = "airloom config example") -> str:
    """The text of a config file; a clear :class:`ConfigError` when it is missing or unreadable.

    Example:
        >>> read_config_file("/nonexistent.yaml")
        Traceback (most recent call last):
        ...
        airloom.errors.ConfigError: config file /nonexistent.yaml does not exist \
(create one with `airloom config example > config.yaml`)
    """
    file = Path(path)
    if not file.exists():
        raise ConfigError(
            f"config file {file} does not exist",
            hint=f"create one with `{example} > config.yaml`",
        )
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {file}: {exc}") from exc


class Validator(Protocol[M_co]):
    """Turns parsed config data into a model (a config with checks beyond its model's)."""

    def __call__(
        self,
        data: dict[str, Any],
        *,
        source: str,
        lines: LineMap,
        overridden: set[tuple[str, ...]],
    ) -> M_co: ...


def load_text(
    text: str,
    model: type[M],
    *,
    source: str,
    overrides: Iterable[str] = (),
    hint: str,
    prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    validate: Validator[M] | None = None,
) -> M:
    """Parse config text, apply ``--set`` overrides, then ``prepare`` (defaults under the
    keys set), and validate it: with ``validate`` when given, else against ``model``.

    Example:
        >>> class Retry(Strict):
        ...     attempts: int = 3
        >>> load_text("attempts: x\\n", Retry, source="r.yaml", hint="h")
        Traceback (most recent call last):
        ...
        airloom.errors.ConfigError: r.yaml line 1: 'attempts': Input should be a valid \
integer, unable to parse string as an integer (got 'x') (h)
    """
    data, lines = parse_yaml(text, source)
    overridden = apply_overrides(data, overrides)
    if prepare is not None:
        data = prepare(data)
    if validate is not None:
        return validate(data, source=source, lines=lines, overridden=overridden)
    return validate_model(data, model, source=source, lines=lines, overridden=overridden, hint=hint)


def load(
    path: str | Path | None,
    model: type[M],
    overrides: Iterable[str] = (),
    *,
    hint: str,
    example: str,
    prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    validate: Validator[M] | None = None,
) -> M:
    """Load a config file of ``model`` (only the ``--set`` values when ``path`` is None).

    ``hint`` ends every validation error (where to read about the keys); ``example`` is
    the command that writes an example file, named when the file is missing.

    Example:
        >>> class Retry(Strict):
        ...     attempts: int = 3
        >>> load(None, Retry, ["attempts=5"], hint="h", example="e").attempts
        5
    """
    if path is None:
        text, source = "", "--set"
    else:
        text, source = read_config_file(path, example), str(path)
    return load_text(
        text,
        model,
        source=source,
        overrides=overrides,
        hint=hint,
        prepare=prepare,
        validate=validate,
    )


def config_folder(path: str | Path | None) -> Path:
    """The folder relative paths in a config are relative to: the file's, else the cwd.

    Example:
        >>> config_folder("/srv/run/config.yaml")
        PosixPath('/srv/run')
    """
    return Path(path).resolve().parent if path is not None else Path.cwd()


def resolve_path(value: str, base_dir: Path) -> str:
    """A path from a config made absolute against ``base_dir`` (``~`` expanded).

    Example:
        >>> resolve_path("data/a.jsonl", Path("/srv")), resolve_path("/x", Path("/srv"))
        ('/srv/data/a.jsonl', '/x')
    """
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else base_dir / path)
