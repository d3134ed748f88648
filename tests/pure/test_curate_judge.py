"""Judge: strict verdict parsing, rubrics per category, judge identity; cull decisions."""

from __future__ import annotations

import numpy as np
import pytest

from airloom.curate.cluster import UnionFind, near_duplicate_clusters, similarity_edges
from airloom.curate.cull import decide, summarise
from airloom.curate.judge import Rubric, judge_method, parse_verdict, rubric_name
from airloom.curate.ledger import Verdict
from airloom.errors import ConfigError, ParseError
from tests.support.records import record_of


@pytest.mark.parametrize(
    ("reply", "status", "score"),
    [
        ("GOOD", "good", None),
        ("  BAD\n", "bad", None),
        ('{"score": 85, "reason": "ok"}', "good", 85.0),
        ('{"score": 79.5}', "bad", 79.5),
        ("80", "good", 80.0),
        ("0", "bad", 0.0),
        ('```json\n{"score": 100, "reason": "perfect"}\n```', "good", 100.0),
        ('```\n{"score": 12}\n```', "bad", 12.0),
        ('{"score": 90, "reason": {"why": "nested"}}', "good", 90.0),
    ],
)
def test_verdicts_that_parse(reply, status, score):
    verdict = parse_verdict(reply, threshold=80)
    assert (verdict.status, verdict.score) == (status, score)


@pytest.mark.parametrize(
    "reply",
    [
        "NOT GOOD",  # the original's substring test passed this
        "GOOD.",
        "good",
        "Verdict: GOOD",
        "The response is GOOD.",
        "GOOD\nBAD",
        "",
        "I would rate this 85/100.",
        '{"reason": "no score"}',
        '{"score": "90"}',
        '{"score": true}',
        '{"score": 101}',
        '{"score": -1}',
        '{"score": NaN}',
        'Here you go: {"score": 90}',
        '{"score": 90} {"score": 10}',
        '```json\n{"score": 90}',  # unclosed fence
        "[90]",
        "null",
    ],
)
def test_anything_else_is_an_error_never_a_pass(reply):
    with pytest.raises(ParseError):
        parse_verdict(reply, threshold=0)


def test_threshold_decides_scores_but_not_words():
    assert parse_verdict('{"score": 50}', threshold=50).status == "good"
    assert parse_verdict('{"score": 49.9}', threshold=50).status == "bad"
    assert parse_verdict("GOOD", threshold=100).status == "good"


@pytest.mark.parametrize(
    ("record", "rubric"),
    [
        (record_of(category="coding"), "coding"),
        (record_of(category="contextual"), "contextual"),
        (record_of(category="counterfactual_contextual"), "contextual"),
        (record_of(category="orca"), "reasoning"),
        (record_of(category="writing"), "creative"),
        (record_of(category="general"), "default"),
        (record_of(category="something_new"), "default"),
        (
            record_of(category="rp", conversation=[{"role": "user", "content": "hi"}]),
            "conversation",
        ),
    ],
)
def test_rubric_per_category(record, rubric):
    assert rubric_name(record) == rubric


def test_rendered_prompt_has_the_category_criteria_system_and_plainformat_note():
    rubric = Rubric.load()
    coding = rubric.render(
        record_of(
            category="coding",
            instruction="Write a TCP server in C. PLAINFORMAT",
            response="int main(){}",
            system="You are terse.",
        )
    )
    assert rubric.criteria["coding"].splitlines()[0] in coding
    assert "SYSTEM PROMPT GIVEN TO THE ASSISTANT:\nYou are terse." in coding
    assert "respects the system prompt" in coding
    assert "Write a TCP server in C.\n(The answer must be only the code" in coding
    assert "INSTRUCTION:\nWrite a TCP server in C. PLAINFORMAT" not in coding
    general = rubric.render(record_of(category="general", instruction="Hi", response="Hello"))
    assert "respects the system prompt" not in general
    assert rubric.criteria["default"].splitlines()[0] in general
    conversation = rubric.render(
        record_of(
            category="rp",
            instruction="a",
            response="d",
            conversation=[
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": "b"},
                {"role": "user", "content": "c"},
                {"role": "assistant", "content": "d"},
            ],
        )
    )
    assert "CONVERSATION:\nUSER: a\n\nASSISTANT: b\n\nUSER: c\n\nASSISTANT: d" in conversation


