"""Code checks of the group-b categories: tables of good and bad records per check."""

from __future__ import annotations

import json
import math
import random

import pytest

from airloom.checks import checks_for
from airloom.checks.anonymization import check_anonymization, find_dates, find_ips
from airloom.checks.choices import (
    check_answer_key,
    check_quiz,
    parse_answer,
    parse_options,
    quiz_size,
)
from airloom.checks.functions import check_function_call, registry_from_listing
from airloom.checks.lengths import check_summary_length, check_word_target, count_words
from airloom.checks.logs import check_log_answer, parse_question
from airloom.checks.mathjson import (
    MATHJSON_PREFIX,
    Limits,
    MathJSONError,
    answer_number,
    check_mathjson,
    evaluate,
    parse_mathjson,
    solve,
)
from airloom.checks.plans import check_plan, offered_tools
from airloom.checks.rules import (
    INTRO_MESSAGES,
    KINDS,
    Rule,
    build_turns,
    check_rules,
    compatible,
    parse_rule,
    sample_rules,
)
from airloom.checks.solutions import canonical_layout, check_ranked_solutions
from airloom.formats.records import Record
from airloom.formats.rows import record_from_row
from tests.support.records import record_of


def test_every_group_b_category_has_its_check_registered() -> None:
    expected = {
        "cot": "check_ranked_solutions",
        "agent": "check_function_call",
        "plan": "check_plan",
        "multiple_choice": "check_answer_key",
        "detailed_writing": "check_word_target",
        "summarization": "check_summary_length",
        "rules": "check_rules",
        "mathjson": "check_mathjson",
        "log_extraction": "check_log_answer",
        "anonymization": "check_anonymization",
        "quiz": "check_quiz",
    }
    for category, name in expected.items():
        assert [check.__name__ for check in checks_for(category)] == [name], category


# ---- MathJSON evaluator ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expression", "value"),
    [
        (["Add", 1, 2, 3], 6),
        (["Subtract", 10, 3, 2], 5),
        (["Subtract", 4], -4),
        (["Divide", 1, 4], 0.25),
        (["Multiply", "Pi", ["Power", 2, 2]], 4 * math.pi),
        (["power", 2, 10], 1024),  # operator names are case-insensitive
        (["Sqrt", 2.25], 1.5),
        (["Root", -27, 3], -3),
        (["Log", 1000], 3),
        (["Log", 8, 2], 3),
        (["Ln", "ExponentialE"], 1),
        (["Round", 2.5], 3),
        (["Round", -2.5], -3),
        (["Mod", -7, 3], 2),
        (["Factorial", 6], 720),
        (["Binomial", 10, 3], 120),
        (["GCD", 12, 18], 6),
        (["Max", 3, ["Negate", -9], 4], 9),
        ({"num": "1/8"}, 0.125),
        ({"sym": "GoldenRatio"}, (1 + math.sqrt(5)) / 2),
        ({"fn": ["Add", 1, 1]}, 2),
        ("-3.5e2", -350),
        (["Rational", 3, 4], 0.75),
        (["Delimiter", ["Add", 1, 2]], 3),
        (["Clamp", 12, 0, 10], 10),
    ],
)
def test_evaluate_values(expression: object, value: float) -> None:
    assert evaluate(expression) == pytest.approx(value)


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        (["__import__", "os"], "unsupported operator"),
        (["Eval", "1+1"], "unsupported operator"),
        ("os.system", "unknown symbol"),
        ("__class__", "unknown symbol"),
        (["Add", True, 1], "not a number"),
        (["Add", None], "not a number"),
        (["Divide", 1, 0], "division by zero"),
        (["Power", 10, 400], "out of range"),
        (["Power", 2, 1e9], "beyond the bound"),
        (["Power", -8, 0.5], "negative base"),
        (["Power", 0, -1], "zero to a negative power"),
        (["Sqrt", -1], "even root"),
        (["Ln", 0], "Ln"),
        (["Log", 5, 1], "out of domain"),
        (["Factorial", 171], "integer argument"),
        (["Factorial", 2.5], "integer argument"),
        (["Binomial", 10**6, 3], "integer argument"),
        (["Exp", 1000], "out of range"),
        (["Add"], "takes 1 to any"),
        (["Power", 1], "takes 2 arguments"),
        ([], "must start with an operator"),
        ([3, 4], "must start with an operator"),
        ({"num": "1", "sym": "Pi"}, "unsupported object"),
        ({"fn": "Add"}, "unsupported object"),
        (1e308 * 10, "out of range"),
    ],
)
def test_evaluate_rejects(expression: object, fragment: str) -> None:
    with pytest.raises(MathJSONError, match=fragment):
        evaluate(expression)


