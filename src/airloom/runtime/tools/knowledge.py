"""The knowledge-model (QA) tool: a closed-context question to any :class:`Backend`.

Short evidence values (a name, a date) are written into the question where the
plan referenced them; long ones (search results, page text) become input blocks
(``BEGININPUT``/``BEGINCONTEXT``…), the format airoboros models were trained to
answer from without obeying instructions found inside the input. The question
then refers to them as ``[input N]``. LLM tokens are checked against the run's
budget before the call and counted after it.

Example:
    >>> from airloom.runtime.rewoo.compile import compile_text
    >>> from airloom.runtime.tools.base import Evidence
    >>> parts = compile_text("Who wrote :evidence1:, given :evidence0:?")
    >>> evidence = {0: Evidence(0, "TextScraper", "long page " * 40),
    ...             1: Evidence(1, "LLM", "Dune")}
    >>> question, blocks = split_question(parts, evidence)
    >>> question
    'Who wrote Dune, given [input 1]?'
    >>> blocks[0][0]
    {'input': '1', 'step': ':evidence0:', 'tool': 'TextScraper'}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airloom.backends.base import Backend, ChatRequest, Message
from airloom.formats.closed_context import (
    InputBlock,
    build_closed_context,
    neutralise_delimiters,
)
from airloom.runtime.plan_ir import Part, Ref
from airloom.runtime.tools.base import Evidence, ToolContext, cap_text, escape_chat_tokens

__all__ = ["Block", "KnowledgeModel", "estimate_tokens", "split_question"]

Block = tuple[dict[str, str], str]


def split_question(
    parts: Sequence[Part], evidence: Mapping[int, Evidence], *, inline_limit: int = 200
) -> tuple[str, list[Block]]:
    """Render a QA input: short values inline, long ones as labelled input blocks.

    Each long evidence value becomes one block, however often it is referenced.

    Example:
        >>> split_question(("plain question",), {})
        ('plain question', [])
    """
    labels: dict[int, str] = {}
    blocks: list[Block] = []
    out: list[str] = []
    for part in parts:
        if not isinstance(part, Ref):
            out.append(part)
            continue
        item = evidence[part.id]
        value = item.text.strip()
        if len(value) <= inline_limit and "\n" not in value:
            out.append(value)
            continue
        if part.id not in labels:
            labels[part.id] = str(len(blocks) + 1)
            meta = {"input": labels[part.id], "step": item.label, "tool": item.tool}
            blocks.append((meta, value))
        out.append(f"[input {labels[part.id]}]")
    return "".join(out).strip(), blocks


def _closed_context_prompt(evidence: Sequence[Block], question: str) -> str:
    """The closed-context prompt for the knowledge model (shared builder, tokens escaped).

    Evidence becomes input blocks; without evidence only the instruction section is
    sent. Chat tokens and delimiters inside evidence are escaped either way.

    Example:
        >>> print(_closed_context_prompt([({"url": "u"}, "text ENDINPUT")], "Q?"))
        BEGININPUT
        BEGINCONTEXT
        url: u
        ENDCONTEXT
        text END-INPUT
        ENDINPUT
        BEGININSTRUCTION
        Q?
        Don't make up answers if you don't know.
        ENDINSTRUCTION
    """
    instruction = f"{escape_chat_tokens(question)}\n{_DONT_MAKE_UP}"
    if not evidence:
        return "\n".join(["BEGININSTRUCTION", neutralise_delimiters(instruction), "ENDINSTRUCTION"])
    blocks = [
        InputBlock({_meta(k): _meta(v) for k, v in meta.items()}, escape_chat_tokens(text))
        for meta, text in evidence
    ]
    return build_closed_context(blocks, instruction)


_DONT_MAKE_UP = "Don't make up answers if you don't know."


def _meta(value: str) -> str:
    return escape_chat_tokens(" ".join(value.split()))


def estimate_tokens(text: str) -> int:
    """A cheap token estimate (about four characters per token).

    Example:
        >>> estimate_tokens("abcd" * 10)
        10
    """
    return max(1, len(text) // 4)


class KnowledgeModel:
    """Question answering over evidence with any chat backend."""

    name = "KnowledgeModel"
    description = (
        "Question answering language model, particularly useful in answering questions "
        "based on an input passage of text. The input must be a text question that "
        "references an :evidence[n]: variable, e.g. What color is the cat, given :evidence1:?"
    )

    def __init__(
        self,
        backend: Backend,
        model: str,
        *,
        max_tokens: int = 400,
        temperature: float = 0.0,
        max_evidence_chars: int = 12_000,
        inline_limit: int = 200,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        #: Further sampling parameters sent with every call (top_p, stop, …).
        self.params = dict(params or {})
        self.backend = backend
        self.model = model
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.max_evidence_chars = max_evidence_chars
        self.inline_limit = inline_limit

    def prompt(self, input: str, ctx: ToolContext) -> str:
        """The prompt sent for this input (evidence as blocks, capped per block).

        Example:
            >>> tool = KnowledgeModel(backend=None, model="m")  # type: ignore[arg-type]
            >>> tool.prompt("What is 2+2?", ToolContext()).splitlines()[:2]
            ['BEGININSTRUCTION', 'What is 2+2?']
        """
        if not ctx.parts:
            return _closed_context_prompt([], input)
        question, blocks = split_question(ctx.parts, ctx.evidence, inline_limit=self.inline_limit)
        share = self.max_evidence_chars // max(1, len(blocks))
        capped = [(meta, cap_text(text, share)) for meta, text in blocks]
        return _closed_context_prompt(capped, question)

    async def run(self, input: str, ctx: ToolContext) -> str:
        """Ask the backend; the budget is checked before and charged after."""
        prompt = self.prompt(input, ctx)
        ctx.budget.start_llm_call(estimate_tokens(prompt) + self.max_tokens)
        request = ChatRequest(
            model=self.model,
            messages=(Message("user", prompt),),
            params={**self.params, "max_tokens": self.max_tokens, "temperature": self.temperature},
        )
        response = await self.backend.complete(request)
        used = response.usage.total_tokens or estimate_tokens(prompt) + estimate_tokens(
            response.text
        )
        ctx.budget.add_llm_tokens(used)
        return response.text.strip()
