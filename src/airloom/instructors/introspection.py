"""``introspection``: chats in which the user asks about the character, the setting or
something said earlier, and the character answers from what the chat holds.

One round = one session: a stored card, a person's name, a kind drawn from
``ctx.rng`` (``character``, ``setting`` or ``earlier``) and a topic; one call writes
a setting and a short chat (``SETTING:`` then ``Name: message`` lines, the person
first), one call writes the person's next question of that kind with the
character's answer and the ``EVIDENCE`` phrases it rests on. The evidence is checked
by code (:mod:`airloom.checks.introspection`): each phrase must occur in its source
(description and setting, or the earlier turns) and share a key word with the
answer; a record that fails is rejected with the reason.

Stored as ONE record: ``system`` (chat description, character description and
setting), ``conversation`` (the chat, then the question and the answer), the
pre-formatted 2.x transcript with ``skip_prompt_formatting``, and ``meta`` with the
kind and the evidence.

Example:
    >>> setting, lines = parse_chat("SETTING: A ferry at dawn.\\nBo: Cold?\\nAnn: Freezing.",
    ...                             "Bo", "Ann")
    >>> setting, lines
    ('A ferry at dawn.', [('Bo', 'Cold?'), ('Ann', 'Freezing.')])
"""

from __future__ import annotations

import re

from airloom.checks import introspection as _introspection_checks  # noqa: F401  (registers)
from airloom.checks import sessions as _session_checks  # noqa: F401  (registers)
from airloom.instructors.base import (
    Draft,
    Instructor,
    Rejected,
    RoundContext,
    Truncated,
    Turn,
    load_template,
    whole_items,
)
from airloom.instructors.characters import (
    Card,
    chat_between_system,
    clean_value,
    cut_at_markers,
    group_fields,
    load_cards,
    session_draft,
    straight_quotes,
    strip_speaker,
)
from airloom.instructors.checked import enforce
from airloom.instructors.settings.introspection import IntrospectionConfig
from airloom.reasons import Reason

__all__ = ["IntrospectionInstructor", "chat_turns", "parse_chat", "parse_question"]


def parse_chat(text: str, user: str, name: str) -> tuple[str, list[tuple[str, str]]]:
    """The setting and the ``Name: message`` lines of a written chat (continuation
    lines join the message before; consecutive lines of one speaker are merged).

    Example:
        >>> parse_chat("SETTING: x\\nBo: a\\nmore\\nBo: b\\nAnn: c", "Bo", "Ann")[1]
        [('Bo', 'a\\nmore\\n\\nb'), ('Ann', 'c')]
    """
    text = straight_quotes(text.replace("\r\n", "\n"))
    speaker = re.compile(
        rf"^\W{{0,3}}(?P<who>{re.escape(user)}|{re.escape(name)})\W{{0,3}}:\W{{0,2}}[ \t]*",
        re.IGNORECASE | re.MULTILINE,
    )
    matches = list(speaker.finditer(text))
    head = text[: matches[0].start()] if matches else text
    setting = ""
    fields = group_fields(head, ["SETTING"])
    if fields and fields[0].get("SETTING"):
        setting = fields[0]["SETTING"]
    lines: list[tuple[str, str]] = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        who = user if match.group("who").casefold() == user.casefold() else name
        message = clean_value(text[match.end() : end])
        if not message:
            continue
        if lines and lines[-1][0] == who:
            lines[-1] = (who, f"{lines[-1][1]}\n\n{message}")
        else:
            lines.append((who, message))
    return setting, lines


def chat_turns(lines: list[tuple[str, str]], user: str) -> list[Turn]:
    """Chat lines as turns from the first user line, ending with a character reply.

    Example:
        >>> [t.role for t in chat_turns([("Ann", "x"), ("Bo", "a"), ("Ann", "b"), ("Bo", "c")],
        ...                             "Bo")]
        ['user', 'assistant']
    """
    start = next((i for i, (who, _) in enumerate(lines) if who == user), len(lines))
    turns = [
        Turn("user" if who == user else "assistant", f"{who}: {message}")
        for who, message in lines[start:]
    ]
    while turns and turns[-1].role != "assistant":
        turns.pop()
    return turns


