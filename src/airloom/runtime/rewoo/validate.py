"""Static checks on a parsed plan, before any tool runs.

:func:`validate_plan` lists *every* problem with its reason and raises one
:class:`airloom.errors.PlanError` (nothing is executed), or returns a
:class:`ValidPlan`: compiled inputs, the dependency graph, the answer and the
steps that the answer actually needs (in a runnable order).

Checked: the parser's own problems; too many steps; ids over the cap; duplicate
definitions; unknown tools; empty inputs; inputs over the size cap; unfilled
``:evidence[n]:`` placeholders; undefined, self and cyclic references; a cut-off
last step that something needs. Tolerated with a warning: gaps in ids, forward
references, mixed ``#E``/``:evidence:`` syntax, a missing answer (the last step
is used), an answer without references, identical steps.

Example:
    >>> from airloom.runtime.rewoo.parse import parse_plan
    >>> plan = validate_plan(parse_plan(":evidence0: = Search[x]\\n"
    ...     ":evidence1: = Search[y]\\n:evidence2: = QA[:evidence0:?]\\nAnswer: :evidence2:"),
    ...     offered=["Search", "QA"])
    >>> plan.order, plan.pruned
    ((0, 2), (1,))
    >>> try:
    ...     validate_plan(parse_plan(":evidence0: = Nope[:evidence4:]"), offered=["Search"])
    ... except PlanError as exc:
    ...     len(exc.problems)
    2
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from airloom.errors import PlanError
from airloom.runtime.plan_ir import AnswerSpec, ParsedPlan, Part, Ref, Step, normalise_tool_name
from airloom.runtime.rewoo.compile import compile_text, placeholders_in, refs_of

__all__ = ["CompiledStep", "PlanLimits", "ValidPlan", "validate_plan"]


@dataclass(frozen=True, slots=True)
class PlanLimits:
    """Caps applied before anything runs (edge case: 40 steps, ``:evidence99999:``)."""

    max_steps: int = 24
    max_id: int = 999
    max_input_chars: int = 8000


@dataclass(frozen=True, slots=True)
class CompiledStep:
    """A step with its input compiled into parts and its dependencies."""

    step: Step
    parts: tuple[Part, ...]
    deps: tuple[int, ...]

    @property
    def id(self) -> int:
        """The step id."""
        return self.step.id


@dataclass(frozen=True, slots=True)
class ValidPlan:
    """A plan that passed validation; ``order`` lists the needed steps, dependencies first."""

    steps: Mapping[int, CompiledStep]
    answer: AnswerSpec
    order: tuple[int, ...]
    pruned: tuple[int, ...]
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view (for ``--validate-only``).

        Example:
            >>> from airloom.runtime.rewoo.parse import parse_plan
            >>> v = validate_plan(parse_plan(":evidence0: = S[q]"), offered=["S"])
            >>> v.to_dict()["steps"][0]["tool"]
            'S'
        """
        return {
            "steps": [
                {
                    "id": c.id,
                    "label": c.step.label,
                    "tool": c.step.tool,
                    "input": c.step.raw_input,
                    "depends_on": list(c.deps),
                    "plan": c.step.plan_text,
                    "flags": list(c.step.flags),
                }
                for c in self.steps.values()
            ],
            "answer": {"kind": self.answer.kind, "text": _answer_text(self.answer.parts)},
            "order": list(self.order),
            "pruned": list(self.pruned),
            "warnings": list(self.warnings),
        }


def _answer_text(parts: tuple[Part, ...]) -> str:
    return "".join(part.label if isinstance(part, Ref) else part for part in parts)


