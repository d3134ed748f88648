"""Topics: reading a topics file, parsing a teacher's list, sampling for rounds."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from airloom.engine.topics import TopicSampler, read_topics, topics_from_reply
from airloom.errors import ConfigError


def test_read_topics_keeps_order_and_drops_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "topics.txt"
    path.write_text(
        "  Volcanoes \n\nchess openings\nVOLCANOES\nTea ceremonies\r\nChess Openings\nZebras\n",
        encoding="utf-8",
    )
    assert read_topics(path) == ["Volcanoes", "chess openings", "Tea ceremonies", "Zebras"]


def test_read_topics_unicode(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("Ōsaka castles\nİstanbul ferries\n", encoding="utf-8")
    assert read_topics(str(path)) == ["Ōsaka castles", "İstanbul ferries"]


@pytest.mark.parametrize("content", ["", "\n\n   \n", "\t\n"])
def test_empty_topics_file_is_a_config_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "topics.txt"
    path.write_text(content)
    with pytest.raises(ConfigError, match="is empty") as info:
        read_topics(path)
    assert "one topic per line" in (info.value.hint or "")


def test_missing_topics_file_has_a_hint(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist") as info:
        read_topics(tmp_path / "nope.txt")
    assert "airloom topics" in (info.value.hint or "")


REPLIES = [
    ("plain", "1. Volcanoes\n2. Chess openings", ["Volcanoes", "Chess openings"]),
    ("preamble", "Sure! Here are topics:\n1. Kites\n2) Owls", ["Kites", "Owls"]),
    ("headings skipped", "1. Science:\n2. Physics of kites\n3. Art:", ["Physics of kites"]),
    ("bold items", "1. **Kites**\n2. **Birds:**\n3. __Owls__", ["Kites", "Owls"]),
    ("whitespace folded", "1. Deep   sea\n   vents\n2. Owls", ["Deep sea vents", "Owls"]),
    ("in-reply duplicates", "1. Owls\n2. owls\n3. OWLS", ["Owls"]),
    ("not a list", "I cannot think of topics.", []),
]


@pytest.mark.parametrize(
    ("reply", "expected"), [r[1:] for r in REPLIES], ids=[r[0] for r in REPLIES]
)
def test_topics_from_reply(reply: str, expected: list[str]) -> None:
    assert topics_from_reply(reply, set()) == expected


def test_topics_from_reply_updates_seen_across_replies() -> None:
    seen: set[str] = {"volcanoes"}
    assert topics_from_reply("1. Volcanoes\n2. Tea", seen) == ["Tea"]
    assert topics_from_reply("1. TEA\n2. Kites", seen) == ["Kites"]
    assert seen == {"volcanoes", "tea", "kites"}


def test_sampler_without_replacement_when_possible() -> None:
    topics = [f"t{i}" for i in range(10)]
    sampler = TopicSampler(topics)
    for seed in range(200):
        drawn = sampler.sample(random.Random(seed), 10)
        assert sorted(drawn) == sorted(topics)  # all distinct
        assert len(set(sampler.sample(random.Random(seed), 4))) == 4


def test_sampler_with_replacement_when_asked_for_more() -> None:
    sampler = TopicSampler(["a", "b"])
    drawn = sampler.sample(random.Random(0), 7)
    assert len(drawn) == 7 and set(drawn) <= {"a", "b"}


def test_sampler_is_seeded_and_roughly_uniform() -> None:
    sampler = TopicSampler(["a", "b", "c", "d"])
    assert sampler.sample(random.Random(3), 2) == sampler.sample(random.Random(3), 2)
    counts = Counter(t for s in range(2000) for t in sampler.sample(random.Random(s), 1))
    assert all(400 < counts[t] < 600 for t in "abcd")


def test_sampler_needs_topics() -> None:
    with pytest.raises(ConfigError, match="empty"):
        TopicSampler([])
