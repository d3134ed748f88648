"""``airloom train``'s progress where no terminal shows a bar (a log file, ``| tee``):
plain lines at the first step, at most every interval, and at the last step."""

from __future__ import annotations

import io

from rich.console import Console

from airloom.cli.train_cmd import _Display
from airloom.train.trainer import TrainProgress, TrainWarning


def test_a_log_gets_plain_progress_lines_not_a_bar() -> None:
    out = io.StringIO()
    display = _Display(Console(file=out, width=120), enabled=True, every=3600)
    display("loading the model")
    for step in range(0, 11):
        display(TrainProgress(step=step, max_steps=10, loss=2.0 - step / 10, tokens_per_second=250))
    # the last step is reported again when its loss is logged, and once more at the end
    display(TrainProgress(step=10, max_steps=10, loss=0.9, tokens_per_second=250))
    display(TrainProgress(step=10, max_steps=10, loss=0.9, tokens_per_second=250))
    display.stop()
    lines = out.getvalue().splitlines()
    assert lines == [
        "· loading the model",
        "train: step 1/10  loss 1.9000  250 tok/s",
        "train: step 10/10  loss 0.9000  250 tok/s",
    ]


def test_lines_come_again_once_the_interval_has_passed() -> None:
    out = io.StringIO()
    display = _Display(Console(file=out, width=120), enabled=True, every=0.0)
    for step in (1, 2, 3):
        display(TrainProgress(step=step, max_steps=3))
    display.stop()
    assert [line.split("  ")[0] for line in out.getvalue().splitlines()] == [
        "train: step 1/3",
        "train: step 2/3",
        "train: step 3/3",
    ]


def test_a_warning_is_said_as_one_line_before_the_steps() -> None:
    out = io.StringIO()
    display = _Display(Console(file=out, width=400), enabled=True, every=3600)
    display(TrainWarning("a step over the longest batch (4 x 1,002 tokens) needs about 30 GB"))
    assert out.getvalue() == (
        "warning: a step over the longest batch (4 x 1,002 tokens) needs about 30 GB\n"
    )
