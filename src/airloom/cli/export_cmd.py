"""``airloom export``: airoboros JSONL or ShareGPT, derived from the store."""

from __future__ import annotations

from pathlib import Path

import click

from airloom.cli.options import config_options, load


@click.command("export")
@config_options
@click.option(
    "--store",
    "store_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Store file (default: the config's store).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "sharegpt"]),
    default="jsonl",
    show_default=True,
    help="airoboros 2.x JSONL or 3.x ShareGPT conversations.",
)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--category", "categories", multiple=True, help="Only these categories.")
def export(
    config_path: Path | None,
    overrides: tuple[str, ...],
    store_path: Path | None,
    fmt: str,
    out: Path,
    categories: tuple[str, ...],
) -> None:
    """Write the store's records to OUT."""
    from airloom.engine.store import Store
    from airloom.export import export_store

    if store_path is None:
        config, base_dir = load(config_path, overrides)
        store_path = config.resolved_store_path(base_dir)
    with Store.open(store_path, create=False) as store:
        written = export_store(store, out, fmt, categories or None)
    click.echo(f"wrote {written} records to {out} ({fmt})")
