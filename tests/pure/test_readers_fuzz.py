"""Dataset readers against hostile bytes: every bad line is one counted problem, every good
row is kept, the file is never changed, and nothing escapes as an exception."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airloom.configfile import MAX_EXPANDED_VALUES, parse_yaml
from airloom.curate import sources
from airloom.curate.sources import MAX_PROBLEMS, read_dataset
from airloom.errors import ConfigError, StoreError

GOOD = st.builds(
    lambda n, text: json.dumps({"instruction": f"q{n} {text}", "response": "a"}).encode(),
    st.integers(0, 10**6),
    st.text(max_size=30),
)
BAD = st.one_of(
    st.binary(min_size=1, max_size=60).filter(lambda b: b"\n" not in b and b.strip()),
    st.just(b'{"instruction": "\\ud800", "response": "x"}'),  # a lone surrogate
    st.just(b'{"instruction": "a", "response": "\\udfff tail"}'),
    st.integers(65, 3000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.just(b"\xff\xfe\x00\x01 binary"),
    st.just(b'{"instruction": "caf\xc3", "response": "x"}'),  # cut inside a character
    st.just(b'["not", "a", "row"]'),
)


def _bad_is_bad(line: bytes) -> bool:
    """A BAD sample that happens to be a valid row is counted as good."""
    try:
        row = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return True
    return sources.row_problem(row) is not None or not (
        isinstance(row, dict)
        and isinstance(row.get("instruction"), str)
        and isinstance(row.get("response"), str)
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=st.lists(st.tuples(st.booleans(), GOOD, BAD), min_size=1, max_size=12))
def test_bad_lines_are_counted_good_rows_kept_and_the_file_untouched(tmp_path, lines):
    chosen = [good if pick else bad for pick, good, bad in lines]
    path = tmp_path / "fuzz.jsonl"
    content = b"\n".join(chosen) + b"\n"
    path.write_bytes(content)
    data = read_dataset(path)
    bad = sum(1 for line in chosen if _bad_is_bad(line))
    assert data.problem_count == bad == len(data.problems)
    assert len(data.records) == len(chosen) - bad
    assert path.read_bytes() == content
    for problem in data.problems:
        assert problem.startswith("fuzz.jsonl line ") and "\n" not in problem


def test_a_huge_line_is_skipped_without_reading_it_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "MAX_LINE_BYTES", 1 << 20)
    path = tmp_path / "big.jsonl"
    good = json.dumps({"instruction": "q", "response": "a"}).encode()
    path.write_bytes(good + b"\n" + b'{"instruction": "' + b"x" * (5 << 20) + b'"}\n' + good)
    started = time.monotonic()
    data = read_dataset(path)
    assert time.monotonic() - started < 5
    assert len(data.records) == 2
    assert data.problems == ["big.jsonl line 2: the line is longer than 1 MiB"]


def test_a_record_over_the_text_cap_is_refused(tmp_path):
    path = tmp_path / "long.jsonl"
    long_row = {"instruction": "q", "response": "x" * (sources.MAX_RECORD_CHARS + 1)}
    path.write_text(json.dumps(long_row) + "\n" + json.dumps({"instruction": "q", "response": "a"}))
    data = read_dataset(path)
    assert len(data.records) == 1 and "more than 1,048,576 characters" in data.problems[0]


def test_nesting_two_hundred_thousand_deep_is_one_problem(tmp_path):
    path = tmp_path / "deep.jsonl"
    path.write_bytes(b"[" * 200_000 + b"]" * 200_000 + b'\n{"instruction": "q", "response": "a"}\n')
    data = read_dataset(path)
    assert len(data.records) == 1 and data.problem_count == 1


def test_problem_lists_are_bounded_and_counted(tmp_path):
    path = tmp_path / "many.jsonl"
    path.write_bytes(b"nope\n" * (MAX_PROBLEMS * 3))
    data = read_dataset(path)
    assert data.problem_count == MAX_PROBLEMS * 3 and len(data.problems) == MAX_PROBLEMS


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'[{"instruction": "\xff"}]', "is not UTF-8 text"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"a": 1}', None),  # one object: read as JSON lines, one bad row
    ],
)
def test_json_array_files(tmp_path, content, message):
    path = tmp_path / "rows.json"
    path.write_bytes(content)
    if message is None:
        assert read_dataset(path).problem_count == 1
        return
    with pytest.raises(StoreError, match=message):
        read_dataset(path)
    assert path.read_bytes() == content


def test_a_binary_db_file_is_not_read_as_json_lines(tmp_path):
    path = tmp_path / "looks.db"
    path.write_bytes(b"\x00\x01binary" * 100)
    with pytest.raises(StoreError, match="not an SQLite store"):
        read_dataset(path)


BOMB = "\n".join(
    ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 9)]
)


def test_a_yaml_alias_bomb_is_refused_at_once():
    started = time.monotonic()
    with pytest.raises(ConfigError, match=f"more than {MAX_EXPANDED_VALUES:,} values"):
        parse_yaml(BOMB, "bomb.yaml")
    assert time.monotonic() - started < 2


def test_ordinary_aliases_still_work_with_line_numbers():
    text = "base: &p {temperature: 0.5}\ninstructors:\n  general: {api_params: *p}\n"
    data, lines = parse_yaml(text)
    assert data["instructors"]["general"]["api_params"] == {"temperature": 0.5}
    assert lines[("instructors", "general", "api_params")] == 3
    assert lines[("base", "temperature")] == 1
