"""Typed config: YAML loading, clear errors with file and line, --set, original keys."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airloom.config import DEFAULT_RESPONSE_FILTERS, IGNORED_KEYS, ORIGINAL_SAMPLING, Config
from airloom.config_example import render_example
from airloom.config_load import load_config, load_config_text
from airloom.configfile import parse_override, parse_yaml
from airloom.errors import ConfigError
from airloom.instructors.coding import CodingConfig
from airloom.instructors.contextual import ContextualConfig
from airloom.instructors.registry import available_instructors


def load(text: str, **kwargs: object) -> Config:
    return load_config_text(textwrap.dedent(text), source="run.yaml", **kwargs)  # type: ignore[arg-type]


def error_of(text: str, overrides: tuple[str, ...] = ()) -> str:
    with pytest.raises(ConfigError) as info:
        load(text, overrides=overrides)
    return str(info.value)


# ---- typed values ------------------------------------------------------------------------
def test_yaml_to_typed_config() -> None:
    cfg = load(
        """
        model: my-model
        base_url: http://127.0.0.1:8000/v1
        default_count: 7
        concurrency:
          max_requests: 3
          adaptive: false
        api_params:
          temperature: 0.5
          top_k: 40
        instructors:
          general:
            count: 2
          coding:
            plain_ratio: 0.25
        """
    )
    assert (cfg.model, cfg.base_url, cfg.default_count) == (
        "my-model",
        "http://127.0.0.1:8000/v1",
        7,
    )
    assert cfg.concurrency.max_requests == 3 and cfg.concurrency.adaptive is False
    assert cfg.api_params.temperature == 0.5
    # endpoint-specific sampling parameters pass through
    assert cfg.api_params.merged(None) == {**ORIGINAL_SAMPLING, "temperature": 0.5, "top_k": 40}
    assert cfg.instructor_count("general") == 2
    assert cfg.instructor_count("coding") == 7  # default_count
    assert cfg.instructor_count("contextual") == 0  # absent: not generated
    coding = cfg.instructors["coding"]
    assert isinstance(coding, CodingConfig) and coding.plain_ratio == 0.25


def test_defaults_and_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    for cfg in (load(""), load("# only a comment\n"), load_config(empty), load_config(None)):
        assert cfg.default_count == 100
        assert cfg.default_batch_size == 5
        assert cfg.instructors == {}
        assert cfg.response_filters == list(DEFAULT_RESPONSE_FILTERS)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"does not exist") as info:
        load_config(tmp_path / "nope.yaml")
    assert "config example" in (info.value.hint or "")


def test_api_params_merge_is_shallow_override() -> None:
    cfg = load(
        """
        api_params: {temperature: 1.0, top_p: 0.5}
        instructors:
          general:
            api_params: {temperature: 0.2, presence_penalty: 1.5}
        """
    )
    merged = cfg.api_params.merged(cfg.instructors["general"].api_params)
    expected = {"temperature": 0.2, "top_p": 0.5, "presence_penalty": 1.5}
    assert merged == {**ORIGINAL_SAMPLING, **expected}


# ---- unknown keys: name, file, line, suggestion -----------------------------------------
UNKNOWN = [
    ("top level", "model: m\nmodle: x\n", 2, "modle", "model"),
    ("nested", "concurrency:\n  max_reqests: 3\n", 2, "concurrency.max_reqests", "max_requests"),
    (
        "instructor key",
        "instructors:\n  coding:\n    count: 1\n    plain_ration: 1\n",
        4,
        "instructors.coding.plain_ration",
        "plain_ratio",
    ),
    (
        "contextual key",
        "instructors:\n  contextual:\n    context_style: [a]\n",
        3,
        "instructors.contextual.context_style",
        "context_styles",
    ),
    (
        "endpoint key",
        "endpoints:\n  big:\n    base_url: http://h/v1\n    max_concurency: 2\n",
        4,
        "endpoints.big.max_concurency",
        "max_concurrency",
    ),
    (
        "price key",
        "budget:\n  prices:\n    gpt-4o:\n      inptu: 1\n",
        4,
        "budget.prices.gpt-4o.inptu",
        "input",
    ),
    (
        "sampling typo",
        "api_params:\n  temprature: 0.3\n",
        2,
        "api_params.temprature",
        "temperature",
    ),
    (
        "instructor sampling typo",
        "instructors:\n  general:\n    api_params:\n      max_token: 9\n",
        4,
        "instructors.general.api_params.max_token",
        "max_tokens",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "key", "suggestion"), [c[1:] for c in UNKNOWN], ids=[c[0] for c in UNKNOWN]
)
def test_unknown_key_names_key_file_line_and_suggestion(
    text: str, line: int, key: str, suggestion: str
) -> None:
    message = error_of(text)
    assert f"run.yaml line {line}" in message
    assert f"unknown key '{key}'" in message
    assert f"did you mean '{suggestion}'" in message


def test_unknown_instructor_lists_known_ones() -> None:
    message = error_of("instructors:\n  general: {}\n  codin:\n    count: 1\n")
    assert "run.yaml line 3" in message
    assert "unknown instructor 'codin'" in message
    assert "did you mean 'coding'" in message
    for name in available_instructors():
        assert name in message


def test_unknown_key_far_from_anything_has_no_suggestion() -> None:
    message = error_of("zzzzqqq: 1\n")
    assert "unknown key 'zzzzqqq'" in message and "did you mean" not in message


def test_every_problem_is_reported_at_once() -> None:
    message = error_of("modle: x\ndefault_count: -1\ninstructors:\n  generl: {}\n")
    assert message.startswith("3 problems")
    lines = message.splitlines()
    assert any("line 1" in x and "modle" in x for x in lines)
    assert any("line 2" in x and "default_count" in x for x in lines)
    assert any("line 4" in x and "generl" in x for x in lines)


# ---- wrong types and ranges ----------------------------------------------------------
BAD_VALUES = [
    ("default_count: -1\n", 1, "default_count", "greater than or equal to 0"),
    ("default_batch_size: 0\n", 1, "default_batch_size", "greater than or equal to 1"),
    ("default_count: many\n", 1, "default_count", "valid integer"),
    ("min_docsearch_score: 5\n", 1, "min_docsearch_score", "less than or equal to 4"),
    ("api_params:\n  temperature: 3\n", 2, "api_params.temperature", "less than or equal to 2"),
    ("api_params:\n  top_p: 0\n", 2, "api_params.top_p", "greater than 0"),
    ("concurrency:\n  max_requests: 0\n", 2, "concurrency.max_requests", "greater than or equal"),
    ("retry:\n  max_attempts: 500\n", 2, "retry.max_attempts", "less than or equal to 50"),
    ("dedup:\n  scope: planet\n", 2, "dedup.scope", "'global' or 'category'"),
    ("backend: magic\n", 1, "backend", "'auto'"),
    ("overwrite: perhaps\n", 1, "overwrite", "valid boolean"),
    ("concurrency: 3\n", 1, "concurrency", "valid dictionary"),
    ("response_filters: ['(unclosed']\n", 1, "response_filters", "invalid regular expression"),
    (
        "instructors:\n  coding:\n    plain_ratio: 1.5\n",
        3,
        "instructors.coding.plain_ratio",
        "less than or equal to 1",
    ),
    (
        "instructors:\n  coding:\n    coding_languages: []\n",
        3,
        "instructors.coding.coding_languages",
        "at least one language",
    ),
    (
        "instructors:\n  general:\n    count: -3\n",
        3,
        "instructors.general.count",
        "greater than or equal to 0",
    ),
    (
        "instructors:\n  general:\n    response_filters: ['a(']\n",
        3,
        "instructors.general.response_filters",
        "invalid regular expression",
    ),
]


@pytest.mark.parametrize(("text", "line", "key", "fragment"), BAD_VALUES)
def test_bad_value_is_one_clear_line(text: str, line: int, key: str, fragment: str) -> None:
    message = error_of(text)
    assert "\n" not in message  # one problem, one line
    assert message.startswith(f"run.yaml line {line}: '{key}'")
    assert fragment in message


# ---- YAML-level problems ----------------------------------------------------------------
def test_duplicate_keys_name_both_lines() -> None:
    message = error_of("model: a\nlanguage: English\nmodel: b\n")
    assert "duplicate key 'model' at line 3 (first at line 1)" in message
    nested = error_of("instructors:\n  general:\n    count: 1\n    count: 2\n")
    assert "duplicate key 'count' at line 4 (first at line 3)" in nested


def test_invalid_yaml_has_line_and_column() -> None:
    message = error_of("model: m\nlanguage: [English\n")
    assert message.startswith("run.yaml line 3, column 1: invalid YAML")
    tab = error_of("model: m\n\tlanguage: x\n")
    assert re.match(r"run\.yaml line 2, column \d+: invalid YAML", tab)


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_top_level_must_be_a_mapping(text: str) -> None:
    assert "top level must be a mapping" in error_of(text)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("? [a]\n: 1\n", "key at line 1 is a list"),
        ("{[1]: 2}\n", "key at line 1 is a list"),
        ("a: &x [*x]\n", "contains itself through an anchor"),
        ("a: &x {b: *x}\n", "recursive"),
        ("a: " + "[" * 3000 + "]" * 3000 + "\n", "nested too deeply"),
        ("!!python/object:os.system x\n", "invalid YAML"),
    ],
)
def test_hostile_yaml_is_a_config_error(text: str, fragment: str) -> None:
    assert fragment in error_of(text)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                [
                    "model",
                    "instructors",
                    "general",
                    "api_params",
                    ":",
                    " ",
                    "\n",
                    "  ",
                    "- ",
                    "&a ",
                    "*a",
                    "[",
                    "]",
                    "{",
                    "}",
                    "? ",
                    "!!",
                    "1",
                    "'",
                    '"',
                    "#",
                    ",",
                    "---",
                ]
            ),
            st.text(max_size=8),
        ),
        max_size=30,
    ).map("".join)
)
def test_free_text_config_raises_only_config_errors(text: str) -> None:
    try:
        load_config_text(text, source="fuzz.yaml")
    except ConfigError as exc:
        # one problem: the message says where; several: each listed line says where
        head, *listed = str(exc).split("\n  ")
        places = listed if re.fullmatch(r"\d+ problems in the config", head) else [head]
        assert places and all(p.startswith(("fuzz.yaml", "--set")) for p in places), str(exc)


# ---- --set overrides ---------------------------------------------------------------------
def test_set_overrides_dotted_new_sections_and_types() -> None:
    cfg = load(
        "default_count: 5\n",
        overrides=(
            "default_count=9",
            "instructors.general.count=3",
            "concurrency.adaptive=false",
            "min_docsearch_score=0.1",
            "response_filters=[foo, bar]",
            "model=my-model",
            "api_params.top_k=20",
        ),
    )
    assert cfg.default_count == 9
    assert cfg.instructor_count("general") == 3
    assert cfg.concurrency.adaptive is False
    assert cfg.min_docsearch_score == 0.1
    assert cfg.response_filters == ["foo", "bar"]
    assert cfg.model == "my-model"
    assert cfg.api_params.merged(None) == {**ORIGINAL_SAMPLING, "top_k": 20}


def test_set_into_an_empty_instructor_section() -> None:
    cfg = load("instructors:\n  general:\n", overrides=("instructors.general.batch_size=2",))
    assert cfg.instructor_batch_size("general") == 2


@pytest.mark.parametrize(
    ("assignment", "parts", "value"),
    [
        ("a=1", ["a"], 1),
        ("a.b=1.5", ["a", "b"], 1.5),
        ("a=true", ["a"], True),
        ("a=[1, 2]", ["a"], [1, 2]),
        ("a={x: 1}", ["a"], {"x": 1}),
        ("a=", ["a"], None),
        ("a=x=y", ["a"], "x=y"),
        ("a=[unclosed", ["a"], "[unclosed"),
        (" a . b =hello", ["a", "b"], "hello"),
    ],
)
def test_parse_override(assignment: str, parts: list[str], value: object) -> None:
    assert parse_override(assignment) == (parts, value)


@pytest.mark.parametrize("assignment", ["a", "=1", "a..b=1", ".a=1"])
def test_malformed_set_is_an_error(assignment: str) -> None:
    with pytest.raises(ConfigError, match="--set"):
        parse_override(assignment)


def test_bad_override_value_names_set_as_the_source() -> None:
    message = error_of("default_count: 5\n", overrides=("default_count=abc",))
    assert message.startswith("--set default_count:")
    assert "run.yaml" not in message
    nested = error_of("", overrides=("instructors.general.count=-1",))
    assert nested.startswith("--set instructors.general.count:")
    typo = error_of("", overrides=("concurrency.max_reqests=2",))
    assert "--set concurrency.max_reqests" in typo and "did you mean 'max_requests'" in typo
    scalar = error_of("", overrides=("default_count.x=1",))
    assert scalar.startswith("--set default_count.x:")


def test_set_through_a_value_is_an_error() -> None:
    message = error_of("model: m\n", overrides=("model.name=x",))
    assert "'model' is not a section" in message


# ---- dedup thresholds ---------------------------------------------------------------------
# spec §3.2: squared L2 t on unit vectors <=> cosine >= 1 - t/2
DISTANCE_TO_COSINE = [
    (0.01, 0.995),
    (0.02, 0.99),
    (0.03, 0.985),
    (0.035, 0.9825),
    (0.05, 0.975),
    (0.07, 0.965),
    (0.1, 0.95),
    (0.3, 0.85),
    (0.35, 0.825),
]


@pytest.mark.parametrize(("distance", "cosine"), DISTANCE_TO_COSINE)
def test_min_docsearch_score_converts_to_cosine_exactly(distance: float, cosine: float) -> None:
    assert Config(min_docsearch_score=distance).dedup_cosine() == cosine
    cfg = load(f"instructors:\n  coding:\n    min_docsearch_score: {distance}\n")
    assert cfg.dedup_cosine("coding") == cosine


def test_threshold_precedence() -> None:
    cfg = load(
        """
        min_docsearch_score: 0.2
        instructors:
          general:
            similarity_threshold: 0.8
          coding:
            min_docsearch_score: 0.02
          contextual: {}
        """
    )
    assert cfg.dedup_cosine("general") == 0.8
    assert cfg.dedup_cosine("coding") == 0.99
    assert cfg.dedup_cosine("contextual") == 0.9  # the global value
    assert cfg.dedup_cosine() == 0.9
    assert cfg.dedup_cosine("absent") == 0.9


def test_both_thresholds_set_is_an_error() -> None:
    message = error_of(
        "instructors:\n  general:\n    min_docsearch_score: 0.1\n    similarity_threshold: 0.9\n"
    )
    assert "instructors.general" in message
    assert "either min_docsearch_score or similarity_threshold" in message


# ---- cross checks ------------------------------------------------------------------------
def test_unknown_endpoint_reference() -> None:
    message = error_of(
        """
        endpoints:
          fast:
            base_url: http://127.0.0.1:1/v1
        instructors:
          general:
            endpoint: slow
        """
    )
    assert "instructors.general.endpoint 'slow'" in message and "fast" in message
    none_defined = error_of("instructors:\n  general:\n    endpoint: x\n")
    assert "none defined" in none_defined


def test_known_endpoint_reference_is_fine() -> None:
    cfg = load(
        """
        endpoints:
          fast: {base_url: "http://127.0.0.1:1/v1", model: small}
        instructors:
          general: {endpoint: fast}
        """
    )
    assert cfg.endpoints["fast"].model == "small"


@pytest.mark.parametrize(
    "key",
    ["vertexai_credentials_path", "vertexai_project_id", "vertexai_region", "vertexai_publisher"],
)
def test_vertexai_keys_are_accepted_with_a_note(key: str) -> None:
    cfg = load(f"model: m\n{key}: x\n")
    assert cfg.notes == [f"run.yaml: '{key}' has no effect: {IGNORED_KEYS[key]}"]
    assert "Vertex AI is not supported" in cfg.notes[0]


def test_original_instructor_names_and_ignored_keys() -> None:
    cfg = load(
        """
        instructors:
          chat_card: {count: 3, seed_path: character_seeds, output_dir: characters}
          chat: {count: 2, turn_count: 12, prompt_path: chat.txt}
        """
    )
    assert set(cfg.instructors) == {"character", "rp"}
    assert cfg.instructor_count("character") == 3 and cfg.instructor_count("rp") == 2
    assert cfg.instructors["rp"].prompt_path is None
    assert any("'chat_card' is called 'character'" in note for note in cfg.notes)
    assert any("instructors.chat_card.output_dir' has no effect" in note for note in cfg.notes)
    assert "keep only 'rp'" in error_of("instructors:\n  chat: {}\n  rp: {}\n")


def test_original_sampling_defaults_fill_unset_parameters() -> None:
    assert load("").api_params.merged(None) == ORIGINAL_SAMPLING
    cfg = load(
        "api_params: {temperature: 0.7}\ninstructors:\n  general: {api_params: {top_p: 0.4}}\n"
    )
    merged = cfg.api_params.merged(cfg.instructors["general"].api_params)
    assert merged == {**ORIGINAL_SAMPLING, "temperature": 0.7, "top_p": 0.4}
    # a parameter set to null is not sent (for endpoints that refuse it)
    cfg = load("api_params: {top_p: null, presence_penalty: null}\n")
    assert cfg.api_params.merged(None) == {"temperature": 1.0, "frequency_penalty": 0.0}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("backend: openai\n", "backend 'openai' needs base_url"),
        ("backend: scripted\n", "backend 'scripted' needs script_path"),
    ],
)
def test_backend_cross_checks(text: str, fragment: str) -> None:
    assert fragment in error_of(text)


# ---- the original airoboros example config ----------------------------------------------
ORIGINAL = """
model: gpt-4
openai_api_key: sk-test-not-real
organization_id: org-123
output_path: instructions.jsonl
topics_path: topics.txt
overwrite: false
append: true
embedding_model: thenlper/gte-small
embedding_device: cpu
topic_avoidance: Avoid any tasks that would be related to climate change.
response_filters:
  - "my programming"
  - "openai"
  - "language model"
  - "as an? (ai|generative language|gpt|bot)"
