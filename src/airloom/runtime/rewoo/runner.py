"""One-call entry points: ask a model for a plan, check a plan, run a plan.

Example:
    >>> import asyncio
    >>> from airloom.runtime.tools.registry import ToolRegistry
    >>> class Upper:
    ...     name = "Upper"
    ...     async def run(self, input, ctx):
    ...         return input.upper()
    >>> registry = ToolRegistry({"search": Upper()})
    >>> trace = asyncio.run(run_plan_text("#E1 = Google[cats]\\nFinal answer: #E1", registry))
    >>> trace.answer
    'CATS'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airloom.backends.base import Backend, ChatRequest, Message
from airloom.runtime.budget import Budget
from airloom.runtime.rewoo.execute import ExecOptions, execute_plan
from airloom.runtime.rewoo.parse import DEFAULT_OPTIONS, ParseOptions, first_plan, parse_plan
from airloom.runtime.rewoo.prompt import build_planning_prompt
from airloom.runtime.rewoo.trace import Trace
from airloom.runtime.rewoo.validate import PlanLimits, ValidPlan, validate_plan
from airloom.runtime.tools.knowledge import estimate_tokens
from airloom.runtime.tools.registry import ToolRegistry

__all__ = [
    "PLAN_STOPS",
    "check_plan",
    "planning_prompt",
    "request_plan",
    "run_plan_text",
    "with_plan_stops",
]


def check_plan(
    text: str,
    registry: ToolRegistry,
    *,
    offered: Iterable[str] | None = None,
    limits: PlanLimits | None = None,
    options: ParseOptions = DEFAULT_OPTIONS,
) -> ValidPlan:
    """Parse and validate plan text against the registry (or the ``offered`` names).

    Example:
        >>> from airloom.errors import PlanError
        >>> try:
        ...     check_plan(":evidence0: = Google[x]", ToolRegistry())
        ... except PlanError as exc:
        ...     exc.problems[0].startswith("line 1: :evidence0: uses unknown tool 'Google'")
        True
    """
    names = registry.known_names() if offered is None else offered
    return validate_plan(parse_plan(text, options), offered=names, limits=limits)


def planning_prompt(question: str, registry: ToolRegistry) -> str:
    """The planning prompt offering the registry's tools under their display names.

    Example:
        >>> from airloom.runtime.tools.links import HyperlinkExtractor
        >>> prompt = planning_prompt("Who?", ToolRegistry({"links": HyperlinkExtractor()}))
        >>> "HyperlinkExtractor[input]: Extract links" in prompt
        True
    """
    tools = registry.described()
    return build_planning_prompt(question, tools)


#: Where a model that has answered starts imitating the prompt again (a next question).
PLAN_STOPS = ("\nQuestion:", "\nQUESTION:", "\nHere is an example", "\nNow write the plan")


def with_plan_stops(stops: Sequence[str] | None) -> list[str]:
    """``stops`` (a template's, a caller's) followed by :data:`PLAN_STOPS`, without
    repeats, at most four (what OpenAI-compatible servers take).

    Example:
        >>> with_plan_stops(["<|im_end|>"])
        ['<|im_end|>', '\\nQuestion:', '\\nQUESTION:', '\\nHere is an example']
    """
    return list(dict.fromkeys([*(stops or []), *PLAN_STOPS]))[:4]


async def request_plan(
    backend: Backend,
    model: str,
    question: str,
    registry: ToolRegistry,
    *,
    budget: Budget | None = None,
    max_tokens: int = 800,
    params: Mapping[str, Any] | None = None,
) -> str:
    """Ask the model for a plan; its tokens count against the budget.

    ``params`` are the sampling parameters (default temperature 0); the stop sequences
    :data:`PLAN_STOPS` end the reply where a next plan would begin, and only the text up
    to the first complete ``Answer:`` line is returned.

    Example:
        >>> import asyncio
        >>> from airloom.backends.base import ChatResponse
        >>> class Canned:
        ...     name = "canned"
        ...     async def complete(self, request):
        ...         return ChatResponse(":evidence0: = DuckDuckGo[x]")
        ...     async def aclose(self):
        ...         pass
        >>> asyncio.run(request_plan(Canned(), "m", "q?", ToolRegistry()))
        ':evidence0: = DuckDuckGo[x]'
    """
    sampling = {"temperature": 0.0, "max_tokens": max_tokens, **(params or {})}
    sampling["stop"] = with_plan_stops(sampling.get("stop"))
    budget = budget or Budget()
    prompt = planning_prompt(question, registry)
    budget.start_llm_call(estimate_tokens(prompt) + int(sampling["max_tokens"]))
    request = ChatRequest(model=model, messages=(Message("user", prompt),), params=sampling)
    response = await backend.complete(request)
    budget.add_llm_tokens(response.usage.total_tokens or estimate_tokens(prompt + response.text))
    return first_plan(response.text)


async def run_plan_text(
    text: str,
    registry: ToolRegistry,
    *,
    budget: Budget | None = None,
    options: ExecOptions | None = None,
    limits: PlanLimits | None = None,
    offered: Iterable[str] | None = None,
    question: str = "",
) -> Trace:
    """Check then execute plan text; raises :class:`PlanError` before any tool runs.

    Example:
        >>> import asyncio
        >>> from airloom.errors import PlanError
        >>> try:
        ...     asyncio.run(run_plan_text("Answer: nothing", ToolRegistry()))
        ... except PlanError as exc:
        ...     exc.problems[0][:25]
        'no step definitions found'
    """
    plan = check_plan(text, registry, offered=offered, limits=limits)
    return await execute_plan(plan, registry, budget=budget, options=options, question=question)
