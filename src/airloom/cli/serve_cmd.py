"""``airloom serve``: an OpenAI-compatible server for a model and its LMoE experts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from airloom.cli.options import config_options

__all__ = ["flag_overrides", "serve_command"]


def flag_overrides(flags: dict[str, Any]) -> list[str]:
    """The ``--set`` assignments the command-line flags stand for (unset flags: None).

    Example:
        >>> flag_overrides({"base": "m", "adapters": ("a=/x",), "port": 9, "no_auth": True})
        ["base='m'", "adapters.a='/x'", 'port=9', 'no_auth=true']
    """
    from airloom.errors import ConfigError

    out: list[str] = []
    base, lmoe = flags.get("base"), flags.get("lmoe")
    if base is not None:
        out.append(f"base={str(Path(base).resolve()) if Path(base).exists() else base!r}")
    if lmoe is not None:
        out.append(f"lmoe={str(lmoe.resolve())!r}")
    for spec in flags.get("adapters") or ():
        name, sep, folder = spec.partition("=")
        if not sep or not name.strip() or not folder.strip() or "." in name:
            raise ConfigError(
                f"--adapter {spec!r} is not NAME=DIR", hint="e.g. --adapter code=./out"
            )
        out.append(f"adapters.{name.strip()}={str(Path(folder.strip()).resolve())!r}")
    for key in ("engine", "host", "api_key_env", "template"):
        value = flags.get(key)
        if value is not None:
            out.append(f"{key}={value!r}")
    if flags.get("port") is not None:
        out.append(f"port={flags['port']}")
    if flags.get("no_auth"):
        out.append("no_auth=true")
    return out


@click.command("serve")
@config_options
@click.option("--base", default=None, help="Base model: 'embedded', a model folder or a GGUF.")
@click.option(
    "--lmoe",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="An `airloom experts split` folder with trained adapters.",
)
@click.option(
    "--adapter",
    "adapters",
    multiple=True,
    metavar="NAME=DIR",
    help="One more expert adapter (repeatable).",
)
@click.option(
    "--engine",
    type=click.Choice(["peft", "local", "vllm"]),
    default=None,
    help="peft (default), local (the base alone) or vllm.",
)
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8000; 0 picks a free one).")
@click.option(
    "--api-key-env",
    default=None,
    help="Environment variable holding the API key(s) (default AIRLOOM_SERVE_KEY).",
)
@click.option("--no-auth", is_flag=True, help="Accept requests without a key (loopback only).")
@click.option("--template", default=None, help="Prompt format of the base model.")
def serve_command(config_path: Path | None, overrides: tuple[str, ...], **flags: Any) -> None:
    """Serve a model and its experts over the OpenAI API (chat, completions, models)."""
    from airloom.serve.config import load_serve_config
    from airloom.serve.server import serve
    from airloom.serve.service import build_service

    console = Console(stderr=True)
    handler = logging.StreamHandler(sys.stderr)  # routing decisions, with their scores
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    serve_log = logging.getLogger("airloom.serve")
    serve_log.addHandler(handler)
    serve_log.setLevel(logging.INFO)
    extra = flag_overrides(flags)
    config = load_serve_config(config_path, (*overrides, *extra))
    console.print(f"[dim]· preparing the {config.engine} engine for {config.display_base()}[/dim]")
    service = build_service(config)

    def loading() -> None:
        experts = ", ".join(service.experts) or "none"
        console.print(f"[dim]· loading {config.display_base()} with experts: {experts}[/dim]")

    def ready(url: str) -> None:
        click.echo(f"serving at {url}", err=False)
        click.echo(f"engine: {config.engine}; models: {', '.join(service.model_ids())}")
        if service.router is not None:
            kind = config.router.kind
            click.echo(f"routing: {kind} router; model '{config.routed_model}' picks the expert")
        click.echo(
            "auth: "
            + ("none (loopback)" if not service.keys else f"bearer key from ${config.api_key_env}")
        )
        sys.stdout.flush()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(service, on_loading=loading, on_ready=ready))
    console.print(f"stopped after {service.served} requests")
