"""Live progress display and the end-of-run summary table (rich)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from airloom.scheduling.events import EventSink
from airloom.scheduling.stats import TOPICS_ROW, RunStats

__all__ = [
    "EndpointNotices",
    "T",
    "print_summary",
    "progress_line",
    "replica_table",
    "run_with_display",
    "spending_line",
    "stats_table",
]

T = TypeVar("T")


def _rejects(counts: dict[str, int]) -> str:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return "\n".join(f"{reason} {n}" for reason, n in ranked) or "-"


def stats_table(stats: RunStats, *, title: str | None = None, live: bool = True) -> Table:
    """One row per category: progress, accepted/target, rejects by reason, state; then a
    total row when there are several categories.

    Example:
        >>> from airloom.reasons import Reason
        >>> stats = RunStats()
        >>> stats.category("general", target=2).accepted = 2
        >>> stats.category("counterfactual_contextual", target=1).reject(Reason.TRUNCATED)
        >>> import io
        >>> console = Console(width=100, file=io.StringIO())
        >>> console.print(stats_table(stats, live=False))
        >>> text = console.file.getvalue()
        >>> "counterfactual_contextual" in text and "truncated 1" in text and "2/3" in text
        True
        >>> stats.category("topics", target=20).accepted = 20  # a phase, not in the total
        >>> console.print(stats_table(stats, live=False))
        >>> "2/3" in console.file.getvalue().split("topics")[-1]
        True
    """
    table = Table(title=title, expand=False, show_lines=False)
    names = list(stats.categories)
    # names are what people and expert routing use: never cut one, wrap the rejects instead
    table.add_column("category", no_wrap=True, min_width=max(map(len, names), default=8))
    if live:
        table.add_column("progress", width=24)
    table.add_column("accepted", justify="right")
    table.add_column("this run", justify="right")
    table.add_column("rejects by reason")
    table.add_column("state")

    def add_row(label: str, accepted: int, target: int, *cells: str) -> None:
        bar = ProgressBar(total=max(target, 1), completed=min(accepted, target), width=22)
        table.add_row(label, *([bar] if live else []), f"{accepted}/{target}", *cells)

    for name, cat in stats.categories.items():
        add_row(
            name,
            cat.accepted,
            cat.target,
            str(cat.accepted_this_run),
            _rejects(dict(cat.rejects)),
            cat.state,
        )
    categories = [cat for name, cat in stats.categories.items() if name != TOPICS_ROW]
    if len(categories) > 1:
        table.add_section()
        add_row(
            "total",
            sum(cat.accepted for cat in categories),
            sum(cat.target for cat in categories),
            str(sum(cat.accepted_this_run for cat in categories)),
            f"{sum(sum(cat.rejects.values()) for cat in categories)} rejects",
            f"{sum(cat.done for cat in categories)}/{len(categories)} done",
        )
    return table


def spending_line(stats: RunStats) -> Text:
    """This run's requests (per minute, in flight), tokens and cost; cache hits, retries;
    endpoints the run waits for; and, before generation starts, what the run is doing.

    Example:
        >>> from airloom.scheduling.scheduler import Spending
        >>> stats = RunStats()
        >>> stats.resume_from(Spending(requests=40, prompt_tokens=9000))
        >>> stats.spending.requests += 2; stats.spending.prompt_tokens += 300
        >>> line = spending_line(stats).plain
        >>> "this run: requests 2 (" in line and "tokens 300 " in line
        True
        >>> stats.spending.waiting["http://h/v1"] = 0.0
        >>> "waiting for http://h/v1 (since " in spending_line(stats).plain
        True
        >>> from airloom.backends.replicas import Replica
        >>> replica = Replica("http://b/v1", limit=4)
        >>> _ = replica.health.fail("unreachable", "refused", now=0.0, rest_initial=1.0,
        ...                         rest_max=9.0)
        >>> stats.pools["teacher"] = [replica]
        >>> "teacher: replica http://b/v1 resting (rested 1×)" in spending_line(stats).plain
        True
    """
    s = stats.spending
    requests, tokens, cost = stats.this_run()
    line = Text(
        f"{stats.elapsed:6.0f}s  this run: requests {requests} "
        f"({stats.requests_per_minute():.0f}/min, {s.in_flight} in flight)  "
        f"tokens {tokens:,}  cost {cost:.4f}  "
        f"cache hits {s.cache_hits}  retries {s.retries}  429s {s.rate_limited}"
    )
    for endpoint, since in list(s.waiting.items()):
        away = time.strftime("%H:%M:%S", time.localtime(since))
        line.append(f"\nwaiting for {endpoint} (since {away}): unreachable", style="bold yellow")
    for row in stats.replica_rows():
        if row["state"] != "ready":
            line.append(
                f"\n{row['endpoint']}: replica {row['replica']} {row['state']} "
                f"(rested {row['rested']}×)",
                style="yellow",
            )
    if stats.phase:
        line.append(f"\n{stats.phase}…", style="bold")
    return line


class EndpointNotices:
    """Passes events on to ``sink`` and prints one line when an endpoint goes away and
    when it answers again (so an outage shows even without the live display).

    Example:
        >>> import io
        >>> console = Console(file=io.StringIO(), width=100)
        >>> notices = EndpointNotices(console)
        >>> notices.emit("endpoint_waiting", endpoint="http://h/v1", since=0.0)
        >>> "waiting for http://h/v1 (since" in console.file.getvalue()
        True
    """

    def __init__(self, console: Console, sink: EventSink | None = None) -> None:
        self.console = console
        self.sink = sink

    def emit(self, event: str, **fields: Any) -> None:
        """Forward the event; announce outages."""
        if self.sink is not None:
            self.sink.emit(event, **fields)
        if event == "endpoint_waiting":
            since = time.strftime("%H:%M:%S", time.localtime(float(fields["since"])))
            self.console.print(
                f"waiting for {fields['endpoint']} (since {since}): unreachable; "
                "the run goes on when it answers"
            )
        elif event == "endpoint_back":
            away = time.time() - float(fields["since"])
            self.console.print(f"{fields['endpoint']} answers again after {away:.0f} s")
        elif event == "replica_rested":
            self.console.print(
                f"{fields['endpoint']}: replica {fields['replica']} rests "
                f"{float(fields['seconds']):.1f} s after: {fields['error']}"
            )
        elif event == "replica_back":
            self.console.print(f"{fields['endpoint']}: replica {fields['replica']} answers again")


async def run_with_display(
    coro: Awaitable[T], stats: RunStats, console: Console, *, quiet: bool
) -> T:
    """Await ``coro`` while refreshing a live table (unless quiet or not a terminal)."""
    if quiet or not console.is_terminal:
        return await coro
    task = asyncio.ensure_future(coro)
    try:
        with Live(console=console, refresh_per_second=4, transient=True) as live:
            while not task.done():
                live.update(Group(stats_table(stats), spending_line(stats)))
                await asyncio.wait({task}, timeout=0.25)
    except asyncio.CancelledError:
        # Stopped from outside: the work gets the cancellation and may still end with
        # a result (a run that shut down cleanly), which is then the answer.
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            return await task
        raise
    return task.result()


def progress_line(console: Console, text: str) -> contextlib.AbstractContextManager[object]:
    """A spinner with ``text`` while a block runs on a terminal; elsewhere the line once.

    Example:
        >>> import io
        >>> console = Console(file=io.StringIO())
        >>> with progress_line(console, "writing the plan…"):
        ...     pass
        >>> console.file.getvalue()
        'writing the plan…\\n'
    """
    if console.is_terminal:
        return console.status(text)
    console.print(text)
    return contextlib.nullcontext()


def replica_table(stats: RunStats) -> Table:
    """One row per replica of each teacher pool: calls, errors, mean latency, times rested
    and the state at the end.

    Example:
        >>> import io
        >>> from airloom.backends.replicas import Replica
        >>> replica = Replica("http://a/v1", limit=4)
        >>> replica.figures.record(0.25)
        >>> stats = RunStats(pools={"teacher": [replica]})
        >>> console = Console(width=100, file=io.StringIO())
        >>> console.print(replica_table(stats))
        >>> "http://a/v1" in console.file.getvalue() and "0.250" in console.file.getvalue()
        True
    """
    table = Table(title="teacher pools")
    for column in ("endpoint", "replica"):
        table.add_column(column, no_wrap=True)
    for column in ("calls", "errors", "mean latency (s)", "rested"):
        table.add_column(column, justify="right")
    table.add_column("state")
    for row in stats.replica_rows():
        table.add_row(
            row["endpoint"],
            row["replica"],
            str(row["calls"]),
            str(row["errors"]),
            f"{row['mean_latency_s']:.3f}",
            str(row["rested"]),
            row["state"],
        )
    return table


def print_summary(stats: RunStats, console: Console, *, kind: str = "airloom run") -> None:
    """The final table (titled ``kind: status``), spending, and filter hits per pattern.

    Written to a file or a pipe (no terminal width to respect), the table gets room
    for whole reject reasons.
    """
    if not console.is_terminal:
        console.width = max(console.width, 120)
    if stats.categories:
        console.print(stats_table(stats, title=f"{kind}: {stats.status}", live=False))
    console.print(spending_line(stats))
    if stats.pools:
        console.print(replica_table(stats))
    if stats.filter_hits:
        hits = Table(title="response filter hits")
        hits.add_column("pattern")
        hits.add_column("hits", justify="right")
        for pattern, n in stats.filter_hits.most_common():
            hits.add_row(pattern, str(n))
        console.print(hits)
    if stats.message:
        console.print(f"[bold]{stats.message}[/bold]")
