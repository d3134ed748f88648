"""``airloom import`` and ``airloom merge``: published datasets in, versions combined."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console

from airloom.cli.options import (
    config_options,
    echo_problems,
    echo_unreadable,
    exit_if_unreadable,
    load,
)

__all__ = ["import_command", "merge"]

_FORMATS = ["jsonl", "sharegpt", "parquet", "hf", "text", "store"]


@click.command("import")
@config_options
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--store",
    "store_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Store to import into (created when missing).",
)
@click.option("--embedding-model", default=None, help="Default: the config's embedding_model.")
def import_command(
    config_path: Path | None,
    overrides: tuple[str, ...],
    sources: tuple[Path, ...],
    store_path: Path,
    embedding_model: str | None,
) -> None:
    """Import airoboros datasets (2.x JSONL, 3.x ShareGPT, parquet, HF folders, stores).

    Every text is embedded once; records already in the store are skipped.
    """
    from airloom.curate.importer import import_datasets

    config, _ = load(config_path, overrides)
    console = Console(stderr=True)
    summary = import_datasets(
        sources, store_path, embedding_model=embedding_model or config.embedding_model
    )
    for part in summary.sources:
        console.print(
            f"{part.source}: read {part.read}, imported {part.imported}, "
            f"already there {part.present}, unreadable rows {part.unreadable}"
        )
        echo_problems(part.problems, part.unreadable, shown=5)
    click.echo(
        json.dumps(
            {"store": str(store_path), "imported": summary.imported, "embedded": summary.embedded}
        )
    )
    exit_if_unreadable(sum(part.unreadable for part in summary.sources))


def _renames(values: tuple[str, ...]) -> dict[str, str]:
    renames = {}
    for value in values:
        old, sep, new = value.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise click.BadParameter(f"{value!r} is not OLD=NEW", param_hint="--rename-category")
        renames[old.strip()] = new.strip()
    return renames


@click.command("merge")
@config_options
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Merged dataset.")
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default=None, help="Output format.")
@click.option("--template", default=None, help="Chat format for --format text.")
@click.option("--drop-category", multiple=True, help="Leave this category out (repeatable).")
@click.option("--keep-category", multiple=True, help="Keep only these categories.")
@click.option(
    "--rename-category", multiple=True, metavar="OLD=NEW", help="Rename a category (first)."
)
@click.option(
    "--precedence",
    type=click.Choice(["first", "last"]),
    default="first",
    show_default=True,
    help="Which input wins a duplicate: the first given or the last.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(-1.0, 1.0),
    default=None,
    help="Cosine of near-duplicates (default: from min_docsearch_score).",
)
@click.option("--no-near", is_flag=True, help="Remove exact duplicates only.")
@click.option("--embedding-model", default=None, help="Default: the inputs' or the config's.")
def merge(
    config_path: Path | None,
    overrides: tuple[str, ...],
    sources: tuple[Path, ...],
    out: Path,
    fmt: str | None,
    template: str | None,
    drop_category: tuple[str, ...],
    keep_category: tuple[str, ...],
    rename_category: tuple[str, ...],
    precedence: str,
    threshold: float | None,
    no_near: bool,
    embedding_model: str | None,
) -> None:
    """Merge dataset versions without exact or near duplicates, e.g.
    ``airloom merge v2.jsonl v1.4.1.jsonl --drop-category system --out m2.jsonl``.

    Beside OUT: OUT.provenance.jsonl (the input of every kept record),
    OUT.dropped.jsonl (every dropped record and why) and OUT.summary.json.
    """
    from airloom.curate.merge import MergeOptions, merge_sources

    config, _ = load(config_path, overrides)
    options = MergeOptions(
        drop=frozenset(drop_category),
        keep=frozenset(keep_category),
        renames=_renames(rename_category),
        precedence=precedence,
        threshold=config.dedup_cosine() if threshold is None else threshold,
        near=not no_near,
        embedding_model=embedding_model or config.embedding_model,
    )
    result = merge_sources(sources, options)
    written = result.write(out, fmt, template=template)
    console = Console(stderr=True)
    for name, counts in result.summary()["inputs"].items():
        console.print(f"{name}: {json.dumps(counts)}")
    for name, (problems, total) in result.unreadable.items():
        echo_unreadable(name, problems, total)
    click.echo(json.dumps({"written": written, "out": str(out), **result.summary()["totals"]}))
    exit_if_unreadable(sum(total for _, total in result.unreadable.values()))
