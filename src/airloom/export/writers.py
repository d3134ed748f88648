"""The writers of the exporter's formats (:data:`airloom.export.FORMATS`, described
there), and the entry points that use them: :func:`write_dataset` for records from any
source, :func:`export_store` for a store's, :func:`push_to_hub` for the Hub. Every file
is written atomically (:mod:`airloom.export.atomic`).

Example::

    with Store.open("instructions.airloom.db", create=False) as store:
        export_store(store, "data.jsonl", "sharegpt")
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from airloom.errors import ConfigError, StoreError, require
from airloom.export import get_format, infer_format
from airloom.export.atomic import replace_atomically, write_lines_atomic
from airloom.formats.records import Record
from airloom.formats.rows import SCHEMAS, airoboros_row, sharegpt_row, table_row, training_text
from airloom.store.database import Store

if TYPE_CHECKING:
    from airloom.config import Config

__all__ = [
    "SCHEMAS",
    "WRITERS",
    "ExportOptions",
    "export_run",
    "export_store",
    "hf_dataset",
    "push_to_hub",
    "training_categories",
    "write_dataset",
    "write_lines_atomic",
]

#: Extra keys for a record's JSONL row (e.g. a verification verdict), or none.
Annotate = Callable[[Record], Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """How to write: chat template (``text``), row shape of tables, the embedding model
    of a ``store``, extra keys of JSONL rows."""

    template: str | None = None
    schema: str = "sharegpt"
    embedding_model: str | None = None
    annotate: Annotate | None = None


Writer = Callable[[Iterable[Record], Path, ExportOptions], int]


def _jsonl(row: Callable[[Record], dict[str, Any]]) -> Writer:
    """A writer of one JSON line per record, in the shape ``row`` gives."""

    def write(records: Iterable[Record], path: Path, options: ExportOptions) -> int:
        annotate = options.annotate
        lines = (
            json.dumps({**row(r), **annotate(r)} if annotate else row(r), ensure_ascii=False)
            for r in records
        )
        return write_lines_atomic(path, lines)

    return write


def write_text(records: Iterable[Record], path: Path, options: ExportOptions) -> int:
    from airloom.formats.chat import TEMPLATES, get_template

    if options.template is None:
        raise ConfigError(
            "the text format needs a chat template", hint=f"one of {sorted(TEMPLATES)}"
        )
    name = get_template(options.template).name
    lines = (
        json.dumps({"text": training_text(r, name), "category": r.category}, ensure_ascii=False)
        for r in records
    )
    return write_lines_atomic(path, lines)


def _require(module: str, purpose: str) -> Any:
    return require(module, "hf", purpose)


write_jsonl = _jsonl(airoboros_row)
write_sharegpt = _jsonl(sharegpt_row)


def hf_dataset(records: Iterable[Record], schema: str) -> Any:
    """A ``datasets.Dataset`` of the records (``hf`` extra)."""
    datasets = _require("datasets", "building a Hugging Face dataset")
    return datasets.Dataset.from_list([table_row(r, schema) for r in records])


def write_parquet(records: Iterable[Record], path: Path, options: ExportOptions) -> int:
    pyarrow = _require("pyarrow", "writing parquet")
    parquet = _require("pyarrow.parquet", "writing parquet")
    rows = [table_row(r, options.schema) for r in records]
    table = pyarrow.Table.from_pylist(rows)
    replace_atomically(path, lambda tmp: parquet.write_table(table, str(tmp)))
    return len(rows)


def write_hf(records: Iterable[Record], path: Path, options: ExportOptions) -> int:
    dataset = hf_dataset(records, options.schema)
    replace_atomically(path, lambda tmp: dataset.save_to_disk(str(tmp)))
    return len(dataset)


def write_store(records: Iterable[Record], path: Path, options: ExportOptions) -> int:
    """A new store of the records, with their embeddings (a zero vector: none), built
    beside ``path`` and moved into place whole."""
    if path.exists():
        raise StoreError(f"{path} already exists", hint="choose a new file name for the output")
    kept = [r.with_embedding(_vector(r.embedding)) for r in records]

    def build(temporary: Path) -> None:
        with Store.open(temporary, embedding_model=options.embedding_model) as store:
            store.commit_batch(kept)

    replace_atomically(path, build)
    return len(kept)


def _vector(embedding: Any) -> Any:
    return embedding if embedding is not None and np.any(embedding) else None


#: The writer of each format of :data:`airloom.export.FORMATS`.
WRITERS: dict[str, Writer] = {
    "jsonl": write_jsonl,
    "sharegpt": write_sharegpt,
    "parquet": write_parquet,
    "hf": write_hf,
    "text": write_text,
    "store": write_store,
}


def write_dataset(
    records: Iterable[Record],
    path: str | Path,
    fmt: str | None = None,
    *,
    template: str | None = None,
    schema: str = "sharegpt",
    vectors: np.ndarray | None = None,
    embedding_model: str | None = None,
    annotate: Annotate | None = None,
) -> int:
    """Write records in one of :data:`FORMATS` (by default the one ``path`` suggests);
    ``vectors`` (rows aligned with the records) become their embeddings. Returns the
    number written.

    Example:
        >>> import tempfile, pathlib
        >>> from airloom.formats.records import make_record
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "x.jsonl"
        >>> write_dataset([make_record("general", "q", "a")], out, "jsonl")
        1
    """
    path = Path(path)
    chosen = get_format(fmt or infer_format(path))
    if vectors is not None and chosen.name == "store":
        records = [r.with_embedding(v) for r, v in zip(records, vectors, strict=True)]
    options = ExportOptions(template, schema, embedding_model, annotate)
    return WRITERS[chosen.name](records, path, options)


def training_categories(store: Store) -> list[str]:
    """Stored categories that are training data (instructors with ``exported = True``;
    categories without a registered instructor, e.g. imported ones, count as data)."""
    from airloom.instructors.registry import available_instructors

    registry = available_instructors()
    return [c for c in store.categories() if c not in registry or registry[c].exported]


def export_store(
    store: Store,
    path: str | Path,
    fmt: str = "jsonl",
    categories: Iterable[str] | None = None,
    **options: Any,
) -> int:
    """Write the store's records in ``fmt``; returns rows written.

    Without ``categories``, every stored category whose instructor produces training data
    is written (character cards and other non-exported categories are left out).
    ``options`` are those of :func:`write_dataset`.
    """
    wanted = training_categories(store) if categories is None else list(categories)
    chosen = get_format(fmt)
    records = store.iter_records(wanted, embeddings=chosen.name == "store")
    if chosen.name == "store":
        options.setdefault("embedding_model", store.get_meta("embedding_model"))
    return write_dataset(records, path, chosen.name, **options)


def export_run(config: Config, base_dir: Path) -> int:
    """Write a generation run's airoboros JSONL file (``output_path``) from its store;
    returns rows written (0, and no file, when the run stored nothing yet)."""
    store_path = config.resolved_store_path(base_dir)
    if not store_path.exists():
        return 0
    output = Path(config.output_path)
    with Store.open(store_path, create=False, read_only=True) as store:
        return export_store(store, output if output.is_absolute() else base_dir / output)


def hub_token(env: str = "HF_TOKEN") -> str | None:
    """A Hugging Face token from ``env`` or the hub client's login, else None."""
    token = os.environ.get(env)
    if token:
        return token
    try:
        from huggingface_hub import get_token
    except ImportError:
        return None
    return get_token()


def push_to_hub(
    records: Sequence[Record],
    repo_id: str,
    *,
    schema: str = "sharegpt",
    private: bool = True,
    token_env: str = "HF_TOKEN",
) -> int:
    """Upload the records as a dataset repository; a clear error without credentials."""
    token = hub_token(token_env)
    if not token:
        raise ConfigError(
            f"no Hugging Face credentials to push {repo_id}",
            hint=f"export {token_env}=<token> or run `huggingface-cli login`",
        )
    hf_dataset(records, schema).push_to_hub(repo_id, private=private, token=token)
    return len(records)
