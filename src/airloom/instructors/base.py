"""The instructor contract: one category of data, generated round by round.

An instructor is a class with a category ``name``, a typed config section
(``config_model``), optional dependencies on other instructors, and one coroutine,
:meth:`Instructor.run_round`, that uses the :class:`RoundContext` the engine hands it to
call the teacher, check novelty and return :class:`Draft` records. Everything else —
concurrency, retries, caching, budgets, filters, dedup, counting, persistence — is the
engine's job, written once. An item is dropped with :class:`Rejected` and a
:class:`~airloom.reasons.Reason`; a round with no source material left raises
:class:`SourceExhausted`, and the instructor ends ``exhausted``.

A round must be deterministic given its context (``ctx.rng`` is seeded from the run
seed, the category and the round index): that is what lets a resumed run replay an
interrupted round from the request cache without paying the teacher twice.

Example:
    >>> class Echo(Instructor):
    ...     name = "echo"
    ...     async def run_round(self, ctx):
    ...         text = await ctx.complete("Say something.", key="say")
    ...         return [Draft(instruction="Say something.", response=text)]
    >>> Echo.name, Echo.depends_on
    ('echo', ())
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, TypeAlias, TypeVar

from airloom.config import InstructorConfig
from airloom.errors import ConfigError
from airloom.formats.records import Provenance, Record, record_id
from airloom.formats.records import Turn as Turn
from airloom.formats.records import dedup_key as key_of
from airloom.reasons import Reason

__all__ = [
    "REFUSALS_ONLY",
    "Draft",
    "Filtering",
    "Instructor",
    "InstructorSettings",
    "PromptTemplate",
    "R",
    "Rejected",
    "RoundContext",
    "SourceExhausted",
    "T",
    "Truncated",
    "Turn",
    "complete_items",
    "load_template",
    "map_rejecting",
    "round_slice",
    "whole_items",
]

T = TypeVar("T")
R = TypeVar("R")


@dataclass(slots=True)
class Draft:
    """A candidate record returned by an instructor, before the gate accepts it.

    ``dedup_text`` is what the dedup gate compares (default: the instruction).
    ``unit`` groups records that count as one unit (a session); default: the record.
    ``near_dedup=False`` marks a variant of a row that was checked (a counterfactual
    twin, a re-answer without the system prompt): only exact duplicates reject it, and
    it is neither compared with nor added to the near-duplicate index.
    """

    instruction: str
    response: str
    system: str | None = None
    conversation: tuple[Turn, ...] | None = None
    skip_prompt_formatting: bool = False
    topic: str | None = None
    dedup_text: str | None = None
    unit: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    near_dedup: bool = True

    def text_for_dedup(self) -> str:
        """The text the dedup gate embeds."""
        return self.dedup_text if self.dedup_text is not None else self.instruction

    def to_record(
        self,
        category: str,
        *,
        provenance: Provenance | None = None,
        dedup_key: str = "",
        embedding: Any = None,
    ) -> Record:
        """The record this draft becomes in ``category`` (what checks read and the store
        keeps); its id is derived from the content, so a replayed round yields the same.

        Example:
            >>> record = Draft("Q?", "A.", unit="s1").to_record("general")
            >>> record.category, record.unit, record.conversation
            ('general', 's1', None)
        """
        rid = record_id(category, self.instruction, self.response, self.unit)
        return Record(
            id=rid,
            category=category,
            instruction=self.instruction,
            response=self.response,
            system=self.system,
            conversation=self.conversation,
            skip_prompt_formatting=self.skip_prompt_formatting,
            topic=self.topic,
            unit=self.unit or rid,
            meta=dict(self.meta),
            provenance=provenance or Provenance(),
            dedup_key=dedup_key or key_of(self.text_for_dedup()),
            embedding=embedding,
        )


Filtering: TypeAlias = bool | Literal["refusals"]
"""How a teacher reply is filtered: ``True`` the refusal openers and the pattern list,
``"refusals"`` the openers only (answers whose content may match a pattern, such as
code), ``False`` nothing (in-character replies, which may well open with "I'm sorry,")."""
REFUSALS_ONLY: Filtering = "refusals"


class Rejected(Exception):
    """Raised inside a round for one item: the engine counts ``reason`` and moves on."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class Truncated(Rejected):
    """A teacher reply cut at max_tokens; ``text`` is what was written before the cut.

    Rounds that need the whole reply let it propagate (counted as ``truncated``); a
    list-shaped reply keeps its complete items through :func:`complete_items`.

    Example:
        >>> exc = Truncated("TSK 1. Sort a list.\\nTSK 2. Wri")
        >>> str(exc.reason), exc.text.splitlines()[0]
        ('truncated', 'TSK 1. Sort a list.')
    """

    def __init__(self, text: str) -> None:
        super().__init__(Reason.TRUNCATED, "the teacher hit max_tokens")
        self.text = text


