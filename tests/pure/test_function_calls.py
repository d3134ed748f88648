"""Function calling: schemas from callables, listing, the parse ladder, validation, dispatch."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import enum
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, TypedDict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airloom.errors import AirloomError, ParseError, ToolError
from airloom.runtime.decode import decode_structured, loads_yaml
from airloom.runtime.functions import (
    PROMPT_TEMPLATE,
    FunctionCall,
    FunctionCallError,
    FunctionRegistry,
    NoCall,
    load_registry,
    parse_docstring,
    serialise_result,
    spec_from_callable,
    spec_from_schema,
)
from airloom.runtime.schema import schema_for_type, validate


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Filters(TypedDict):
    keyword: str


@dataclass
class Window:
    begin: str
    end: str | None = None


def file_analytics(
    action: Literal["count_occurrences", "find_line"], filters: Filters
) -> dict[str, object]:
    """This tool performs various operations on a text file.

    Args:
        action: The operation we want to perform on the data.
        filters: Conditions on the lines.
    """
    return {"action": action, "keyword": filters["keyword"]}


def search(
    search_terms: list[str],
    limit: int = 10,
    safe: bool = True,
    date_range: Window | None = None,
) -> str:
    """Search the web.

    Args:
        search_terms: List of keywords and/or phrases that are of high importance to the input.
        limit: Most results to return.
        safe: Filter explicit results.
        date_range: Restrict results to a date range.
    """
    return f"{search_terms} {limit} {safe} {date_range}"


def weather(city: str, unit: Unit = Unit.CELSIUS, days: Annotated[int, "How many days"] = 1) -> str:
    """Weather forecast for a city.

    :param city: The city name.
    :param unit: Temperature unit.
    """
    return f"{city} {unit.name} {days}"


REGISTRY = FunctionRegistry.from_callables([file_analytics, search, weather])


# ------------------------------------------------------------------- schemas


def test_schema_from_callable_types_defaults_and_descriptions() -> None:
    params = REGISTRY["search"].parameters
    assert params["required"] == ["search_terms"]
    assert params["additionalProperties"] is False
    props = params["properties"]
    assert props["search_terms"]["type"] == "array"
    assert props["search_terms"]["items"] == {"type": "string"}
    assert props["limit"] == {
        "type": "integer",
        "description": "Most results to return.",
        "default": 10,
    }
    assert props["safe"]["type"] == "boolean"
    assert props["date_range"]["type"] == ["object", "null"]
    assert props["date_range"]["properties"]["begin"] == {"type": "string"}
    assert props["date_range"]["required"] == ["begin"]
    assert REGISTRY["search"].description == "Search the web."


def test_enum_literal_annotated_and_sphinx_docs() -> None:
    props = REGISTRY["weather"].parameters["properties"]
    assert props["unit"] == {
        "enum": ["celsius", "fahrenheit"],
        "type": "string",
        "description": "Temperature unit.",
        "default": "celsius",
    }
    assert props["days"] == {"type": "integer", "description": "How many days", "default": 1}
    assert props["city"]["description"] == "The city name."
    action = REGISTRY["file_analytics"].parameters["properties"]["action"]
    assert action["enum"] == ["count_occurrences", "find_line"]


@pytest.mark.parametrize(
    ("hint", "schema"),
    [
        (str, {"type": "string"}),
        (float, {"type": "number"}),
        (int | None, {"type": ["integer", "null"]}),
        (Literal[1, 2], {"enum": [1, 2], "type": "integer"}),
        (dict[str, int], {"type": "object", "additionalProperties": {"type": "integer"}}),
        (tuple[int, ...], {"type": "array", "items": {"type": "integer"}}),
    ],
)
def test_schema_for_type_table(hint: object, schema: dict) -> None:
    assert schema_for_type(hint) == schema


def test_numpy_docstrings() -> None:
    doc = """Add.

    Parameters
    ----------
    a : int
        First number.
    b : int
        Second
        number.

    Returns
    -------
    int
    """
    assert parse_docstring(doc) == ("Add.", {"a": "First number.", "b": "Second number."})


def _no_doc(x: int) -> int:
    return x


def _no_hint(x):  # type: ignore[no-untyped-def]
    """Doc."""
    return x


def _var_args(*xs: int) -> int:
    """Doc."""
    return 0


@pytest.mark.parametrize(
    ("func", "message"),
    [
        (_no_doc, "has no docstring"),
        (_no_hint, "has no type hint"),
        (_var_args, "cannot be passed by name"),
    ],
)
def test_spec_from_callable_refuses_what_it_cannot_describe(func: object, message: str) -> None:
    with pytest.raises(AirloomError, match=message):
        spec_from_callable(func)  # type: ignore[arg-type]


def test_character_card_parameters_become_a_schema() -> None:
    spec = spec_from_schema(
        {
            "name": "put_down",
            "description": "put down an object",
            "parameters": {
                "object": {"type": "string", "description": "the object to put down"},
                "location": {"type": "string", "description": "the location"},
            },
        }
    )
    assert spec.parameters["required"] == ["object", "location"]
    assert spec.parameters["type"] == "object"


def test_openai_tool_definition() -> None:
    spec = spec_from_schema(
        {
            "type": "function",
            "function": {
                "name": "get_time",
                "description": "Time now.",
                "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}},
            },
        }
    )
    assert spec.name == "get_time"
    assert spec.parameters["required"] == []
    assert spec.parameters["additionalProperties"] is False


# ------------------------------------------------------------------- listing


CARD_LISTING = """file_analytics:
  description: This tool performs various operations on a text file.
  params:
    action: The operation we want to perform on the data. (one of: "count_occurrences", "find_line")
    filters:
      keyword: string"""


def test_listing_matches_the_airoboros_shape() -> None:
    assert REGISTRY.listing(["file_analytics"]) == CARD_LISTING


def test_listing_marks_optional_parameters_and_defaults() -> None:
    listing = REGISTRY.listing(["search"])
    assert "    limit: Most results to return. (optional, default: 10)" in listing.split("\n")
    assert listing.split("\n")[-3:] == [
        "    date_range:",
        "      begin: string",
        "      end: string or null (optional)",
    ]


def test_prompt_is_the_card_prompt() -> None:
    prompt = REGISTRY.prompt(
        "I want to know how many times 'Python' is mentioned in my text file.",
        names=["file_analytics"],
    )
    assert prompt == (
        "As an AI assistant, please select the most suitable function and parameters from the "
        "list of available functions below, based on the user's input. Provide your response "
        "in JSON format.\n\nInput: I want to know how many times 'Python' is mentioned in my "
        "text file.\n\nAvailable functions:\n" + CARD_LISTING
    )
    assert "YAML format" in REGISTRY.prompt("x", fmt="yaml")
    assert "{listing}" in PROMPT_TEMPLATE


# ------------------------------------------------------------------- parsing

CARD_JSON = """{
  "function": "file_analytics",
  "params": {
    "action": "count_occurrences",
    "filters": {
      "keyword": "Python"
    }
  }
}"""
CARD_CALL = {"action": "count_occurrences", "filters": {"keyword": "Python"}}
CARD_YAML = """function: file_analytics
params:
  action: "count_occurrences"
  filters:
    keyword: "Python"
