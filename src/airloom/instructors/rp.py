"""``rp``: multi-turn, multi-character role-play chats with emotes, one session per round.

A session: 2–4 stored character cards (the first plays the human side), an action
delimiter (``*``, ``~`` or none), a setting written by the teacher for a topic, then
one teacher call per message, each made on that character's own view of the chat
(its lines as assistant turns, everyone else's as ``Name: text`` user turns) under a
private system prompt with the rules, and a reminder that names a conversational
move and asks for a ``NEXT: name`` line.

Storage (decided here): a session is ONE record — ``system`` (the chat's system
prompt), ``conversation`` (user/assistant turns, each ``Name: text``; consecutive
lines of the same side are merged, so the turns always alternate, start with a user
turn and end with an assistant turn), and the 2.x form: the pre-formatted transcript
as ``instruction`` with ``skip_prompt_formatting`` and the last reply as ``response``.
One record is one counted unit, accepted or rejected as a whole, so a resumed run
counts sessions exactly (a partly stored session cannot exist).

Fixes of the original: every call (setting and opening included) goes through the
round context, so the instructor's ``api_params`` apply to all of them; the move
that is shown is the one whose ``{topic}`` was filled; rerolls are counted per
message, not per session; the transcript is built from merged turns instead of
assuming strict alternation; all randomness comes from ``ctx.rng``.

Example:
    >>> parse_turn("Ann: *waves* \\"Hi.\\"\\nNEXT: Bo", "Ann", ["Ann", "Bo"])
    TurnReply(text='*waves* "Hi."', next_name='Bo')
"""

from __future__ import annotations

import difflib
import json
import random
import re
from dataclasses import dataclass, field

from airloom.checks import sessions as _session_checks  # noqa: F401  (registers)
from airloom.instructors.base import (
    Draft,
    Instructor,
    PromptTemplate,
    Rejected,
    RoundContext,
    Turn,
    load_template,
)
from airloom.instructors.characters import (
    Card,
    cut_at_markers,
    load_cards,
    merge_turns,
    session_draft,
    straight_quotes,
    strip_speaker,
)
from airloom.instructors.checked import enforce
from airloom.instructors.settings.rp import RpConfig
from airloom.reasons import Reason

__all__ = [
    "RpInstructor",
    "TurnReply",
    "chat_system",
    "clean_actions",
    "draw_participant_count",
    "formatting_rules",
    "parse_turn",
    "participant_view",
    "resolve_next",
    "training_turns",
]

# ------------------------------------------------------------------ pure helpers


@dataclass(frozen=True, slots=True)
class TurnReply:
    """A parsed character message and the name it proposed to speak next."""

    text: str
    next_name: str | None


_NEXT = re.compile(
    r"^[ \t]*\W{0,3}NEXT\W{0,3}[ \t]*:[ \t]*(?P<name>.*)$", re.IGNORECASE | re.MULTILINE
)


def parse_turn(reply: str, speaker: str, names: list[str]) -> TurnReply:
    """Clean one character message: cut disclaimers and echoed rules, take the
    ``NEXT:`` line out, drop the speaker's own ``Name:`` prefix, straighten quotes,
    and cut lines the model wrote for another participant.

    Example:
        >>> parse_turn("Hello.\\nBo: I'm not Ann!\\nNEXT: Bo", "Ann", ["Ann", "Bo"]).text
        'Hello.'
    """
    text = straight_quotes(reply.replace("\r\n", "\n"))
    next_name = None
    found = list(_NEXT.finditer(text))
    if found:
        next_name = re.sub(r"[\"'`*\[\]().]", "", found[-1].group("name")).strip() or None
        text = _NEXT.sub("", text)
    text = cut_at_markers(text)
    text = strip_speaker(text, speaker)
    others = [n for n in names if n != speaker]
    if others:
        alternatives = "|".join(re.escape(n) for n in others)
        hallucinated = re.compile(
            rf"^\W{{0,3}}(?:{alternatives})\W{{0,3}}:", re.IGNORECASE | re.MULTILINE
        )
        match = hallucinated.search(text)
        if match is not None:
            text = text[: match.start()]
    return TurnReply(re.sub(r"[ \t]{2,}", " ", text).strip(), next_name)