class SourceExhausted(Rejected):
    """The one way a round says its instructor has no source material left (every
    source record used, no character cards, …): the engine counts ``reason``, launches
    no further round of that instructor, lets the rounds in flight finish and reports
    it as ``exhausted`` instead of retrying forever.

    Example:
        >>> SourceExhausted(Reason.NO_CARDS, "enable character").reason
        <Reason.NO_CARDS: 'no_cards'>
    """

    def __init__(self, reason: Reason = Reason.SOURCE_EXHAUSTED, detail: str = "") -> None:
        super().__init__(reason, detail)


def round_slice(items: Sequence[T], round_index: int, size: int, what: str) -> Sequence[T]:
    """Round ``round_index``'s share of source ``items`` (``size`` each, the last one
    partial); raises :class:`SourceExhausted` once every item has had its round.

    Example:
        >>> round_slice("abcde", 2, 2, "letters")
        'e'
        >>> round_slice("abcde", 3, 2, "letters")
        Traceback (most recent call last):
        ...
        airloom.instructors.base.SourceExhausted: source_exhausted: all 5 letters were used
    """
    start = round_index * size
    if start >= len(items):
        raise SourceExhausted(Reason.SOURCE_EXHAUSTED, f"all {len(items)} {what} were used")
    return items[start : start + size]


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    """A prompt template file (``str.format`` placeholders) and its content hash."""

    name: str
    text: str

    @property
    def digest(self) -> str:
        """Short sha256 of the template text (provenance of every record)."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:16]

    def render(self, **values: Any) -> str:
        """Fill the placeholders the template uses; others are ignored.

        Literal braces in a user template must be doubled (``{{``); a missing
        placeholder value is a :class:`ConfigError` naming the template.

        Example:
            >>> PromptTemplate("t", "Write {n} in {language}.").render(n=3, language="en", x=1)
            'Write 3 in en.'
        """
        try:
            return self.text.format(**values)
        except KeyError as exc:
            raise ConfigError(
                f"prompt template {self.name} uses {{{exc.args[0]}}}, which this instructor "
                "does not provide",
                hint="double literal braces as {{ }} or remove the placeholder",
            ) from None
        except (AttributeError, IndexError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"prompt template {self.name} is not a valid format string: {exc}",
                hint="double literal braces as {{ }}",
            ) from None


def load_template(
    package_name: str, override: str | None, *, base_dir: Path | None = None
) -> PromptTemplate:
    """Load a prompt template: the configured file if given, else the packaged one.

    ``override`` is resolved relative to ``base_dir`` (the config file's folder) and the
    current directory; a bare file name found in neither is the packaged prompt of that
    name (as in the original: ``prompt_path: riddle.txt``). A configured path that does
    not exist is an error, never silently replaced by the default.

    Example:
        >>> load_template("general.txt", None).name
        'general.txt'
        >>> load_template("general.txt", "riddle.txt").name
        'riddle.txt'
    """
    if override:
        candidates = [Path(override)]
        if base_dir is not None and not Path(override).is_absolute():
            candidates.insert(0, base_dir / override)
        for candidate in candidates:
            if candidate.is_file():
                return PromptTemplate(str(candidate), candidate.read_text(encoding="utf-8"))
        packaged = resources.files("airloom.instructors").joinpath("prompts", override)
        if Path(override).name == override and packaged.is_file():
            return PromptTemplate(override, packaged.read_text(encoding="utf-8"))
        raise ConfigError(
            f"prompt template {override} does not exist",
            hint="fix prompt_path / response_prompt_path or remove it to use the built-in one",
        )
    resource = resources.files("airloom.instructors").joinpath("prompts", package_name)
    return PromptTemplate(package_name, resource.read_text(encoding="utf-8"))


@dataclass(frozen=True, slots=True)
class InstructorSettings:
    """An instructor's config section with the global fallbacks resolved."""

    name: str
    section: InstructorConfig
    count: int
    batch_size: int
    language: str
    flesch: str
    topic_avoidance: str
    base_dir: Path | None = None

    def template(self, default_name: str, *, response: bool = False) -> PromptTemplate:
        """The generation (or response) template of this instructor."""
        override = self.section.response_prompt_path if response else self.section.prompt_path
        return load_template(default_name, override, base_dir=self.base_dir)


class RoundContext(Protocol):
    """What the engine gives an instructor for one round."""

    settings: InstructorSettings
    rng: random.Random
    round_index: int

    async def complete(
        self,
        prompt: str | None,
        *,
        key: str,
        system: str | None = None,
        history: Sequence[Turn] = (),
        params: dict[str, Any] | None = None,
        filtered: Filtering = True,
        template: PromptTemplate | None = None,
    ) -> str:
        """One teacher call; raises :class:`Rejected` (filtered, too long, failed, empty)
        or its subclass :class:`Truncated` (cut at max_tokens, with the text so far)."""
        ...

    async def novel(self, texts: Sequence[str]) -> list[bool]:
        """Which texts are not near-duplicates of the store or of each other (pre-check)."""
        ...

    def topics(self, n: int) -> list[str]:
        """``n`` topics for this round (sampled without replacement when possible)."""
        ...

    def reject(self, reason: Reason, detail: str = "") -> None:
        """Count one rejected item (e.g. ``unparseable``) with a short detail."""
        ...

    async def source_records(self, categories: Sequence[str]) -> list[Record]:
        """Stored records of other categories (e.g. editor reads ``writing``), in
        acceptance order, as :class:`~airloom.formats.records.Record` values. Declare
        the categories in ``depends_on`` so they are complete before this round runs."""
        ...

    async def map(self, fn: Callable[[T], Awaitable[R]], items: Sequence[T]) -> list[R]:
        """Run ``fn`` on every item at once; items raising Rejected are counted and dropped."""
        ...


async def complete_items(
    ctx: RoundContext,
    prompt: str,
    parse: Callable[[str], list[T]],
    *,
    key: str,
    template: PromptTemplate | None = None,
    filtered: Filtering = True,
) -> list[T]:
    """One teacher call whose reply is a list of items, parsed by ``parse``.

    A reply cut at max_tokens keeps its complete items (a weak teacher that writes on
    past the items it was asked for loses nothing). An item is complete when more text
    at the cut would not change it, tested by parsing the reply with a probe appended:
    the items both parses agree on are kept, the one the cut ran through is counted as
    ``truncated``. A cut reply without one complete item raises :class:`Truncated`.

    Example:
        >>> class Cut:
        ...     async def complete(self, prompt, **options):
        ...         raise Truncated("1. one\\n2. tw")
        ...     def reject(self, reason, detail=""):
        ...         print("rejected:", reason)
        >>> asyncio.run(complete_items(Cut(), "List two.", str.splitlines, key="items"))
        rejected: truncated
        ['1. one']
    """
    try:
        return parse(await ctx.complete(prompt, key=key, template=template, filtered=filtered))
    except Truncated as exc:
        items = whole_items(exc.text, parse)
        if not items:
            raise
        ctx.reject(exc.reason, "the last item was cut at max_tokens")
        return items


_CUT_PROBE = "qzxjv"


def whole_items(text: str, parse: Callable[[str], list[T]]) -> list[T]:
    """The items of ``text`` that end before its end (it was cut there): the leading
    items that parsing ``text`` and ``text`` plus a probe give alike.

    Example:
        >>> import re
        >>> pairs = lambda t: re.findall(r"Q: (.*)\\nA: (.*)", t)
        >>> whole_items("Q: 1+1?\\nA: 2\\nQ: 2+2?\\nA: fo", pairs)
        [('1+1?', '2')]
        >>> whole_items("Q: 1+1?\\nA: 2\\nQ: 2+", pairs)
        [('1+1?', '2')]
    """
    kept: list[T] = []
    for item, probed in zip(parse(text), parse(text + _CUT_PROBE), strict=False):
        if item != probed:
            break
        kept.append(item)
    return kept


async def map_rejecting(
    fn: Callable[[T], Awaitable[R]],
    items: Sequence[T],
    on_reject: Callable[[Reason, str], None],
) -> list[R]:
    """Run ``fn`` over items concurrently; items raising :class:`Rejected` are reported to
    ``on_reject(reason, detail)`` and dropped (what ``RoundContext.map`` does).

    Example:
        >>> import asyncio
        >>> async def half(n):
        ...     if n % 2:
        ...         raise Rejected(Reason.UNPARSEABLE, str(n))
        ...     return n // 2
        >>> seen = []
        >>> asyncio.run(map_rejecting(half, [1, 2, 4], lambda r, d: seen.append((r, d))))
        [1, 2]
        >>> seen
        [(<Reason.UNPARSEABLE: 'unparseable'>, '1')]
    """

    async def guarded(item: T) -> tuple[bool, R | None]:
        try:
            return True, await fn(item)
        except Rejected as exc:
            on_reject(exc.reason, exc.detail)
            return False, None

    results = await asyncio.gather(*(guarded(item) for item in items))
    return [value for ok, value in results if ok]  # type: ignore[misc]


class Instructor(ABC):
    """Base class of every category generator (see the module docstring)."""

    #: Category name: the config key under ``instructors:`` and the records' category.
    name: ClassVar[str]
    #: The config section model (extend :class:`InstructorConfig` for own knobs).
    config_model: ClassVar[type[InstructorConfig]] = InstructorConfig
    #: Instructors whose records must be complete before this one starts.
    depends_on: ClassVar[tuple[str, ...]] = ()
    #: Whether the global topics list is needed.
    uses_topics: ClassVar[bool] = False
    #: Whether the records are training data (False: e.g. character cards, which other
    #: instructors read from the store but exports leave out unless asked for).
    exported: ClassVar[bool] = True

    def __init__(self, settings: InstructorSettings) -> None:
        self.settings = settings

    @classmethod
    def dependencies(cls, section: InstructorConfig) -> tuple[str, ...]:
        """Instructors to finish first for this config section: ``depends_on``, plus
        whatever a knob names (e.g. stylized_response's source ``categories``).
        Unregistered names returned here are ignored (their records may be imported).

        Example:
            >>> Instructor.dependencies(InstructorConfig())
            ()
        """
        return cls.depends_on

    @property
    def config(self) -> InstructorConfig:
        """This instructor's config section."""
        return self.settings.section

    def expected_yield(self) -> int:
        """About how many records one round yields (used to size rounds in flight)."""
        return max(1, self.settings.batch_size)

    @abstractmethod
    async def run_round(self, ctx: RoundContext) -> list[Draft]:
        """Generate one round of drafts."""
