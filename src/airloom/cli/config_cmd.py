"""``airloom config example`` and ``airloom config check FILE``."""

from __future__ import annotations

import textwrap
from pathlib import Path

import click

from airloom.cli.options import load, set_option

__all__ = ["check", "config", "example", "kind_option", "teacher_line"]


@click.group("config")
def config() -> None:
    """Print a documented example config, or check one without running."""


kind_option = click.option(
    "--kind",
    type=click.Choice(["generate", "train", "serve"]),
    default="generate",
    show_default=True,
    help="generate: data generation (also eval's); train: training; serve: the server config.",
)


@config.command("example")
@kind_option
def example(kind: str) -> None:
    """Print a config with every key, its default and a one-line explanation."""
    if kind == "train":
        from airloom.config_example import render_train_example

        click.echo(render_train_example(), nl=False)
        return
    if kind == "serve":
        from airloom.config_example import render_serve_example

        click.echo(render_serve_example(), nl=False)
        return
    from airloom.config_example import render_example

    click.echo(render_example(), nl=False)


@config.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@set_option
@kind_option
def check(file: Path, overrides: tuple[str, ...], kind: str) -> None:
    """Validate FILE (keys, types, ranges, instructors) and summarise it."""
    from airloom.backends.factory import describe_default, describe_endpoint

    if kind != "generate":
        _check_other(file, overrides, kind)
        return

    cfg, _ = load(file, overrides)
    kind, endpoint, model = describe_default(cfg)
    if cfg.endpoint is not None:
        endpoint = f"endpoint '{endpoint}' (below)"
    counts = {name: cfg.instructor_count(name) for name in cfg.instructors}
    enabled = [name for name, count in counts.items() if count > 0]
    click.echo(f"{file}: OK")
    click.echo(f"  teacher: {teacher_line(kind, endpoint, model, cfg.local.model)}")
    if kind == "openai" and not cfg.base_url and not cfg.endpoint and not cfg.api_key():
        click.echo(f"  note: {endpoint} needs a key: export {cfg.api_key_env} before running")
    for name, section in cfg.endpoints.items():
        click.echo(textwrap.indent(f"endpoint {describe_endpoint(name, section)}", "  "))
        if section.capacity > cfg.concurrency.max_requests:
            click.echo(
                f"  note: concurrency.max_requests ({cfg.concurrency.max_requests}) keeps "
                f"{name} below its {section.capacity} slots: raise it to use them all"
            )
    click.echo(f"  store: {cfg.resolved_store_path(file.resolve().parent)}")
    for name in enabled:
        cosine = cfg.dedup_cosine(name)
        click.echo(
            f"  {name}: count={counts[name]} batch_size={cfg.instructor_batch_size(name)} "
            f"dedup cosine>={cosine:.4g}"
        )
    if not enabled:
        click.echo(
            "  no instructor has a count above 0 (fine for judge and cull; generate does nothing)"
        )
    off = len(counts) - len(enabled)
    if off:
        click.echo(f"  {off} other instructors are off (count 0)")


def _check_other(file: Path, overrides: tuple[str, ...], kind: str) -> None:
    """Validate a training or server config and print every value it comes to."""
    import yaml

    from airloom.serve.config import load_serve_config
    from airloom.train.config import load_train_config

    loader = load_train_config if kind == "train" else load_serve_config
    values = loader(file, overrides).model_dump(mode="json")
    click.echo(f"{file}: OK")
    click.echo(yaml.safe_dump(values, sort_keys=False, allow_unicode=True), nl=False)


def teacher_line(kind: str, endpoint: str, model: str, local_model: str) -> str:
    """How ``config check`` names the default teacher.

    Example:
        >>> teacher_line("local", "local", "qwen2.5-coder-0.5b-instruct", "embedded")
        'the embedded local model qwen2.5-coder-0.5b-instruct'
        >>> teacher_line("openai", "http://127.0.0.1:8000/v1", "m", "embedded")
        'm at http://127.0.0.1:8000/v1'
    """
    if kind == "local":
        if local_model == "embedded":
            return f"the embedded local model {model}"
        return f"the local model {local_model}"
    if kind == "scripted":
        return f"scripted replies ({endpoint.removeprefix('scripted:')})"
    return f"{model} at {endpoint}"
