"""``airloom eval`` end to end on the scripted backend: real plan execution on the bundled
corpus, real sandbox runs, scores per kind, JSON, and the comparison page."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from airloom.curate.sandbox import run_python
from airloom.evaluate.cases import CodeCase, load_suite
from airloom.evaluate.scorers import code_program, score_code_run

# Right answers for the first dev case of each kind, wrong ones for the second; plans
# are right for both and really run: search over the corpus, then the knowledge model
# (answered by echoing its evidence, so the fact must come from the corpus page found).
RULES = [
    {
        "match": r"Here are the tools available.*Question: (?P<q>[^\n]+)\s*$",
        "reply": "Plan: Search the corpus.\n:evidence0: = DuckDuckGo[{{ q }}]\n"
        "Plan: Answer from the results.\n"
        ":evidence1: = KnowledgeModel[{{ q }} Given :evidence0:]\nAnswer: :evidence1:",
    },
    {
        "match": r"ENDCONTEXT\n(?P<evidence>.*?)ENDINPUT.*make up answers",
        "reply": "{{ evidence }}",
    },
    {
        "match": r"Input: What will the weather be like in Lisbon",
        "reply": '{"function": "weather_forecast", "params": {"city": "Lisbon", "days": 3}}',
    },
    {
        "match": r"Input: How much is 250 euros",
        "reply": '{"function": "stock_quote", "params": {"symbol": "EUR"}}',
    },
    {
        "match": r"How many otters were counted",
        "reply": "They counted 38 otters.\n\nReference(s):\ndate: 2023-04-02\n"
        "url: https://news.example/otters",
    },
    {"match": r"stoneware kiln", "reply": "About 1,250 degrees Celsius."},
    {
        "match": r"is_palindrome",
        "reply": "```python\ndef is_palindrome(s):\n    t = s.replace(' ', '').lower()\n"
        "    return t == t[::-1]\n```",
    },
    {"match": r"fizzbuzz", "reply": "def fizzbuzz(n):\n    return [str(i) for i in range(n)]"},
    {
        "match": r"train leaves at 09:40",
        "reply": "Solution 1:\n120 minutes to 11:40, minus 25.\nFinal answer: 95\n\nSolution 2:\n"
        "Decimal hours.\nFinal answer: 105\n\nRanking of solutions from best to worst:\n"
        "1. Solution 1: exact\n2. Solution 2: wrong arithmetic\n\nBest and final answer: 95",
    },
    {"match": r"packs of 6", "reply": "You need 8 packs."},
    {
        "match": r"pick up the flask",
        "reply": 'Of course. <|begin_func|>{"name": "pick_up", "parameters": '
        '{"object": "flask"}}<|end_func|> It is cold.',
    },
    {"match": ".*", "reply": "I would rather not."},
]
WRONG = [{"match": ".*", "reply": "I don't know."}]


def _airloom(
    tmp_path: Path, script: list[dict[str, object]], *args: str
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"script-{len(script)}.yaml"
    path.write_text(yaml.safe_dump({"rules": script}), encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "airloom",
        "eval",
        "--set",
        "backend=scripted",
        "--set",
        f"script_path={path}",
        "--split",
        "dev",
        "--limit",
        "2",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)


def test_eval_scores_each_kind_and_compares(tmp_path: Path) -> None:
    first = _airloom(tmp_path, RULES, "--out", "base", "--json")
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    kinds = data["scores"]["kinds"]
    assert kinds["plan"] == {"passed": 2, "total": 2, "score": 100.0}
    for kind in ("function", "context", "code", "solutions", "action"):
        assert kinds[kind] == {"passed": 1, "total": 2, "score": 50.0}, kind
    assert data["scores"]["overall"] == {"passed": 7, "total": 12, "score": 58.3}
    reasons = {case["id"]: case["reason"] for case in data["cases"]}
    assert "wrong function" in reasons["function-02"]
    assert "no citation" in reasons["context-02"]
    assert reasons["code-01"] == "ran and passed the asserts"
    assert "error" in reasons["code-02"]
    assert "plan-01" in first.stderr and "pass" in first.stderr  # progress lines
    saved = json.loads((tmp_path / "base" / "results.json").read_text(encoding="utf-8"))
    assert saved["scores"] == data["scores"]
    logged = (tmp_path / "base" / "cases.jsonl").read_text(encoding="utf-8").splitlines()
    assert sorted(json.loads(line)["id"] for line in logged) == sorted(reasons)

    second = _airloom(
        tmp_path, WRONG, "--compare", "base/results.json", "--out", "after", "--label", "after"
    )
    assert second.returncode == 0, second.stderr
    assert "overall" in second.stdout and "-58.3" in second.stdout and "after" in second.stdout
    page = (tmp_path / "after" / "compare.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in page and "plan" in page
    assert (tmp_path / "after" / "compare.png").read_bytes()[:4] == b"\x89PNG"


def test_eval_bad_input_is_one_clear_line(tmp_path: Path) -> None:
    missing = _airloom(tmp_path, WRONG, "--suite", "nosuch")
    assert missing.returncode == 2
    assert "no suite 'nosuch'" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "bad.json").write_text("{}", encoding="utf-8")
    bad = _airloom(tmp_path, WRONG, "--compare", "bad.json")
    assert bad.returncode == 2 and "not an airloom eval result" in bad.stderr
    assert "Traceback" not in bad.stderr
    (tmp_path / "notanadapter").mkdir()
    early = _airloom(tmp_path, WRONG, "--compare", "notanadapter")
    assert early.returncode != 0 and "holds no adapter" in early.stderr
    assert "evaluating" not in early.stderr and "Traceback" not in early.stderr


@pytest.mark.parametrize(
    ("answer", "passed"),
    [
        ("def celsius_to_fahrenheit(c):\n    return c * 9 / 5 + 32", True),
        ("def celsius_to_fahrenheit(c):\n    return c * 2 + 30", False),
        # an answer that fakes success and leaves before the asserts
        ("import sys\nprint('ALL ASSERTS PASSED')\nsys.exit(0)", False),
    ],
)
def test_code_answers_really_run_in_the_sandbox(answer: str, passed: bool) -> None:
    case = next(c for c in load_suite("core").cases if c.id == "code-05")
    assert isinstance(case, CodeCase)
    marker = "asserts-passed-5f3c"
    run = run_python(code_program(case, answer, marker))
    assert score_code_run(run, marker).passed is passed, run.reason
