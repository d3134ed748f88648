"""A deterministic scripted teacher for tests and demos.

A script is a list of rules; the first whose regex matches the last user message (or
the whole conversation with ``scope: all``) answers. A reply is a Jinja template (or a
list of them); templates see the regex's named groups, ``n`` (the rule's call number),
``user``, ``system``, and helpers ``pick(list)`` / ``words(k)`` drawing from a generator
seeded by the request itself (and how often that exact request was seen) — so replies
vary like a real teacher's, yet the same request gets the same reply in every run, in
whatever order concurrent requests arrive. Which reply of a list answers is chosen the
same way (``select: hash``, the default) or by call order (``select: cycle``).

Example:
    >>> import asyncio
    >>> from airloom.backends.base import ChatRequest, Message
    >>> backend = ScriptedBackend.from_rules([{"match": "capital of (?P<c>\\\\w+)",
    ...                                      "reply": "I do not know the capital of {{ c }}."}])
    >>> req = ChatRequest("m", (Message("user", "What is the capital of Peru?"),))
    >>> asyncio.run(backend.complete(req)).text
    'I do not know the capital of Peru.'
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import yaml

from airloom.backends.base import ChatRequest, ChatResponse, Usage
from airloom.errors import BackendError, ConfigError

__all__ = ["Rule", "ScriptedBackend", "count_tokens"]

_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


#: Names every reply template gets; a regex group may not reuse them.
_RESERVED = frozenset({"n", "user", "system", "pick", "words", "rng"})


def _vocabulary() -> list[str]:
    text = resources.files("airloom.backends").joinpath("scripts", "words.txt").read_text("utf-8")
    return [w for w in text.split() if w]


@dataclass
class Rule:
    """One scripted rule."""

    pattern: re.Pattern[str]
    replies: list[jinja2.Template]
    scope: str = "last"
    finish_reason: str = "stop"
    select: str = "hash"
    calls: int = 0


def count_tokens(text: str) -> int:
    """A cheap, deterministic token estimate (words and punctuation).

    Example:
        >>> count_tokens("Hello, world!")
        4
    """
    return len(re.findall(r"\w+|[^\w\s]", text))


class ScriptedBackend:
    """Answers from a script of regex rules (see the module docstring)."""

    def __init__(self, rules: Sequence[Rule], *, name: str = "scripted") -> None:
        self.rules = list(rules)
        self.name = name
        self._words = _vocabulary()
        self._seen: dict[str, int] = {}

    @classmethod
    def from_rules(
        cls, rules: Sequence[Mapping[str, Any]], *, name: str = "scripted"
    ) -> ScriptedBackend:
        """Build from rule mappings: ``match``, ``reply`` (str or list), ``scope``,
        ``finish_reason``, ``select``."""
        built = []
        for number, raw in enumerate(rules, start=1):
            try:
                pattern = re.compile(str(raw.get("match", ".*")), re.DOTALL | re.IGNORECASE)
                replies = raw["reply"]
                if isinstance(replies, str):
                    replies = [replies]
                templates = [_ENV.from_string(str(text)) for text in replies]
            except (KeyError, re.error, jinja2.TemplateError) as exc:
                raise ConfigError(f"scripted rule {number} is invalid: {exc!r}") from exc
            select = str(raw.get("select", "hash"))
            if select not in ("hash", "cycle"):
                raise ConfigError(f"scripted rule {number}: select must be 'hash' or 'cycle'")
            clash = sorted(set(pattern.groupindex) & _RESERVED)
            if clash:
                raise ConfigError(
                    f"scripted rule {number} names a group '{clash[0]}', which templates "
                    "already use",
                    hint=f"rename the group; reserved: {', '.join(sorted(_RESERVED))}",
                )
            built.append(
                Rule(
                    pattern,
                    templates,
                    scope=str(raw.get("scope", "last")),
                    finish_reason=str(raw.get("finish_reason", "stop")),
                    select=select,
                )
            )
        return cls(built, name=name)

    @classmethod
    def from_file(cls, path: str | Path) -> ScriptedBackend:
        """Load a YAML script (``rules: [...]``); ``demo`` names the built-in demo script."""
        if str(path) == "demo":
            text = (
                resources.files("airloom.backends")
                .joinpath("scripts", "demo.yaml")
                .read_text("utf-8")
            )
        else:
            file = Path(path)
            if not file.exists():
                raise ConfigError(f"script {file} does not exist", hint="check script_path")
            text = file.read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
        if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
            raise ConfigError(f"script {path} must be a mapping with a 'rules' list")
        return cls.from_rules(data["rules"], name=f"scripted:{Path(str(path)).name}")

    def reply_text(self, request: ChatRequest) -> tuple[str, str]:
        """The scripted reply and finish reason for a request (pure apart from counters)."""
        last = request.last_user_text()
        everything = "\n".join(m.content for m in request.messages)
        system = next((m.content for m in request.messages if m.role == "system"), "")
        for number, rule in enumerate(self.rules, start=1):
            match = rule.pattern.search(everything if rule.scope == "all" else last)
            if match is None:
                continue
            n = rule.calls
            rule.calls += 1
            fingerprint = request.fingerprint()
            seen = self._seen.get(fingerprint, 0)
            self._seen[fingerprint] = seen + 1
            seed = int(hashlib.sha256(f"{fingerprint}:{seen}".encode()).hexdigest()[:16], 16)
            rng = random.Random(seed)
            index = seed if rule.select == "hash" else n
            template = rule.replies[index % len(rule.replies)]
            values = {k: v for k, v in match.groupdict().items() if v is not None}
            try:
                text = template.render(
                    **values,
                    n=n,
                    user=last,
                    system=system,
                    pick=lambda items, r=rng: r.choice(list(items)),
                    words=lambda k, r=rng: " ".join(r.choice(self._words) for _ in range(int(k))),
                    rng=rng,
                )
            except (jinja2.TemplateError, TypeError, ValueError) as exc:
                raise ConfigError(f"scripted rule {number} cannot render its reply: {exc}") from exc
            return text, rule.finish_reason
        raise BackendError(
            "no scripted rule matches the request",
            status=400,
            body=last[:200],
            hint="add a catch-all rule (match: '.*') to the script",
        )

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Answer from the script."""
        text, finish = self.reply_text(request)
        prompt = sum(count_tokens(m.content) for m in request.messages)
        return ChatResponse(
            text=text,
            finish_reason=finish,
            usage=Usage(prompt_tokens=prompt, completion_tokens=count_tokens(text)),
            model=request.model,
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        """Stream the scripted reply word by word."""
        text, _ = self.reply_text(request)
        for piece in re.findall(r"\S+\s*|\s+", text):
            yield piece

    async def aclose(self) -> None:
        """Nothing to release."""