def test_evaluate_bounds_depth_and_size() -> None:
    deep: object = 1
    for _ in range(60):
        deep = ["Negate", deep]
    with pytest.raises(MathJSONError, match="nested deeper"):
        evaluate(deep)
    wide = ["Add", *range(3000)]
    with pytest.raises(MathJSONError, match="more than 2000 nodes"):
        evaluate(wide)
    assert evaluate(wide, Limits(max_nodes=5000)) == sum(range(3000))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('["Add", 1', "not valid JSON"),
        ("NaN", "not a finite number"),
        ('["Add", Infinity, 1]', "not a finite number"),
        ("1" * 5000, "not valid JSON"),
        ("[" * 100_000, "longer than"),
        ("  ", "empty"),
    ],
)
def test_parse_mathjson_rejects(text: str, fragment: str) -> None:
    with pytest.raises(MathJSONError, match=fragment):
        parse_mathjson(text)


@pytest.mark.parametrize(
    ("response", "value"),
    [
        ('<mathjson>["Multiply", 3, 12]</mathjson>', 36),
        (
            "Reasoning.\nSolution as MathJSON:\n"
            '<mathjson>\n```json\n["Add", 1, 2]\n```\n</mathjson>',
            3,
        ),
        ('<MATHJSON>["Square", 5]</MATHJSON>', 25),
    ],
)
def test_solve_extracts(response: str, value: float) -> None:
    assert solve(response) == value


@pytest.mark.parametrize(
    ("response", "fragment"),
    [
        ("The answer is 4.", "no <mathjson>"),
        ("<mathjson>1</mathjson> and <mathjson>2</mathjson>", "2 <mathjson> blocks"),
        ('<mathjson>["Add", 1, 2]', "no <mathjson>"),  # truncated: no closing tag
    ],
)
def test_solve_rejects(response: str, fragment: str) -> None:
    with pytest.raises(MathJSONError, match=fragment):
        solve(response)


def test_check_mathjson_tolerance_and_prefix() -> None:
    record = record_of(
        instruction=f"{MATHJSON_PREFIX} A circle has radius 4. What is its area?",
        response='Area = pi r^2.\n<mathjson>["Multiply", "Pi", ["Power", 4, 2]]</mathjson>',
        meta={"expected": 50.27},
    )
    assert check_mathjson(record).ok
    assert not check_mathjson(record.replace(meta={"expected": 52})).ok
    assert check_mathjson(record.replace(meta={"expected": 52, "tolerance": 0.1})).ok
    assert check_mathjson(record.replace(meta={})).ok  # no ground truth: evaluation only
    unprefixed = record.replace(instruction="A circle has radius 4.")
    assert "does not start with" in check_mathjson(unprefixed).reason


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42),
        ("-3.5", -3.5),
        ("1,200 dollars", 1200),
        ("3/4", 0.75),
        ("$15", 15),
        ("12%", 12),
        ("about ten", None),
        ("", None),
        ("2e3", 2000),
    ],
)
def test_answer_number(text: str, value: float | None) -> None:
    assert answer_number(text) == value


# ---- lengths ------------------------------------------------------------------------------
def test_word_target_and_summary_length() -> None:
    words = " ".join(["word"] * 100)
    record = record_of(
        instruction="Tell a story.\n\nYour response should be approximately 100 words."
    )
    assert check_word_target(record.replace(response=words)).ok
    assert check_word_target(record.replace(response=words + " x" * 21)).reason.startswith(
        "response has 121 words"
    )
    assert check_word_target(
        record.replace(response=words + " x" * 21, meta={"length_tolerance": 0.25})
    ).ok
    assert not check_word_target(record_of(instruction="Tell a story.", response=words)).ok
    summary = record_of(
        instruction="BEGININPUT\nx\nENDINPUT\nBEGININSTRUCTION\nSummarize the input "
        "in around 50 words.\nENDINSTRUCTION"
    )
    assert check_summary_length(summary.replace(response=" ".join(["w"] * 55))).ok
    assert not check_summary_length(summary.replace(response=" ".join(["w"] * 61))).ok
    assert count_words("") == 0


