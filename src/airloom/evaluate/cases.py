"""Evaluation cases as typed models, one per skill kind, and the suite that holds them.

A suite is a JSONL file, one case per line; ``kind`` says which model reads it and
``split`` puts it in the ``dev`` part (for tuning prompts and data) or the ``heldout``
part (for the final measurement only). Plan cases search a local corpus: a folder of
text files beside the suite (``<suite>.corpus/``).

Example:
    >>> case = parse_case({"id": "fc-1", "kind": "function", "split": "dev",
    ...     "input": "Weather in Oslo?", "functions": [{"name": "weather",
    ...     "description": "Current weather.", "parameters": {"city": {"type": "string"}}}],
    ...     "expected": {"function": "weather", "params": {"city": "Oslo"}}}, 1)
    >>> type(case).__name__, case.expected.params
    ('FunctionCase', {'city': 'Oslo'})
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from airloom.errors import ConfigError

__all__ = [
    "KINDS",
    "ActionCard",
    "ActionCase",
    "Case",
    "CodeCase",
    "ContextBlock",
    "ContextCase",
    "ExpectedAction",
    "ExpectedCall",
    "FunctionCase",
    "PlanCase",
    "SolutionsCase",
    "Split",
    "Suite",
    "bundled_suites",
    "load_suite",
    "parse_case",
    "parse_suite",
]

Split = Literal["dev", "heldout"]
KINDS = ("plan", "function", "context", "code", "solutions", "action")


class _Case(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    split: Split


class PlanCase(_Case):
    """A question a reWOO plan over the corpus answers; ``facts``: any one must appear."""

    kind: Literal["plan"]
    question: str
    facts: list[str] = Field(min_length=1)


class ExpectedCall(BaseModel):
    """The call a function case expects: name and exact arguments."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    function: str
    params: dict[str, Any] = Field(default_factory=dict)


class FunctionCase(_Case):
    """Pick the right function from a listing; arguments must equal ``expected.params``."""

    kind: Literal["function"]
    input: str
    functions: list[dict[str, Any]] = Field(min_length=1)
    expected: ExpectedCall


class ContextBlock(BaseModel):
    """One input block: citable metadata and its text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metadata: dict[str, str]
    text: str


class ContextCase(_Case):
    """Closed-context QA. ``facts`` empty means the context lacks the answer
    (counterfactual): the model must say it does not know."""

    kind: Literal["context"]
    blocks: list[ContextBlock] = Field(min_length=1)
    question: str
    facts: list[str] = Field(default_factory=list)
    cite: dict[str, str] = Field(default_factory=dict)


class CodeCase(_Case):
    """A PLAINFORMAT Python task; the answer's code followed by ``asserts`` must run."""

    kind: Literal["code"]
    task: str
    asserts: str


class SolutionsCase(_Case):
    """Several ranked solutions; the best and final answer must hold ``answer``."""

    kind: Literal["solutions"]
    question: str
    answer: str


class ActionCard(BaseModel):
    """The character and scene of an action case."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    persona: str
    setting: str
    objects_available: list[dict[str, str]] = Field(default_factory=list)
    functions: list[dict[str, Any]] = Field(min_length=1)


class ExpectedAction(BaseModel):
    """The inline action the reply must contain."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    parameters: dict[str, Any] = Field(default_factory=dict)


class ActionCase(_Case):
    """A user message a character answers with one inline action."""

    kind: Literal["action"]
    card: ActionCard
    message: str
    expected: ExpectedAction


Case = Annotated[
    PlanCase | FunctionCase | ContextCase | CodeCase | SolutionsCase | ActionCase,
    Field(discriminator="kind"),
]
_CASE = TypeAdapter(Case)


