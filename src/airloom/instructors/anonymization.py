"""``anonymization``: remove names, IP addresses and/or dates from a text, checked.

Each item's entities are drawn by code: two people (first and last names from the
pools of :mod:`airloom.checks.anonymization`), one or two IPv4 addresses, one or two
dates in common written forms. The teacher writes a text (``styles``, on a topic) that
must contain every entity verbatim (else ``entities_missing``); the request names a
non-empty subset of ``kinds`` to remove, either by deletion or by placeholders such as
``[NAME]`` (``placeholder_ratio``); the teacher rewrites the text. The rewrite must
contain none of the requested entities, all of the others, and most of the text
(``check_anonymization``).

One round = ``batch_size`` items, two calls each.

Example:
    >>> from airloom.checks.anonymization import find_dates, find_ips
    >>> entities = draw_entities(random.Random(1))
    >>> len(entities.names), all(find_ips(ip) == [ip] for ip in entities.ips)
    (2, True)
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from airloom.checks.anonymization import (
    FIRST_NAMES,
    KIND_WORDS,
    LAST_NAMES,
    PLACEHOLDERS,
    EntityKind,
)
from airloom.instructors.base import Draft, Instructor, Rejected, RoundContext
from airloom.instructors.checked import enforce
from airloom.instructors.settings.anonymization import _KINDS, AnonymizationConfig
from airloom.instructors.verified import item_rngs, strip_preamble
from airloom.reasons import Reason

__all__ = [
    "MONTH_NAMES",
    "AnonymizationInstructor",
    "Entities",
    "Plan",
    "draw_entities",
    "plan_item",
    "request_text",
]

MONTH_NAMES = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


@dataclass(frozen=True)
class Entities:
    """The entities one text must mention."""

    names: list[str]
    ips: list[str]
    dates: list[str]

    def of(self, kind: EntityKind) -> list[str]:
        """The entities of one kind.

        Example:
            >>> Entities(["Ann Lee"], ["10.0.0.1"], []).of("ips")
            ['10.0.0.1']
        """
        return {"names": self.names, "ips": self.ips, "dates": self.dates}[kind]


def _date(rng: random.Random) -> str:
    year, month, day = rng.randint(2015, 2024), rng.randint(1, 12), rng.randint(1, 28)
    forms = (
        f"{year}-{month:02d}-{day:02d}",
        f"{MONTH_NAMES[month - 1]} {day}, {year}",
        f"{day} {MONTH_NAMES[month - 1]} {year}",
        f"{month:02d}/{day:02d}/{year}",
    )
    return rng.choice(forms)


def draw_entities(rng: random.Random) -> Entities:
    """Two people, one or two IP addresses and one or two dates (all detectable by code).

    Example:
        >>> from airloom.checks.anonymization import find_dates
        >>> e = draw_entities(random.Random(7))
        >>> all(find_dates(d) == [d] for d in e.dates)
        True
    """
    firsts = rng.sample(FIRST_NAMES, 2)
    lasts = rng.sample(LAST_NAMES, 2)
    names = [f"{first} {last}" for first, last in zip(firsts, lasts, strict=True)]
    ips = sorted(
        {
            f"{rng.choice(('203.0.113', '198.51.100', '10.1.2'))}.{rng.randint(2, 250)}"
            for _ in range(rng.randint(1, 2))
        }
    )
    dates: list[str] = []
    wanted = rng.randint(1, 2)
    while len(dates) < wanted:
        date = _date(rng)
        if date not in dates:
            dates.append(date)
    return Entities(names, ips, dates)


def request_text(kinds: list[EntityKind], placeholders: bool, rng: random.Random) -> str:
    """The user's request naming what to remove.

    Example:
        >>> print(request_text(["names", "dates"], False, random.Random(1)))
        Remove all personal names and dates from the text below, rewording sentences where needed.
    """
    words = [KIND_WORDS[kind][0] for kind in kinds]
    listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    if placeholders:
        marks = ", ".join(PLACEHOLDERS[kind] for kind in kinds)
        return rng.choice(
            (
                f"Anonymize the text below by replacing all {listed} with placeholders ({marks}).",
                f"Replace every one of the {listed} in the following text with a placeholder "
                f"({marks}), changing nothing else.",
            )
        )
    return rng.choice(
        (
            f"Remove all {listed} from the text below, rewording sentences where needed.",
            f"Rewrite the following text without any {listed}, keeping everything else.",
        )
    )


@dataclass(frozen=True)
class Plan:
    """Everything one item needs, drawn before any call."""

    index: int
    entities: Entities
    kinds: list[EntityKind]
    request: str
    style: str
    topic: str


def plan_item(index: int, rng: random.Random, config: AnonymizationConfig, topic: str) -> Plan:
    """Draw one item (pure given the generator).

    Example:
        >>> plan = plan_item(0, random.Random(2), AnonymizationConfig(kinds=["ips"]), "ferries")
        >>> plan.kinds, "IP addresses" in plan.request
        (['ips'], True)
    """
    kinds = [kind for kind in _KINDS if kind in config.kinds]
    chosen = [kind for kind in kinds if rng.random() < 0.5] or [rng.choice(kinds)]
    placeholders = rng.random() < config.placeholder_ratio
    return Plan(
        index,
        draw_entities(rng),
        chosen,
        request_text(chosen, placeholders, rng),
        rng.choice(config.styles),
        topic,
    )


class AnonymizationInstructor(Instructor):
    """Texts with names, IPs and dates, and their checked anonymized rewrites."""

    name = "anonymization"
    config_model = AnonymizationConfig
    uses_topics = True

    async def _text(self, ctx: RoundContext, plan: Plan) -> tuple[Plan, str]:
        template = self.settings.template("anonymization.txt")
        entities = plan.entities
        listing = "\n".join(
            [f"- person: {name}" for name in entities.names]
            + [f"- IP address: {ip}" for ip in entities.ips]
            + [f"- date: {date}" for date in entities.dates]
        )
        prompt = template.render(
            style=plan.style,
            topic=plan.topic or "a subject of your choice",
            entities=listing,
            language=self.settings.language,
        )
        text = strip_preamble(
            await ctx.complete(prompt, key=f"text:{plan.index}", template=template)
        )
        missing = [e for kind in _KINDS for e in entities.of(kind) if e not in text]
        if missing:
            raise Rejected(Reason.ENTITIES_MISSING, ", ".join(missing[:3]))
        return plan, text

    async def _rewrite(self, ctx: RoundContext, item: tuple[Plan, str]) -> Draft:
        plan, text = item
        targets = [e for kind in plan.kinds for e in plan.entities.of(kind)]
        kept = [KIND_WORDS[kind][0] for kind in _KINDS if kind not in plan.kinds]
        prompt = self.settings.template("anonymization_response.txt", response=True).render(
            request=plan.request,
            text=text,
            targets="; ".join(targets),
            kept=" or ".join(kept) if kept else "other details",
        )
        response = strip_preamble(await ctx.complete(prompt, key=f"rewrite:{plan.index}"))
        draft = Draft(
            instruction=f"{plan.request}\n\n{text}",
            response=response,
            topic=plan.topic or None,
            dedup_text=text,
            meta={
                "names": plan.entities.names,
                "ips": plan.entities.ips,
                "dates": plan.entities.dates,
                "kinds": list(plan.kinds),
            },
        )
        return enforce(self.name, draft)

    async def run_round(self, ctx: RoundContext) -> list[Draft]:
        config = self.config
        assert isinstance(config, AnonymizationConfig)
        count = self.settings.batch_size
        topics = ctx.topics(count)
        plans = [
            plan_item(i, rng, config, topics[i % len(topics)] if topics else "")
            for i, rng in enumerate(item_rngs(ctx.rng, count))
        ]
        texts = await ctx.map(lambda plan: self._text(ctx, plan), plans)
        novel = await ctx.novel([text for _, text in texts])
        fresh = [item for item, ok in zip(texts, novel, strict=True) if ok]
        return await ctx.map(lambda item: self._rewrite(ctx, item), fresh)