# ---- rules --------------------------------------------------------------------------------
def test_every_phrasing_parses_back_to_its_rule() -> None:
    for kind in KINDS.values():
        for value in kind.values:
            rule = Rule(kind.name, value)
            for phrasing in range(len(kind.phrasings)):
                assert parse_rule(rule.text(phrasing)) == rule, rule.text(phrasing)


@pytest.mark.parametrize(
    ("rule", "good", "bad"),
    [
        (Rule("max_words", "5"), "one two three four five", "one two three four five six"),
        (Rule("min_words", "3"), "one two three", "one two"),
        (Rule("include_word", "lantern"), "A Lantern glows.", "A lanterns glow."),
        (Rule("forbid_word", "very"), "Every day.", "It is very good."),
        (Rule("lowercase"), "all small 🦁", "Not small"),
        (Rule("uppercase"), "ALL BIG 42", "ALL BIg"),
        (Rule("no_commas"), "no commas here", "one, two"),
        (Rule("no_digits"), "seven seas", "7 seas"),
        (Rule("start_with", "ZOOZOO:"), "  ZOOZOO: 🦁", "zoozoo: 🦁"),
        (Rule("end_with", "Over and out."), "Done. Over and out", "Over and out. Bye."),
        (Rule("question_end"), "Shall we?", "We shall."),
        (Rule("bullets", "2"), "- a\n* b", "- a\n- b\n- c"),
    ],
)
def test_rule_checkers(rule: Rule, good: str, bad: str) -> None:
    assert rule.problem(good) is None
    assert rule.problem(bad)


def test_sample_rules_is_compatible_deterministic_and_case_fitted() -> None:
    for seed in range(300):
        rules = sample_rules(random.Random(seed), 5)
        assert compatible([r.kind for r in rules]) and len({r.kind for r in rules}) == 5
        kinds = {r.kind for r in rules}
        for rule in rules:
            if rule.kind in ("start_with", "end_with") and "lowercase" in kinds:
                assert rule.value == rule.value.lower()
    assert sample_rules(random.Random(9), 3) == sample_rules(random.Random(9), 3)
    with pytest.raises(ValueError, match="compatible"):
        sample_rules(random.Random(0), 2, ["lowercase", "uppercase"])


def _conversation(rules: list[Rule], answer: str, edits: dict[int, str] | None = None) -> Record:
    """A rules record whose turns (the system turn is turn 0) carry ``edits``."""
    turns = build_turns(INTRO_MESSAGES[0], [r.text() for r in rules], "Describe a safari.", answer)
    turns = [{"role": "system", "content": "A chat."}, *turns]
    for index, text in (edits or {}).items():
        turns[index]["content"] = text
    return record_of(conversation=turns, response=answer)


def test_check_rules_table() -> None:
    rules = [Rule("start_with", "ZOOZOO:"), Rule("no_commas"), Rule("include_word", "ember")]
    assert check_rules(_conversation(rules, "ZOOZOO: lions by the ember glow")).ok
    assert check_rules(_conversation(rules, "ZOOZOO: lions, zebras")).reason.startswith("no_commas")
    bad = _conversation(rules, "ZOOZOO: ember", {2: "Sure, OK!"})
    assert "not OK" in check_rules(bad).reason
    odd = _conversation(rules, "ZOOZOO: ember", {3: "Be excellent to each other."})
    assert "unrecognised rule" in check_rules(odd).reason
    assert check_rules(record_of(conversation=None)).reason == "no conversation turns"
    short = record_of(conversation=build_turns("Rules! Say OK.", [], "Go.", "x")[:4])
    assert "alternating" in check_rules(short).reason
    mismatch = _conversation(rules, "ZOOZOO: ember").replace(response="other")
    assert "differs" in check_rules(mismatch).reason