def parse_question(text: str) -> tuple[str, str, list[str]]:
    """QUESTION, ANSWER and the EVIDENCE phrases; raise Rejected when one is missing.

    Example:
        >>> parse_question('QUESTION: Where?\\nANSWER: Lyon.\\nEVIDENCE: "in Lyon" | rye')
        ('Where?', 'Lyon.', ['in Lyon', 'rye'])
    """
    groups = group_fields(text, ["QUESTION", "ANSWER", "EVIDENCE"])
    if not groups:
        raise Rejected(Reason.UNPARSEABLE, "no QUESTION/ANSWER/EVIDENCE")
    group = groups[0]
    missing = [key for key in ("QUESTION", "ANSWER", "EVIDENCE") if not group.get(key)]
    if missing:
        raise Rejected(Reason.UNPARSEABLE, f"missing {', '.join(missing)}")
    phrases = re.split(r"\s*\|\s*|\n+", group["EVIDENCE"])
    evidence = [p.strip().strip("\"'-* ").strip() for p in phrases]
    return group["QUESTION"], group["ANSWER"], [p for p in evidence if p]


_ABOUT = {
    "character": (
        "{name} themselves: their background, traits, habits or history",
        "the description above",
    ),
    "setting": (
        "the situation they are in: where, when, or what is happening",
        "the setting above",
    ),
    "earlier": ("something that was said earlier in this chat", "the chat above"),
}


class IntrospectionInstructor(Instructor):
    """Questions about the character, the setting or earlier turns (see module docstring)."""

    name = "introspection"
    config_model = IntrospectionConfig
    depends_on = ("character",)
    uses_topics = True

    def expected_yield(self) -> int:
        return 1

    @property
    def intro_config(self) -> IntrospectionConfig:
        config = self.config
        assert isinstance(config, IntrospectionConfig)
        return config

    async def run_round(self, ctx: RoundContext) -> list[Draft]:
        config = self.intro_config
        card = ctx.rng.choice(await load_cards(ctx))
        user = ctx.rng.choice([n for n in config.interviewer_names if n != card.name] or ["User"])
        kind = ctx.rng.choice(config.kinds)
        topic = ctx.topics(1)[0]
        setting, turns = await self._chat(ctx, card, user, topic)
        system = f"{chat_between_system(card, user)}\n\nSetting: {setting}"
        question, answer, evidence = await self._question(ctx, card, user, kind, system, turns)
        draft = session_draft(
            system,
            [
                *turns,
                Turn("user", f"{user}: {question}"),
                Turn("assistant", f"{card.name}: {answer}"),
            ],
            meta={
                "kind": kind,
                "evidence": evidence,
                "question": question,
                "character": card.name,
                "card_id": card.id,
                "topic": topic,
            },
        )
        enforce(self.name, draft)
        return [draft]

    async def _chat(
        self, ctx: RoundContext, card: Card, user: str, topic: str
    ) -> tuple[str, list[Turn]]:
        config = self.intro_config
        template = self.settings.template("introspection.txt")
        prompt = template.render(
            name=card.name,
            description=card.description,
            user=user,
            topic=topic,
            exchanges=config.exchanges,
            language=self.settings.language,
            flesch=self.settings.flesch,
        )

        def parse(text: str) -> tuple[str, list[tuple[str, str]]]:
            return parse_chat(cut_at_markers(text, ("REMINDER:",)), user, card.name)

        try:
            text = await ctx.complete(prompt, key="chat", template=template, filtered=False)
            setting, lines = parse(text)
        except Truncated as exc:  # a chat run on past max_tokens keeps its whole lines
            setting = parse(exc.text)[0]
            lines = whole_items(exc.text, lambda text: parse(text)[1])
        if not setting:
            raise Rejected(Reason.UNPARSEABLE, "no SETTING before the chat")
        turns = chat_turns(lines, user)[: 2 * config.exchanges]
        if len(turns) // 2 < config.min_exchanges:
            raise Rejected(Reason.CHAT_TOO_SHORT, f"{len(turns) // 2} exchanges")
        return setting, turns

    async def _question(
        self, ctx: RoundContext, card: Card, user: str, kind: str, system: str, turns: list[Turn]
    ) -> tuple[str, str, list[str]]:
        about, source = _ABOUT[kind]
        template = load_template(
            "introspection_question.txt",
            self.intro_config.question_prompt_path,
            base_dir=self.settings.base_dir,
        )
        text = await ctx.complete(
            template.render(
                name=card.name,
                user=user,
                system=system,
                transcript="\n".join(turn.content for turn in turns),
                about=about.format(name=card.name),
                source=source,
                language=self.settings.language,
            ),
            key="question",
            filtered=False,
        )
        question, answer, evidence = parse_question(text)
        question = strip_speaker(question, user)
        answer = strip_speaker(cut_at_markers(answer, ("REMINDER:",)), card.name)
        if not question or not answer:
            raise Rejected(Reason.UNPARSEABLE, "empty question or answer")
        return question, answer, evidence
