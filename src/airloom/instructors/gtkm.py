"""``gtkm`` ("get to know me"): a character answers a string of personal questions.

Makes a character's system prompt "sticky" over many turns: every answer is written
with the full character prompt, while the training record shows the description
once, followed by the whole question/answer transcript.

One round = one session: a stored card, an interviewer name, one call that writes
``question_count`` ``QUESTION:`` lines, then one answer call per question (in
parallel). Answered pairs are kept in order while the transcript stays within
``max_prompt_words``; a session with fewer than ``min_questions`` answered pairs is
rejected. Stored as ONE record (``system`` + ``conversation`` of
``Interviewer: question`` / ``Name: answer`` turns, plus the pre-formatted 2.x
transcript with ``skip_prompt_formatting``), so one record is one counted session
and resume counts stay exact (the original counted rows after a resume).

Example:
    >>> parse_questions("QUESTION: Where did you grow up?\\nQUESTION: Favourite food?")
    ['Where did you grow up?', 'Favourite food?']
"""

from __future__ import annotations

import re

from airloom.checks import sessions as _session_checks  # noqa: F401  (registers)
from airloom.instructors.base import (
    Draft,
    Instructor,
    Rejected,
    RoundContext,
    Turn,
    complete_items,
)
from airloom.instructors.characters import (
    IN_CHARACTER_RULES,
    Card,
    chat_between_system,
    cut_at_markers,
    group_fields,
    load_cards,
    session_draft,
    straight_quotes,
    strip_speaker,
)
from airloom.instructors.checked import enforce
from airloom.instructors.settings.gtkm import GtkmConfig
from airloom.reasons import Reason

__all__ = ["GtkmInstructor", "clean_answer", "parse_questions", "transcript_turns", "word_count"]

_WORD = re.compile(r"[\w'-]+")


def parse_questions(text: str) -> list[str]:
    """The ``QUESTION:`` items of a reply, de-duplicated, in order; a reply without
    any label falls back to one question per line ending in ``?``.

    Example:
        >>> parse_questions("1. What scares you?\\n2. What scares you?\\nno question here")
        ['What scares you?']
    """
    questions = [g["QUESTION"] for g in group_fields(text, ["QUESTION"]) if g.get("QUESTION")]
    if not questions:
        lines = [re.sub(r"^\s*(?:[-*]|\d{1,3}[.)])\s*", "", line) for line in text.splitlines()]
        questions = [line.strip() for line in lines if line.strip().endswith("?")]
    unique: list[str] = []
    seen: set[str] = set()
    for question in questions:
        question = " ".join(question.split("\n\n")[0].split())
        if question and question.casefold() not in seen:
            seen.add(question.casefold())
            unique.append(question)
    return unique


def clean_answer(text: str, name: str) -> str:
    """An in-character answer without disclaimers, echoed rules or its name prefix.

    Example:
        >>> clean_answer("Ann: Bread, always.\\nREMINDER: fiction", "Ann")
        'Bread, always.'
    """
    return strip_speaker(cut_at_markers(straight_quotes(text)), name)


def word_count(text: str) -> int:
    """Words as the transcript cap counts them.

    Example:
        >>> word_count("It's a well-known fact.")
        4
    """
    return len(_WORD.findall(text))


def transcript_turns(
    pairs: list[tuple[str, str]], card: str, interviewer: str, system: str, max_words: int
) -> list[Turn]:
    """Question/answer turns in order, stopping before the transcript would pass
    ``max_words`` (the system prompt included).

    Example:
        >>> len(transcript_turns([("Q1?", "A1."), ("Q2?", "A2.")], "Ann", "Bo", "sys", 100))
        4
        >>> len(transcript_turns([("Q1?", "A1."), ("Q2?", "A2.")], "Ann", "Bo", "sys", 6))
        2
    """
    turns: list[Turn] = []
    words = word_count(system)
    for question, answer in pairs:
        user = f"{interviewer}: {question}"
        reply = f"{card}: {answer}"
        size = word_count(user) + word_count(reply)
        if words + size > max_words:
            break
        words += size
        turns += [Turn("user", user), Turn("assistant", reply)]
    return turns


class GtkmInstructor(Instructor):
    """Get-to-know-me sessions (see the module docstring)."""

    name = "gtkm"
    config_model = GtkmConfig
    depends_on = ("character",)

    def expected_yield(self) -> int:
        return 1

    async def run_round(self, ctx: RoundContext) -> list[Draft]:
        config = self.config
        assert isinstance(config, GtkmConfig)
        settings = self.settings
        card = ctx.rng.choice(await load_cards(ctx))
        interviewer = ctx.rng.choice(config.interviewer_names)
        template = settings.template("gtkm.txt")
        listing = await complete_items(
            ctx,
            template.render(
                name=card.name,
                description=card.description,
                question_count=config.question_count,
                language=settings.language,
                flesch=settings.flesch,
            ),
            parse_questions,
            key="questions",
            template=template,
        )
        questions = listing[: config.question_count]
        if len(questions) < config.min_questions:
            raise Rejected(Reason.TOO_FEW_QUESTIONS, f"{len(questions)} parsed")
        system = chat_between_system(card, interviewer)
        answer_system = self._answer_system(system, card, interviewer)

        async def answer(indexed: tuple[int, str]) -> tuple[str, str]:
            index, question = indexed
            text = await ctx.complete(
                question, key=f"answer:{index}", system=answer_system, filtered=False
            )
            cleaned = clean_answer(text, card.name)
            if not cleaned:
                raise Rejected(Reason.EMPTY_ANSWER, question[:80])
            return question, cleaned

        pairs = await ctx.map(answer, list(enumerate(questions)))
        turns = transcript_turns(pairs, card.name, interviewer, system, config.max_prompt_words)
        if len(turns) // 2 < config.min_questions:
            raise Rejected(
                Reason.TOO_FEW_ANSWERS, f"{len(turns) // 2} answered within the word cap"
            )
        draft = session_draft(
            system,
            turns,
            meta={
                "card_id": card.id,
                "character": card.name,
                "interviewer": interviewer,
                "questions": len(turns) // 2,
            },
        )
        enforce(self.name, draft)
        return [draft]

    def _answer_system(self, system: str, card: Card, interviewer: str) -> str:
        template = self.settings.template("gtkm_answer.txt", response=True)
        return template.render(
            chat_system=system,
            name=card.name,
            interviewer=interviewer,
            language=self.settings.language,
            flesch=self.settings.flesch,
            rules=IN_CHARACTER_RULES,
        )
