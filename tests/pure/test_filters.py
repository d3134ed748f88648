"""The refusal / AI-mention filter: every default pattern, the openers, clean texts, counts."""

from __future__ import annotations

import pytest

from airloom.config import DEFAULT_RESPONSE_FILTERS
from airloom.engine.filters import REFUSAL_OPENERS, ResponseFilter

# spec §5.1: one phrase per default pattern, each meant to be caught by that pattern
HITS = {
    r"my programming": "That goes against my programming.",
    r"openai": "I was trained by OpenAI.",
    r"language model": "As a helpful Language Model, here is the answer.",
    r"large language": "Large language systems like me cannot browse.",
    r"as an? (ai|generative language|gpt|bot)": "Well, as an AI, I have no body.",
    r"illegal and dangerous": "That would be illegal and dangerous.",
    r"i do(n't| not) (possess|have|exhibit) (personal|consciousness|subjective)": (
        "Sadly I don't have personal opinions on art."
    ),
    r"personal (feelings|thoughts|emotions|desires|experiences|goals|objective|belief)": (
        "Nobody can share personal feelings through text alone."
    ),
    r"(can('t| ?not)|w(on't|will not)|unable.?) (\w+\s)+(with (that|your)|your \w+|provide)": (
        "Sadly, we cannot assist you with that."
    ),
    r"my limitations": "This is one of my limitations.",
    r"the limitations of my": "Due to the limitations of my design, no.",
    r"my abilities": "That is beyond my abilities.",
    r"violates my": "This violates my guidelines.",
    r"i (can('t| ?not)|w(on't|will not)|am (not |un)able.?).{0,30}(you are|you're|your )": (
        "Sadly i am unable to tell if you're right."
    ),
    r"please note that": "Please note that the museum is closed on Mondays.",
    r"flesch": "This text has a Flesch-Kincaid score of 30.",
}


def test_table_covers_every_default_pattern() -> None:
    assert set(HITS) == set(DEFAULT_RESPONSE_FILTERS)


@pytest.mark.parametrize("pattern", DEFAULT_RESPONSE_FILTERS)
def test_each_default_pattern_hits_its_phrase(pattern: str) -> None:
    alone = ResponseFilter([pattern])
    assert alone.match(HITS[pattern]) == pattern
    assert alone.hits == {pattern: 1}


@pytest.mark.parametrize("pattern", DEFAULT_RESPONSE_FILTERS)
def test_patterns_are_case_insensitive(pattern: str) -> None:
    assert ResponseFilter([pattern]).match(HITS[pattern].upper()) == pattern


@pytest.mark.parametrize("opener", REFUSAL_OPENERS)
def test_refusal_openers(opener: str) -> None:
    f = ResponseFilter([])
    assert f.match(f"  {opener} this is something I will not do.") == f"opener: {opener}"
    assert f.hits == {f"opener: {opener}": 1}
    # the prefix test is case-sensitive and only at the start (as in the original)
    assert f.match(f"Well. {opener} do it.") is None
    assert f.match(opener.lower() + " x") is None


CLEAN = [
    "Paris is the capital of France.",
    "def main():\n    print('hello')\n",
    "The Flemish painters of the 15th century used oil glazes.",
    "Here are three rivers: the Nile, the Amazon and the Yangtze.",
    "Can you pass the salt? Sure, here it is.",
    "The model of the ship was built at a 1:100 scale.",
    "",
]


@pytest.mark.parametrize("text", CLEAN)
def test_clean_texts_pass(text: str) -> None:
    f = ResponseFilter(DEFAULT_RESPONSE_FILTERS)
    assert f.match(text) is None
    assert sum(f.hits.values()) == 0


def test_first_matching_pattern_wins_and_counts_accumulate() -> None:
    f = ResponseFilter(DEFAULT_RESPONSE_FILTERS)
    text = "As an AI language model developed by OpenAI, please note that I cannot."
    assert f.match(text) == "openai"  # list order decides
    assert f.match("Trained by OpenAI.") == "openai"
    assert f.match("A large language thing") == "large language"
    assert f.match("I'm sorry, but no.") == "opener: I'm sorry,"
    assert f.match("Fine text.") is None
    assert f.hits == {"openai": 2, "large language": 1, "opener: I'm sorry,": 1}


def test_custom_patterns_replace_the_defaults() -> None:
    f = ResponseFilter([r"\bbanana\b"])
    assert f.match("I am a language model.") is None
    assert f.match("A Banana split.") == r"\bbanana\b"


def test_refusal_openers_hold_with_typographic_apostrophes() -> None:
    response_filter = ResponseFilter([])
    assert response_filter.refusal("  I’m sorry, I'm not sure what you are asking.") == (
        "opener: I'm sorry,"
    )
    assert response_filter.refusal("Sorry state of affairs.") is None


DEFAULT_AVOIDANCE_SUBJECTS = [
    "climate change",
    "green tech",
    "renewable energy",
    "DEI",
    "diversity",
    "equity",
    "inclusion",
    "sex",
    "gender",
    "religion",
    "politics",
    "social issues",
    "race",
    "ethnicity",
    "artificial intelligence",
    "baking",
    "cooking",
    "urban development",
]


def test_the_default_avoidance_sentence_names_its_subjects() -> None:
    from airloom.config import DEFAULT_TOPIC_AVOIDANCE
    from airloom.engine.filters import avoided_subjects

    assert avoided_subjects(DEFAULT_TOPIC_AVOIDANCE) == DEFAULT_AVOIDANCE_SUBJECTS


@pytest.mark.parametrize(
    ("task", "subject"),
    [
        ("Explain how Climate Change affects coral reefs.", "climate change"),
        ("Compare three world religions.", "religion"),
        ("Write a recipe blog post about baking bread.", "baking"),
        ("Name three rivers of Peru.", None),
        ("Describe the racecourse at Ascot.", None),
    ],
)
def test_avoidance_filter_matches_whole_words(task: str, subject: str | None) -> None:
    from airloom.engine.filters import avoidance_filter

    assert avoidance_filter(DEFAULT_AVOIDANCE_SUBJECTS).match(task) == subject