# ---- multiple choice and quiz ---------------------------------------------------------
@pytest.mark.parametrize(
    ("question", "options"),
    [
        ("Q?\nA) x\nB) y\nC) z\nD) w", "ABCD"),
        ("Q?\nA. x\nB. y\nC. z\nD. w\nE. all of the above", "ABCDE"),
        ("Q?\n(A) x\n(B) y", "AB"),
        ("Q? A) red B) blue C) green", "ABC"),
        ("Q?\n- A: x\n- B: y", "AB"),
        ("No options at all.", ""),
    ],
)
def test_parse_options(question: str, options: str) -> None:
    assert "".join(parse_options(question)) == options


@pytest.mark.parametrize(
    ("response", "ok", "fragment"),
    [
        ("B) Jupiter", True, ""),
        ("B", True, ""),
        ("Answer: B) Jupiter", True, ""),
        ("**B) Jupiter**", True, ""),
        ("(B) Jupiter is the largest", True, ""),
        ("E) Saturn", False, "not among the options A-D"),
        ("B) Mars", False, "is not option B"),
        ("Jupiter", False, "does not start with an option letter"),
    ],
)
def test_check_answer_key(response: str, ok: bool, fragment: str) -> None:
    question = "Which planet is largest?\nA) Mars\nB) Jupiter\nC) Venus\nD) Earth"
    verdict = check_answer_key(record_of(instruction=question, response=response))
    assert verdict.ok is ok and fragment in verdict.reason


def test_answer_key_rejects_gapped_letters_and_parse_answer_edges() -> None:
    verdict = check_answer_key(record_of(instruction="Q?\nA) x\nB) y\nD) z", response="A) x"))
    assert "not A-C" in verdict.reason
    assert parse_answer("") is None


@pytest.mark.parametrize(
    ("instruction", "size"),
    [
        ("A 4-question quiz on owls.", 4),
        ("Quiz me with three questions.", 3),
        ("Make a quiz of 5 multiple-choice questions.", 5),
        ("Quiz me.", None),
    ],
)
def test_quiz_size(instruction: str, size: int | None) -> None:
    assert quiz_size(instruction) == size


def test_check_quiz() -> None:
    quiz = "1. a?\n2. b?\n3. c?\n\nAnswer key:\n1. x\n2. y\n3. z"
    assert check_quiz(record_of(instruction="A 3-question quiz.", response=quiz)).ok
    assert (
        "4 were asked"
        in check_quiz(record_of(instruction="A 4-question quiz.", response=quiz)).reason
    )
    partial = quiz.replace("\n3. z", "")
    assert (
        "answer key numbers"
        in check_quiz(record_of(instruction="A 3-question quiz.", response=partial)).reason
    )


# ---- logs ---------------------------------------------------------------------------------
APACHE = "\n".join(
    [
        '203.0.113.5 - - [12/Mar/2024:10:00:01 +0000] "GET /index.html HTTP/1.1" 200 512 "-" "x"',
        '198.51.100.7 - - [12/Mar/2024:10:00:09 +0000] "POST /login HTTP/1.1" 404 0 "-" "x"',
        '203.0.113.5 - - [12/Mar/2024:10:01:00 +0000] "GET /about HTTP/1.1" 404 90 "-" "x"',
        '10.0.4.9 - - [12/Mar/2024:10:02:00 +0000] "POST /login HTTP/1.1" 200 10 "-" "x"',
    ]
)


def _log_record(question: str, answer: str, log: str = APACHE) -> dict[str, str]:
    return record_of(
        instruction=f"BEGININPUT\nBEGINCONTEXT\nsource: access.log\nENDCONTEXT\n{log}\n"
        f"ENDINPUT\nBEGININSTRUCTION\n{question}\nENDINSTRUCTION",
        response=answer,
    )