def test_custom_frame_must_have_a_transcript(tmp_path):
    frame = tmp_path / "judge.txt"
    frame.write_text("Rate it: {criteria}")
    with pytest.raises(ConfigError, match="transcript"):
        Rubric.load(frame)
    frame.write_text("Rate {transcript} with {unknown}")
    with pytest.raises(ConfigError, match="cannot be filled"):
        Rubric.load(frame).render(record_of(category="general", instruction="a", response="b"))
    with pytest.raises(ConfigError, match="does not exist"):
        Rubric.load(tmp_path / "missing.txt")


def test_judge_identity_changes_with_model_params_rubric_threshold():
    base = judge_method("m", {"temperature": 0}, "frame", 80)
    assert base == judge_method("m", {"temperature": 0}, "frame", 80)
    assert base != judge_method("n", {"temperature": 0}, "frame", 80)
    assert base != judge_method("m", {"temperature": 1}, "frame", 80)
    assert base != judge_method("m", {"temperature": 0}, "frame2", 80)
    assert base != judge_method("m", {"temperature": 0}, "frame", 90)


# ---- clusters and cull decisions ----------------------------------------------------------


def v(status, score=None):
    return Verdict("judge", "h", "m", "id", "c", status, score)


def test_union_find_joins_transitively_and_names_by_first_member():
    sets = UnionFind(6)
    sets.union(4, 2)
    sets.union(2, 5)
    sets.union(1, 3)
    assert sets.labels() == [0, 1, 2, 1, 2, 2]


def test_chain_of_neighbours_is_one_cluster_and_scopes_stay_apart():
    angles = np.radians([0.0, 5.0, 10.0, 90.0])
    vectors = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    # 0~1 and 1~2 are within 5 degrees (cos 0.996); 0 and 2 are not (cos 0.985)
    assert near_duplicate_clusters(vectors, ["a"] * 4, {"a": 0.995}) == [0, 0, 0, 3]
    assert near_duplicate_clusters(vectors, ["a", "b", "a", "b"], {"a": 0.995, "b": 0.995}) == [
        0,
        1,
        2,
        3,
    ]


def test_exact_keys_join_records_without_embeddings():
    vectors = np.zeros((3, 4), dtype=np.float32)
    clusters = near_duplicate_clusters(vectors, ["a"] * 3, {"a": 0.9}, exact_keys=["x", "y", "x"])
    assert clusters == [0, 1, 0]
    assert similarity_edges(vectors, [0, 1, 2], 0.0, 5) == []


def test_max_k_limits_neighbours_searched():
    angles = np.radians([0.0, 1.0, 3.0, 6.0, 10.0])
    vectors = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    edges = similarity_edges(vectors, list(range(5)), 0.9, max_k=1)
    assert [(a, b) for a, b, _ in edges] == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert len(similarity_edges(vectors, list(range(5)), 0.9, max_k=10)) == 10


def test_best_judged_is_kept_not_the_longest_and_ties_go_to_the_earliest():
    decisions = decide(
        [0, 0, 0, 3, 3], [v("good", 70), v("good", 90), v("good", 90), v("good"), v("good", 100)]
    )
    assert [d.kept for d in decisions] == [False, True, False, True, False]
    assert decisions[0].reason == "near-duplicate of #1 (judged better)"
    assert decisions[2].reason == "near-duplicate of #1 (judged as good, earlier)"
    assert decisions[4].duplicate_of == 3  # GOOD without a score counts as 100: the earlier wins


def test_bad_errors_and_unjudged_are_dropped_with_reasons():
    decisions = decide(
        [0, 0, 2, 3],
        [
            v("bad", 10),
            v("error"),
            None,
            Verdict("judge", "h", "m", "i", "c", "error", None, "unparseable"),
        ],
    )
    assert [d.kept for d in decisions] == [False, False, False, False]
    assert decisions[0].reason == "judged bad (score 10)"
    assert decisions[2].reason == "not judged"
    assert decisions[3].reason == "judge error: unparseable"
    assert summarise(decisions) == {"judged bad": 1, "judge error": 2, "not judged": 1}


def test_a_bad_member_does_not_hide_a_good_one():
    decisions = decide([0, 0], [v("bad", 99), v("good", 81)])
    assert [d.kept for d in decisions] == [False, True]
