"""The model card (``README.md``) and the loss curve (``loss.png``) of a training run.

The card states the prompt format (with an example prompt rendered by the template
itself), the base model, the data provenance (sources, run ids, the SHA-256 of the
training text, records used and skipped with reasons) and the whole training config.

Example:
    >>> points = loss_points([{"step": 1, "loss": 2.0}, {"step": 2, "eval_loss": 1.5}])
    >>> points
    ([1], [2.0], [2], [1.5])
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from airloom.formats.chat import get_template, render

if TYPE_CHECKING:
    from airloom.train.config import TrainConfig
    from airloom.train.result import TrainResult

__all__ = ["card_text", "loss_points", "write_card", "write_loss_curve"]


def loss_points(
    history: list[dict[str, Any]],
) -> tuple[list[int], list[float], list[int], list[float]]:
    """(train steps, train losses, eval steps, eval losses) from a trainer log history."""
    train = [(int(e["step"]), float(e["loss"])) for e in history if "loss" in e and "step" in e]
    held = [
        (int(e["step"]), float(e["eval_loss"])) for e in history if "eval_loss" in e and "step" in e
    ]
    return (
        [s for s, _ in train],
        [v for _, v in train],
        [s for s, _ in held],
        [v for _, v in held],
    )


def write_loss_curve(history: list[dict[str, Any]], path: Path) -> None:
    """Draw train (and eval) loss against the step into a PNG (``report`` extra)."""
    from airloom.curate.report import _pyplot

    plt = _pyplot()
    steps, losses, eval_steps, eval_losses = loss_points(history)
    figure, axes = plt.subplots(figsize=(7.0, 3.6), dpi=90)
    try:
        axes.plot(steps, losses, label="train loss", color="#1f77b4")
        if eval_steps:
            axes.plot(eval_steps, eval_losses, "o-", label="eval loss", color="#d62728")
        axes.set_xlabel("step")
        axes.set_ylabel("loss")
        axes.grid(alpha=0.3)
        axes.legend()
        figure.tight_layout()
        figure.savefig(str(path))
    finally:
        plt.close(figure)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def card_text(config: TrainConfig, result: TrainResult) -> str:
    """The model card as Markdown."""
    template = get_template(config.template)
    example = render(template, None, [{"role": "user", "content": "{prompt}"}])
    data = result.data
    lines = [
        "---",
        "library_name: peft" if config.method != "full" else "library_name: transformers",
        "tags: [airloom, airoboros, sft]",
        "---",
        f"# {Path(result.output_dir).name}",
        "",
        f"A {config.method} fine-tune of `{config.base_model}` on airloom data, trained in the "
        f"`{template.name}` prompt format.",
        "",
        "## Prompt format",
        "",
        f"`{template.name}`: {template.description}. A prompt looks like this (the answer starts "
        "where the text ends):",
        "",
        "```",
        example,
        "```",
        "",
        f"Stop strings: {', '.join(f'`{s}`' for s in template.stop)}. The tokenizer saved here "
        "carries this format as its chat template.",
        "",
        "## Results",
        "",
        f"- steps: {result.steps}"
        + (f" (resumed from {result.resumed_from})" if result.resumed_from else ""),
        f"- final train loss: {_fmt(result.train_loss)}; final eval loss: {_fmt(result.eval_loss)}",
        f"- tokens trained on (assistant tokens per epoch): {result.trained_tokens}",
        f"- time: {result.seconds:.1f} s",
        "- loss curve: `loss.png`",
        "",
        "## Data",
        "",
        f"- training text SHA-256: `{data.data_sha256}`",
        f"- records used: {data.used} ({data.train_examples} train, {data.eval_examples} eval), "
        f"truncated: {data.truncated}",
    ]
    for reason, count in sorted(data.skipped.items()):
        lines.append(f"- skipped, {reason}: {count}")
    if data.problems:
        lines.append(f"- unreadable rows in the sources: {len(data.problems)}")
    lines.append("")
    lines.append("| source | records | run ids |")
    lines.append("|---|---|---|")
    for source in data.sources:
        runs = ", ".join(source.run_ids) or "-"
        lines.append(f"| `{Path(source.path).name}` | {source.records} | {runs} |")
    lines.append("")
    lines.append("| category | records |")
    lines.append("|---|---|")
    for category, count in sorted(data.categories.items()):
        lines.append(f"| {category} | {count} |")
    lines += [
        "",
        "## Training config",
        "",
        "```yaml",
        yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False).rstrip(),
        "```",
        "",
    ]
    return "\n".join(lines)


def write_card(path: Path, config: TrainConfig, result: TrainResult) -> None:
    """Write the model card to ``path``."""
    path.write_text(card_text(config, result), encoding="utf-8")