@pytest.mark.parametrize(
    ("question", "answer", "ok"),
    [
        (
            "List every distinct IP address that received a 404 response.",
            "203.0.113.5 and 198.51.100.7",
            True,
        ),
        ("List every distinct IP address that received a 404 response.", "203.0.113.5", False),
        (
            "List every distinct IP address that received a 404 response.",
            "203.0.113.5, 198.51.100.7, 10.0.4.9",
            False,
        ),
        ("How many POST requests does the log contain?", "There are 2 POST requests.", True),
        ("How many POST requests does the log contain?", "Two POST requests.", True),
        ("How many POST requests does the log contain?", "Two of them.", False),
        ("How many POST requests does the log contain?", "2 POST of 4 requests", False),
        ("How many POST requests does the log contain?", "2 POST ones: /login at 10:00:09", True),
        ("How many POST requests does the log contain?", "Three.", False),
        ("Which paths did 203.0.113.5 request?", "/index.html and /about.", True),
        ("Which paths did 203.0.113.5 request?", "/index.html, /about and /login", False),
        (
            "Which IP address made the request logged at 12/Mar/2024:10:00:09 +0000?",
            "198.51.100.7",
            True,
        ),
        (
            "Which IP address made the request logged at 12/Mar/2024:10:00:09 +0000?",
            "203.0.113.5",
            False,
        ),
    ],
)
def test_check_log_answer_apache(question: str, answer: str, ok: bool) -> None:
    assert check_log_answer(_log_record(question, answer)).ok is ok


def test_check_log_answer_sshd_and_errors() -> None:
    log = "\n".join(
        [
            "Mar  3 10:15:32 web01 sshd[7]: Failed password for root from 192.0.2.9 port 22 ssh2",
            "Mar  3 10:16:00 web01 sshd[8]: Accepted password for alice from 10.0.4.2 port 2 ssh2",
            "Mar  3 10:17:00 web01 sshd[9]: Failed password for invalid user root from "
            "10.0.4.2 port 9 ssh2",
        ]
    )
    question = "Which IP addresses had failed login attempts for the user root?"
    assert check_log_answer(_log_record(question, "192.0.2.9 and 10.0.4.2", log)).ok
    users = "Which users logged in successfully from 10.0.4.2?"
    assert check_log_answer(_log_record(users, "Only alice.", log)).ok
    assert not check_log_answer(_log_record(users, "alice and root", log)).ok
    unknown = check_log_answer(_log_record("What is the weather?", "sunny", log))
    assert "not one of the known" in unknown.reason
    assert (
        "not a closed-context" in check_log_answer(record_of(instruction="x", response="y")).reason
    )
    assert parse_question("Which paths did 1.2.3.4 request?\nAnd more") is not None


# ---- anonymization -------------------------------------------------------------------------
SOURCE = (
    "Maya Lindqvist reported that the server at 203.0.113.4 went down on March 3, 2021. "
    "Elias Okafor restarted it on 2021-03-04 and confirmed it was reachable again."
)


@pytest.mark.parametrize(
    ("request_line", "response", "fragment"),
    [
        (
            "Remove all personal names from the text below.",
            "[NAME] reported that the server at 203.0.113.4 went down on March 3, 2021. [NAME] "
            "restarted it on 2021-03-04 and confirmed it was reachable again.",
            "",
        ),
        (
            "Remove all personal names from the text below.",
            "Maya reported that the server at 203.0.113.4 went down on March 3, 2021. [NAME] "
            "restarted it on 2021-03-04 and confirmed it was reachable again.",
            "name Maya",
        ),
        (
            "Remove all IP addresses and dates from the text below.",
            "Maya Lindqvist reported that the server at [IP] went down on [DATE]. Elias Okafor "
            "restarted it on [DATE] and confirmed it was reachable again.",
            "",
        ),
        (
            "Remove all IP addresses and dates from the text below.",
            "Maya Lindqvist reported that the server at [IP] went down on March 3. Elias Okafor "
            "restarted it on [DATE] and confirmed it was reachable again.",
            "date March 3",
        ),
        (
            "Remove all IP addresses from the text below.",
            "[NAME] reported that the server at [IP] went down on March 3, 2021. Elias Okafor "
            "restarted it on 2021-03-04 and confirmed it was reachable again.",
            "name Maya was removed",
        ),
        ("Remove all dates from the text below.", "Server down.", "name Maya was removed"),
        ("Summarize the text below.", "Server down.", "names nothing to remove"),
    ],
)
def test_check_anonymization(request_line: str, response: str, fragment: str) -> None:
    verdict = check_anonymization(
        record_of(instruction=f"{request_line}\n\n{SOURCE}", response=response)
    )
    assert verdict.ok is (fragment == "") and fragment in verdict.reason