def parse_case(data: Any, line: int) -> Case:
    """One case from its JSON value; a bad one raises :class:`ConfigError` naming the line.

    Example:
        >>> try:
        ...     parse_case({"id": "x", "kind": "poetry", "split": "dev"}, 3)
        ... except ConfigError as exc:
        ...     exc.message.startswith("suite line 3:")
        True
    """
    try:
        return _CASE.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(
            f"suite line {line}: {where}: {first['msg']}",
            hint=f"case kinds are {', '.join(KINDS)}; see the bundled suite for examples",
        ) from exc


@dataclass(frozen=True, slots=True)
class Suite:
    """A named list of cases and the corpus folder its plan cases search."""

    name: str
    cases: tuple[Case, ...]
    corpus: Path | None

    def select(
        self, split: str = "all", kinds: tuple[str, ...] = (), limit: int | None = None
    ) -> Suite:
        """The cases of one split (``dev``, ``heldout`` or ``all``) and kinds, at most
        ``limit`` per kind.

        Example:
            >>> suite = load_suite("core")
            >>> part = suite.select("heldout", ("code",), limit=2)
            >>> [c.kind for c in part.cases], {c.split for c in part.cases}
            (['code', 'code'], {'heldout'})
        """
        chosen: list[Case] = []
        per_kind: dict[str, int] = {}
        for case in self.cases:
            if split != "all" and case.split != split:
                continue
            if kinds and case.kind not in kinds:
                continue
            if limit is not None and per_kind.get(case.kind, 0) >= limit:
                continue
            per_kind[case.kind] = per_kind.get(case.kind, 0) + 1
            chosen.append(case)
        return Suite(self.name, tuple(chosen), self.corpus)


def parse_suite(text: str, name: str, corpus: Path | None) -> Suite:
    """A suite from JSONL text (blank lines and ``#`` comments skipped); ids must be unique.

    Example:
        >>> line = json.dumps({"id": "s1", "kind": "solutions", "split": "dev",
        ...                    "question": "2+2?", "answer": "4"})
        >>> len(parse_suite(line + "\\n" + line.replace("s1", "s2"), "t", None).cases)
        2
    """
    cases: list[Case] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"suite line {number} is not JSON: {exc.msg}", hint="write one JSON object a line"
            ) from exc
        case = parse_case(data, number)
        if case.id in seen:
            raise ConfigError(f"suite line {number}: the id {case.id!r} is used twice")
        seen.add(case.id)
        cases.append(case)
    if not cases:
        raise ConfigError(f"suite {name} holds no cases")
    return Suite(name, tuple(cases), corpus)


def bundled_suites() -> list[str]:
    """Names of the suites that ship with airloom.

    Example:
        >>> "core" in bundled_suites()
        True
    """
    folder = resources.files("airloom.evaluate").joinpath("suites")
    return sorted(p.name[: -len(".jsonl")] for p in folder.iterdir() if p.name.endswith(".jsonl"))


def load_suite(name_or_path: str | Path) -> Suite:
    """A bundled suite by name, or a JSONL file (its corpus: ``<file stem>.corpus/``).

    Example:
        >>> suite = load_suite("core")
        >>> len(suite.cases) >= 80, sorted({c.kind for c in suite.cases}) == sorted(KINDS)
        (True, True)
    """
    path = Path(name_or_path)
    if not path.exists():
        if str(name_or_path) not in bundled_suites():
            raise ConfigError(
                f"no suite {str(name_or_path)!r}: not a file and not a bundled suite",
                hint=f"bundled suites: {', '.join(bundled_suites())}; or pass a JSONL file",
            )
        path = Path(str(resources.files("airloom.evaluate").joinpath("suites"))) / (
            f"{name_or_path}.jsonl"
        )
    corpus = path.with_suffix(".corpus")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read suite {path}: {exc}") from exc
    suite = parse_suite(text, path.stem, corpus if corpus.is_dir() else None)
    if suite.corpus is None and any(case.kind == "plan" for case in suite.cases):
        raise ConfigError(
            f"suite {path} has plan cases but no corpus folder {corpus}",
            hint="put the text files its plans should find in that folder",
        )
    return suite
