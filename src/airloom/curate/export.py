"""Write curated records: airoboros JSONL, ShareGPT, parquet, Hugging Face datasets,
training text in each chat format, or a new store (embeddings kept).

* ``jsonl`` — the 2.x rows (instruction, response, category, system,
  skip_prompt_formatting); multi-turn ``conversation`` turns are not part of that
  shape (use ``sharegpt`` for them);
* ``sharegpt`` — the 3.x objects (id, category, conversations); a record with
  ``skip_prompt_formatting`` also carries that key, so importing it back is lossless;
* ``parquet`` and ``hf`` (``save_to_disk`` folder) — either row shape (``schema``), via
  the ``hf`` extra (pyarrow / datasets, imported only when used);
* ``text`` — JSONL of ``{"text", "category"}``: each record rendered with a chat
  format of :mod:`airloom.formats.chat` (``template``); a ``skip_prompt_formatting``
  record is taken as already formatted: its instruction, a newline, its response;
* ``store`` — a new airloom store holding the records and their embeddings.

Example:
    >>> record = {"id": "1", "category": "general", "instruction": "Hi?", "response": "Hello.",
    ...           "system": None, "conversation": None, "skip_prompt_formatting": False}
    >>> training_text(record, "airoboros-2.2")
    'A chat.\\nUSER: Hi?\\nASSISTANT: Hello.</s>'
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from airloom.curate.records import exact_key
from airloom.curate.sources import require
from airloom.errors import ConfigError, StoreError
from airloom.export.atomic import write_lines_atomic as write_lines
from airloom.formats.chat import TEMPLATES, get_template, render, split_system
from airloom.formats.records import conversation_turns, to_airoboros, to_sharegpt
from airloom.store.database import Store, stored_from_row

FORMATS = ("jsonl", "sharegpt", "parquet", "hf", "text", "store")
SCHEMAS = ("sharegpt", "airoboros")


def sharegpt_row(record: dict[str, Any]) -> dict[str, Any]:
    """The ShareGPT object of a record (with ``skip_prompt_formatting`` when set).

    Example:
        >>> sharegpt_row({"id": "1", "category": "rp", "instruction": "a", "response": "b",
        ...               "skip_prompt_formatting": True})["skip_prompt_formatting"]
        True
    """
    row = to_sharegpt(record)
    if record.get("skip_prompt_formatting"):
        row["skip_prompt_formatting"] = True
    return row


def airoboros_row(record: dict[str, Any], *, full: bool = False) -> dict[str, Any]:
    """The 2.x row; ``full`` gives every column (None/False) as tables need.

    Example:
        >>> airoboros_row({"instruction": "a", "response": "b", "category": "c"}, full=True)
        {'instruction': 'a', 'response': 'b', 'category': 'c', 'system': None, \
'skip_prompt_formatting': False}
    """
    row = to_airoboros(record)
    if full:
        row.setdefault("system", None)
        row.setdefault("skip_prompt_formatting", False)
    return row


def training_text(record: dict[str, Any], template: str) -> str:
    """A record as one training text in a chat format (see the module docstring).

    Example:
        >>> training_text({"instruction": "USER: hi\\nASSISTANT: ", "response": "yo",
        ...                "skip_prompt_formatting": True}, "llama-2")
        'USER: hi\\nASSISTANT:\\nyo'
    """
    if record.get("skip_prompt_formatting"):
        return f"{str(record['instruction']).strip()}\n{str(record['response']).strip()}"
    system, turns = split_system(conversation_turns(record))
    return render(template, system, turns, add_generation_prompt=False)


def _rows(records: Sequence[dict[str, Any]], schema: str) -> list[dict[str, Any]]:
    if schema not in SCHEMAS:
        raise ConfigError(f"unknown row schema '{schema}'", hint=f"use one of {SCHEMAS}")
    if schema == "sharegpt":
        return [
            sharegpt_row(r) | {"skip_prompt_formatting": bool(r.get("skip_prompt_formatting"))}
            for r in records
        ]
    return [airoboros_row(r, full=True) for r in records]


def write_parquet(records: Sequence[dict[str, Any]], path: Path, schema: str) -> int:
    """A parquet file of the records (``hf`` extra)."""
    pyarrow = require("pyarrow", "hf", "writing parquet")
    parquet = require("pyarrow.parquet", "hf", "writing parquet")
    table = pyarrow.Table.from_pylist(_rows(records, schema))
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    parquet.write_table(table, str(temporary))
    os.replace(temporary, path)
    return len(records)


def hf_dataset(records: Sequence[dict[str, Any]], schema: str) -> Any:
    """A ``datasets.Dataset`` of the records (``hf`` extra)."""
    datasets = require("datasets", "hf", "building a Hugging Face dataset")
    return datasets.Dataset.from_list(_rows(records, schema))


def write_hf(records: Sequence[dict[str, Any]], path: Path, schema: str) -> int:
    """A ``save_to_disk`` folder of the records (replaced whole if it exists)."""
    dataset = hf_dataset(records, schema)
    temporary = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    dataset.save_to_disk(str(temporary))
    if path.exists():
        shutil.rmtree(path)
    os.replace(temporary, path)
    return len(records)


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
    records: Sequence[dict[str, Any]],
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


def write_store(
    records: Sequence[dict[str, Any]],
    path: Path,
    *,
    vectors: np.ndarray | None,
    embedding_model: str | None,
) -> int:
    """A new store of the records; vectors (rows aligned, zero rows: none) are kept."""
    if path.exists():
        raise StoreError(f"{path} already exists", hint="choose a new file name for the output")
    stored = []
    for row, record in enumerate(records):
        vector = None
        if vectors is not None and row < len(vectors) and np.any(vectors[row]):
            vector = vectors[row]
        stored.append(stored_from_row(record, dedup=exact_key(record), embedding=vector))
    with Store.open(path, embedding_model=embedding_model) as store:
        store.commit_batch(stored)
    return len(stored)


def _dump(row: dict[str, Any], record: dict[str, Any]) -> str:
    """A row as JSON, with the record's ``flags`` (e.g. a verification verdict) added."""
    flags = record.get("flags")
    return json.dumps({**row, **flags} if flags else row, ensure_ascii=False)


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


