"""``log_extraction``: questions about synthetic logs, answers checked against the log.

The logs are written by code (web server access logs in the combined format, sshd
auth logs), ``min_lines``–``max_lines`` lines each, with IP addresses from the
documentation and private ranges; the question is drawn from the templates of
:mod:`airloom.checks.logs` with parameters that make its answer non-empty (distinct IPs
with a status, requests of a method, paths of an IP, the IP at a time, failed logins of
a user, …). The instruction is a closed-context prompt (the log as the input block,
its file name as metadata) and the teacher writes only the answer, which must name
exactly the true items or state the true count (``check_log_answer``). Generated logs
look alike to an embedder by design, so the dedup threshold defaults to exact
duplicates only (``similarity_threshold: 1.0``).

One round = ``batch_size`` items, one teacher call each.

Example:
    >>> instruction = make_item(random.Random(5), LogExtractionConfig())[0]
    >>> instruction.startswith("BEGININPUT"), instruction.endswith("ENDINSTRUCTION")
    (True, True)
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from airloom.checks.logs import (
    QUESTIONS,
    Entry,
    LogFormat,
    Question,
    expected_answer,
    render_apache,
    render_sshd,
)
from airloom.formats.closed_context import InputBlock, build_closed_context
from airloom.instructors.base import REFUSALS_ONLY, Draft, Instructor, RoundContext
from airloom.instructors.checked import enforce
from airloom.instructors.settings.log_extraction import LogExtractionConfig
from airloom.instructors.verified import item_rngs, strip_preamble
from airloom.reasons import Reason

__all__ = [
    "AGENTS",
    "METHODS",
    "MONTHS",
    "NETWORKS",
    "PATHS",
    "SOURCES",
    "STATUSES",
    "USERS",
    "LogExtractionInstructor",
    "choose_question",
    "make_item",
    "synth_apache",
    "synth_sshd",
]

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
PATHS = (
    "/",
    "/index.html",
    "/about",
    "/contact",
    "/login",
    "/api/v1/users",
    "/api/v1/orders",
    "/static/app.js",
    "/static/style.css",
    "/images/logo.png",
    "/search",
    "/cart",
    "/checkout",
    "/admin",
    "/robots.txt",
    "/docs/getting-started",
)
METHODS = ("GET",) * 7 + ("POST",) * 2 + ("PUT", "DELETE", "HEAD")
STATUSES = ("200",) * 6 + ("301", "304", "403", "404", "404", "500")
USERS = ("root", "admin", "alice", "bob", "deploy", "git", "ubuntu", "carol", "backup")
AGENTS = ("Mozilla/5.0 (X11; Linux x86_64)", "curl/8.4.0", "Googlebot/2.1", "python-requests/2.31")
NETWORKS = ("203.0.113", "198.51.100", "192.0.2", "10.0.4", "172.16.9")
SOURCES: dict[LogFormat, str] = {
    "apache": "/var/log/apache2/access.log",
    "sshd": "/var/log/auth.log",
}


def _ips(rng: random.Random) -> list[str]:
    pool: set[str] = set()
    size = rng.randint(3, 6)
    while len(pool) < size:
        pool.add(f"{rng.choice(NETWORKS)}.{rng.randint(2, 250)}")
    return sorted(pool)


def _clock(rng: random.Random) -> tuple[int, int, int, int]:
    return rng.randrange(12), rng.randint(1, 28), rng.randrange(20 * 3600), rng.randint(2021, 2024)


def synth_apache(rng: random.Random, count: int) -> tuple[list[Entry], list[str]]:
    """Access-log entries and their lines (strictly increasing times).

    Example:
        >>> entries, lines = synth_apache(random.Random(1), 3)
        >>> len(set(e.time for e in entries)), lines[0].count('"')
        (3, 6)
    """
    ips = _ips(rng)
    month, day, seconds, year = _clock(rng)
    entries, lines = [], []
    for _ in range(count):
        seconds += rng.randint(1, 90)
        h, m, s = seconds // 3600 % 24, seconds // 60 % 60, seconds % 60
        stamp = f"{day:02d}/{MONTHS[month]}/{year}:{h:02d}:{m:02d}:{s:02d} +0000"
        entry = Entry(
            "apache",
            rng.choice(ips),
            stamp,
            rng.choice(METHODS),
            rng.choice(PATHS),
            rng.choice(STATUSES),
        )
        entries.append(entry)
        lines.append(render_apache(entry, rng.randint(0, 40000), rng.choice(AGENTS)))
    return entries, lines


def synth_sshd(rng: random.Random, count: int) -> tuple[list[Entry], list[str]]:
    """Auth-log entries (failed and accepted logins) and their lines.

    Example:
        >>> entries, lines = synth_sshd(random.Random(2), 4)
        >>> all(" sshd[" in line for line in lines)
        True
    """
    ips = _ips(rng)
    month, day, seconds, _ = _clock(rng)
    host = rng.choice(("web01", "db-2", "gateway", "build"))
    entries, lines = [], []
    for _ in range(count):
        seconds += rng.randint(1, 600)
        h, m, s = seconds // 3600 % 24, seconds // 60 % 60, seconds % 60
        stamp = f"{MONTHS[month]} {day:>2} {h:02d}:{m:02d}:{s:02d}"
        result = "Accepted" if rng.random() < 0.35 else "Failed"
        entry = Entry("sshd", rng.choice(ips), stamp, user=rng.choice(USERS), result=result)
        entries.append(entry)
        lines.append(render_sshd(entry, host, rng.randint(1000, 65000), rng.randint(1024, 65535)))
    return entries, lines


def _params(question: Question, entries: Sequence[Entry], rng: random.Random) -> dict[str, str]:
    if question.name == "ips_with_status":
        return {"status": rng.choice(sorted({e.status for e in entries}))}
    if question.name == "count_method":
        return {"method": rng.choice(sorted({e.method for e in entries}))}
    if question.name == "paths_of_ip":
        return {"ip": rng.choice(sorted({e.ip for e in entries}))}
    if question.name == "ip_at_time":
        return {"time": rng.choice(entries).time}
    if question.name == "failed_ips_for_user":
        failed = sorted({e.user for e in entries if e.result == "Failed"})
        return {"user": rng.choice(failed)} if failed else {"user": "nobody"}
    if question.name == "users_from_ip":
        accepted = sorted({e.ip for e in entries if e.result == "Accepted"})
        return {"ip": rng.choice(accepted)} if accepted else {"ip": "0.0.0.0"}
    return {}


def choose_question(
    entries: Sequence[Entry], fmt: LogFormat, rng: random.Random
) -> tuple[Question, dict[str, str]] | None:
    """A question of the log's format whose true answer is not empty (or zero).

    Example:
        >>> entries, _ = synth_apache(random.Random(3), 10)
        >>> choose_question(entries, "apache", random.Random(3))[0].fmt
        'apache'
    """
    candidates = [q for q in QUESTIONS.values() if q.fmt == fmt]
    rng.shuffle(candidates)
    for question in candidates:
        params = _params(question, entries, rng)
        if expected_answer(question, params, entries):
            return question, params
    return None


def make_item(rng: random.Random, config: LogExtractionConfig) -> tuple[str, str] | None:
    """One (instruction, question name), or None when no question fits the log.

    Example:
        >>> make_item(random.Random(8), LogExtractionConfig())[1] in QUESTIONS
        True
    """
    fmt: LogFormat = rng.choice(config.formats)
    count = rng.randint(config.min_lines, config.max_lines)
    entries, lines = (synth_apache if fmt == "apache" else synth_sshd)(rng, count)
    chosen = choose_question(entries, fmt, rng)
    if chosen is None:
        return None
    question, params = chosen
    block = InputBlock({"source": SOURCES[fmt]}, "\n".join(lines))
    return build_closed_context([block], question.render(**params)), question.name


class LogExtractionInstructor(Instructor):
    """Questions about generated logs; answers verified against the log lines."""

    name = "log_extraction"
    config_model = LogExtractionConfig

    def _config(self) -> LogExtractionConfig:
        config = self.config
        assert isinstance(config, LogExtractionConfig)
        return config

    async def run_round(self, ctx: RoundContext) -> list[Draft]:
        config = self._config()
        items = []
        for index, rng in enumerate(item_rngs(ctx.rng, self.settings.batch_size)):
            made = make_item(rng, config)
            if made is None:
                ctx.reject(Reason.NO_QUESTION, "no question has a non-empty answer for this log")
            else:
                items.append((index, *made))
        novel = await ctx.novel([instruction for _, instruction, _ in items])
        fresh = [item for item, ok in zip(items, novel, strict=True) if ok]
        template = self.settings.template("log_extraction_response.txt", response=True)

        async def answer(item: tuple[int, str, str]) -> Draft:
            index, instruction, question = item
            text = await ctx.complete(
                template.render(instruction=instruction),
                key=f"answer:{index}",
                filtered=REFUSALS_ONLY,
            )
            draft = Draft(
                instruction=instruction, response=strip_preamble(text), meta={"question": question}
            )
            return enforce(self.name, draft)

        return await ctx.map(answer, fresh)