def test_anonymization_meta_names_and_too_short() -> None:
    record = record_of(
        instruction="Remove all personal names.\n\nBob Stone met Ann at noon today.",
        response="[NAME] met Ann at noon today.",
        meta={"names": ["Bob Stone"]},
    )
    assert check_anonymization(record).ok
    assert "Ann" in check_anonymization(record.replace(meta={"names": ["Bob Stone", "Ann"]})).reason
    assert "drops too much" in check_anonymization(record.replace(response="[NAME].")).reason
    assert find_ips("v1.2.3.4.5 and 256.1.1.1 and 8.8.8.8") == ["8.8.8.8"]
    assert find_dates("12/25/2020, 3.4.2021, 1st of May") == [
        "12/25/2020",
        "3.4.2021",
        "1st of May",
    ]


# ---- cot ----------------------------------------------------------------------------------
GOOD_COT = """Solution 1:
nC2 = 45 gives n = 10.
Final answer: 10 players.

Solution 2:
Triangular numbers: 1+...+9 = 45, so 10 players.
Final answer: 10 players.

Ranking of solutions from best to worst:
1. Solution 1: direct algebra.
2. Solution 2: needs an extra step.

Best and final answer: 10 players."""


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (GOOD_COT, ""),
        (
            GOOD_COT.replace("Solution 1:\n", "**Solution 1:**\n").replace(
                "Best and final answer:", "### Best and Final Answer:"
            ),
            "",
        ),
        (GOOD_COT.replace("Best and final answer: 10 players.", ""), "no best answer line"),
        (GOOD_COT.replace("2. Solution 2: needs an extra step.", ""), "omits solution 2"),
        (
            GOOD_COT.replace("Best and final answer: 10 players.", "Best and final answer: 9."),
            "differs from the final answer",
        ),
        (GOOD_COT.split("\n\nSolution 2:")[0], "1 solution(s) given"),
        (
            GOOD_COT.replace("Final answer: 10 players.\n\nSolution 2", "\n\nSolution 2"),
            "no 'Final answer:' line",
        ),
        (
            GOOD_COT.replace("Ranking of solutions from best to worst:", "Ranking:"),
            "no 'Ranking of solutions from best to worst:' line",
        ),
        ("Just an answer: 10.", "no 'Solution 1:' section found"),
        (
            GOOD_COT.replace("Solution 2:", "Solution 3:").replace(
                "2. Solution 2", "2. Solution 3"
            ),
            "numbered [1, 3]",
        ),
    ],
)
def test_check_ranked_solutions(text: str, fragment: str) -> None:
    verdict = check_ranked_solutions(record_of(response=text))
    assert verdict.ok is (fragment == ""), verdict
    assert fragment in verdict.reason


def test_canonical_layout_only_touches_labels() -> None:
    text = "**Solution 1:** Think.\nThe **final** answer is near.\n__Final Answer:__ **7**"
    assert canonical_layout(text) == (
        "Solution 1: Think.\nThe **final** answer is near.\nFinal answer: 7"
    )


# ---- agent -------------------------------------------------------------------------------
FUNCTIONS = [
    {
        "name": "search",
        "description": "Search documents.",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "Terms."},
                "limit": {"type": "integer", "description": "Most results."},
                "dates": {
                    "type": "object",
                    "properties": {"begin": {"type": "string", "description": "Start."}},
                    "required": [],
                },
            },
            "required": ["query"],
        },
    },
    {
        "name": "email",
        "description": "Send an email.",
        "parameters": {
            "type": "object",
            "properties": {
                "to": {"type": "string", "description": "Recipient."},
                "tone": {"type": "string", "enum": ["formal", "casual"], "description": "Tone."},
            },
            "required": ["to", "tone"],
        },
    },
]


def _agent_record(response: str, fmt: str = "JSON", meta: bool = True) -> Record:
    from airloom.runtime.functions import FunctionRegistry

    registry = FunctionRegistry.from_schemas(FUNCTIONS)
    prompt = registry.prompt("Find notes about owls.", fmt=fmt.lower())  # type: ignore[arg-type]
    record = record_of(instruction=prompt, response=response)
    if meta:
        record = record.replace(meta={"functions": FUNCTIONS, "function": "search"})
    return record


