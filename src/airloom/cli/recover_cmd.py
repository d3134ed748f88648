"""``airloom recover``: copy what is readable of a damaged store into a new store."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console

__all__ = ["recover"]


@click.command("recover")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
def recover(source: Path, target: Path) -> None:
    """Copy the readable records of SOURCE (a damaged store) into the new store TARGET.

    SOURCE is opened read-only and never changed. Records (with their embeddings), the
    request cache and the rounds are copied; rows on damaged pages are counted.
    """
    from airloom.store.recover import recover_store

    console = Console(stderr=True)
    with console.status(f"reading {source}") as status:
        summary = recover_store(
            source, target, progress=lambda n: status.update(f"{n} records copied")
        )
    console.print(
        f"copied {summary.records} records, {summary.cached_calls} cached calls and "
        f"{summary.rounds} rounds to {target}; {summary.unreadable} records could not be read"
    )
    click.echo(json.dumps({**summary.__dict__, "target": str(target)}))
