"""Records → training examples: the exact prompt text, token ids and the loss mask.

The text of a record is rendered with the Jinja form of its chat template
(:func:`airloom.formats.chat.render_jinja`), which is byte-identical to what
``airloom format`` and ``airloom export --format text`` produce and reports where the
assistant wrote. The text is tokenized piece by piece at those boundaries, so a
prompt that ends in a space (``ASSISTANT: ``, ``[/INST] ``) is tokenized the way it
is at inference time, and the trained tokens decode to exactly the assistant turns
and their end-of-turn text — every assistant turn of a multi-turn record, nothing of
the system prompt or the user turns.

A ``skip_prompt_formatting`` record is trained as its instruction, a newline and its
response (the text ``export --format text`` writes), with the loss on the response.

Example:
    >>> from airloom.formats.records import make_record
    >>> record = make_record("general", "Hi?", "Hello.")
    >>> text, spans = record_text(record, "airoboros-2.2")
    >>> text, text[spans[0][0]:spans[0][1]]
    ('A chat.\\nUSER: Hi?\\nASSISTANT: Hello.</s>', 'Hello.</s>')
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from airloom.curate.sources import read_dataset
from airloom.errors import AirloomError, TrainError
from airloom.formats.chat import get_template, render_jinja
from airloom.formats.records import Record
from airloom.formats.rows import training_text

__all__ = [
    "IGNORE_INDEX",
    "DataSummary",
    "Example",
    "Examples",
    "SourceInfo",
    "build_examples",
    "load_records",
    "pieces",
    "prepare",
    "record_text",
    "split_eval",
    "tokenize",
]

IGNORE_INDEX = -100


@dataclass
class Example:
    """One tokenized record: ids, labels (``-100`` where no loss is taken), where from."""

    input_ids: list[int]
    labels: list[int]
    record_id: str
    category: str

    @property
    def trained_tokens(self) -> int:
        """Tokens that carry loss."""
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


@dataclass
class SourceInfo:
    """Provenance of one data source, for the model card."""

    path: str
    records: int
    run_ids: list[str] = field(default_factory=list)


@dataclass
class DataSummary:
    """What happened to the records on their way to training examples."""

    records_read: int = 0
    used: int = 0
    truncated: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    tokens: int = 0
    trained_tokens: int = 0
    train_examples: int = 0
    eval_examples: int = 0
    sources: list[SourceInfo] = field(default_factory=list)
    data_sha256: str = ""
    categories: Counter[str] = field(default_factory=Counter)


def record_text(record: Record, template: str) -> tuple[str, list[tuple[int, int]]]:
    """The training text of a record and the character spans that carry loss.

    Raises :class:`AirloomError` when the record's turns do not alternate.

    Example:
        >>> from airloom.formats.records import make_record
        >>> text, spans = record_text(make_record("g", "q", "a", skip_prompt_formatting=True),
        ...                           "chatml")
        >>> text, spans
        ('q\\na', [(2, 3)])
    """
    if record.skip_prompt_formatting:  # already formatted: the loss is on the response
        text = training_text(record, template)
        return text, [(len(record.instruction.strip()) + 1, len(text))]
    jinja = get_template(template).jinja
    return render_jinja(jinja, record.chat_messages(), add_generation_prompt=False)


def pieces(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[str, bool]]:
    """The text cut at the span boundaries: (piece, trained) in order, empty pieces dropped.

    Example:
        >>> pieces("abcdef", [(1, 3)])
        [('a', False), ('bc', True), ('def', False)]
    """
    out: list[tuple[str, bool]] = []
    position = 0
    for start, end in spans:
        out.append((text[position:start], False))
        out.append((text[start:end], True))
        position = end
    out.append((text[position:], False))
    return [(piece, trained) for piece, trained in out if piece]


def _bos_to_add(tokenizer: Any) -> int | None:
    bos = tokenizer.bos_token_id
    if bos is None:
        return None
    probe = tokenizer("a", add_special_tokens=True)["input_ids"]
    return int(bos) if probe[:1] == [bos] else None


def tokenize(
    tokenizer: Any, text: str, spans: Sequence[tuple[int, int]]
) -> tuple[list[int], list[int]]:
    """Token ids and labels of a rendered text; labels are ``-100`` outside the spans.

    The tokenizer's BOS token is put first when it adds one and the text lacks it.
    """
    cut = pieces(text, spans)
    ids: list[int] = []
    labels: list[int] = []
    bos = _bos_to_add(tokenizer)
    if bos is not None and not (tokenizer.bos_token and text.startswith(tokenizer.bos_token)):
        ids.append(bos)
        labels.append(IGNORE_INDEX)
    encoded = tokenizer([piece for piece, _ in cut], add_special_tokens=False)["input_ids"]
    for (_, trained), piece_ids in zip(cut, encoded, strict=True):
        ids.extend(piece_ids)
        labels.extend(piece_ids if trained else [IGNORE_INDEX] * len(piece_ids))
    return ids, labels


@dataclass
class Examples:
    """Training and eval examples with the summary of how they were made."""

    train: list[Example]
    eval: list[Example]
    summary: DataSummary


def build_examples(
    records: Iterable[Record],
    tokenizer: Any,
    *,
    template: str,
    max_length: int,
    too_long: Literal["skip", "truncate"] = "skip",
    summary: DataSummary | None = None,
) -> tuple[list[Example], DataSummary]:
    """Tokenize records; skipped ones are counted by reason, never dropped silently."""
    summary = summary or DataSummary()
    digest = hashlib.sha256()
    examples: list[Example] = []
    for record in records:
        summary.records_read += 1
        try:
            text, spans = record_text(record, template)
        except AirloomError as exc:
            summary.skipped[f"malformed conversation ({exc.message})"] += 1
            continue
        ids, labels = tokenize(tokenizer, text, spans)
        if len(ids) > max_length:
            if too_long == "skip":
                summary.skipped[f"longer than max_length {max_length}"] += 1
                continue
            ids, labels = ids[:max_length], labels[:max_length]
            summary.truncated += 1
        example = Example(ids, labels, record.id, record.category)
        if example.trained_tokens == 0:
            summary.skipped["no assistant tokens to train on"] += 1
            continue
        digest.update(json.dumps([text, spans], ensure_ascii=False).encode("utf-8"))
        examples.append(example)
        summary.used += 1
        summary.categories[example.category] += 1
        summary.tokens += len(ids)
        summary.trained_tokens += example.trained_tokens
    summary.data_sha256 = digest.hexdigest()
    return examples, summary


def split_eval(
    examples: list[Example], fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """A seeded (train, eval) split; no eval set when the fraction leaves none.

    Example:
        >>> items = [Example([i], [i], str(i), "c") for i in range(20)]
        >>> train, held = split_eval(items, 0.1, 0)
        >>> len(train), len(held), split_eval(items, 0.1, 0)[1] == held
        (18, 2, True)
    """
    count = round(len(examples) * fraction)
    if count == 0 or count >= len(examples):
        return list(examples), []
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    held = set(order[:count])
    train = [ex for i, ex in enumerate(examples) if i not in held]
    return train, [examples[i] for i in sorted(held)]


def load_records(
    paths: Sequence[str], categories: Sequence[str] | None = None
) -> tuple[list[Record], DataSummary]:
    """Read every source (stores, JSONL, ShareGPT, HF folders) into records.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "d.jsonl"
        >>> _ = p.write_text('{"instruction": "a", "response": "b", "category": "x"}\\n')
        >>> records, summary = load_records([str(p)], ["y"])
        >>> len(records), summary.skipped["category not selected"]
        (0, 1)
    """
    if not paths:
        raise TrainError(
            "no training data given", hint="set 'data' to a store, a JSONL file or a dataset folder"
        )
    summary = DataSummary()
    records: list[Record] = []
    wanted = set(categories) if categories else None
    for path in paths:
        data = read_dataset(path)
        summary.problems.extend(data.problems)
        run_ids = sorted({str(r.provenance.run_id) for r in data.records if r.provenance.run_id})
        summary.sources.append(SourceInfo(str(Path(path)), len(data.records), run_ids))
        for record in data.records:
            if wanted is not None and record.category not in wanted:
                summary.skipped["category not selected"] += 1
                continue
            records.append(record)
    return records, summary


def prepare(
    loaded: tuple[list[Record], DataSummary],
    tokenizer: Any,
    *,
    template: str,
    max_length: int,
    too_long: Literal["skip", "truncate"] = "skip",
    eval_fraction: float = 0.0,
    seed: int = 0,
) -> Examples:
    """Tokenize and split records from :func:`load_records`; an error when none is usable."""
    records, summary = loaded
    examples, summary = build_examples(
        records,
        tokenizer,
        template=template,
        max_length=max_length,
        too_long=too_long,
        summary=summary,
    )
    if not examples:
        reasons = "; ".join(f"{n} {why}" for why, n in summary.skipped.most_common()) or "none"
        sources = ", ".join(source.path for source in summary.sources)
        raise TrainError(
            f"no usable training records in {sources} "
            f"({summary.records_read} read, skipped: {reasons})",
            hint="check the data paths, 'categories', 'max_length' and 'too_long'",
        )
    train, held = split_eval(examples, eval_fraction, seed)
    summary.train_examples, summary.eval_examples = len(train), len(held)
    return Examples(train, held, summary)