def clean_actions(text: str, delimiter: str) -> str:
    """Put emotes in the session's delimiter and tidy their edges.

    Example:
        >>> clean_actions("*smiles* Hi. *( nods )*", "~")
        '~smiles~ Hi. ~nods~'
    """
    if not delimiter:
        return text
    d = re.escape(delimiter)
    for other in ("*", "~"):
        if other != delimiter:
            o = re.escape(other)
            text = re.sub(
                rf"{o}([^{o}\n]+){o}", lambda m: f"{delimiter}{m.group(1)}{delimiter}", text
            )
    text = re.sub(
        rf"{d}([^{d}\n]+){d}",
        lambda m: f"{delimiter}{m.group(1).strip(' ()')}{delimiter}",
        text,
    )
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def resolve_next(
    proposed: str | None, speaker: str, names: list[str], user: str, rng: random.Random
) -> str:
    """Who speaks next: the proposed name if it is another participant (exact, then
    close match), else the human side after a character, or a random character
    after the human side.

    Example:
        >>> resolve_next("bo.", "Ann", ["Ann", "Bo", "Cy"], "Ann", random.Random(0))
        'Bo'
        >>> resolve_next("Ann", "Ann", ["Ann", "Bo"], "Ann", random.Random(0))
        'Bo'
    """
    others = [n for n in names if n != speaker]
    if proposed:
        folded = {n.casefold(): n for n in others}
        key = proposed.casefold().strip(" .")
        if key in folded:
            return folded[key]
        close = difflib.get_close_matches(key, list(folded), n=1, cutoff=0.6)
        if close:
            return folded[close[0]]
    if speaker != user and user in others:
        return user
    return rng.choice(others)


def chat_system(cards: list[Card], setting: str, delimiter: str) -> str:
    """The training system prompt of a session.

    Example:
        >>> print(chat_system([Card("Ann", "A baker.", ""), Card("Bo", "A pilot.", "")],
        ...                   "A bakery at dawn.", ""))
        This is a chat between 2 characters: Ann, Bo
        <BLANKLINE>
        Ann: A baker.
        <BLANKLINE>
        Bo: A pilot.
        <BLANKLINE>
        Setting for the chat:
        A bakery at dawn.
        End of setting.
    """
    names = ", ".join(card.name for card in cards)
    blocks = "\n\n".join(f"{card.name}: {card.description}" for card in cards)
    text = (
        f"This is a chat between {len(cards)} characters: {names}\n\n{blocks}\n\n"
        f"Setting for the chat:\n{setting.strip()}\nEnd of setting."
    )
    if delimiter:
        text += (
            f"\nActions should be surrounded by {delimiter}, e.g. "
            f"{delimiter}slowly turns toward the window{delimiter}"
        )
    return text


def formatting_rules(delimiter: str) -> str:
    """The formatting part of a participant's rules.

    Example:
        >>> "~" in formatting_rules("~"), "double quotes" in formatting_rules("")
        (True, True)
    """
    quotes = " - Put every spoken word in double quotes; narration stays plain text."
    if not delimiter:
        return quotes
    d = delimiter
    return (
        f" - Wrap every action in {d}, e.g. {d}leans back in the chair{d}; keep actions short "
        f"and lowercase, merge neighbouring actions, and never phrase them with 'I'.\n{quotes}"
    )


def participant_view(events: list[tuple[str, str]], me: str, opening: str) -> list[Turn]:
    """The chat as ``me`` sees it: own lines as assistant turns, others' as
    ``Name: text`` user turns (merged); the opener sees its opening request first.

    Example:
        >>> [(t.role, t.content) for t in participant_view([("Ann", "Hi."), ("Bo", "Yo.")],
        ...                                                "Bo", "Open.")]
        [('user', 'Ann: Hi.'), ('assistant', 'Yo.')]
    """
    turns: list[Turn] = []
    if events and events[0][0] == me:
        turns.append(Turn("user", opening))
    for who, text in events:
        turns.append(Turn("assistant", text) if who == me else Turn("user", f"{who}: {text}"))
    return merge_turns(turns)


def training_turns(events: list[tuple[str, str]], user: str, opener: str) -> list[Turn]:
    """The session as training turns: the human-side character's lines are user
    turns, every other character's lines assistant turns, all ``Name: text``;
    an opener user turn when a character speaks first; ends with an assistant turn.

    Example:
        >>> [(t.role, t.content) for t in training_turns(
        ...     [("Bo", "Hi."), ("Cy", "Hey."), ("Ann", "Hello."), ("Ann", "Well?")],
        ...     "Ann", "Start.")]
        [('user', 'Start.'), ('assistant', 'Bo: Hi.\\n\\nCy: Hey.')]
    """
    turns: list[Turn] = []
    if events and events[0][0] != user:
        turns.append(Turn("user", opener))
    for who, text in events:
        turns.append(Turn("user" if who == user else "assistant", f"{who}: {text}"))
    merged = merge_turns(turns)
    while merged and merged[-1].role != "assistant":
        merged.pop()
    return merged


def draw_participant_count(rng: random.Random, weights: dict[int, float], available: int) -> int:
    """Number of characters in a session (never more than there are cards).

    Example:
        >>> draw_participant_count(random.Random(0), {2: 1.0}, 5)
        2
    """
    counts = sorted(weights)
    n = rng.choices(counts, weights=[weights[c] for c in counts], k=1)[0]
    return max(2, min(n, available))


# ------------------------------------------------------------------ the instructor


@dataclass
class _Session:
    cards: list[Card]
    user: Card
    delimiter: str
    setting: str
    system: str
    topics: list[str]
    opener: str
    events: list[tuple[str, str]] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [card.name for card in self.cards]


