"""Eager DAG execution of a validated plan.

* A step starts as soon as the steps it refers to are done (not level by level).
* Steps the answer does not need never run (``pruned``).
* Identical (tool, resolved input) calls run once; later steps share the result.
* The :class:`~airloom.runtime.budget.Budget` is checked before every step and
  call; the deadline also cancels whatever is still running or waiting.
* A failing tool becomes that step's error; its dependants are ``skipped`` with
  the reason. Every step always finishes, so a run can never hang on a failure.
* Tool output is data: it is sanitised, capped, and inserted into later inputs
  by the compiled parts (single pass), never scanned for references.

Example:
    >>> import asyncio
    >>> from airloom.runtime.rewoo.parse import parse_plan
    >>> from airloom.runtime.rewoo.validate import validate_plan
    >>> from airloom.runtime.tools.registry import ToolRegistry
    >>> class Upper:
    ...     name = "Upper"
    ...     async def run(self, input, ctx):
    ...         return input.upper()
    >>> registry = ToolRegistry({"search": Upper(), "qa": Upper()})
    >>> text = ":evidence0: = Search[cats]\\n:evidence1: = QA[on :evidence0:]\\nAnswer: :evidence1:"
    >>> plan = validate_plan(parse_plan(text))
    >>> trace = asyncio.run(execute_plan(plan, registry))
    >>> trace.answer, [s.status for s in trace.steps]
    ('ON CATS', ['ok', 'ok'])
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass

from airloom.errors import AirloomError, BudgetExceeded, ToolError
from airloom.runtime.budget import Budget
from airloom.runtime.plan_ir import Ref
from airloom.runtime.rewoo.compile import render
from airloom.runtime.rewoo.trace import StepTrace, Trace
from airloom.runtime.rewoo.validate import CompiledStep, ValidPlan
from airloom.runtime.tools.base import Evidence, Tool, ToolContext, cap_text, escape_evidence
from airloom.runtime.tools.registry import ToolRegistry

__all__ = ["ExecOptions", "execute_plan", "render_input"]


@dataclass(frozen=True, slots=True)
class ExecOptions:
    """Per-run settings that are not budgets.

    ``tool_timeout_s`` bounds each call (the call is cancelled on overrun);
    ``max_evidence_chars`` caps what a step's output may hand on;
    ``max_query_chars`` caps a rendered search query; ``max_insert_chars`` caps
    each evidence value inserted into another tool's input.
    """

    tool_timeout_s: float | None = 60.0
    max_evidence_chars: int = 20_000
    max_query_chars: int = 400
    max_insert_chars: int = 12_000
    #: Start the budget's deadline when execution starts; False when the caller started
    #: it earlier (so that it also covers writing the plan).
    restart_deadline: bool = True


def render_input(
    step: CompiledStep, values: Mapping[int, str], role: str, options: ExecOptions
) -> str:
    """The input string a tool receives, with references rendered for its role.

    A search gets a one-line, query-sized string; other roles get each value
    inserted (capped) where the plan put the reference.

    Example:
        >>> from airloom.runtime.rewoo.compile import compile_text
        >>> from airloom.runtime.plan_ir import Step
        >>> text = "news on :evidence0:"
        >>> step = CompiledStep(Step(1, "S", text, 1), compile_text(text), (0,))
        >>> render_input(step, {0: "a\\nb"}, "search", ExecOptions())
        'news on a b'
    """
    if role == "search":
        text = render(step.parts, values, transform=lambda _ref, value: " ".join(value.split()))
        return " ".join(text.split())[: options.max_query_chars]
    return render(
        step.parts, values, transform=lambda _ref, value: cap_text(value, options.max_insert_chars)
    )


class _StepState:
    """Mutable bookkeeping for one step while the run is in flight."""

    def __init__(self, item: CompiledStep, role: str) -> None:
        self.item = item
        self.role = role
        self.status = "pending"
        self.input: str | None = None
        self.evidence: str | None = None
        self.error: str | None = None
        self.started: float | None = None
        self.finished: float | None = None
        self.cached = False
        self.done = asyncio.Event()

    def freeze(self) -> StepTrace:
        step = self.item.step
        return StepTrace(
            id=step.id,
            tool=step.tool,
            role=self.role,
            status=self.status,  # type: ignore[arg-type]
            plan=step.plan_text,
            input=self.input,
            evidence=self.evidence,
            error=self.error,
            started_s=self.started,
            finished_s=self.finished,
            cached=self.cached,
            depends_on=self.item.deps,
        )


class _Run:
    def __init__(
        self,
        plan: ValidPlan,
        registry: ToolRegistry,
        budget: Budget,
        options: ExecOptions,
        question: str,
    ) -> None:
        self.plan = plan
        self.registry = registry
        self.budget = budget
        self.options = options
        self.question = question
        self.t0 = time.perf_counter()
        self.states: dict[int, _StepState] = {}
        self.calls: dict[tuple[int, str], asyncio.Task[str]] = {}
        for step_id, item in plan.steps.items():
            resolved = registry.resolve(item.step.tool)
            self.states[step_id] = _StepState(item, resolved[0] if resolved else "?")
        for step_id in plan.pruned:
            self.states[step_id].status = "pruned"
            self.states[step_id].error = "not needed by the answer"

    def now(self) -> float:
        return round(time.perf_counter() - self.t0, 6)

    async def run(self) -> Trace:
        if self.options.restart_deadline:
            self.budget.restart_clock()
        tasks = [asyncio.create_task(self.step(step_id)) for step_id in self.plan.order]
        error: str | None = None
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.budget.remaining_time())
            if pending:
                error = f"deadline of {self.budget.deadline_s:g}s reached"
                for task in [*pending, *self.calls.values()]:
                    task.cancel()
                await asyncio.gather(*pending, *self.calls.values(), return_exceptions=True)
        return self.result(error)

    async def step(self, step_id: int) -> None:
        state = self.states[step_id]
        try:
            for dep in state.item.deps:
                await self.states[dep].done.wait()
            blocked = [
                self.states[dep] for dep in state.item.deps if self.states[dep].status != "ok"
            ]
            if blocked:
                state.status = "skipped"
                state.error = "; ".join(
                    f"upstream {b.item.step.label} {b.status}: {b.error}" for b in blocked
                )
                return
            await self.call(state)
        except asyncio.CancelledError:
            state.status = "cancelled"
            state.error = f"cancelled: deadline of {self.budget.deadline_s}s reached"
            raise
        except BudgetExceeded as exc:
            state.status, state.error = "error", f"budget: {exc}"
        except AirloomError as exc:
            state.status, state.error = "error", str(exc)
        except Exception as exc:  # a tool bug must not take the run down
            state.status, state.error = "error", f"{type(exc).__name__}: {exc}"
        finally:
            if state.started is not None:
                state.finished = self.now()
            state.done.set()

    async def call(self, state: _StepState) -> None:
        resolved = self.registry.resolve(state.item.step.tool)
        if resolved is None:
            raise ToolError(f"no tool is registered for {state.item.step.tool!r}")
        role, tool = resolved
        self.budget.start_step()
        values = {dep: self.states[dep].evidence or "" for dep in state.item.deps}
        state.input = render_input(state.item, values, role, self.options)
        state.started = self.now()
        key = (id(tool), state.input)
        task = self.calls.get(key)
        if task is None:
            self.budget.start_tool_call()
            task = asyncio.create_task(self.invoke(tool, state))
            self.calls[key] = task
        else:
            state.cached = True
        output = await asyncio.shield(task)
        state.evidence = cap_text(escape_evidence(output), self.options.max_evidence_chars)
        state.status = "ok"

    async def invoke(self, tool: Tool, state: _StepState) -> str:
        evidence = {
            dep: Evidence(dep, self.states[dep].item.step.tool, self.states[dep].evidence or "")
            for dep in state.item.deps
        }
        ctx = ToolContext(self.budget, state.item.id, state.item.parts, evidence, self.question)
        timeout = _min_timeout(self.options.tool_timeout_s, self.budget.remaining_time())
        try:
            output = await asyncio.wait_for(tool.run(state.input or "", ctx), timeout)
        except asyncio.TimeoutError as exc:
            raise ToolError(f"{state.item.step.tool} timed out after {timeout:g}s") from exc
        if not isinstance(output, str):
            raise ToolError(f"{state.item.step.tool} returned {type(output).__name__}, not text")
        return output

    def result(self, error: str | None) -> Trace:
        steps = tuple(state.freeze() for state in self.states.values())
        answer, kind, ungrounded, answer_error = self.answer()
        return Trace(
            answer=answer,
            answer_kind=kind,
            steps=steps,
            ungrounded=ungrounded,
            error=error or answer_error,
            warnings=self.plan.warnings,
            wall_s=self.now(),
            usage=self.budget.usage(),
        )

    def answer(self) -> tuple[str | None, str, bool, str | None]:
        spec = self.plan.answer
        if spec.kind == "missing":
            return None, spec.kind, False, "the plan has no steps and no answer"
        if spec.kind == "literal":
            return "".join(p for p in spec.parts if isinstance(p, str)), spec.kind, True, None
        refs = [p for p in spec.parts if isinstance(p, Ref)]
        failed = [self.states[r.id] for r in refs if self.states[r.id].status != "ok"]
        if failed:
            reasons = "; ".join(f"{s.item.step.label} {s.status}: {s.error}" for s in failed)
            return None, spec.kind, False, f"no answer: {reasons}"
        values = {r.id: self.states[r.id].evidence or "" for r in refs}
        return render(spec.parts, values), spec.kind, False, None


def _min_timeout(*values: float | None) -> float | None:
    present = [v for v in values if v is not None]
    return max(0.0, min(present)) if present else None


async def execute_plan(
    plan: ValidPlan,
    registry: ToolRegistry,
    *,
    budget: Budget | None = None,
    options: ExecOptions | None = None,
    question: str = "",
) -> Trace:
    """Run a validated plan's needed steps as an eager DAG; return the full :class:`Trace`.

    Never raises for tool failures, budgets or the deadline: those end up in the
    trace (``trace.error``, each step's ``status`` and ``error``).

    Example:
        >>> import asyncio
        >>> from airloom.runtime.rewoo.parse import parse_plan
        >>> from airloom.runtime.rewoo.validate import validate_plan
        >>> class Fail:
        ...     name = "Fail"
        ...     async def run(self, input, ctx):
        ...         raise ToolError("search engine down")
        >>> plan = validate_plan(parse_plan("#E1 = Search[x]\\n#E2 = QA[#E1]\\nFinal answer: #E2"))
        >>> t = asyncio.run(execute_plan(plan, ToolRegistry({"search": Fail(), "qa": Fail()})))
        >>> [s.status for s in t.steps], t.steps[1].error
        (['error', 'skipped'], 'upstream :evidence1: error: search engine down')
    """
    run = _Run(plan, registry, budget or Budget(), options or ExecOptions(), question)
    return await run.run()
