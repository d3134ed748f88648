"""``airloom generate`` (resumable) and ``airloom topics``."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import IO

import click
from rich.console import Console

from airloom.cli.options import config_options, load


def _events(log_json: str | None) -> tuple[object, IO[str] | None]:
    from airloom.engine.events import JsonLinesSink, NullSink

    if log_json is None:
        return NullSink(), None
    if log_json == "-":
        return JsonLinesSink(sys.stderr), None
    handle = open(log_json, "a", encoding="utf-8")  # noqa: SIM115 - closed by the caller
    return JsonLinesSink(handle), handle


@click.command("generate")
@config_options
@click.option("--quiet", "-q", is_flag=True, help="No live display; only the summary.")
@click.option("--log-json", metavar="FILE", help="Write JSON-lines events to FILE ('-': stderr).")
def generate(
    config_path: Path | None, overrides: tuple[str, ...], quiet: bool, log_json: str | None
) -> None:
    """Generate instruction data; run it again to resume exactly where it stopped."""
    from airloom.cli.progress import EndpointNotices, print_summary, run_with_display
    from airloom.engine.runner import Engine
    from airloom.engine.store_lock import writer_lock

    config, base_dir = load(config_path, overrides)
    sink, handle = _events(log_json)
    console = Console(stderr=True)
    events = EndpointNotices(console, sink)  # type: ignore[arg-type]
    engine = Engine(config, base_dir=base_dir, events=events)
    try:
        with writer_lock(config.resolved_store_path(base_dir)):
            stats = asyncio.run(run_with_display(engine.run(), engine.stats, console, quiet=quiet))
    finally:
        if handle is not None:
            handle.close()
    print_summary(stats, console)
    if quiet and log_json is None:
        click.echo(json.dumps(stats.as_dict()))
    if stats.status == "interrupted":
        sys.exit(130)


@click.command("topics")
@config_options
@click.option("--force", is_flag=True, help="Replace an existing topics file (kept as .bak).")
def topics(config_path: Path | None, overrides: tuple[str, ...], force: bool) -> None:
    """Have the teacher write the topics file (topic_request_count numbered lists)."""
    from airloom.engine.runner import Engine
    from airloom.errors import ConfigError

    config, base_dir = load(config_path, overrides)
    path = Path(config.topics_path)
    path = path if path.is_absolute() else base_dir / path
    if path.exists():
        if not force:
            raise ConfigError(f"{path} already exists", hint="use --force to write a new one")
        path.replace(path.with_name(path.name + ".bak"))
    engine = Engine(config, base_dir=base_dir)
    written = asyncio.run(engine.write_topics())
    click.echo(f"wrote {len(written)} topics to {path}")