@pytest.mark.parametrize("meta", [True, False])
@pytest.mark.parametrize(
    ("response", "fmt", "fragment"),
    [
        ('{"function": "search", "params": {"query": "owls"}}', "JSON", ""),
        (
            '{"function": "search", "params": {"query": "owls", "limit": 5, '
            '"dates": {"begin": "2020"}}}',
            "JSON",
            "",
        ),
        ("function: search\nparams:\n  query: owls\n  limit: 5", "YAML", ""),
        ("function: search\nparams:\n  query: owls", "JSON", "not bare JSON"),
        ('{"function": "search", "params": {"query": "owls"}}', "YAML", "not bare YAML"),
        (
            '```json\n{"function": "search", "params": {"query": "owls"}}\n```',
            "JSON",
            "not bare JSON",
        ),
        ('{"function": "search", "params": {}}', "JSON", "query: required"),
        (
            '{"function": "search", "params": {"query": "owls", "color": "red"}}',
            "JSON",
            "unknown parameter",
        ),
        ('{"function": "browse", "params": {}}', "JSON", "unknown function"),
        ('{"function": "none"}', "JSON", "chooses no function"),
    ],
)
def test_check_function_call(response: str, fmt: str, fragment: str, meta: bool) -> None:
    verdict = check_function_call(_agent_record(response, fmt, meta))
    assert verdict.ok is (fragment == ""), verdict
    assert fragment in verdict.reason


def test_check_function_call_expected_function_and_listing_roundtrip() -> None:
    record = _agent_record('{"function": "email", "params": {"to": "a@b.c", "tone": "formal"}}')
    assert "the input needs search" in check_function_call(record).reason
    registry = registry_from_listing(record.instruction)
    assert registry.names == ["search", "email"]
    email = registry["email"].parameters
    assert email["required"] == ["to", "tone"]
    assert email["properties"]["tone"]["enum"] == ["formal", "casual"]
    search = registry["search"].parameters
    assert search["required"] == ["query"]
    assert "begin" in search["properties"]["dates"]["properties"]
    enum_bad = record.replace(
        meta={}, response='{"function": "email", "params": {"to": "x", "tone": "rude"}}'
    )
    assert "is not one of" in check_function_call(enum_bad).reason


# ---- plan --------------------------------------------------------------------------------
TASK = """Here are the tools available to be called:
Search[input]: Web search returning links.
Scraper[input]: Loads links.
QA[input]: Answers a question about a text.

Question: Who built the bridge and when?"""
PLAN = """Plan: Search.
:evidence0: = Search[bridge builder]
Plan: Load pages.
:evidence1: = Scraper[:evidence0:]
Plan: Ask.
:evidence2: = QA[Who built it and when, given :evidence1:?]
Answer: :evidence2:"""


@pytest.mark.parametrize(
    ("plan", "fragment"),
    [
        (PLAN, ""),
        (
            PLAN.replace(":evidence", "#E")
            .replace("#E0:", "#E0")
            .replace("#E1:", "#E1")
            .replace("#E2:", "#E2")
            .replace("Answer:", "Final answer:"),
            "",
        ),
        (PLAN.replace("Scraper[", "Browser["), "unknown tool 'Browser'"),
        (PLAN.replace("Scraper[:evidence0:]", "Scraper[:evidence7:]"), "evidence7"),
        (PLAN.replace("Answer: :evidence2:", ""), "no 'Answer:' line"),
        (PLAN.replace("Answer: :evidence2:", "Answer: the builder"), "refers to no evidence"),
        (PLAN.replace("Search[bridge builder]", "Search[]"), "empty"),
        ("I cannot plan this.", "no step definitions"),
        (PLAN + "\n:evidence1: = Search[again]", "defined twice"),
    ],
)
def test_check_plan(plan: str, fragment: str) -> None:
    verdict = check_plan(record_of(instruction=TASK, response=plan))
    assert verdict.ok is (fragment == ""), verdict
    assert fragment in verdict.reason


def test_offered_tools_and_no_tools() -> None:
    assert offered_tools(TASK) == ["Search", "Scraper", "QA"]
    assert check_plan(record_of(instruction="No tools.", response=PLAN)).reason == (
        "the task offers no tools"
    )


def test_checks_take_exported_rows() -> None:
    # curation runs the checks over exports too: a row read back is the same record
    row = json.loads(json.dumps({"instruction": TASK, "response": PLAN, "category": "plan"}))
    assert check_plan(record_from_row(row)).ok