def write_dataset(
    records: Sequence[dict[str, Any]],
    path: str | Path,
    fmt: str | None = None,
    *,
    template: str | None = None,
    schema: str = "sharegpt",
    vectors: np.ndarray | None = None,
    embedding_model: str | None = None,
) -> int:
    """Write records in one of :data:`FORMATS`; returns the number written.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "x.jsonl"
        >>> write_dataset([{"id": "1", "category": "general", "instruction": "q",
        ...                 "response": "a"}], out, "jsonl")
        1
    """
    path = Path(path)
    fmt = fmt or infer_format(path)
    if fmt == "jsonl":
        return write_lines(path, (_dump(to_airoboros(r), r) for r in records))
    if fmt == "sharegpt":
        return write_lines(path, (_dump(sharegpt_row(r), r) for r in records))
    if fmt == "text":
        if template is None:
            raise ConfigError(
                "the text format needs a chat template", hint=f"one of {sorted(TEMPLATES)}"
            )
        name = get_template(template).name
        return write_lines(
            path,
            (
                json.dumps(
                    {"text": training_text(r, name), "category": r["category"]}, ensure_ascii=False
                )
                for r in records
            ),
        )
    if fmt == "parquet":
        return write_parquet(records, path, schema)
    if fmt == "hf":
        return write_hf(records, path, schema)
    if fmt == "store":
        return write_store(records, path, vectors=vectors, embedding_model=embedding_model)
    raise ConfigError(f"unknown output format '{fmt}'", hint=f"use one of {', '.join(FORMATS)}")
