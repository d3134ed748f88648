"""``airloom export``: airoboros JSONL, ShareGPT, parquet, Hugging Face datasets, training
text in a chat format, a new store, or the Hub, derived from the store (or from a dataset
file). Both sources go through the same exporter (:mod:`airloom.export`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from airloom.cli.options import config_options, echo_unreadable, exit_if_unreadable, load
from airloom.export import FORMATS

if TYPE_CHECKING:
    from airloom.formats.records import Record

__all__ = ["export"]


@click.command("export")
@config_options
@click.option(
    "--store",
    "store_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Store file (default: the config's store).",
)
@click.option(
    "--from",
    "source",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Convert a dataset file or folder instead of a store.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(FORMATS)),
    default="jsonl",
    show_default=True,
    help="; ".join(f"{f.name}: {f.description}" for f in FORMATS.values()) + ".",
)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Output file/folder.")
@click.option("--category", "categories", multiple=True, help="Only these categories.")
@click.option("--template", default=None, help="Chat format for --format text (e.g. llama-2).")
@click.option(
    "--schema",
    type=click.Choice(["sharegpt", "airoboros"]),
    default="sharegpt",
    show_default=True,
    help="Row shape of parquet, hf and the Hub.",
)
@click.option("--push-to-hub", "repo_id", default=None, help="Upload to this dataset repo.")
@click.option("--public", is_flag=True, help="Make a pushed dataset public (default: private).")
def export(
    config_path: Path | None,
    overrides: tuple[str, ...],
    store_path: Path | None,
    source: Path | None,
    fmt: str,
    out: Path | None,
    categories: tuple[str, ...],
    template: str | None,
    schema: str,
    repo_id: str | None,
    public: bool,
) -> None:
    """Write the store's records to OUT (and/or push them to the Hub)."""
    from airloom.export.writers import push_to_hub, write_dataset

    if out is None and repo_id is None:
        raise click.UsageError("give --out, --push-to-hub, or both")
    records, embedding_model, unreadable = _records(
        config_path, overrides, store_path, source, categories, embeddings=fmt == "store"
    )
    if out is not None:
        written = write_dataset(
            records, out, fmt, template=template, schema=schema, embedding_model=embedding_model
        )
        click.echo(f"wrote {written} records to {out} ({fmt})")
    if repo_id is not None:
        pushed = push_to_hub(records, repo_id, schema=schema, private=not public)
        click.echo(f"pushed {pushed} records to {repo_id}")
    exit_if_unreadable(unreadable)


def _records(
    config_path: Path | None,
    overrides: tuple[str, ...],
    store_path: Path | None,
    source: Path | None,
    categories: tuple[str, ...],
    *,
    embeddings: bool,
) -> tuple[list[Record], str | None, int]:
    """The records to export, their embedding model, and how many rows of ``source`` could
    not be read. A store keeps the categories that are training data unless told which."""
    from airloom.curate.sources import is_store_file, read_dataset
    from airloom.export.writers import training_categories
    from airloom.store.database import Store

    if source is not None and not is_store_file(source):
        data = read_dataset(source)
        echo_unreadable(data.source, data.problems, data.problem_count)
        chosen = [r for r in data.records if not categories or r.category in categories]
        return chosen, data.embedding_model, data.problem_count
    if source is not None:
        store_path = source
    elif store_path is None:
        config, base_dir = load(config_path, overrides)
        store_path = config.resolved_store_path(base_dir)
    with Store.open(store_path, create=False, read_only=True) as store:
        wanted = list(categories) if categories else training_categories(store)
        records = list(store.iter_records(wanted, embeddings=embeddings))
        return records, store.get_meta("embedding_model"), 0
