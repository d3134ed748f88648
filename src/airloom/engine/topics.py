"""Topics: read a topics file, or have the teacher write one.

Reading keeps the file's order (first occurrence wins, case-insensitive duplicates
dropped), so runs are reproducible. Writing parses numbered lists, drops headings
(items ending in ``:``) and duplicates, and appends each new topic to the file at once.

Example:
    >>> topics_from_reply("1. Volcanoes\\n2. Fruit:\\n3. volcanoes\\n4. Chess openings", set())
    ['Volcanoes', 'Chess openings']
"""

from __future__ import annotations

import random
import re
from importlib import resources
from pathlib import Path

from airloom.errors import ConfigError
from airloom.instructors.parsing import parse_numbered_list

__all__ = ["TopicSampler", "read_topics", "shipped_topics_text", "topics_from_reply"]


def shipped_topics_text() -> str:
    """The topics list shipped with airloom (a topic a line, none of the default
    ``topic_avoidance`` subjects), used with the local teacher when no topics file exists.

    Example:
        >>> lines = shipped_topics_text().splitlines()
        >>> len(lines) >= 200 and "volcanoes" in lines
        True
    """
    return resources.files("airloom.engine").joinpath("data", "topics.txt").read_text("utf-8")


def read_topics(path: str | Path) -> list[str]:
    """Non-empty, stripped, de-duplicated lines of a topics file, in file order."""
    file = Path(path)
    if not file.exists():
        raise ConfigError(
            f"topics file {file} does not exist",
            hint="run `airloom topics --config ...` or point topics_path at a file",
        )
    seen: set[str] = set()
    topics = []
    for line in file.read_text(encoding="utf-8").splitlines():
        topic = line.strip()
        if topic and topic.lower() not in seen:
            seen.add(topic.lower())
            topics.append(topic)
    if not topics:
        raise ConfigError(
            f"topics file {file} is empty",
            hint="add one topic per line, or delete it so that `airloom topics` writes it",
        )
    return topics


_EMPHASIS = re.compile(r"^(\*\*|__|\*|_)(.+)\1$")


def topics_from_reply(reply: str, seen: set[str]) -> list[str]:
    """New topics from one teacher reply; ``seen`` (lower-cased) is updated.

    Markdown emphasis around a whole item is dropped, so ``**Science:**`` is a heading.

    Example:
        >>> topics_from_reply("1. **Kites**\\n2. **Birds:**\\n3. Owls", set())
        ['Kites', 'Owls']
    """
    found = []
    for item in parse_numbered_list(reply):
        topic = _EMPHASIS.sub(r"\2", " ".join(item.split())).strip()
        if not topic or topic.endswith(":") or topic.lower() in seen:
            continue
        seen.add(topic.lower())
        found.append(topic)
    return found


class TopicSampler:
    """Draws topics for a round from a seeded generator (no replacement when possible)."""

    def __init__(self, topics: list[str]) -> None:
        if not topics:
            raise ConfigError("the topics list is empty", hint="check topics_path")
        self.topics = topics

    def sample(self, rng: random.Random, n: int) -> list[str]:
        """``n`` topics; without replacement when the list is long enough.

        Example:
            >>> TopicSampler(["a", "b", "c"]).sample(random.Random(1), 2)
            ['a', 'c']
        """
        if n <= len(self.topics):
            return rng.sample(self.topics, n)
        return [rng.choice(self.topics) for _ in range(n)]
