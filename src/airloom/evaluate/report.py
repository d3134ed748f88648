"""Scores of a run: per kind and overall, as JSON, and the side-by-side comparison plot.

The score of a kind is the share of its cases that passed (0–100); ``overall`` is the
share of all cases. The comparison page draws both runs' scores per kind as grouped
bars, in the same page style and plotting helpers as ``airloom report``.

Example:
    >>> from airloom.evaluate.runner import CaseResult, EvalRun
    >>> run = EvalRun("core", "base", [CaseResult("a", "code", "dev", True, "", "", 1.0),
    ...                                CaseResult("b", "code", "dev", False, "", "", 1.0),
    ...                                CaseResult("c", "plan", "dev", True, "", "", 1.0)])
    >>> summary = summarise(run)
    >>> summary["kinds"]["code"], summary["overall"]["score"]
    ({'passed': 1, 'total': 2, 'score': 50.0}, 66.7)
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from airloom.errors import ConfigError
from airloom.evaluate.cases import KINDS
from airloom.evaluate.runner import CaseResult, EvalRun

__all__ = [
    "FORMAT_VERSION",
    "from_json",
    "load_results",
    "score_rows",
    "summarise",
    "to_json",
    "write_compare_page",
]

FORMAT_VERSION = 1


def _cell(passed: int, total: int) -> dict[str, Any]:
    return {
        "passed": passed,
        "total": total,
        "score": round(100.0 * passed / total, 1) if total else 0.0,
    }


def summarise(run: EvalRun) -> dict[str, Any]:
    """Per-kind and overall scores (see the module docstring)."""
    kinds: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        rows = [r for r in run.results if r.kind == kind]
        if rows:
            kinds[kind] = _cell(sum(r.passed for r in rows), len(rows))
    overall = _cell(sum(r.passed for r in run.results), len(run.results))
    return {"kinds": kinds, "overall": overall}


def to_json(run: EvalRun, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole run as a JSON-ready dict: what ran, the scores, every case.

    Example:
        >>> from airloom.evaluate.runner import EvalRun
        >>> sorted(to_json(EvalRun("core", "base")))
        ['cases', 'format', 'label', 'meta', 'scores', 'suite', 'wall_s']
    """
    return {
        "format": FORMAT_VERSION,
        "suite": run.suite,
        "label": run.label,
        "meta": dict(meta or {}),
        "wall_s": round(run.wall_s, 3),
        "scores": summarise(run),
        "cases": [result.to_dict() for result in run.results],
    }


def from_json(data: dict[str, Any], source: str = "results") -> EvalRun:
    """Read back a run written by :func:`to_json` (to compare against it later).

    Example:
        >>> from airloom.evaluate.runner import CaseResult, EvalRun
        >>> run = EvalRun("core", "base", [CaseResult("a", "code", "dev", True, "r", "x", 1.0)])
        >>> from_json(to_json(run)).results[0].passed
        True
    """
    try:
        if data.get("format") != FORMAT_VERSION:
            raise KeyError("format")
        results = [
            CaseResult(
                str(row["id"]),
                str(row["kind"]),
                str(row["split"]),
                bool(row["passed"]),
                str(row["reason"]),
                str(row["answer"]),
                float(row["seconds"]),
                int(row.get("completion_tokens", 0)),
            )
            for row in data["cases"]
        ]
        return EvalRun(str(data["suite"]), str(data["label"]), results, float(data["wall_s"]))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(
            f"{source} is not an airloom eval result (missing or bad {exc})",
            hint="pass a file written by 'airloom eval --out DIR' (DIR/results.json)",
        ) from exc


def load_results(path: Path) -> EvalRun:
    """A run from a results JSON file, with a clear error when it is not one.

    Example:
        >>> try:
        ...     load_results(Path("/nonexistent/results.json"))
        ... except ConfigError as exc:
        ...     exc.message.startswith("cannot read")
        True
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read eval results {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not an airloom eval result")
    return from_json(data, str(path))


def score_rows(runs: list[EvalRun]) -> list[list[str]]:
    """Table rows: one per kind present in any run, then ``overall``; one score column
    per run (``passed/total  score``) and, for two runs, the difference in points.

    Example:
        >>> from airloom.evaluate.runner import CaseResult, EvalRun
        >>> a = EvalRun("s", "base", [CaseResult("x", "code", "dev", False, "", "", 0.0)])
        >>> b = EvalRun("s", "tuned", [CaseResult("x", "code", "dev", True, "", "", 0.0)])
        >>> score_rows([a, b])[-1]
        ['overall', '0/1    0.0', '1/1  100.0', '+100.0']
    """
    summaries = [summarise(run) for run in runs]
    kinds = [k for k in KINDS if any(k in s["kinds"] for s in summaries)]
    rows = []
    for name in [*kinds, "overall"]:
        cells = [s["overall"] if name == "overall" else s["kinds"].get(name) for s in summaries]
        row = [name]
        for cell in cells:
            row.append(
                "-" if cell is None else f"{cell['passed']}/{cell['total']}  {cell['score']:5.1f}"
            )
        if len(cells) == 2:
            if cells[0] is None or cells[1] is None:
                row.append("-")
            else:
                row.append(f"{cells[1]['score'] - cells[0]['score']:+.1f}")
        rows.append(row)
    return rows


def write_compare_page(runs: list[EvalRun], out: Path) -> Path:
    """Write ``compare.html`` (grouped bars per kind and the score table) and
    ``compare.png`` into ``out``; needs the ``report`` extra (matplotlib).

    Example::

        write_compare_page([base_run, adapter_run], Path("eval-out"))
    """
    import base64

    from airloom.curate.report import _STYLE, _img, _png, _table

    rows = score_rows(runs)
    kinds = [row[0] for row in rows]
    summaries = [summarise(run) for run in runs]

    def draw(figure: Any, axes: Any) -> None:
        width = 0.8 / len(runs)
        for number, (run, summary) in enumerate(zip(runs, summaries, strict=True)):
            values = [
                (summary["overall"] if k == "overall" else summary["kinds"].get(k, {})).get(
                    "score", 0.0
                )
                for k in kinds
            ]
            positions = [i + (number - (len(runs) - 1) / 2) * width for i in range(len(kinds))]
            bars = axes.bar(positions, values, width, label=run.label)
            axes.bar_label(bars, fmt="%.0f", fontsize=7)
        axes.set_xticks(range(len(kinds)), kinds)
        axes.set_ylim(0, 105)
        axes.set_ylabel("score (% of cases passed)")
        axes.set_title(f"airloom eval: {runs[0].suite}")
        axes.legend()

    png = _png(draw, (8.0, 3.8))
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.png").write_bytes(base64.b64decode(png))
    head = ["kind", *(run.label for run in runs)] + (["change"] if len(runs) == 2 else [])
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>airloom eval</title>"
        f"<style>{_STYLE}</style></head><body><h1>airloom eval: {html.escape(runs[0].suite)}"
        f"</h1>{_img('scores per kind', png)}{_table(head, rows)}"
        "<p class='note'>Score: share of the cases that passed the program checks.</p>"
        "</body></html>"
    )
    path = out / "compare.html"
    path.write_text(page, encoding="utf-8")
    return path
