"""The LLM judge: per-category rubrics, strict verdict parsing, verdicts cached per record.

A record is shown to the judge with the rubric of its category (``rubrics/<name>.txt``
criteria inside the ``rubrics/judge.txt`` frame, or ``scoring.prompt_path``). The reply
must be exactly ``GOOD``, exactly ``BAD``, a bare number, or one JSON object with a
numeric ``score`` from 0 to 100 (optionally inside one code fence); anything else is an
*error*, counted apart and never a pass. A score passes at ``scoring.threshold`` or
above. Verdicts are kept in the store's curation table under the record's content
hash and the judge's identity, so a rerun or a resumed run judges nothing twice.

Example:
    >>> parse_verdict('{"score": 92, "reason": "correct"}', threshold=80)
    ParsedVerdict(status='good', score=92.0, reason='correct')
    >>> parse_verdict("NOT GOOD", threshold=80)
    Traceback (most recent call last):
    ...
    airloom.errors.ParseError: the judge's reply is neither GOOD, BAD nor a JSON score
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from airloom.backends.base import ChatRequest, Message
from airloom.curate.ledger import Verdict
from airloom.errors import (
    BackendError,
    BudgetExceeded,
    ConfigError,
    ContextLengthError,
    FatalBackendError,
    ParseError,
    RunStopped,
)
from airloom.formats.chat import PLAINFORMAT, is_plainformat
from airloom.formats.fences import unwrap_fence
from airloom.formats.records import Record
from airloom.reasons import Reason
from airloom.scheduling.stats import RunStats

__all__ = [
    "DB",
    "RUBRIC_OF",
    "Call",
    "Judge",
    "JudgeOutcome",
    "JudgeSettings",
    "ParsedVerdict",
    "Rubric",
    "judge_method",
    "parse_verdict",
    "rubric_name",
]

#: Which criteria file a category uses when it has no file of its own.
RUBRIC_OF: dict[str, str] = {
    "coding": "coding",
    "contextual": "contextual",
    "counterfactual_contextual": "contextual",
    "summarization": "contextual",
    "log_extraction": "contextual",
    "orca": "reasoning",
    "cot": "reasoning",
    "riddle": "reasoning",
    "mathjson": "reasoning",
    "multiple_choice": "reasoning",
    "theory_of_mind": "reasoning",
    "wordgame": "reasoning",
    "quiz": "reasoning",
    "writing": "creative",
    "detailed_writing": "creative",
    "roleplay": "creative",
    "song": "creative",
    "joke": "creative",
    "stylized_response": "creative",
    "card": "creative",
    "character": "creative",
    "experience": "creative",
}
_PLAIN_NOTE = (
    "(The answer must be only the code: no explanation, no markdown code fences. "
    "In the dataset this request ends with the marker PLAINFORMAT.)"
)


def _builtin(name: str) -> str | None:
    file = resources.files("airloom.curate").joinpath("rubrics", f"{name}.txt")
    return file.read_text("utf-8") if file.is_file() else None


def rubric_name(record: Record) -> str:
    """The criteria file of a record: its category's own, a shared one, or the default.

    Example:
        >>> from airloom.formats.records import Turn, make_record
        >>> rubric_name(make_record("orca", "q", "a")), rubric_name(make_record("rp", "hi", "yo",
        ...     conversation=[Turn("user", "hi"), Turn("assistant", "yo")]))
        ('reasoning', 'conversation')
    """
    category = record.category or "general"
    if category not in ("judge",) and _builtin(category) is not None:
        return category
    if category in RUBRIC_OF:
        return RUBRIC_OF[category]
    return "conversation" if record.conversation else "default"


def _transcript(record: Record) -> str:
    parts = []
    if record.system:
        parts.append(f"SYSTEM PROMPT GIVEN TO THE ASSISTANT:\n{record.system}")
    turns = record.conversation
    if turns:
        lines = [f"{t.role.upper()}: {t.content}" for t in turns]
        parts.append("CONVERSATION:\n" + "\n\n".join(lines))
        return "\n\n".join(parts)
    instruction = record.instruction
    if record.category == "coding" and is_plainformat(instruction):
        instruction = instruction.rstrip()[: -len(PLAINFORMAT)].rstrip() + "\n" + _PLAIN_NOTE
    parts.append(f"INSTRUCTION:\n{instruction}")
    parts.append(f"RESPONSE:\n{record.response}")
    return "\n\n".join(parts)


@dataclass(frozen=True)
class Rubric:
    """The frame template and the criteria texts (built-in unless overridden)."""

    frame: str
    criteria: Mapping[str, str]

    @classmethod
    def load(cls, prompt_path: str | Path | None = None) -> Rubric:
        """Built-in rubrics, with the frame replaced by ``prompt_path`` when given."""
        frame = _builtin("judge")
        if prompt_path is not None:
            path = Path(prompt_path)
            if not path.exists():
                raise ConfigError(
                    f"judge template {path} does not exist", hint="check scoring.prompt_path"
                )
            frame = path.read_text(encoding="utf-8")
        assert frame is not None
        for field in ("{transcript}",):
            if field not in frame:
                raise ConfigError(
                    f"the judge template has no {field} field",
                    hint="it needs {transcript}; {criteria} and {system_point} are optional",
                )
        folder = resources.files("airloom.curate").joinpath("rubrics")
        criteria = {
            Path(item.name).stem: item.read_text("utf-8")
            for item in folder.iterdir()
            if item.name.endswith(".txt") and item.name != "judge.txt"
        }
        return cls(frame, criteria)

    def render(self, record: Record) -> str:
        """The judge prompt for one record.

        Example:
            >>> from airloom.formats.records import make_record
            >>> prompt = Rubric.load().render(make_record("general", "2+2?", "4"))
            >>> "INSTRUCTION:\\n2+2?" in prompt and '"score"' in prompt
            True
        """
        criteria = self.criteria[rubric_name(record)].rstrip("\n")
        system_point = (
            "- The response respects the system prompt the assistant was given.\n"
            if record.system
            else ""
        )
        try:
            return self.frame.format(
                criteria=criteria, system_point=system_point, transcript=_transcript(record)
            )
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(
                f"the judge template cannot be filled: {exc!r}",
                hint="double literal braces ({{ }}) in the template",
            ) from exc


@dataclass(frozen=True, slots=True)
class ParsedVerdict:
    """A judge reply understood: good or bad, with its score and reason."""

    status: str
    score: float | None
    reason: str


def _score_from(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParseError("the judge's score is not a number", raw=str(value))
    score = float(value)
    if math.isnan(score) or not 0.0 <= score <= 100.0:
        raise ParseError(f"the judge's score {value} is outside 0..100", raw=str(value))
    return score


def parse_verdict(text: str, *, threshold: float) -> ParsedVerdict:
    """Read a judge reply strictly (module docstring); :class:`ParseError` otherwise.

    Example:
        >>> parse_verdict(" BAD\\n", threshold=50).status
        'bad'
        >>> parse_verdict("GOOD, mostly", threshold=50)
        Traceback (most recent call last):
        ...
        airloom.errors.ParseError: the judge's reply is neither GOOD, BAD nor a JSON score
    """
    stripped = text.strip()
    if stripped in ("GOOD", "BAD"):
        return ParsedVerdict(stripped.lower(), None, "")
    body = unwrap_fence(stripped)
    try:
        value = json.loads(body)
    except (json.JSONDecodeError, RecursionError):
        raise ParseError(
            "the judge's reply is neither GOOD, BAD nor a JSON score", raw=text
        ) from None
    reason = ""
    if isinstance(value, dict):
        if "score" not in value:
            raise ParseError("the judge's JSON has no 'score'", raw=text)
        reason_value = value.get("reason", "")
        reason = reason_value if isinstance(reason_value, str) else json.dumps(reason_value)
        value = value["score"]
    score = _score_from(value)
    return ParsedVerdict("good" if score >= threshold else "bad", score, reason)


def judge_method(model: str, params: Mapping[str, Any], prompt_frame: str, threshold: float) -> str:
    """The judge's identity: verdicts of another model, rubric or threshold are not reused.

    Example:
        >>> judge_method("m", {}, "f", 80) != judge_method("m", {}, "f", 90)
        True
    """
    blob = json.dumps([model, dict(sorted(params.items())), prompt_frame, threshold], default=str)
    return "judge:" + hashlib.sha256(blob.encode("utf-8")).hexdigest()[:24]


Call = Callable[[ChatRequest, str], Any]
DB = Callable[..., Any]


@dataclass
class JudgeSettings:
    """Who judges and how strictly."""

    model: str
    params: Mapping[str, Any]
    threshold: float
    rubric: Rubric
    workers: int = 8
    retry_errors: bool = False


@dataclass(frozen=True, slots=True)
class _Item:
    record: Record
    method: str
    key: str
    previous: Verdict | None


@dataclass
class JudgeOutcome:
    """Verdicts by record hash, and what this run did."""

    verdicts: dict[str, Verdict]
    judged: int = 0
    cached: int = 0
    failed_calls: int = 0
    stopped: str = ""


class Judge:
    """Judges records through a caller-provided ``call`` (the engine's scheduler)."""

    def __init__(
        self,
        settings: JudgeSettings,
        *,
        call: Call,
        ledger_get: Callable[[str, Iterable[str]], Any],
        ledger_put: Callable[[list[Verdict]], Any],
        stats: RunStats,
    ) -> None:
        self.settings = settings
        self._call = call
        self._get = ledger_get
        self._put = ledger_put
        self.stats = stats

    def method_of(self, record: Record) -> str:
        """The identity a record's verdict is cached under (its rubric included)."""
        s = self.settings
        frame = s.rubric.frame + "\x00" + s.rubric.criteria[rubric_name(record)]
        return judge_method(s.model, s.params, frame, s.threshold)

    async def run(self, records: Sequence[Record]) -> JudgeOutcome:
        """Judge every record that has no verdict yet; returns all verdicts."""
        outcome = JudgeOutcome({})
        by_method: dict[str, list[tuple[Record, str]]] = {}
        for record in records:
            by_method.setdefault(self.method_of(record), []).append((record, record.content_hash))
        todo: list[_Item] = []
        for method, items in by_method.items():
            known = await self._get(method, [key for _, key in items])
            for record, key in items:
                category = self.stats.category(record.category)
                category.target += 1
                previous = known.get(key)
                retry = self.settings.retry_errors and previous is not None
                if previous is not None and not (retry and previous.status == "error"):
                    outcome.verdicts[key] = previous
                    outcome.cached += 1
                    self._count(category, previous)
                else:
                    todo.append(_Item(record, method, key, previous))
        for category in self.stats.categories.values():
            category.state = "running"
        await self._judge_all(todo, outcome)
        for category in self.stats.categories.values():
            category.state = "done" if category.accepted >= category.target else "stopped"
        return outcome

    def _count(self, category: Any, verdict: Verdict) -> None:
        category.accepted += 1
        category.accepted_this_run += 1
        if verdict.status != "good":
            category.reject(Reason.BAD_VERDICT if verdict.status == "bad" else Reason.ERROR)

    async def _judge_all(self, todo: list[_Item], outcome: JudgeOutcome) -> None:
        queue: asyncio.Queue[_Item] = asyncio.Queue()
        followers: list[_Item] = []
        seen: set[str] = set()
        for item in todo:
            if item.key in seen:  # identical content: judged once, counted for each
                followers.append(item)
            else:
                seen.add(item.key)
                queue.put_nowait(item)
        pending: list[Verdict] = []

        async def flush() -> None:
            if pending:
                batch = list(pending)
                pending.clear()
                await self._put(batch)

        async def worker() -> None:
            while not queue.empty() and not outcome.stopped:
                item = queue.get_nowait()
                verdict = await self._judge_one(item, outcome)
                if verdict is None:
                    continue
                outcome.verdicts[item.key] = verdict
                pending.append(verdict)
                if len(pending) >= 16:
                    await flush()

        workers = [asyncio.ensure_future(worker()) for _ in range(max(1, self.settings.workers))]
        try:
            results = await asyncio.gather(*workers, return_exceptions=True)
        finally:
            await flush()
        for result in results:
            if isinstance(result, BaseException):
                raise result
        for item in followers:
            verdict = outcome.verdicts.get(item.key)
            if verdict is not None:
                self._count(self.stats.category(str(item.record.category)), verdict)

    async def _judge_one(self, item: _Item, outcome: JudgeOutcome) -> Verdict | None:
        s = self.settings
        record, previous = item.record, item.previous
        category = self.stats.category(record.category)
        prompt = s.rubric.render(record)
        request = ChatRequest(s.model, (Message("user", prompt),), dict(s.params))
        sample = "judge" if previous is None else f"judge/retry/{previous.created_at!r}"
        try:
            call, fresh = await self._call(request, request.fingerprint(sample))
        except (BudgetExceeded, RunStopped) as exc:
            outcome.stopped = exc.message
            return None
        except FatalBackendError:
            raise
        except ContextLengthError as exc:
            verdict = _verdict(item, "error", reason=f"too long for the judge: {exc.message}")
            self._count(category, verdict)
            return verdict
        except BackendError:
            outcome.failed_calls += 1  # not kept: the next run tries again
            category.reject(Reason.FAILED_CALL)
            return None
        outcome.judged += 1
        # a call that came from the request cache was paid for before: not counted twice
        usage = (call.prompt_tokens, call.completion_tokens, call.cost) if fresh else (0, 0, 0.0)
        try:
            parsed = parse_verdict(call.text, threshold=s.threshold)
        except ParseError as exc:
            reason = exc.message
            if call.finish_reason == "length":
                reason += " (the reply was cut at max_tokens: raise scoring.api_params.max_tokens)"
            verdict = _verdict(item, "error", reason=reason, raw=call.text, usage=usage)
        else:
            verdict = _verdict(
                item,
                parsed.status,
                score=parsed.score,
                reason=parsed.reason,
                raw=call.text,
                usage=usage,
            )
        self._count(category, verdict)
        return verdict


def _verdict(
    item: _Item,
    status: str,
    *,
    score: float | None = None,
    reason: str = "",
    raw: str = "",
    usage: tuple[int, int, float] = (0, 0, 0.0),
) -> Verdict:
    record = item.record
    return Verdict(
        kind="judge",
        record_hash=item.key,
        method=item.method,
        record_id=record.id,
        category=record.category,
        status=status,
        score=score,
        reason=reason,
        raw=raw[:2000],
        prompt_tokens=usage[0],
        completion_tokens=usage[1],
        cost=usage[2],
    )
