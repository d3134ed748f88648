"""The ``airloom`` command: a click group whose sub-commands are imported on demand.

Keeping the imports lazy keeps ``airloom --help`` fast (no torch, no numpy).

Example:
    >>> from click.testing import CliRunner
    >>> CliRunner().invoke(cli, ["--help"]).exit_code
    0
"""

from __future__ import annotations

import asyncio
import importlib
import sys

import click

from airloom import __version__
from airloom.errors import AirloomError, Interrupted

__all__ = ["COMMANDS", "LazyGroup", "cli", "main"]

# command name -> (module, attribute, one-line help). Add a command by adding a line.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "config": ("airloom.cli.config_cmd", "config", "Print an example config or check one."),
    "topics": ("airloom.cli.generate_cmd", "topics", "Have the teacher write the topics file."),
    "generate": ("airloom.cli.generate_cmd", "generate", "Generate instruction data (resumable)."),
    "model": (
        "airloom.cli.model_cmd",
        "model",
        "Prepare the embedded model once (assemble, convert).",
    ),
    "export": ("airloom.cli.export_cmd", "export", "Export: JSONL, ShareGPT, parquet, HF, text."),
    "format": ("airloom.cli.format_cmd", "format_command", "Print the exact prompt of a template."),
    "ask": ("airloom.cli.ask_cmd", "ask", "Send one prompt to the teacher (embedded or endpoint)."),
    "call": ("airloom.cli.call_cmd", "call", "Let a model call one of your Python functions."),
    "plan": ("airloom.cli.plan_cmd", "plan", "Answer with a reWOO plan run on real tools."),
    "judge": ("airloom.cli.curate_cmd", "judge", "Judge a store's records with an LLM (cached)."),
    "verify": ("airloom.cli.verify_cmd", "verify", "Verify records by code: run, parse, check."),
    "import": ("airloom.cli.dataset_cmd", "import_command", "Import datasets into a store."),
    "merge": ("airloom.cli.dataset_cmd", "merge", "Merge dataset versions without duplicates."),
    "report": ("airloom.cli.report_cmd", "report", "Write an HTML report with plots on a store."),
    "cull": ("airloom.cli.curate_cmd", "cull", "Keep the best-judged of each near-duplicate set."),
    "recover": ("airloom.cli.recover_cmd", "recover", "Copy what is readable of a damaged store."),
    "train": ("airloom.cli.train_cmd", "train_command", "Fine-tune: full, LoRA, QLoRA; merge."),
    "eval": ("airloom.cli.eval_cmd", "eval_command", "Score a model on airoboros-format skills."),
    "experts": ("airloom.cli.train_cmd", "experts", "Split data into LMoE expert sets."),
    "serve": ("airloom.cli.serve_cmd", "serve_command", "Serve a model and experts (OpenAI API)."),
}


class LazyGroup(click.Group):
    """A group that imports a sub-command's module only when it is run."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attribute, _ = entry
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in sorted(COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="airloom")
def cli() -> None:
    """airloom: grow instruction-tuning data with a teacher LLM, category by category."""


def main() -> None:
    """Console entry point: run the CLI, print library errors as one clear line."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Interrupted as exc:
        click.echo(exc.message, err=True)
        if exc.hint:
            click.echo(f"  {exc.hint}", err=True)
        from airloom.cli.interrupt import exit_now

        exit_now(exc.exit_code)
    except AirloomError as exc:
        click.secho(f"error: {exc.message}", fg="red", err=True)
        if exc.hint:
            click.echo(f"  hint: {exc.hint}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:
        sqlite3 = sys.modules.get("sqlite3")  # not imported: no store was read
        if sqlite3 is None or not isinstance(exc, sqlite3.DatabaseError):
            raise
        # a store damaged where no check could see it
        click.secho(f"error: a store could not be read ({exc})", fg="red", err=True)
        click.echo(
            "  hint: copy what is readable with: airloom recover STORE NEW.airloom.db", err=True
        )
        sys.exit(1)
    except (KeyboardInterrupt, asyncio.CancelledError):
        click.echo("interrupted", err=True)
        sys.exit(130)
