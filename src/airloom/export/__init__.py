"""Exports derived from a store: airoboros JSONL and ShareGPT JSONL, written atomically.

Example::

    with Store.open("instructions.airloom.db", create=False) as store:
        write_sharegpt_jsonl(store, "data.jsonl")
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from airloom.errors import StoreError
from airloom.export.atomic import write_lines_atomic
from airloom.formats.records import to_airoboros, to_sharegpt
from airloom.store.database import Store

Converter = Callable[[dict[str, Any]], dict[str, Any]]

FORMATS: dict[str, Converter] = {
    "jsonl": to_airoboros,
    "airoboros": to_airoboros,
    "sharegpt": to_sharegpt,
}


def training_categories(store: Store) -> list[str]:
    """Stored categories that are training data (instructors with ``exported = True``;
    categories without a registered instructor, e.g. imported ones, count as data)."""
    from airloom.instructors.registry import available_instructors

    registry = available_instructors()
    return [c for c in store.categories() if c not in registry or registry[c].exported]


def export_store(
    store: Store, path: str | Path, fmt: str = "jsonl", categories: Iterable[str] | None = None
) -> int:
    """Write the store's records in ``fmt`` (jsonl/airoboros or sharegpt); returns rows written.

    Without ``categories``, every stored category whose instructor produces training data
    is written (character cards and other non-exported categories are left out).
    """
    if categories is None:
        categories = training_categories(store)
    convert = FORMATS.get(fmt)
    if convert is None:
        raise StoreError(f"unknown export format '{fmt}'", hint=f"use one of {sorted(FORMATS)}")
    rows = (json.dumps(convert(row), ensure_ascii=False) for row in store.iter_records(categories))
    return write_lines_atomic(Path(path), rows)


def write_airoboros_jsonl(store: Store, path: str | Path) -> int:
    """The airoboros 2.x JSONL file (the original's output_path)."""
    return export_store(store, path, "jsonl")
