"""Log information extraction: logs, questions with computable answers, answer checks.

A log_extraction record is a closed-context prompt whose input block is a log (web
server access log or sshd auth log) and whose instruction is one question from
:data:`QUESTIONS`. Every question template can be parsed back, and its true answer is
computed from the log lines themselves, so a record is verifiable from its text alone:

* a set of IP addresses / paths / user names: the answer must name exactly that set
  (every expected item, and no other item of that kind that occurs in the log);
* a count: the number must appear in the answer (as digits or a word up to twenty);
* a single IP address: the only IP address the answer names.

Example:
    >>> log = "\\n".join([
    ...     '203.0.113.5 - - [12/Mar/2024:10:00:01 +0000] "GET /index.html HTTP/1.1" 200 512',
    ...     '198.51.100.7 - - [12/Mar/2024:10:00:09 +0000] "GET /missing HTTP/1.1" 404 0',
    ... ])
    >>> question = "List every distinct IP address that received a 404 response."
    >>> log_answer_verdict(log, question, "Only 198.51.100.7 got a 404.").ok
    True
    >>> log_answer_verdict(log, question, "203.0.113.5 and 198.51.100.7").reason
    'the answer names 203.0.113.5, which is not part of the expected answer'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from airloom.checks import Verdict
from airloom.errors import ParseError
from airloom.formats.closed_context import parse_closed_context
from airloom.formats.records import Record

__all__ = [
    "APACHE_RE",
    "IP_RE",
    "PATH_RE",
    "QUESTIONS",
    "SSHD_RE",
    "AnswerType",
    "Compute",
    "Entry",
    "LogFormat",
    "Question",
    "answer_verdict",
    "check_log_answer",
    "count_verdict",
    "expected_answer",
    "log_answer_verdict",
    "parse_log",
    "parse_question",
    "render_apache",
    "render_sshd",
]

LogFormat = Literal["apache", "sshd"]
AnswerType = Literal["ips", "paths", "users", "count", "ip"]

APACHE_RE = re.compile(
    r"^(?P<ip>\d{1,3}(?:\.\d{1,3}){3}) \S+ \S+ \[(?P<time>[^\]]+)\] "
    r'"(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) (?:\d+|-)'
)
SSHD_RE = re.compile(
    r"^(?P<time>[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d) \S+ sshd\[\d+\]: "
    r"(?P<result>Failed|Accepted) (?:password|publickey) for (?:invalid user )?(?P<user>\S+) "
    r"from (?P<ip>\d{1,3}(?:\.\d{1,3}){3}) port \d+"
)
IP_RE = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.]*\d)")
PATH_RE = re.compile(r"(?<![\w/.:])/[\w./%~+-]*")
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
_SMALL_NUMBERS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]


@dataclass(frozen=True, slots=True)
class Entry:
    """One parsed log line (fields a format lacks are empty)."""

    fmt: LogFormat
    ip: str
    time: str
    method: str = ""
    path: str = ""
    status: str = ""
    user: str = ""
    result: str = ""


def render_apache(entry: Entry, size: int = 512, agent: str = "Mozilla/5.0") -> str:
    """One access-log line in the combined format.

    Example:
        >>> render_apache(Entry("apache", "192.0.2.1", "01/Jan/2024:00:00:00 +0000", "GET",
        ...                     "/", "200"))
        '192.0.2.1 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 512 "-" "Mozilla/5.0"'
    """
    return (
        f'{entry.ip} - - [{entry.time}] "{entry.method} {entry.path} HTTP/1.1" '
        f'{entry.status} {size} "-" "{agent}"'
    )


def render_sshd(entry: Entry, host: str = "web01", pid: int = 2314, port: int = 52114) -> str:
    """One sshd auth-log line.

    Example:
        >>> render_sshd(Entry("sshd", "192.0.2.9", "Mar  3 10:15:32", user="root",
        ...                   result="Failed"))
        'Mar  3 10:15:32 web01 sshd[2314]: Failed password for root from 192.0.2.9 port 52114 ssh2'
    """
    return (
        f"{entry.time} {host} sshd[{pid}]: {entry.result} password for {entry.user} "
        f"from {entry.ip} port {port} ssh2"
    )


def parse_log(text: str) -> list[Entry]:
    """The recognised lines of a log (other lines are skipped).

    Example:
        >>> [e.user for e in parse_log("Mar  3 10:15:32 h sshd[1]: Accepted password for "
        ...                              "alice from 192.0.2.4 port 22 ssh2\\nnoise")]
        ['alice']
    """
    entries = []
    for line in text.splitlines():
        apache = APACHE_RE.match(line.strip())
        if apache:
            entries.append(Entry("apache", **apache.groupdict()))
            continue
        sshd = SSHD_RE.match(line.strip())
        if sshd:
            entries.append(Entry("sshd", **sshd.groupdict()))
    return entries


Compute = Callable[[Sequence[Entry], Mapping[str, str]], "frozenset[str] | int"]


@dataclass(frozen=True, slots=True)
class Question:
    """A question template, the log format it applies to, and how to answer it."""

    name: str
    fmt: LogFormat
    template: str
    answer_type: AnswerType
    compute: Compute
    #: For counts: words (templates over the parameters) of which the answer must use one.
    keywords: tuple[str, ...] = ()

    def render(self, **params: str) -> str:
        """The question text.

        Example:
            >>> QUESTIONS["count_method"].render(method="POST")
            'How many POST requests does the log contain?'
        """
        return self.template.format(**params)


def _ips_with_status(entries: Sequence[Entry], p: Mapping[str, str]) -> frozenset[str]:
    return frozenset(e.ip for e in entries if e.status == p["status"])


def _count_method(entries: Sequence[Entry], p: Mapping[str, str]) -> int:
    return sum(e.method == p["method"] for e in entries)


def _paths_of_ip(entries: Sequence[Entry], p: Mapping[str, str]) -> frozenset[str]:
    return frozenset(e.path for e in entries if e.ip == p["ip"])


def _ip_at_time(entries: Sequence[Entry], p: Mapping[str, str]) -> frozenset[str]:
    return frozenset(e.ip for e in entries if e.time == p["time"])


def _failed_for_user(entries: Sequence[Entry], p: Mapping[str, str]) -> frozenset[str]:
    return frozenset(e.ip for e in entries if e.result == "Failed" and e.user == p["user"])


def _count_accepted(entries: Sequence[Entry], p: Mapping[str, str]) -> int:
    return sum(e.result == "Accepted" for e in entries)


def _users_from_ip(entries: Sequence[Entry], p: Mapping[str, str]) -> frozenset[str]:
    return frozenset(e.user for e in entries if e.result == "Accepted" and e.ip == p["ip"])


def _failed_ips(entries: Sequence[Entry], p: Mapping[str, str]) -> frozenset[str]:
    return frozenset(e.ip for e in entries if e.result == "Failed")


QUESTIONS: dict[str, Question] = {
    q.name: q
    for q in (
        Question(
            "ips_with_status",
            "apache",
            "List every distinct IP address that received a {status} response.",
            "ips",
            _ips_with_status,
        ),
        Question(
            "count_method",
            "apache",
            "How many {method} requests does the log contain?",
            "count",
            _count_method,
            ("{method}",),
        ),
        Question("paths_of_ip", "apache", "Which paths did {ip} request?", "paths", _paths_of_ip),
        Question(
            "ip_at_time",
            "apache",
            "Which IP address made the request logged at {time}?",
            "ip",
            _ip_at_time,
        ),
        Question(
            "failed_ips_for_user",
            "sshd",
            "Which IP addresses had failed login attempts for the user {user}?",
            "ips",
            _failed_for_user,
        ),
        Question(
            "count_accepted",
            "sshd",
            "How many successful logins does the log record?",
            "count",
            _count_accepted,
            ("login", "logged", "success", "accepted", "sign-in", "signed in"),
        ),
        Question(
            "users_from_ip",
            "sshd",
            "Which users logged in successfully from {ip}?",
            "users",
            _users_from_ip,
        ),
        Question(
            "failed_ips",
            "sshd",
            "List every IP address with at least one failed login attempt.",
            "ips",
            _failed_ips,
        ),
    )
}


def _template_regex(template: str) -> re.Pattern[str]:
    body = re.escape(template)
    body = re.sub(r"\\\{(\w+)\\\}", lambda m: f"(?P<{m.group(1)}>.+?)", body)
    return re.compile(rf"^\s*{body}\s*$")


_QUESTION_PARSERS = [(q, _template_regex(q.template)) for q in QUESTIONS.values()]


def parse_question(text: str) -> tuple[Question, dict[str, str]] | None:
    """The question template and parameters of a question (first line that matches).

    Example:
        >>> q, params = parse_question("Which paths did 192.0.2.8 request?")
        >>> q.name, params
        ('paths_of_ip', {'ip': '192.0.2.8'})
    """
    for line in text.strip().splitlines():
        for question, pattern in _QUESTION_PARSERS:
            match = pattern.match(line)
            if match:
                return question, match.groupdict()
    return None


def expected_answer(
    question: Question, params: Mapping[str, str], entries: Sequence[Entry]
) -> frozenset[str] | int:
    """The true answer of a question over log entries.

    Example:
        >>> entries = parse_log('192.0.2.1 - - [t] "POST /a HTTP/1.1" 201 5')
        >>> expected_answer(QUESTIONS["count_method"], {"method": "POST"}, entries)
        1
    """
    return question.compute([e for e in entries if e.fmt == question.fmt], params)


_NOT_COUNTS_RE = re.compile(
    r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.]*\d)"  # IP addresses
    r"|\b\d{1,2}:\d{2}(?::\d{2})?\b"  # times of day
    r"|\b\d{1,2}/[A-Za-z]{3}/\d{4}\b|\+\d{4}\b"  # access-log dates and zones
    r"|\b(?:port|pid|sshd\[)\s*\d+"  # ports and process ids
    r"|(?<![\w/.:])/[\w./%~+-]*"  # paths
)


def _numbers(text: str) -> set[int]:
    text = _NOT_COUNTS_RE.sub(" ", text)
    found = {int(token) for token in re.findall(r"(?<![\d.])\d{1,6}(?![\d.]*\d)", text)}
    words = re.findall(r"[a-z]+", text.lower())
    found.update(_SMALL_NUMBERS.index(word) for word in words if word in _SMALL_NUMBERS)
    return found


def _mentioned(answer_type: AnswerType, answer: str, entries: Sequence[Entry]) -> set[str]:
    if answer_type in ("ips", "ip"):
        return set(IP_RE.findall(answer))
    if answer_type == "paths":
        known = {e.path for e in entries}
        return {path.rstrip(".,;:") for path in PATH_RE.findall(answer)} & known
    known = {e.user for e in entries}
    return set(_TOKEN_RE.findall(answer)) & known


def count_verdict(
    question: Question, expected: int, answer: str, params: Mapping[str, str]
) -> Verdict:
    """A count answer states the true count, no other number, and what it counts.

    Numbers inside IP addresses, times, dates, ports and paths are not counts.

    Example:
        >>> q = QUESTIONS["count_method"]
        >>> count_verdict(q, 2, "Two POST requests, at 10:00:01 and 10:02:00.", {"method": "POST"})
        Verdict(ok=True, reason='')
        >>> count_verdict(q, 2, "2 or 3 POST requests.", {"method": "POST"}).reason
        'the answer states 2, 3; the count is 2'
        >>> count_verdict(q, 1, "TSK 1.", {"method": "POST"}).reason
        'the answer does not say what it counts (POST)'
    """
    numbers = _numbers(answer)
    if expected not in numbers:
        return Verdict.failed(f"the answer does not state the count {expected}")
    if numbers != {expected}:
        shown = ", ".join(str(n) for n in sorted(numbers))
        return Verdict.failed(f"the answer states {shown}; the count is {expected}")
    words = [word.format(**params) for word in question.keywords]
    if words and not any(word.lower() in answer.lower() for word in words):
        return Verdict.failed(f"the answer does not say what it counts ({', '.join(words)})")
    return Verdict.passed()


def answer_verdict(
    question: Question,
    expected: frozenset[str] | int,
    answer: str,
    entries: Sequence[Entry],
    params: Mapping[str, str] | None = None,
) -> Verdict:
    """Check an answer against the expected value (see the module docstring).

    Example:
        >>> q = QUESTIONS["count_accepted"]
        >>> answer_verdict(q, 3, "Three logins succeeded.", []).ok
        True
        >>> answer_verdict(q, 3, "Two.", []).reason
        'the answer does not state the count 3'
    """
    if isinstance(expected, int):
        return count_verdict(question, expected, answer, params or {})
    mentioned = _mentioned(question.answer_type, answer, entries)
    missing = sorted(expected - mentioned)
    if missing:
        return Verdict.failed(f"the answer misses {', '.join(missing[:5])}")
    extra = sorted(mentioned - expected)
    if extra:
        return Verdict.failed(
            f"the answer names {', '.join(extra[:5])}, which is not part of the expected answer"
        )
    return Verdict.passed()


def log_answer_verdict(log: str, question_text: str, answer: str) -> Verdict:
    """Parse a log and a question, compute the truth, check the answer.

    Example:
        >>> log_answer_verdict("nothing here", "How many POST requests does the log "
        ...                    "contain?", "0").reason
        'no recognised log lines'
    """
    entries = parse_log(log)
    if not entries:
        return Verdict.failed("no recognised log lines")
    parsed = parse_question(question_text)
    if parsed is None:
        return Verdict.failed("the question is not one of the known log questions")
    question, params = parsed
    truth = expected_answer(question, params, entries)
    return answer_verdict(question, truth, answer, entries, params)


def check_log_answer(record: Record) -> Verdict:
    """The answer of a log_extraction record matches what the log really says.

    Example:
        >>> from airloom.formats.records import make_record
        >>> instruction = ("BEGININPUT\\nBEGINCONTEXT\\nsource: /var/log/auth.log\\nENDCONTEXT\\n"
        ...   "Mar  3 10:15:32 web01 sshd[7]: Failed password for root from 192.0.2.9 port 22 "
        ...   "ssh2\\nENDINPUT\\nBEGININSTRUCTION\\nList every IP address with at least one "
        ...   "failed login attempt.\\nENDINSTRUCTION")
        >>> check_log_answer(make_record(instruction=instruction, response="192.0.2.9")).ok
        True
    """
    try:
        prompt = parse_closed_context(record.instruction, strict=False)
    except ParseError as exc:
        return Verdict.failed(f"the instruction is not a closed-context prompt: {exc.message}")
    log = "\n".join(block.text for block in prompt.blocks)
    return log_answer_verdict(log, prompt.instruction, record.response)
