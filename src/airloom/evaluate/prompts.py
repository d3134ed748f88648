"""The prompt of each case, in the exact airoboros formats the runtime reads.

Pure: a case (and, for plans, the offered tools) in, a system text and a user
prompt out. Plan prompts come from :func:`airloom.runtime.rewoo.prompt.build_planning_prompt`,
function prompts from the function registry, closed-context prompts from
:func:`airloom.formats.closed_context.build_closed_context`, action prompts from the
inline-actions character card, so what is measured is what the runtime uses.

Example:
    >>> from airloom.evaluate.cases import CodeCase
    >>> case = CodeCase(id="c", kind="code", split="dev", task="Write add(a, b).", asserts="")
    >>> case_prompt(case, ())
    ('', 'Write add(a, b). PLAINFORMAT')
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from airloom.evaluate.cases import (
    ActionCase,
    Case,
    CodeCase,
    ContextCase,
    FunctionCase,
    PlanCase,
    SolutionsCase,
)
from airloom.formats.chat import add_plainformat
from airloom.formats.closed_context import InputBlock, build_closed_context
from airloom.runtime.actions import BEGIN_FUNC, END_FUNC, CharacterCard
from airloom.runtime.functions import FunctionRegistry
from airloom.runtime.rewoo.prompt import build_planning_prompt

__all__ = [
    "ACTION_HINT",
    "CITE_REQUEST",
    "action_card",
    "action_system",
    "case_prompt",
    "context_prompt",
]

CITE_REQUEST = "Please provide references."
_ASKS_FOR_SOURCE = re.compile(r"\b(cite|citation|source|reference)", re.IGNORECASE)
ACTION_HINT = (
    f'To act, write {BEGIN_FUNC}{{"name": "<function>", "parameters": {{...}}}}{END_FUNC} '
    "inside your reply, using only the functions and objects above."
)


def context_prompt(case: ContextCase) -> str:
    """The closed-context prompt; a request for references is added when missing.

    Example:
        >>> from airloom.evaluate.cases import ContextBlock
        >>> case = ContextCase(id="x", kind="context", split="dev", question="Colour?",
        ...     blocks=[ContextBlock(metadata={"url": "u"}, text="Blue.")])
        >>> context_prompt(case).splitlines()[-2]
        'Colour? Please provide references.'
    """
    question = case.question.strip()
    if not _ASKS_FOR_SOURCE.search(question):
        question = f"{question} {CITE_REQUEST}"
    blocks = [InputBlock(dict(block.metadata), block.text) for block in case.blocks]
    return build_closed_context(blocks, question)


def action_system(case: ActionCase) -> str:
    """The character card as the inline-actions records hold it, plus the action syntax.

    Example:
        >>> from airloom.evaluate.cases import ActionCard, ExpectedAction
        >>> card = ActionCard(name="Ann", persona="A chemist.", setting="A lab.",
        ...                   functions=[{"name": "scan", "parameters": {}}])
        >>> case = ActionCase(id="a", kind="action", split="dev", card=card, message="Scan!",
        ...                   expected=ExpectedAction(name="scan"))
        >>> action_system(case).splitlines()[0]
        'You are Ann.'
    """
    from airloom.instructors.characters import Card
    from airloom.instructors.inline_actions import Scene, card_system

    card = case.card
    scene = Scene(
        card.setting,
        [dict(item) for item in card.objects_available],
        [dict(item) for item in card.functions],
        [],
        action_card(case),
    )
    return f"{card_system(Card(card.name, card.persona, ''), scene)}\n\n{ACTION_HINT}"


def action_card(case: ActionCase) -> CharacterCard:
    """The runtime card (functions and objects) an action reply is validated against.

    Example:
        >>> from airloom.evaluate.cases import ActionCard, ExpectedAction
        >>> card = ActionCard(name="Ann", persona="p", setting="s",
        ...                   functions=[{"name": "scan", "parameters": {}}])
        >>> action_card(ActionCase(id="a", kind="action", split="dev", card=card,
        ...     message="m", expected=ExpectedAction(name="scan"))).registry.names
        ['scan']
    """
    return CharacterCard.from_dict(
        {"functions": case.card.functions, "objects_available": case.card.objects_available}
    )


def case_prompt(case: Case, tools: Sequence[tuple[str, str]]) -> tuple[str, str]:
    """``(system, user)`` for a case; ``tools`` are the ``(name, description)`` pairs a
    plan may use (ignored by the other kinds). An empty system means none.

    Example:
        >>> from airloom.evaluate.cases import PlanCase
        >>> case = PlanCase(id="p", kind="plan", split="dev", question="Who?", facts=["x"])
        >>> case_prompt(case, [("DuckDuckGo", "Search.")])[1].endswith("Question: Who?")
        True
    """
    if isinstance(case, PlanCase):
        return "", build_planning_prompt(case.question, tools)
    if isinstance(case, FunctionCase):
        return "", FunctionRegistry.from_schemas(case.functions).prompt(case.input)
    if isinstance(case, ContextCase):
        return "", context_prompt(case)
    if isinstance(case, CodeCase):
        return "", add_plainformat(case.task)
    if isinstance(case, SolutionsCase):
        return "", case.question.strip()
    return action_system(case), case.message.strip()
