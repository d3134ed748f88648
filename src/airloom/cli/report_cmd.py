"""``airloom report``: a self-contained HTML page with plots about a store."""

from __future__ import annotations

import json
from pathlib import Path

import click

__all__ = ["report"]


@click.command("report")
@click.argument("store_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("report"),
    show_default=True,
    help="Folder for index.html.",
)
@click.option(
    "--topics",
    "topics_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Topics file, to report coverage against it.",
)
def report(store_path: Path, out_dir: Path, topics_path: Path | None) -> None:
    """Write OUT/index.html about STORE: categories, lengths, rejects, similarity,
    topics, diversity, judge and verifier pass rates, tokens and cost."""
    from airloom.curate.report import render_report
    from airloom.curate.report_data import collect

    data = collect(store_path, topics_path)
    page = render_report(data, out_dir)
    click.echo(json.dumps({"report": str(page), "records": data.total_records}))