"""

ACCEPTED = [
    ("card json", CARD_JSON, "json", "json"),
    ("card yaml", CARD_YAML, "yaml", "yaml"),
    ("yaml when json was asked", CARD_YAML, "json", "yaml"),
    ("json when yaml was asked", CARD_JSON, "yaml", "json"),
    ("json fence", "```json\n" + CARD_JSON + "\n```", "json", "json"),
    (
        "bare fence and prose",
        "Here is my answer:\n```\n" + CARD_JSON + "\n```\nHope it helps",
        "json",
        "json",
    ),
    ("prose preface no fence", "Sure! The best function is:\n" + CARD_JSON, "json", "json"),
    (
        "prose around json",
        "I pick " + CARD_JSON.replace("\n", " ") + " as requested.",
        "json",
        "json-extracted",
    ),
    ("yaml fence", "```yaml\n" + CARD_YAML + "```", "yaml", "yaml"),
    ("yaml after prose", "My choice:\n" + CARD_YAML, "yaml", "yaml"),
    (
        "single quotes and trailing commas",
        "{'function': 'file_analytics', 'params': {'action': 'count_occurrences', "
        "'filters': {'keyword': 'Python',},},}",
        "json",
        "json-repaired",
    ),
    ("parameters key", CARD_JSON.replace('"params"', '"parameters"'), "json", "json"),
    (
        "name + arguments as a JSON string",
        '{"name": "file_analytics", "arguments": "{\\"action\\": \\"count_occurrences\\", '
        '\\"filters\\": {\\"keyword\\": \\"Python\\"}}"}',
        "json",
        "json",
    ),
    (
        "openai nested shape",
        '{"function": {"name": "file_analytics", "arguments": '
        + CARD_JSON.split('"params": ')[1][:-2]
        + "}}",
        "json",
        "json",
    ),
    (
        "function name as the key",
        '{"file_analytics": {"action": "count_occurrences", "filters": {"keyword": "Python"}}}',
        "json",
        "json",
    ),
    (
        "case drift in the name",
        CARD_JSON.replace('"file_analytics"', '"File_Analytics"'),
        "json",
        "json",
    ),
    ("crlf yaml", CARD_YAML.replace("\n", "\r\n"), "yaml", "yaml"),
    ("list with one call", "[" + CARD_JSON + "]", "json", "json"),
]


@pytest.mark.parametrize(
    ("name", "answer", "prefer", "rung"), ACCEPTED, ids=[a[0] for a in ACCEPTED]
)
def test_accepted_answers(name: str, answer: str, prefer: str, rung: str) -> None:
    call = REGISTRY.parse(answer, prefer=prefer)  # type: ignore[arg-type]
    assert isinstance(call, FunctionCall)
    assert call.name == "file_analytics"
    assert call.arguments == CARD_CALL
    assert call.rung == rung


def test_notes_say_what_was_tolerated() -> None:
    call = REGISTRY.parse("```json\n" + CARD_JSON.replace('"params"', '"arguments"') + "\n```")
    assert isinstance(call, FunctionCall)
    assert call.notes == ("code fence removed", "params key was arguments")


YAML_SCALARS = """function: typed
params:
  enabled: no
  flag_text: no
  t: 12:30
  n: 010
  n_text: 010
  d: 2024-01-01
  x: 1e3
  x_text: 1e3
  maybe: null
  quoted_null: "null"
