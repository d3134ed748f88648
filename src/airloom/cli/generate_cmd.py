"""``airloom generate`` (resumable) and ``airloom topics``."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click
from rich.console import Console

from airloom.cli.options import config_options, load

if TYPE_CHECKING:
    from airloom.backends.base import Backend
    from airloom.config import Config
    from airloom.scheduling.stats import RunStats

__all__ = ["generate", "topics"]


def _events(log_json: str | None) -> tuple[object, IO[str] | None]:
    from airloom.scheduling.events import JsonLinesSink, NullSink

    if log_json is None:
        return NullSink(), None
    if log_json == "-":
        return JsonLinesSink(sys.stderr), None
    handle = open(log_json, "a", encoding="utf-8")  # noqa: SIM115 - closed by the caller
    return JsonLinesSink(handle), handle


def _require_work(config: Config, config_path: Path | None) -> None:
    """Refuse a run with no instructor to run: without a config file that is a newcomer
    who has not made one yet, and silence would look like success."""
    from airloom.errors import ConfigError

    if any(config.instructor_count(name) > 0 for name in config.instructors):
        return
    start = "airloom config example > config.yaml && airloom generate --config config.yaml"
    if config_path is None:
        found = Path("config.yaml").is_file()
        raise ConfigError(
            "nothing to generate: no --config given, and the built-in defaults enable no "
            "instructor",
            hint="run: airloom generate --config config.yaml"
            if found
            else f"start from the example: {start}",
        )
    raise ConfigError(
        f"nothing to generate: {config_path} enables no instructor (every count is 0)",
        hint="give an instructor a count under instructors:, e.g. instructors: {general: "
        "{count: 50}} (see `airloom config example`)",
    )


async def _loaded_local_teacher(config: Config, base_dir: Path, console: Console) -> Backend | None:
    """The local teacher, prepared and loaded with visible progress; None when the
    default teacher is not a local model (or no instructor uses it)."""
    from airloom.backends.factory import build_default_backend, describe_default
    from airloom.backends.local import LocalBackend
    from airloom.cli.model_cmd import load_with_progress

    enabled = [n for n in config.instructors if config.instructor_count(n) > 0]
    if describe_default(config)[0] != "local" or all(
        config.instructors[n].endpoint for n in enabled
    ):
        return None
    backend = build_default_backend(config, base_dir)
    if isinstance(backend, LocalBackend):
        try:
            await load_with_progress(backend, console)
        except BaseException:
            await backend.aclose()
            raise
    return backend


@click.command("generate")
@config_options
@click.option("--quiet", "-q", is_flag=True, help="No live display; only the summary.")
@click.option("--log-json", metavar="FILE", help="Write JSON-lines events to FILE ('-': stderr).")
def generate(
    config_path: Path | None, overrides: tuple[str, ...], quiet: bool, log_json: str | None
) -> None:
    """Generate instruction data; run it again to resume exactly where it stopped."""
    from airloom.cli.interrupt import exit_now, run_interruptible
    from airloom.cli.progress import EndpointNotices, print_summary, run_with_display
    from airloom.engine.runner import Engine
    from airloom.errors import Interrupted
    from airloom.export.writers import export_run
    from airloom.store.lock import writer_lock

    config, base_dir = load(config_path, overrides)
    _require_work(config, config_path)
    sink, handle = _events(log_json)
    console = Console(stderr=True)
    events = EndpointNotices(console, sink)  # type: ignore[arg-type]
    engines: list[Engine] = []

    async def work() -> RunStats:
        backend = await _loaded_local_teacher(config, base_dir, console)
        engine = Engine(config, base_dir=base_dir, events=events, backend=backend)
        engines.append(engine)
        return await run_with_display(engine.run(), engine.stats, console, quiet=quiet)

    def stop() -> bool:
        for engine in engines:
            engine.request_stop("interrupted")
        return bool(engines)

    store_path = config.resolved_store_path(base_dir)
    try:
        with writer_lock(store_path):
            stats = asyncio.run(
                run_interruptible(
                    work(),
                    console=console,
                    grace=config.concurrency.stop_grace,
                    in_flight=lambda: sum(e.stats.spending.in_flight for e in engines),
                    on_stop=stop,
                )
            )
    except Interrupted as exc:
        raise Interrupted(exc.message, hint="run the same command again to resume") from None
    finally:
        if handle is not None:
            handle.close()
        if engines:  # what was accepted, even by a run that stopped early
            export_run(config, base_dir)
    print_summary(stats, console)
    if quiet and log_json is None:
        click.echo(json.dumps(stats.as_dict()))
    if stats.status == "interrupted":
        exit_now(130)


@click.command("topics")
@config_options
@click.option("--force", is_flag=True, help="Replace an existing topics file (kept as .bak).")
def topics(config_path: Path | None, overrides: tuple[str, ...], force: bool) -> None:
    """Have the teacher write the topics file (topic_request_count numbered lists)."""
    from airloom.cli.interrupt import run_interruptible
    from airloom.engine.runner import Engine
    from airloom.errors import ConfigError, Interrupted

    config, base_dir = load(config_path, overrides)
    path = Path(config.topics_path)
    path = path if path.is_absolute() else base_dir / path
    if path.exists():
        if not force:
            raise ConfigError(f"{path} already exists", hint="use --force to write a new one")
        path.replace(path.with_name(path.name + ".bak"))
    engine = Engine(config, base_dir=base_dir)
    console = Console(stderr=True)

    def stop() -> bool:
        engine.request_stop("interrupted")
        return True

    console.print(f"the teacher writes {config.topic_request_count} topic lists into {path}…")
    try:
        written = asyncio.run(
            run_interruptible(
                engine.write_topics(),
                console=console,
                grace=config.concurrency.stop_grace,
                in_flight=lambda: engine.stats.spending.in_flight,
                on_stop=stop,
            )
        )
    except Interrupted as exc:
        raise Interrupted(
            "interrupted", hint=f"the topics written so far are in {path}; edit it or use --force"
        ) from exc
    if engine.stop_reason:
        click.echo(f"interrupted: wrote {len(written)} topics to {path}")
        sys.exit(130)
    click.echo(f"wrote {len(written)} topics to {path}")
