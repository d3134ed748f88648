"""Why an item was rejected: one named value per reason, shared by generation, the
store, the progress display, the run summary and the dataset report.

The values are the strings stored in the ``rejects`` table and shown to users; they
never change. Spellings that older versions stored for the same reason are read back
as the one reason (:meth:`Reason.parse`), so an old store reports like a new one.

Example:
    >>> Reason.DUPLICATE == "duplicate", str(Reason.FAILED_CALL)
    (True, 'failed_call')
    >>> Reason.parse("sources_exhausted")
    <Reason.SOURCE_EXHAUSTED: 'source_exhausted'>
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from enum import StrEnum

__all__ = ["LEGACY_SPELLINGS", "Reason", "merge_counts"]


class Reason(StrEnum):
    """A reject reason (its value is what stores, logs and tables show)."""

    # --- the teacher call (any category)
    FAILED_CALL = "failed_call"
    """The request failed after its retries (network, server error, budget)."""
    TOO_LONG = "too_long"
    """The prompt does not fit the teacher's context."""
    EMPTY = "empty"
    """The teacher (or the item it wrote) returned no text."""
    FILTERED = "filtered"
    """The reply matched a refusal or banned-phrase pattern."""
    TRUNCATED = "truncated"
    """The reply was cut at max_tokens."""
    UNPARSEABLE = "unparseable"
    """The reply is not in the shape the prompt asked for."""
    ERROR = "error"
    """An unexpected error inside a round (a bug: the detail names it)."""
    AVOIDED_TOPIC = "avoided_topic"
    """The topic is one the config says to avoid."""
    # --- the gate
    DUPLICATE = "duplicate"
    """Same or nearly the same as a stored record."""
    SURPLUS = "surplus"
    """The category had reached its target when the record arrived."""
    # --- checks and source material
    FAILED_CHECK = "failed_check"
    """A check of :mod:`airloom.checks` failed (the detail names the check)."""
    SOURCE_EXHAUSTED = "source_exhausted"
    """Every source record the instructor reads was used: it ends ``exhausted``."""
    NO_CARDS = "no_cards"
    """No character cards to play: the character-based instructor ends ``exhausted``."""
    SOURCE_TOO_SHORT = "source_too_short"
    """A source text is too short to work from."""
    SKIPPED = "skipped"
    """The teacher declined to restyle the source (it said SKIP)."""
    MALFORMED_SKIP = "malformed_skip"
    """A SKIP answer with more text around it."""
    # --- what the teacher wrote
    COPIED_PROMPT = "copied_prompt"
    """The item repeats the prompt instead of answering it."""
    COPIED_EXAMPLE = "copied_example"
    """The item repeats the prompt's example."""
    ECHO = "echo"
    """The answer repeats the question."""
    REPETITIVE = "repetitive"
    """The text repeats its own sentences."""
    PLACEHOLDER = "placeholder"
    """The layout's placeholders were kept."""
    LEAKED_DELIMITER = "leaked_delimiter"
    """A block delimiter leaked into the answer."""
    NO_ANSWER = "no_answer"
    """Only metadata, no answer."""
    NO_SOURCE = "no_source"
    """A fact without its source URL."""
    BAD_CITATION = "bad_citation"
    """A citation that is not in the context."""
    WRONG_LENGTH = "wrong_length"
    """Far from the requested length."""
    NO_NUMERIC_ANSWER = "no_numeric_answer"
    """A math problem whose answer is not a number."""
    ENTITIES_MISSING = "entities_missing"
    """The text to anonymise lacks the entities it was asked to hold."""
    NO_QUESTION = "no_question"
    """No question in the item."""
    BAD_TOOLS = "bad_tools"
    """A plan task offering too few or too many tools."""
    BAD_FUNCTIONS = "bad_functions"
    """A function list of the wrong size or shape."""
    INVALID_CALL = "invalid_call"
    """A function call that does not match its schema."""
    WRONG_FUNCTION = "wrong_function"
    """A call of a function the item did not offer."""
    WRONG_ARGUMENTS = "wrong_arguments"
    """A call whose arguments differ from the values its input states."""
    MISSING_VALUES = "missing_values"
    """A request that leaves out a value it was written to state."""
    # --- characters and sessions
    BAD_CARD = "bad_card"
    """A character card that cannot be used."""
    DUPLICATE_NAME = "duplicate_name"
    """A character name already taken."""
    BROKE_CHARACTER = "broke_character"
    """An in-character answer that steps out of character."""
    SAME_ANSWERS = "same_answers"
    """Two answers that should differ are the same."""
    TOO_FEW_QUESTIONS = "too_few_questions"
    """Fewer interview questions than needed."""
    TOO_FEW_ANSWERS = "too_few_answers"
    """Fewer answers than needed."""
    EMPTY_ANSWER = "empty_answer"
    """An empty answer to an interview question."""
    EMPTY_MESSAGE = "empty_message"
    """An empty role-play message."""
    SESSION_TOO_SHORT = "session_too_short"
    """A role-play session with too few messages."""
    CHAT_TOO_SHORT = "chat_too_short"
    """A chat with too few exchanges."""
    # --- inline actions
    BAD_SCENE = "bad_scene"
    """A scene that is not usable (objects, functions, prompts)."""
    INVALID_ACTION = "invalid_action"
    """An action call that does not parse or match its function."""
    UNEXPECTED_ACTION = "unexpected_action"
    """An action in a reply that should only react to results."""
    NO_NARRATION = "no_narration"
    """A reply made only of action calls."""
    BAD_RESULTS = "bad_results"
    """Function results that do not match the calls."""
    NO_EXCHANGE = "no_exchange"
    """No user message got a valid reply."""
    NO_ACTIONS = "no_actions"
    """Fewer valid actions than needed."""
    # --- curation (judge)
    BAD_VERDICT = "bad"
    """The judge found the record bad."""

    @classmethod
    def parse(cls, text: str) -> Reason | str:
        """The reason a stored string stands for; older spellings map to today's, and
        a string no version wrote comes back unchanged (never lost).

        Example:
            >>> Reason.parse("check_word_target"), Reason.parse("check_failed")
            (<Reason.FAILED_CHECK: 'failed_check'>, <Reason.FAILED_CHECK: 'failed_check'>)
            >>> Reason.parse("duplicate") is Reason.DUPLICATE, Reason.parse("custom")
            (True, 'custom')
        """
        try:
            return cls(text)
        except ValueError:
            pass
        legacy = LEGACY_SPELLINGS.get(text)
        if legacy is not None:
            return legacy
        if text.startswith("check_"):  # a check's function name, stored by older versions
            return cls.FAILED_CHECK
        return text


LEGACY_SPELLINGS: dict[str, Reason] = {
    "sources_exhausted": Reason.SOURCE_EXHAUSTED,
    "check_failed": Reason.FAILED_CHECK,
    "check": Reason.FAILED_CHECK,
    "call failed": Reason.FAILED_CALL,
}
"""Strings older versions stored for a reason that now has one spelling."""


def merge_counts(counts: Mapping[str, int] | Iterable[tuple[str, int]]) -> Counter[str]:
    """Reject counts with every older spelling counted under today's reason.

    Example:
        >>> merge_counts({"check_failed": 2, "failed_check": 1, "duplicate": 4})
        Counter({'duplicate': 4, 'failed_check': 3})
    """
    pairs = counts.items() if isinstance(counts, Mapping) else counts
    merged: Counter[str] = Counter()
    for reason, n in pairs:
        merged[str(Reason.parse(reason))] += n
    return merged