class RpInstructor(Instructor):
    """Multi-character role-play sessions (see the module docstring)."""

    name = "rp"
    config_model = RpConfig
    depends_on = ("character",)
    uses_topics = True

    def expected_yield(self) -> int:
        return 1

    @property
    def rp_config(self) -> RpConfig:
        config = self.config
        assert isinstance(config, RpConfig)
        return config

    def _template(self, name: str) -> PromptTemplate:
        return load_template(name, None, base_dir=self.settings.base_dir)

    async def run_round(self, ctx: RoundContext) -> list[Draft]:
        config = self.rp_config
        cards = await load_cards(ctx, minimum=2)
        rng = ctx.rng
        count = draw_participant_count(rng, config.participant_weights, len(cards))
        chosen = rng.sample(cards, count)
        delimiter = rng.choice(config.action_delimiters)
        topics = ctx.topics(3)
        setting_template = load_template(
            "rp_setting.txt", config.setting_prompt_path, base_dir=self.settings.base_dir
        )
        setting = await ctx.complete(
            setting_template.render(
                characters="\n\n".join(f"{c.name}: {c.description}" for c in chosen),
                topic=topics[0],
                language=self.settings.language,
                flesch=self.settings.flesch,
            ),
            key="setting",
            template=setting_template,
            filtered=False,
        )
        setting = cut_at_markers(setting.strip(), ("REMINDER:",))
        session = _Session(
            cards=chosen,
            user=chosen[0],
            delimiter=delimiter,
            setting=setting,
            system=chat_system(chosen, setting, delimiter),
            topics=topics,
            opener=rng.choice(config.openers),
        )
        await self._converse(ctx, session)
        turns = training_turns(session.events, session.user.name, session.opener)
        if len(turns) < config.min_turn_count:
            raise Rejected(Reason.SESSION_TOO_SHORT, f"{len(turns)} messages")
        draft = session_draft(
            session.system,
            turns,
            meta={
                "participants": session.names,
                "user_character": session.user.name,
                "delimiter": delimiter,
                "setting": setting,
                "topic": topics[0],
                "card_ids": [c.id for c in chosen],
                "messages": len(session.events),
            },
        )
        enforce(self.name, draft)
        return [draft]

    async def _converse(self, ctx: RoundContext, session: _Session) -> None:
        config = self.rp_config
        speaker = ctx.rng.choice(session.cards)
        max_messages = config.turn_count * len(session.cards)
        for index in range(max_messages):
            reply = await self._message(ctx, session, speaker, index)
            if reply is None:
                return
            session.events.append((speaker.name, clean_actions(reply.text, session.delimiter)))
            turns = training_turns(session.events, session.user.name, session.opener)
            if len(turns) >= config.turn_count:
                return
            following = resolve_next(
                reply.next_name, speaker.name, session.names, session.user.name, ctx.rng
            )
            if following == session.user.name and len(turns) >= config.turn_count - 1:
                return  # the human side would speak last, and a session ends on a reply
            speaker = next(card for card in session.cards if card.name == following)

    def _private_system(self, session: _Session, speaker: Card) -> str:
        extra = ""
        if speaker.name != session.user.name:
            extra = (
                f" - Let {session.user.name} speak a little more than the others; keep the "
                "scene immersive and consistent with the setting."
            )
        template = self.settings.template("rp.txt")
        return template.render(
            chat_system=session.system,
            name=speaker.name,
            formatting=formatting_rules(session.delimiter),
            extra=extra,
            guide=speaker.guide,
            flesch=self.settings.flesch,
            language=self.settings.language,
        )

    def _request(
        self, ctx: RoundContext, session: _Session, speaker: Card
    ) -> tuple[str, list[Turn]]:
        others = json.dumps([n for n in session.names if n != speaker.name], ensure_ascii=False)
        opening = self._template("rp_opening.txt").render(name=speaker.name, next_options=others)
        if not session.events:
            return opening, []
        move = ctx.rng.choice(self.rp_config.moves)
        move = move.format(topic=ctx.rng.choice(session.topics))
        reminder = self._template("rp_turn.txt").render(
            name=speaker.name, move=move, next_options=others
        )
        view = participant_view(session.events, speaker.name, opening)
        last = view[-1]
        return f"{last.content}\n\n{reminder}", view[:-1]

    async def _message(
        self, ctx: RoundContext, session: _Session, speaker: Card, index: int
    ) -> TurnReply | None:
        """One character message, rerolled up to ``max_rerolls`` times; None ends the session."""
        prompt, history = self._request(ctx, session, speaker)
        system = self._private_system(session, speaker)
        for attempt in range(1 + self.rp_config.max_rerolls):
            try:
                text = await ctx.complete(
                    prompt,
                    key=f"message:{index}:{attempt}",
                    system=system,
                    history=history,
                    filtered=False,
                )
            except Rejected as exc:
                ctx.reject(exc.reason, exc.detail)
                continue
            reply = parse_turn(text, speaker.name, session.names)
            if reply.text:
                return reply
            ctx.reject(Reason.EMPTY_MESSAGE, f"{speaker.name}: {text[:80]}")
        return None