max_tokens: null
min_docsearch_score: 0.07
api_params:
  temperature: 0.7
  top_p: 0.5
  frequency_penalty: 0.0
  presence_penalty: 2
topic_prompt: Give me a numbered list of 20 completely random topics. {topic_avoidance}
topic_request_count: 20
default_count: 1000
default_batch_size: 10
default_flesch: The output should be written for a college reader.
language: English
scoring:
  prompt_path: filter.txt
  api_params:
    temperature: 0.2
  threshold: "100"
judge:
  batch_size: 4
cull_max_k: 500
instructors:
  general:
    count: 100
    batch_size: 10
    api_params:
      temperature: 0.9
    min_docsearch_score: 0.1
    prompt_path: general.txt
    response_prompt_path: general_response.txt
    topics_path: other-topics.txt
    language: Spanish
    flesch: Easy words only.
    model: gpt-4-0613
  contextual:
    count: 70
    batch_size: 5
    api_params:
      temperature: 0.5
    context_styles: [news article, blog post]
    formatting_options: [JSON, YAML]
    topic_avoidance: Avoid cooking.
  coding:
    count: 100
    batch_size: 10
    min_docsearch_score: 0.02
    coding_languages: [python, golang]
    related_software: [redis]
    plain_ratio: 0.5
"""


def test_original_example_config_keys_keep_their_meaning() -> None:
    cfg = load(ORIGINAL)
    assert cfg.model == "gpt-4"
    assert cfg.api_key() == "sk-test-not-real"
    assert cfg.organization_id == "org-123"
    assert (cfg.output_path, cfg.topics_path) == ("instructions.jsonl", "topics.txt")
    assert (cfg.overwrite, cfg.append) == (False, True)
    assert (cfg.embedding_model, cfg.embedding_device) == ("thenlper/gte-small", "cpu")
    assert cfg.topic_avoidance.startswith("Avoid any tasks")
    assert cfg.response_filters[1] == "openai"
    assert cfg.token_budget() is None
    assert cfg.dedup_cosine() == 0.965
    assert cfg.api_params.merged(None) == {
        "temperature": 0.7,
        "top_p": 0.5,
        "frequency_penalty": 0.0,
        "presence_penalty": 2,
    }
    assert "{topic_avoidance}" in cfg.topic_prompt
    assert (cfg.topic_request_count, cfg.default_count, cfg.default_batch_size) == (20, 1000, 10)
    assert cfg.default_flesch.startswith("The output")
    assert cfg.language == "English"
    assert cfg.scoring.prompt_path == "filter.txt"
    assert cfg.scoring.api_params.temperature == 0.2
    assert cfg.scoring.threshold == 100
    assert cfg.judge.batch_size == 4
    assert cfg.cull_max_k == 500
    assert list(cfg.instructors) == ["general", "contextual", "coding"]  # config order kept
    general = cfg.instructors["general"]
    assert cfg.instructor_count("general") == 100
    assert cfg.instructor_batch_size("general") == 10
    assert cfg.api_params.merged(general.api_params)["temperature"] == 0.9
    assert cfg.dedup_cosine("general") == 0.95
    assert general.prompt_path == "general.txt"
    assert general.response_prompt_path == "general_response.txt"
    assert general.topics_path == "other-topics.txt"
    assert (general.language, general.flesch, general.model) == (
        "Spanish",
        "Easy words only.",
        "gpt-4-0613",
    )
    contextual = cfg.instructors["contextual"]
    assert isinstance(contextual, ContextualConfig)
    assert contextual.context_styles == ["news article", "blog post"]
    assert contextual.formatting_options == ["JSON", "YAML"]
    assert contextual.topic_avoidance == "Avoid cooking."
    coding = cfg.instructors["coding"]
    assert isinstance(coding, CodingConfig)
    assert coding.coding_languages == ["python", "golang"]
    assert coding.related_software == ["redis"]
    assert coding.plain_ratio == 0.5
    assert cfg.dedup_cosine("coding") == 0.99


def test_token_budget_is_the_smaller_limit() -> None:
    assert load("max_tokens: 500\nbudget:\n  max_tokens: 300\n").token_budget() == 300
    assert load("max_tokens: 500\n").token_budget() == 500


def test_api_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_TEACHER_KEY", "from-env")
    assert load("api_key_env: MY_TEACHER_KEY\n").api_key() == "from-env"
    assert load("api_key_env: MY_TEACHER_KEY\nopenai_api_key: in-file\n").api_key() == "in-file"


def test_store_path_resolution(tmp_path: Path) -> None:
    assert load("output_path: out/data.jsonl\n").resolved_store_path(tmp_path) == (
        tmp_path / "out" / "data.airloom.db"
    )
    assert load(f"store_path: {tmp_path}/x.db\n").resolved_store_path(Path("/else")) == (
        tmp_path / "x.db"
    )


# ---- the generated example -----------------------------------------------------------
def _keys_in(text: str) -> set[str]:
    return set(re.findall(r"^\s*([A-Za-z_][A-Za-z0-9_]*):", text, re.MULTILINE))


def test_example_config_validates_and_is_complete() -> None:
    text = render_example()
    cfg = load_config_text(text, source="example.yaml")
    assert cfg.default_count == Config().default_count
    keys = _keys_in(text)
    for name in Config.model_fields:
        assert name in keys, name
    for name, cls in available_instructors().items():
        assert name in cfg.instructors, name
        for field in cls.config_model.model_fields:
            assert field in keys, f"{name}.{field}"
    _, lines = parse_yaml(text)
    for name in available_instructors():
        assert ("instructors", name) in lines


def test_example_config_round_trips_defaults() -> None:
    cfg = load_config_text(render_example())
    default = Config()
    for name in Config.model_fields:
        if name == "instructors":
            continue
        assert getattr(cfg, name) == getattr(default, name), name