class _Checker:
    def __init__(
        self,
        parsed: ParsedPlan,
        offered: set[str] | None,
        allow_empty: set[str],
        limits: PlanLimits,
    ) -> None:
        self.parsed = parsed
        self.offered = offered
        self.allow_empty = allow_empty
        self.limits = limits
        self.problems: list[str] = list(parsed.problems)
        self.warnings: list[str] = list(parsed.warnings)

    def run(self) -> ValidPlan:
        steps = self.check_caps_and_duplicates()
        compiled = {step.id: self.compile_step(step) for step in steps.values()}
        compiled = self.drop_truncated(compiled)
        self.check_references(compiled)
        self.check_cycles(compiled)
        answer = self.resolve_answer(compiled)
        self.note_gaps_and_repeats(compiled)
        if self.problems:
            raise PlanError(
                f"the plan is invalid ({len(self.problems)} problem(s)): {self.problems[0]}",
                problems=self.problems,
            )
        order, pruned = _closure(compiled, answer)
        return ValidPlan(compiled, answer, order, pruned, tuple(self.warnings))

    def check_caps_and_duplicates(self) -> dict[int, Step]:
        steps = self.parsed.steps
        if len(steps) > self.limits.max_steps:
            self.problems.append(
                f"the plan has {len(steps)} steps, over the cap of {self.limits.max_steps}; "
                "ask for a shorter plan or raise max_steps"
            )
        seen: dict[int, Step] = {}
        for step in steps:
            if step.id > self.limits.max_id:
                self.problems.append(
                    f"line {step.line}: id {step.label} is over the cap of {self.limits.max_id}"
                )
            if step.id in seen:
                first = seen[step.id]
                how = "both #E and :evidence: forms" if first.syntax != step.syntax else "twice"
                self.problems.append(
                    f"{step.label} is defined {how} (lines {first.line} and {step.line}); "
                    "give each step its own id"
                )
                continue
            seen[step.id] = step
            self.check_step(step)
        return seen

    def check_step(self, step: Step) -> None:
        if "malformed" in step.flags:
            return
        if self.offered is not None and step.tool_key not in self.offered:
            names = ", ".join(sorted(self.offered)) or "none"
            self.problems.append(
                f"line {step.line}: {step.label} uses unknown tool {step.tool!r} (offered: {names})"
            )
        if not step.raw_input.strip() and step.tool_key not in self.allow_empty:
            self.problems.append(
                f"line {step.line}: {step.label} calls {step.tool} with an empty input"
            )
        if len(step.raw_input) > self.limits.max_input_chars:
            self.problems.append(
                f"line {step.line}: {step.label} input has {len(step.raw_input)} characters, "
                f"over the cap of {self.limits.max_input_chars}"
            )
        for placeholder in placeholders_in(step.raw_input):
            self.problems.append(
                f"line {step.line}: {step.label} contains the unfilled placeholder {placeholder!r}"
            )

    def compile_step(self, step: Step) -> CompiledStep:
        parts = compile_text(step.raw_input)
        deps = tuple(dict.fromkeys(ref.id for ref in refs_of(parts)))
        return CompiledStep(step, parts, deps)

    def drop_truncated(self, compiled: dict[int, CompiledStep]) -> dict[int, CompiledStep]:
        users = _users(compiled, self.parsed.answer)
        if self.parsed.answer.kind == "missing" and compiled:
            last = list(compiled)[-1]
            users.setdefault(last, []).append("the default answer (there is no answer line)")
        kept = dict(compiled)
        for step_id, item in compiled.items():
            if not item.step.truncated:
                continue
            if users.get(step_id):
                self.problems.append(
                    f"line {item.step.line}: {item.step.label} is cut off (no closing bracket) "
                    f"but {', '.join(users[step_id])} need(s) it; regenerate with more max_tokens"
                )
            else:
                self.warnings.append(f"{item.step.label} is cut off and unused; dropped")
                del kept[step_id]
        return kept

    def check_references(self, compiled: dict[int, CompiledStep]) -> None:
        position = {step_id: index for index, step_id in enumerate(compiled)}
        mixed = False
        for item in compiled.values():
            for ref in refs_of(item.parts):
                if ref.id not in compiled:
                    self.problems.append(
                        f"line {item.step.line}: {item.step.label} refers to {ref.raw!r}, "
                        "which no step defines"
                    )
                elif ref.id == item.id:
                    self.problems.append(
                        f"line {item.step.line}: {item.step.label} refers to itself"
                    )
                elif position[ref.id] > position[item.id]:
                    self.warnings.append(f"{item.step.label} refers forward to {ref.label}")
                mixed = mixed or (ref.id in compiled and ref.syntax != compiled[ref.id].step.syntax)
        if mixed:
            self.warnings.append("#E and :evidence: spellings are mixed; matched by number")

    def check_cycles(self, compiled: dict[int, CompiledStep]) -> None:
        for cycle in _cycles(compiled):
            path = " -> ".join(f":evidence{i}:" for i in cycle)
            self.problems.append(f"circular dependency: {path}")

    def resolve_answer(self, compiled: dict[int, CompiledStep]) -> AnswerSpec:
        answer = self.parsed.answer
        if answer.kind == "missing":
            if not compiled:
                return answer
            last = list(compiled.values())[-1]
            self.warnings.append(f"no answer line; using the last step {last.step.label}")
            return AnswerSpec("ref", (Ref(last.id),), "", 0)
        for ref in refs_of(answer.parts):
            if ref.id not in compiled:
                self.problems.append(f"the answer refers to {ref.raw!r}, which no step defines")
        return answer

    def note_gaps_and_repeats(self, compiled: dict[int, CompiledStep]) -> None:
        ids = sorted(compiled)
        if ids and ids[-1] - ids[0] + 1 != len(ids):
            self.warnings.append(f"ids have gaps: {', '.join(map(str, ids))}")
        first_of: dict[tuple[str, str], int] = {}
        for item in compiled.values():
            key = (item.step.tool_key, item.step.raw_input)
            if key in first_of:
                self.warnings.append(
                    f"{item.step.label} repeats :evidence{first_of[key]}:; the call runs once"
                )
            first_of.setdefault(key, item.id)


