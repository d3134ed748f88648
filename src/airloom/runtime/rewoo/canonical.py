"""The canonical rendering of a plan: the exact layout the model cards document.

A tolerant parse accepts ``#E1``, ``:evidence[1]:``, bold markers, ``Final answer:``
and more; a training record should hold the one canonical form instead, so a model
learns the format the runtime documents, not a teacher's variant::

    Plan: <what to do>
    :evidence0: = Tool[input that may name :evidence0: values]
    Answer: :evidenceN:

Steps are renumbered from 0 in source order; references follow the renumbering.

Example:
    >>> print(canonical_plan("**Plan:** look it up. #E1 = Google[cats]\\n"
    ...                      "Plan: read. #E2 = LLM[What about #E1?]\\nFinal answer: #E2"))
    Plan: look it up.
    :evidence0: = Google[cats]
    Plan: read.
    :evidence1: = LLM[What about :evidence0:?]
    Answer: :evidence1:
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from airloom.errors import PlanError
from airloom.runtime.plan_ir import Part, Ref
from airloom.runtime.rewoo.compile import compile_text
from airloom.runtime.rewoo.parse import parse_plan

__all__ = ["canonical_plan"]


def _render(parts: Iterable[Part], ids: Mapping[int, int]) -> str:
    return "".join(
        f":evidence{ids.get(part.id, part.id)}:" if isinstance(part, Ref) else part
        for part in parts
    )


def canonical_plan(text: str) -> str:
    """Parse ``text`` tolerantly and render it canonically (see the module docstring).

    Raises :class:`PlanError` when the text holds no step or no answer line, or the
    parser found a defect (the plan would not be usable as written).

    Example:
        >>> try:
        ...     canonical_plan("Plan: think hard.")
        ... except PlanError as exc:
        ...     exc.message
        'no plan to render canonically'
    """
    plan = parse_plan(text)
    if not plan.steps or plan.answer.kind == "missing" or plan.problems:
        raise PlanError("no plan to render canonically", problems=list(plan.problems))
    ids = {step.id: number for number, step in enumerate(plan.steps)}
    lines: list[str] = []
    previous = ""
    for step in plan.steps:
        text = " ".join(step.plan_text.split())
        if text and text != previous:  # a Plan: line that covers several steps is kept once
            lines.append(f"Plan: {text}")
        previous = text
        body = _render(compile_text(step.raw_input), ids)
        lines.append(f":evidence{ids[step.id]}: = {step.tool.strip()}[{body.strip()}]")
    lines.append(f"Answer: {_render(plan.answer.parts, ids).strip() or plan.answer.raw.strip()}")
    return "\n".join(lines)
