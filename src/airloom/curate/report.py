"""The dataset report: one self-contained HTML page with plots (``report`` extra).

Sections: overview, records per category, instruction and response lengths, reject
reasons over time, nearest-neighbour similarity, topic coverage, diversity (distinct-n,
embedding dispersion per category), judge and verifier pass rates, tokens and cost.
Plots are PNG images made with matplotlib (imported only here) and embedded as data
URIs, so the page needs nothing else; a small script marks the body with
``data-images-loaded="loaded/total"`` once the page has loaded.

Example::

    data = collect("run.airloom.db")
    render_report(data, Path("report"))   # writes report/index.html
"""

from __future__ import annotations

import base64
import html
import io
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from airloom.curate.report_data import ReportData
from airloom.errors import require

__all__ = ["NOT_CHECKED", "render_html", "render_report"]

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.25rem .6rem}
th{background:#f4f4f4}td.n{text-align:right}img{max-width:100%;display:block;margin:.5rem 0}
p.note{color:#666;font-size:.9rem}
"""
_SCRIPT = """
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute('data-images-loaded', loaded.length + '/' + images.length);
});
"""


def _pyplot() -> Any:
    matplotlib = require("matplotlib", "report", "drawing the report's plots")
    matplotlib.use("Agg")
    return require("matplotlib.pyplot", "report", "drawing the report's plots")


def _png(draw: Callable[[Any, Any], None], size: tuple[float, float] = (8.0, 3.6)) -> str:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=size, dpi=90)
    try:
        draw(figure, axes)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    finally:
        plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _img(alt: str, png: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{png}">'


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        numeric = isinstance(value, int | float)
        text = f"{value:,.4g}" if isinstance(value, float) else html.escape(str(value))
        return f'<td class="n">{text}</td>' if numeric else f"<td>{text}</td>"

    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{header}</tr>{body}</table>"


def _bars(
    labels: Sequence[str], values: Sequence[float], ylabel: str
) -> Callable[[Any, Any], None]:
    def draw(figure: Any, axes: Any) -> None:
        axes.bar(range(len(values)), values, color="#4c72b0")
        axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
        axes.set_ylabel(ylabel)

    return draw


_NO_RECORDS = "<p class='note'>No records in the store yet.</p>"


def _section_categories(data: ReportData) -> str:
    if not data.categories:
        return "<h2>Records per category</h2>" + _NO_RECORDS
    names = list(data.categories)
    counts = [data.categories[n].records for n in names]
    png = _png(_bars(names, counts, "records"))
    rows = [(n, data.categories[n].records, data.categories[n].units) for n in names]
    return (
        "<h2>Records per category</h2>"
        + _img("records per category", png)
        + _table(["category", "records", "units"], rows)
    )


def _section_lengths(data: ReportData) -> str:
    if not data.categories:
        return "<h2>Instruction and response lengths</h2>" + _NO_RECORDS
    instruction = [w for c in data.categories.values() for w in c.instruction_words]
    response = [w for c in data.categories.values() for w in c.response_words]

    def draw(figure: Any, axes: Any) -> None:
        top = max([1, *instruction, *response])
        bins = np.linspace(0, top, 40)
        axes.hist(instruction, bins=bins, alpha=0.6, label="instruction")
        axes.hist(response, bins=bins, alpha=0.6, label="response")
        axes.set_xlabel("words")
        axes.set_ylabel("records")
        axes.legend()

    rows = [
        (
            name,
            int(np.median(c.instruction_words)) if c.instruction_words else 0,
            int(np.median(c.response_words)) if c.response_words else 0,
            max(c.response_words, default=0),
        )
        for name, c in data.categories.items()
    ]
    return (
        "<h2>Instruction and response lengths</h2>"
        + _img("length distributions", _png(draw))
        + _table(
            ["category", "median instruction words", "median response words", "longest response"],
            rows,
        )
    )


def _section_rejects(data: ReportData) -> str:
    if not data.rejects:
        return "<h2>Reject reasons over time</h2><p class='note'>No rejects recorded.</p>"
    start = data.rejects[0][0]
    reasons = Counter(reason for _, _, reason in data.rejects)

    span = data.rejects[-1][0] - start

    def draw(figure: Any, axes: Any) -> None:
        if span < 1.0:  # all at once: a timeline would be a single vertical line
            top = reasons.most_common(12)
            _bars([r for r, _ in top], [n for _, n in top], "rejects")(figure, axes)
            return
        for reason, _ in reasons.most_common(8):
            times = sorted(at - start for at, _, r in data.rejects if r == reason)
            axes.step([0.0, *times], range(len(times) + 1), where="post", label=reason)
        axes.set_xlabel("seconds since the first reject")
        axes.set_ylabel("rejects (cumulative)")
        axes.legend(fontsize=8)

    rows = sorted(
        Counter((c, r) for _, c, r in data.rejects).items(), key=lambda kv: (-kv[1], kv[0])
    )
    return (
        "<h2>Reject reasons over time</h2>"
        + _img("reject reasons over time", _png(draw))
        + _table(["category", "reason", "rejects"], [(c, r, n) for (c, r), n in rows])
    )


def _section_nearest(data: ReportData) -> str:
    if not len(data.nearest):
        return "<h2>Nearest-neighbour similarity</h2><p class='note'>No embeddings stored.</p>"

    def draw(figure: Any, axes: Any) -> None:
        axes.hist(data.nearest, bins=40, range=(min(0.0, float(data.nearest.min())), 1.0))
        axes.set_xlabel("cosine to the nearest other record")
        axes.set_ylabel("records")

    q = np.percentile(data.nearest, [50, 90, 99])
    note = (
        f"<p class='note'>{len(data.nearest)} records with embeddings "
        f"({html.escape(str(data.embedding_model))}); median {q[0]:.3f}, "
        f"90th percentile {q[1]:.3f}, 99th {q[2]:.3f}.</p>"
    )
    return (
        "<h2>Nearest-neighbour similarity</h2>"
        + _img("nearest-neighbour similarity", _png(draw))
        + note
    )


def _section_topics(data: ReportData) -> str:
    used = len(data.topic_counts)
    known = f" of {data.topics_known} in the topics file" if data.topics_known else ""
    head = f"<h2>Topic coverage</h2><p class='note'>{used} distinct topics used{known}.</p>"
    if not used:
        return head
    top = data.topic_counts.most_common(25)
    png = _png(_bars([t[:30] for t, _ in top], [n for _, n in top], "records"), size=(8.0, 4.2))
    rows = [(name, c.topics) for name, c in data.categories.items()]
    return head + _img("topic coverage", png) + _table(["category", "topics used"], rows)


def _section_diversity(data: ReportData) -> str:
    if not data.categories:
        return "<h2>Diversity</h2>" + _NO_RECORDS
    names = list(data.categories)

    def draw(figure: Any, axes: Any) -> None:
        x = np.arange(len(names))
        axes.bar(x - 0.2, [data.categories[n].distinct_2 for n in names], 0.4, label="distinct-2")
        axes.bar(x + 0.2, [data.categories[n].dispersion for n in names], 0.4, label="dispersion")
        axes.set_xticks(x, names, rotation=45, ha="right", fontsize=8)
        axes.legend()

    rows = [
        (n, c.distinct_1, c.distinct_2, c.response_distinct_2, c.dispersion)
        for n, c in data.categories.items()
    ]
    return (
        "<h2>Diversity</h2>"
        "<p class='note'>distinct-n: distinct n-grams over all n-grams of the instructions; "
        "dispersion: mean cosine distance of a category's embeddings to their centroid.</p>"
        + _img("diversity per category", _png(draw))
        + _table(
            ["category", "distinct-1", "distinct-2", "response distinct-2", "dispersion"], rows
        )
    )


NOT_CHECKED = "–"
"""A pass rate with nothing checked: no verdict, or every record skipped."""


def _rate(counts: Counter[str], good: str, uncounted: Sequence[str] = ()) -> float | str:
    """The share of ``good`` among the verdicts that checked something.

    Example:
        >>> _rate(Counter(), "pass"), _rate(Counter(skip=4), "pass", ["skip"])
        ('–', '–')
        >>> _rate(Counter({"pass": 3, "fail": 1, "skip": 6}), "pass", ["skip"])
        0.75
    """
    total = sum(n for status, n in counts.items() if status not in uncounted)
    return round(counts[good] / total, 3) if total else NOT_CHECKED


def _section_verdicts(data: ReportData) -> str:
    rows = [
        (
            n,
            sum(c.judge.values()),
            _rate(c.judge, "good"),
            c.judge["error"],
            sum(c.verify.values()),
            _rate(c.verify, "pass", ["skip"]),
            c.verify["fail"],
            c.verify["skip"],
        )
        for n, c in data.categories.items()
    ]
    head = "<h2>Judge and verifier pass rates</h2>"
    if not any(r[1] or r[4] for r in rows):
        return head + "<p class='note'>Nothing judged or verified yet.</p>"
    columns = ["category", "judged", "GOOD rate", "judge errors", "verified", "pass rate"]
    table = _table([*columns, "failed", "skipped"], rows)
    rated = [r for r in rows if isinstance(r[2], float) or isinstance(r[5], float)]
    if not rated:
        return head + "<p class='note'>Every verified record was skipped: no rate.</p>" + table
    names = [r[0] for r in rated]

    def draw(figure: Any, axes: Any) -> None:
        x = np.arange(len(names))
        for offset, column, label in ((-0.2, 2, "judge GOOD rate"), (0.2, 5, "verifier pass rate")):
            values = [r[column] if isinstance(r[column], float) else 0.0 for r in rated]
            bars = axes.bar(x + offset, values, 0.4, label=label)
            texts = [f"{v:.2f}" if isinstance(r[column], float) else NOT_CHECKED
                     for v, r in zip(values, rated, strict=True)]  # fmt: skip
            axes.bar_label(bars, texts, fontsize=7)
        axes.set_ylim(0, 1.1)
        axes.set_ylabel("rate")
        axes.set_xticks(x, names, rotation=45, ha="right", fontsize=8)
        axes.legend(fontsize=8)

    return head + _img("judge and verifier pass rates", _png(draw)) + table


def _section_spending(data: ReportData) -> str:
    head = "<h2>Tokens and cost</h2>"
    if not data.spending:
        return head + "<p class='note'>No teacher calls recorded.</p>"
    by_kind: Counter[str] = Counter()
    for row in data.spending:
        by_kind[row["kind"]] += row["prompt_tokens"] + row["completion_tokens"]

    def draw(figure: Any, axes: Any) -> None:
        labels = [f"{r['kind']}\n{r['run_id'] or '-'}"[:40] for r in data.spending]
        prompt = [r["prompt_tokens"] for r in data.spending]
        completion = [r["completion_tokens"] for r in data.spending]
        axes.bar(range(len(labels)), prompt, label="prompt tokens")
        axes.bar(range(len(labels)), completion, bottom=prompt, label="completion tokens")
        axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=7)
        axes.legend()

    rows = [
        (
            r["kind"],
            r["run_id"] or "-",
            r["model"] or "-",
            r["requests"],
            r["prompt_tokens"],
            r["completion_tokens"],
            r["cost"],
        )
        for r in data.spending
    ]
    total = sum(r["cost"] for r in data.spending)
    return (
        head
        + _img("tokens per run", _png(draw))
        + _table(
            ["kind", "run", "model", "requests", "prompt tokens", "completion tokens", "cost"], rows
        )
        + f"<p class='note'>Total cost {total:.4f}; tokens by kind: "
        + html.escape(", ".join(f"{k} {v:,}" for k, v in by_kind.items()))
        + "</p>"
    )


def render_html(data: ReportData) -> str:
    """The whole page as one string."""
    sections = [
        _section_categories,
        _section_lengths,
        _section_rejects,
        _section_nearest,
        _section_topics,
        _section_diversity,
        _section_verdicts,
        _section_spending,
    ]
    overview = _table(
        ["store", "records", "categories", "embedding model", "written"],
        [
            (
                data.store,
                data.total_records,
                len(data.categories),
                data.embedding_model or "-",
                time.strftime("%Y-%m-%d %H:%M"),
            )
        ],
    )
    body = "".join(section(data) for section in sections)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>airloom dataset report</title><style>{_STYLE}</style></head>"
        f"<body><h1>airloom dataset report</h1>{overview}{body}"
        f"<script>{_SCRIPT}</script></body></html>"
    )


def render_report(data: ReportData, out_dir: str | Path) -> Path:
    """Write ``out_dir/index.html`` and return its path."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / "index.html"
    temporary = folder / ".index.html.tmp"
    temporary.write_text(render_html(data), encoding="utf-8")
    temporary.replace(page)
    return page
