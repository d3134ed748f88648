"""Run a suite against a backend: ask, execute what must run, score, collect.

Each case is one chat request (temperature 0) in the chosen prompt template. Plans
are then executed with the real reWOO executor on the suite's local corpus (search,
links and scraping read the corpus; the knowledge-model steps go to the same backend),
code runs in the sandbox. Results arrive through ``on_result`` as they are scored.

Example:
    >>> import asyncio
    >>> from airloom.backends.scripted import ScriptedBackend
    >>> from airloom.evaluate.cases import load_suite
    >>> suite = load_suite("core").select("dev", ("solutions",), limit=1)
    >>> backend = ScriptedBackend.from_rules([{"match": ".*", "reply": "No idea."}])
    >>> run = asyncio.run(run_suite(suite, backend, "m"))
    >>> [(r.kind, r.passed) for r in run.results]
    [('solutions', False)]
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airloom.backends.base import Backend, ChatRequest, Message
from airloom.curate.sandbox import Limits, run_python
from airloom.errors import AirloomError
from airloom.evaluate.cases import (
    Case,
    CodeCase,
    ContextCase,
    FunctionCase,
    PlanCase,
    SolutionsCase,
    Suite,
)
from airloom.evaluate.prompts import case_prompt
from airloom.evaluate.scorers import (
    Score,
    check_plan_answer,
    code_program,
    score_action,
    score_code_run,
    score_context,
    score_function,
    score_plan_trace,
    score_solutions,
)
from airloom.formats.chat import ChatTemplate
from airloom.runtime.budget import Budget
from airloom.runtime.rewoo.execute import ExecOptions, execute_plan
from airloom.runtime.rewoo.runner import with_plan_stops
from airloom.runtime.tools.registry import ToolRegistry

__all__ = [
    "MAX_TOKENS",
    "CaseResult",
    "EvalRun",
    "RunSettings",
    "build_request",
    "run_suite",
    "score_case",
]

#: Reply budget per kind (tokens); ``max_tokens`` on the command line overrides it.
MAX_TOKENS = {
    "plan": 400,
    "function": 160,
    "context": 200,
    "code": 400,
    "solutions": 500,
    "action": 200,
}


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One scored case: the reply, the verdict and what it cost."""

    id: str
    kind: str
    split: str
    passed: bool
    reason: str
    answer: str
    seconds: float
    completion_tokens: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict.

        Example:
            >>> CaseResult("a", "code", "dev", True, "ok", "x", 0.5).to_dict()["passed"]
            True
        """
        return {
            "id": self.id,
            "kind": self.kind,
            "split": self.split,
            "passed": self.passed,
            "reason": self.reason,
            "answer": self.answer,
            "seconds": round(self.seconds, 3),
            "completion_tokens": self.completion_tokens,
        }


@dataclass(slots=True)
class EvalRun:
    """All results of one suite run and what it ran on."""

    suite: str
    label: str
    results: list[CaseResult] = field(default_factory=list)
    wall_s: float = 0.0


@dataclass(frozen=True, slots=True)
class RunSettings:
    """How to ask: the prompt template (system prompt and stops) and the reply budget."""

    template: ChatTemplate | None = None
    max_tokens: int | None = None
    concurrency: int = 1
    plan_deadline_s: float = 120.0
    code_limits: Limits = field(default_factory=Limits)


def build_request(
    case: Case, model: str, tools: list[tuple[str, str]], settings: RunSettings
) -> ChatRequest:
    """The chat request of a case (temperature 0; the template's system prompt and stops,
    and for plans the runtime's plan stops).

    Example:
        >>> from airloom.evaluate.cases import SolutionsCase
        >>> from airloom.formats.chat import get_template
        >>> case = SolutionsCase(id="s", kind="solutions", split="dev", question="2+2?",
        ...                      answer="4")
        >>> req = build_request(case, "m", [], RunSettings(get_template("airoboros-2.2")))
        >>> [m.role for m in req.messages], req.params["max_tokens"], req.params["stop"][0]
        (['system', 'user'], 500, 'USER:')
    """
    system, user = case_prompt(case, tools)
    template = settings.template
    if not system and template is not None:
        system = template.default_system
    messages = ([Message("system", system)] if system else []) + [Message("user", user)]
    params: dict[str, Any] = {
        "max_tokens": settings.max_tokens or MAX_TOKENS[case.kind],
        "temperature": 0.0,
    }
    stops = list(template.stop) if template is not None else []
    if case.kind == "plan":  # asked as the runtime asks: the reply ends where a next plan would
        stops = with_plan_stops(stops)
    if stops:
        params["stop"] = stops
    return ChatRequest(model=model, messages=tuple(messages), params=params)


async def _score_plan(
    case: PlanCase, answer: str, registry: ToolRegistry, settings: RunSettings
) -> Score:
    offered = [name for name, _ in registry.offered()]
    checked = check_plan_answer(answer, offered)
    if isinstance(checked, Score):
        return checked
    budget = Budget(max_steps=24, max_tool_calls=40, deadline_s=settings.plan_deadline_s)
    trace = await execute_plan(
        checked, registry, budget=budget, options=ExecOptions(), question=case.question
    )
    return score_plan_trace(case, trace)


async def score_case(
    case: Case, answer: str, registry: ToolRegistry, settings: RunSettings
) -> Score:
    """Score one reply; plans are executed on ``registry``, code runs in the sandbox.

    Example:
        >>> import asyncio
        >>> from airloom.evaluate.cases import SolutionsCase
        >>> case = SolutionsCase(id="s", kind="solutions", split="dev", question="q", answer="4")
        >>> asyncio.run(score_case(case, "4", ToolRegistry(), RunSettings())).passed
        False
    """
    if isinstance(case, PlanCase):
        return await _score_plan(case, answer, registry, settings)
    if isinstance(case, CodeCase):
        marker = f"asserts-passed-{secrets.token_hex(8)}"
        program = code_program(case, answer, marker)
        run = await asyncio.to_thread(run_python, program, settings.code_limits)
        return score_code_run(run, marker)
    if isinstance(case, FunctionCase):
        return score_function(case, answer)
    if isinstance(case, ContextCase):
        return score_context(case, answer)
    if isinstance(case, SolutionsCase):
        return score_solutions(case, answer)
    return score_action(case, answer)


async def _one(
    case: Case,
    backend: Backend,
    model: str,
    registry: ToolRegistry,
    settings: RunSettings,
) -> CaseResult:
    tools = registry.described()
    started = time.monotonic()
    request = build_request(case, model, tools, settings)
    response = await backend.complete(request)
    answer = response.text
    try:
        score = await score_case(case, answer, registry, settings)
    except AirloomError as exc:
        score = Score(False, f"scoring failed: {exc.message}")
    return CaseResult(
        case.id,
        case.kind,
        case.split,
        score.passed,
        score.reason,
        answer,
        time.monotonic() - started,
        response.usage.completion_tokens or 0,
    )


async def run_suite(
    suite: Suite,
    backend: Backend,
    model: str,
    *,
    registry: ToolRegistry | None = None,
    settings: RunSettings | None = None,
    label: str = "",
    on_result: Callable[[CaseResult], None] | None = None,
) -> EvalRun:
    """Ask, execute and score every case of ``suite`` (see the module docstring).

    ``registry`` holds the tools plans run on (default: none, so plan steps fail);
    results come back in suite order whatever the concurrency.
    """
    settings = settings or RunSettings()
    registry = registry if registry is not None else ToolRegistry()
    run = EvalRun(suite.name, label or model)
    started = time.monotonic()
    gate = asyncio.Semaphore(max(1, settings.concurrency))

    async def guarded(case: Case) -> CaseResult:
        async with gate:
            result = await _one(case, backend, model, registry, settings)
        if on_result is not None:
            on_result(result)
        return result

    run.results = list(await asyncio.gather(*(guarded(case) for case in suite.cases)))
    run.wall_s = time.monotonic() - started
    return run