"""


def typed(
    enabled: bool,
    flag_text: str,
    t: str,
    n: int,
    n_text: str,
    d: str,
    x: float,
    x_text: str,
    maybe: int | None,
    quoted_null: str | None,
) -> None:
    """Every YAML 1.1 trap at once."""


def test_yaml_scalars_stay_strings_until_the_schema_decides() -> None:
    raw = loads_yaml(YAML_SCALARS)["params"]
    assert all(isinstance(value, str) for value in raw.values())
    call = FunctionRegistry.from_callables([typed]).parse(YAML_SCALARS, prefer="yaml")
    assert isinstance(call, FunctionCall)
    assert call.arguments == {
        "enabled": False,
        "flag_text": "no",
        "t": "12:30",
        "n": 10,
        "n_text": "010",
        "d": "2024-01-01",
        "x": 1000.0,
        "x_text": "1e3",
        "maybe": None,
        "quoted_null": "null",
    }
    assert type(call.arguments["flag_text"]) is str


NO_CALLS = ['{"function": "none"}', "function: no_function", '{"function": "None", "params": {}}']


@pytest.mark.parametrize("answer", NO_CALLS)
def test_explicit_no_call(answer: str) -> None:
    assert isinstance(REGISTRY.parse(answer), NoCall)


def _problems(answer: str, registry: FunctionRegistry = REGISTRY, **kwargs: object) -> list[str]:
    with pytest.raises(FunctionCallError) as info:
        registry.parse(answer, **kwargs)  # type: ignore[arg-type]
    assert info.value.raw == answer
    return info.value.problems


REJECTED = [
    (
        "unknown function",
        '{"function": "delete_everything", "params": {}}',
        [
            "$.function: 'delete_everything' is not one of the listed functions "
            "(file_analytics, search, weather)"
        ],
    ),
    (
        "dunder name",
        '{"function": "__class__", "params": {}}',
        [
            "$.function: '__class__' is not one of the listed functions "
            "(file_analytics, search, weather)"
        ],
    ),
    (
        "dotted name",
        '{"function": "os.system", "params": {"command": "ls"}}',
        [
            "$.function: 'os.system' is not one of the listed functions "
            "(file_analytics, search, weather)"
        ],
    ),
    (
        "missing required and extra key",
        '{"function": "search", "params": {"terms": ["a"]}}',
        [
            "$.params.search_terms: required parameter missing",
            "$.params.terms: unknown parameter (known: search_terms, limit, safe, date_range)",
        ],
    ),
    (
        "enum and nested problems",
        '{"function": "file_analytics", "params": {"action": "", "filters": {"keyword": 3}}}',
        [
            "$.params.action: '' is not one of 'count_occurrences', 'find_line'",
            "$.params.filters.keyword: expected string, got integer",
        ],
    ),
    (
        "bool is not an integer",
        '{"function": "search", "params": {"search_terms": ["a"], "limit": false}}',
        ["$.params.limit: expected integer, got boolean"],
    ),
    (
        "null is not a required string",
        '{"function": "weather", "params": {"city": null}}',
        ["$.params.city: expected string, got null"],
    ),
    (
        "string is not a list",
        '{"function": "search", "params": {"search_terms": "a b"}}',
        ["$.params.search_terms: expected array, got string"],
    ),
    ("two calls", "[" + CARD_JSON + "," + CARD_JSON + "]", ["$: expected one call object"]),
    (
        "no function key",
        '{"params": {"city": "Oslo"}}',
        ["$.function: required, the name of one listed function"],
    ),
    (
        "params and parameters",
        '{"function": "weather", "params": {}, "parameters": {}}',
        ["$: both params and parameters given"],
    ),
    (
        "params not an object",
        '{"function": "weather", "params": [1, 2]}',
        ["$.params: expected object, got list"],
    ),
    (
        "nan in yaml fallback",
        '{"function": "search", "params": {"search_terms": ["a"], "limit": NaN}}',
        ["$.params.limit: expected integer, got string"],
    ),
    (
        "5000 digits",
        '{"function": "search", "params": {"search_terms": ["a"], "limit": ' + "9" * 5000 + "}}",
        ["$.params.limit: expected integer, got string"],
    ),
]


@pytest.mark.parametrize(("name", "answer", "problems"), REJECTED, ids=[r[0] for r in REJECTED])
def test_rejected_answers_list_every_problem(name: str, answer: str, problems: list[str]) -> None:
    assert _problems(answer) == problems


def test_zero_is_a_valid_integer() -> None:
    call = REGISTRY.parse('{"function": "search", "params": {"search_terms": [], "limit": 0}}')
    assert isinstance(call, FunctionCall)
    assert call.arguments["limit"] == 0


def test_first_of_several_calls_on_request() -> None:
    call = REGISTRY.parse("[" + CARD_JSON + "," + CARD_JSON + "]", multiple="first")
    assert isinstance(call, FunctionCall)
    assert "first call of a list taken" in call.notes


UNREADABLE = [
    ("empty", "", "the answer is empty"),
    ("prose only", "I cannot help with that.", "could not read the answer"),
    ("yaml alias", "function: weather\nparams: &p\n  city: Oslo\nother: *p", "anchors and aliases"),
    (
        "deep nesting",
        '{"function": "weather", "params": ' + "[" * 10_000 + "]" * 10_000 + "}",
        "nested deeper than 32",
    ),
    (
        "duplicate keys",
        '{"function": "weather", "function": "search", "params": {}}',
        "duplicate key 'function'",
    ),
    ("scalar", "42", "is not an object"),
]


@pytest.mark.parametrize(("name", "answer", "message"), UNREADABLE, ids=[u[0] for u in UNREADABLE])
def test_unreadable_answers_raise_parse_error(name: str, answer: str, message: str) -> None:
    with pytest.raises(ParseError, match=message) as info:
        REGISTRY.parse(answer)
    assert not isinstance(info.value, FunctionCallError) or name == "scalar"


def test_decode_reports_the_rung() -> None:
    assert decode_structured('{"a": 1}').rung == "json"
    assert decode_structured("a: 1", prefer="yaml").rung == "yaml"


# ------------------------------------------------------------------ dispatch


def test_dispatch_converts_enums_and_dataclasses() -> None:
    call = REGISTRY.parse(
        '{"function": "weather", "params": {"city": "Oslo", "unit": "fahrenheit"}}'
    )
    assert isinstance(call, FunctionCall)
    assert asyncio.run(REGISTRY.dispatch(call)) == "Oslo FAHRENHEIT 1"
    call = REGISTRY.parse(
        '{"function": "search", "params": {"search_terms": ["a"], "date_range": {"begin": "2020"}}}'
    )
    assert isinstance(call, FunctionCall)
    assert asyncio.run(REGISTRY.dispatch(call)) == ("['a'] 10 True Window(begin='2020', end=None)")


def test_dispatch_failures_are_tool_errors() -> None:
    registry = FunctionRegistry()

    @registry.register
    def broken(x: int) -> int:
        """Always fails."""
        raise RuntimeError("disk on fire")

    @registry.register
    async def slow(seconds: float) -> str:
        """Sleeps."""
        await asyncio.sleep(seconds)
        return "done"

    with pytest.raises(ToolError, match="function 'broken' failed: RuntimeError: disk on fire"):
        asyncio.run(registry.dispatch(FunctionCall("broken", {"x": 1})))
    started = time.perf_counter()
    with pytest.raises(ToolError, match=r"timed out after 0\.1 s"):
        asyncio.run(registry.dispatch(FunctionCall("slow", {"seconds": 5.0}), timeout=0.1))
    assert time.perf_counter() - started < 2
    assert asyncio.run(registry.dispatch(FunctionCall("slow", {"seconds": 0.0}))) == "done"
    with pytest.raises(ToolError, match="no callable is registered for 'ghost'"):
        asyncio.run(registry.dispatch(FunctionCall("ghost", {})))


def test_schema_only_functions_cannot_be_dispatched() -> None:
    registry = FunctionRegistry.from_schemas([{"name": "scan", "parameters": {}}])
    with pytest.raises(ToolError):
        asyncio.run(registry.dispatch(FunctionCall("scan", {})))


class _Odd:
    def __str__(self) -> str:
        return "odd thing"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("text", "text"),
        ({"a": [1, 2]}, '{"a": [1, 2]}'),
        (datetime.date(2024, 1, 1), '"2024-01-01"'),
        ({"x": _Odd()}, '{"x": "odd thing"}'),
        ({1, 2}, '"{1, 2}"'),
        (float("nan"), "NaN"),
        (None, "null"),
    ],
)
def test_serialise_result_never_fails(value: object, text: str) -> None:
    assert serialise_result(value) == text


def test_registry_refuses_duplicates_and_bad_names() -> None:
    with pytest.raises(AirloomError, match="registered twice"):
        FunctionRegistry.from_callables([weather, weather])
    with pytest.raises(AirloomError, match="not a plain identifier"):
        FunctionRegistry.from_schemas([{"name": "rm -rf"}])


# ------------------------------------------------------------- load_registry

FUNCS_PY = '''
"""User functions."""
from os.path import join

import enum


def get_weather(city: str, days: int = 1) -> str:
    """Weather for a city.

    Args:
        city: The city.
        days: Days ahead.
    """
    return f"{city}:{days}"


async def convert(amount: float, to: str) -> str:
    """Convert money."""
    return f"{amount} {to}"


def _private(x: int) -> int:
    """Hidden."""
    return x


def undocumented(x: int) -> int:
    return x


def untyped(x):
    """Has no hints."""
    return x


class NotAFunction:
    """A class."""
'''


def test_load_registry_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "funcs.py"
    path.write_text(FUNCS_PY)
    registry = load_registry(path)
    assert registry.names == ["get_weather", "convert"]
    assert registry.skipped == [
        ("_private", "private name"),
        ("undocumented", "undocumented has no docstring"),
        ("untyped", "untyped: parameter 'x' has no type hint"),
    ]
    call = registry.parse('{"function": "get_weather", "params": {"city": "Oslo"}}')
    assert isinstance(call, FunctionCall)
    assert asyncio.run(registry.dispatch(call)) == "Oslo:1"


def test_load_registry_honours_all(tmp_path: Path) -> None:
    path = tmp_path / "limited.py"
    path.write_text(FUNCS_PY + "\n__all__ = ['convert', 'NotAFunction']\n")
    registry = load_registry(str(path))
    assert registry.names == ["convert"]
    assert registry.skipped == [("NotAFunction", "not a function")]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def f(:\n", "importing .* failed: SyntaxError"),
        ("raise RuntimeError('boom')\n", "importing .* failed: RuntimeError: boom"),
        ("def _only() -> None:\n    '''x'''\n", "offers no usable function"),
    ],
)
def test_load_registry_errors(tmp_path: Path, source: str, message: str) -> None:
    path = tmp_path / "bad.py"
    path.write_text(textwrap.dedent(source))
    with pytest.raises(AirloomError, match=message):
        load_registry(path)


def test_load_registry_missing_file_and_module() -> None:
    with pytest.raises(AirloomError, match="not found"):
        load_registry("/nonexistent/funcs.py")
    with pytest.raises(AirloomError, match="cannot import module"):
        load_registry("airloom_no_such_module_xyz")


def test_load_registry_from_a_module_name() -> None:
    registry = load_registry("airloom.formats.chat")
    assert "plain_code" in registry.names
    reasons = dict(registry.skipped)
    assert reasons["render"].startswith("render: parameter 'template': type ")
    assert reasons["render"].endswith("cannot be described in JSON Schema")
    # a type alias listed in __all__ is callable, but no function
    assert reasons["Turn"].startswith("Turn: not a function with a readable signature")


# -------------------------------------------------------------------- fuzz


@settings(deadline=1000, max_examples=300)
@given(st.text(max_size=300))
def test_parse_only_raises_parse_errors(text: str) -> None:
    with contextlib.suppress(ParseError):
        REGISTRY.parse(text)


_json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(deadline=1000, max_examples=200)
@given(st.sampled_from(["json", "yaml"]), _json_like, st.sampled_from(["", "Sure:\n", "```\n"]))
def test_parse_structured_noise(prefer: str, value: object, prefix: str) -> None:
    import json

    text = prefix + json.dumps({"function": "search", "params": value})
    try:
        call = REGISTRY.parse(text, prefer=prefer)  # type: ignore[arg-type]
    except ParseError:
        return
    assert isinstance(call, (FunctionCall, NoCall))
    if isinstance(call, FunctionCall):
        assert validate(call.arguments, REGISTRY["search"].parameters) == []


def test_large_answer_is_rejected_without_blowup() -> None:
    # A guard against quadratic parsing (minutes on this input), not a speed figure: the
    # bound is far above the normal cost so that a loaded machine does not fail it.
    big = '{"function": "search", "params": {"search_terms": [' + ", ".join(['"w"'] * 20000) + "]}}"
    started = time.perf_counter()
    with pytest.raises(FunctionCallError, match="at most 10000 allowed"):
        REGISTRY.parse(big)
    assert time.perf_counter() - started < 15.0


def test_full_json_schema_keywords_are_enforced() -> None:
    schema = {
        "type": "object",
        "$defs": {"unit": {"enum": ["celsius", "fahrenheit"]}},
        "properties": {
            "unit": {"$ref": "#/$defs/unit"},
            "where": {
                "oneOf": [
                    {"type": "string", "minLength": 2},
                    {"type": "object", "required": ["lat", "lon"]},
                ]
            },
        },
        "required": ["where"],
        "additionalProperties": False,
    }
    assert validate({"where": "Oslo", "unit": "celsius"}, schema) == []
    assert validate({"where": {"lat": 1}, "unit": "kelvin"}, schema) == [
        "$.unit: 'kelvin' is not one of 'celsius', 'fahrenheit'",
        "$.where: object value must match exactly one allowed form",
    ]


def test_invalid_parameter_schema_is_refused_when_registered() -> None:
    with pytest.raises(AirloomError, match=r"function 'f' parameters schema is not valid"):
        spec_from_schema({"name": "f", "parameters": {"type": "object", "required": "city"}})
    with pytest.raises(AirloomError, match="not valid JSON Schema"):
        FunctionRegistry.from_schemas(
            [{"name": "g", "parameters": {"properties": {"n": {"type": "int"}}}}]
        )


@pytest.mark.parametrize(
    "answer",
    [
        '{"function": "scan", "params": {}}\n{"function": "scan", "params": {}}',
        'First {"function": "scan", "params": {}} and then {"name": "scan", "arguments": {}}.',
        '[{"function": "scan", "params": {}}, {"function": "scan", "params": {}}]',
    ],
)
def test_several_calls_in_one_answer_are_refused_not_cut_to_the_first(answer: str) -> None:
    registry = FunctionRegistry.from_schemas([{"name": "scan", "parameters": {}}])
    with pytest.raises(FunctionCallError, match="holds 2 calls"):
        registry.parse(answer)
    prose = 'Calling {"function": "scan", "params": {}} now (braces {like these} are prose).'
    assert registry.parse(prose).name == "scan"