def _users(compiled: Mapping[int, CompiledStep], answer: AnswerSpec) -> dict[int, list[str]]:
    users: dict[int, list[str]] = {}
    for item in compiled.values():
        for dep in item.deps:
            users.setdefault(dep, []).append(item.step.label)
    for ref in refs_of(answer.parts):
        users.setdefault(ref.id, []).append("the answer")
    return users


def _cycles(compiled: Mapping[int, CompiledStep]) -> list[list[int]]:
    """Every distinct cycle reachable by depth-first search (iterative, no recursion)."""
    state: dict[int, int] = {}
    found: list[list[int]] = []
    for root in compiled:
        if state.get(root):
            continue
        stack: list[tuple[int, int]] = [(root, 0)]
        path: list[int] = []
        while stack:
            node, index = stack.pop()
            if index == 0:
                state[node] = 1
                path.append(node)
            deps = [d for d in compiled[node].deps if d in compiled and d != node]
            if index < len(deps):
                stack.append((node, index + 1))
                dep = deps[index]
                if state.get(dep) == 1:
                    found.append([*path[path.index(dep) :], dep])
                elif not state.get(dep):
                    stack.append((dep, 0))
            else:
                state[node] = 2
                path.pop()
    return found


def _closure(
    compiled: Mapping[int, CompiledStep], answer: AnswerSpec
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Steps the answer needs, dependencies first; and the steps it does not need."""
    order: list[int] = []
    done: set[int] = set()
    for ref in refs_of(answer.parts):
        stack: list[tuple[int, bool]] = [(ref.id, False)]
        while stack:
            node, expanded = stack.pop()
            if node in done:
                continue
            if expanded:
                done.add(node)
                order.append(node)
                continue
            stack.append((node, True))
            stack.extend((dep, False) for dep in reversed(compiled[node].deps) if dep not in done)
    pruned = tuple(step_id for step_id in compiled if step_id not in done)
    return tuple(order), pruned


def validate_plan(
    parsed: ParsedPlan,
    *,
    offered: Iterable[str] | None = None,
    allow_empty: Iterable[str] = (),
    limits: PlanLimits | None = None,
) -> ValidPlan:
    """Check a parsed plan; raise :class:`PlanError` listing every problem.

    ``offered`` are the tool names the planner was shown (compared after
    normalisation: ``Text-Scraper`` = ``textscraper``); ``None`` accepts any name.
    ``allow_empty`` names tools that may be called with an empty input.

    Example:
        >>> from airloom.runtime.rewoo.parse import parse_plan
        >>> p = parse_plan("#E1 = A[#E2]\\n#E2 = A[#E1]\\nFinal answer: #E2")
        >>> try:
        ...     validate_plan(p, offered=["A"])
        ... except PlanError as exc:
        ...     exc.problems
        ['circular dependency: :evidence1: -> :evidence2: -> :evidence1:']
    """
    names = None if offered is None else {normalise_tool_name(name) for name in offered}
    empty_ok = {normalise_tool_name(name) for name in allow_empty}
    return _Checker(parsed, names, empty_ok, limits or PlanLimits()).run()
