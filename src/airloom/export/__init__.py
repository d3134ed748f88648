"""The exporter: records (from a store or a dataset file) written in one of :data:`FORMATS`.

* ``jsonl`` (alias ``airoboros``) — the 2.x rows (:func:`airloom.formats.rows.airoboros_row`);
* ``sharegpt`` — the 3.x objects (:func:`airloom.formats.rows.sharegpt_row`);
* ``parquet`` and ``hf`` (``save_to_disk`` folder) — either row shape (``schema``), via
  the ``hf`` extra (pyarrow / datasets, imported only when used);
* ``text`` — JSONL of ``{"text", "category"}``: each record rendered with a chat format
  of :mod:`airloom.formats.chat` (``template``);
* ``store`` — a new airloom store holding the records and their embeddings.

The writers live in :mod:`airloom.export.writers` (:func:`~airloom.export.writers.
write_dataset`, :func:`~airloom.export.writers.export_store`); every file is written
atomically (:mod:`airloom.export.atomic`). All formats but ``text`` read back
(``airloom export --from``, ``import``, ``merge``) as the same records. This module
stays light, so that the command line can list the formats without loading them.

Example:
    >>> [f.name for f in FORMATS.values() if f.reimportable]
    ['jsonl', 'sharegpt', 'parquet', 'hf', 'store']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from airloom.errors import ConfigError

__all__ = ["FORMATS", "ExportFormat", "get_format", "infer_format"]


@dataclass(frozen=True, slots=True)
class ExportFormat:
    """One output format: its name, a one-line description, and whether what it writes
    reads back as the same records. Its writer is in :data:`airloom.export.writers.WRITERS`."""

    name: str
    description: str
    reimportable: bool = True


#: Every output format, by name (the command line's choices come from here).
FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("jsonl", "airoboros 2.x JSONL rows"),
        ExportFormat("sharegpt", "3.x ShareGPT JSONL objects"),
        ExportFormat("parquet", "a parquet file (rows in --schema)"),
        ExportFormat("hf", "a Hugging Face save_to_disk folder (rows in --schema)"),
        ExportFormat("text", "training text rendered with --template", reimportable=False),
        ExportFormat("store", "a new airloom store, embeddings kept"),
    )
}
_ALIASES = {"airoboros": "jsonl"}


def get_format(name: str) -> ExportFormat:
    """The format called ``name`` (or an alias), or a :class:`ConfigError` listing them.

    Example:
        >>> get_format("airoboros").name
        'jsonl'
    """
    found = FORMATS.get(_ALIASES.get(name, name))
    if found is None:
        choices = ", ".join(FORMATS)
        raise ConfigError(f"unknown output format '{name}'", hint=f"use one of {choices}")
    return found


def infer_format(path: Path) -> str:
    """The format a path's name suggests (``.parquet``, ``.db``, a folder: hf; else jsonl).

    Example:
        >>> infer_format(Path("out.parquet")), infer_format(Path("out.jsonl"))
        ('parquet', 'jsonl')
    """
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(".db"):
        return "store"
    if name.endswith(".sharegpt.jsonl"):
        return "sharegpt"
    if path.is_dir() or not path.suffix:
        return "hf"
    return "jsonl"
