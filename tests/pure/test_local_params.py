"""Pure parts of the local backend: parameter parsing, stop strings, settings, lazy imports."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from airloom.backends.base import ChatRequest, Message
from airloom.backends.local import (
    Job,
    LocalBackend,
    LocalModelSettings,
    StopScanner,
    cut_at_stop,
    parse_generation_params,
)
from airloom.backends.local.penalties import PenaltyProcessor
from airloom.errors import BackendError, FatalBackendError


def test_defaults_follow_the_openai_api():
    p = parse_generation_params({})
    assert (p.do_sample, p.temperature, p.top_p, p.top_k) == (True, 1.0, 1.0, 0)
    assert (p.max_tokens, p.stop, p.seed) == (None, (), None)
    assert (p.presence_penalty, p.frequency_penalty, p.repetition_penalty) == (0.0, 0.0, 1.0)


def test_temperature_zero_is_greedy():
    p = parse_generation_params({"temperature": 0, "top_p": 0.5, "seed": 3})
    assert not p.do_sample
    assert p.batch_key() == ("greedy", 1.0)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"stop": "\n"}, ("\n",)),
        ({"stop": ["a", "b", "a", ""]}, ("a", "b")),
        ({"stop": None}, ()),
        ({"max_tokens": 7}, 7),
        ({"max_completion_tokens": 9}, 9),
    ],
)
def test_stop_and_max_tokens_forms(params, expected):
    p = parse_generation_params(params)
    assert (p.stop if "stop" in params else p.max_tokens) == expected


@pytest.mark.parametrize(
    "params",
    [
        {"temperature": -0.1},
        {"temperature": float("nan")},
        {"temperature": "hot"},
        {"top_p": 0},
        {"top_p": 1.5},
        {"top_k": -1},
        {"n": 2},
        {"max_tokens": 0},
        {"max_tokens": True},
        {"stop": 5},
        {"stop": ["ok", 3]},
        {"repetition_penalty": 0},
    ],
)
def test_invalid_params_are_fatal_with_a_clear_message(params):
    with pytest.raises(FatalBackendError) as info:
        parse_generation_params(params)
    assert next(iter(params)) in str(info.value)


def test_batch_keys_group_only_compatible_requests():
    greedy = parse_generation_params({"temperature": 0, "max_tokens": 5, "stop": ["x"]})
    greedy_other = parse_generation_params(
        {"temperature": 0, "max_tokens": 50, "presence_penalty": 1.0}
    )
    assert greedy.batch_key() == greedy_other.batch_key()
    warm = parse_generation_params({"temperature": 0.7, "top_p": 0.9})
    assert warm.batch_key() == ("sample", 0.7, 0.9, 0, 1.0)
    assert warm.batch_key() != parse_generation_params({"temperature": 0.8}).batch_key()
    assert parse_generation_params({"temperature": 0.7, "seed": 4}).batch_key() is None
    assert (
        greedy.batch_key()
        != parse_generation_params({"temperature": 0, "repetition_penalty": 1.2}).batch_key()
    )


@pytest.mark.parametrize(
    ("text", "stops", "expected"),
    [
        ("hello world", ["o"], ("hell", True)),
        ("hello world", ["world", "lo"], ("hel", True)),
        ("hello", ["x"], ("hello", False)),
        ("hello", [], ("hello", False)),
        ("END", ["END"], ("", True)),
    ],
)
def test_cut_at_stop(text, stops, expected):
    assert cut_at_stop(text, stops) == expected


def test_stop_scanner_holds_back_a_possible_stop_start():
    scanner = StopScanner(["###"])
    assert scanner.feed("ab#") == "ab"
    assert scanner.feed("#") == ""
    assert scanner.feed("x") == "##x"
    assert scanner.feed("##") == ""
    assert scanner.flush() == "##"


def test_stop_scanner_stops_for_good():
    scanner = StopScanner(["\n\n"])
    assert scanner.feed("a\n") == "a"
    assert scanner.feed("\nmore") == ""
    assert scanner.stopped
    assert scanner.feed("later") == ""
    assert scanner.flush() == ""


@given(
    pieces=st.lists(st.text(alphabet="ab#\n", max_size=6), max_size=12),
    stops=st.lists(st.text(alphabet="ab#\n", min_size=1, max_size=4), max_size=3),
)
def test_stop_scanner_equals_cutting_the_whole_text(pieces, stops):
    scanner = StopScanner(stops)
    streamed = "".join(scanner.feed(piece) for piece in pieces) + scanner.flush()
    assert streamed == cut_at_stop("".join(pieces), stops)[0]


def test_settings_forbid_unknown_keys_and_validate():
    assert LocalModelSettings(max_batch_size=4).max_batch_size == 4
    with pytest.raises(ValidationError, match="max_batchsize"):
        LocalModelSettings.model_validate({"max_batchsize": 4})
    with pytest.raises(ValidationError):
        LocalModelSettings(device="tpu")
    with pytest.raises(ValidationError):
        LocalModelSettings(threads=0)


def test_settings_cache_dir_default_and_override(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRLOOM_CACHE", str(tmp_path))
    assert LocalModelSettings().resolved_cache_dir() == tmp_path / "models"
    assert LocalModelSettings(cache_dir=tmp_path / "x").resolved_cache_dir() == tmp_path / "x"


def test_constructing_the_backend_loads_nothing():
    backend = LocalBackend(LocalModelSettings(model="/nowhere/model.gguf"))
    assert backend.name == "local:/nowhere/model.gguf"
    assert not backend.loaded
    assert backend.context_length == 0


async def test_load_errors_reach_every_request_and_are_remembered(tmp_path):
    backend = LocalBackend(LocalModelSettings(model=str(tmp_path / "missing.gguf")))
    request = ChatRequest("m", (Message("user", "hi"),), {"temperature": 0})
    results = await asyncio.gather(
        backend.complete(request), backend.complete(request), return_exceptions=True
    )
    assert all(type(r).__name__ == "ModelFileError" for r in results), results
    assert "does not exist" in str(results[0])
    with pytest.raises(Exception, match="does not exist"):
        await backend.complete(request)
    await backend.aclose()
    with pytest.raises(BackendError, match="closed"):
        await backend.complete(request)


async def test_bad_request_fails_fast_without_loading():
    backend = LocalBackend()
    with pytest.raises(FatalBackendError, match="n=3"):
        await backend.complete(ChatRequest("m", (Message("user", "hi"),), {"n": 3}))
    with pytest.raises(FatalBackendError, match="at least one message"):
        await backend.complete(ChatRequest("m", ()))
    assert not backend.loaded
    await backend.aclose()


def test_penalties_follow_the_openai_formula_per_row():
    torch = pytest.importorskip("torch")
    jobs = [
        Job(
            ChatRequest("m", (Message("user", "x"),)),
            parse_generation_params({"presence_penalty": p, "frequency_penalty": f}),
            None,  # type: ignore[arg-type]
            None,
        )
        for p, f in [(0.5, 1.0), (0.0, 0.0)]
    ]
    processor = PenaltyProcessor(jobs, prompt_width=2)
    # The first two columns are the prompt: token 4 there must not be penalised.
    input_ids = torch.tensor([[4, 4, 2, 2, 3], [4, 4, 2, 2, 3]])
    scores = processor(input_ids, torch.zeros(2, 5))
    assert scores[0].tolist() == [0.0, 0.0, -2.5, -1.5, 0.0]
    assert scores[1].tolist() == [0.0] * 5


class _CharTokenizer:
    """Token id n is the character chr(n); 0 is a special token that decodes to nothing."""

    def decode(self, ids, skip_special_tokens=True):
        return "".join(chr(i) for i in ids if i)


def _job(max_new_tokens: int, sink=None, **params) -> Job:
    parsed = parse_generation_params(params)
    job = Job(ChatRequest("m", (Message("user", "x"),)), parsed, Future(), None, sink)
    job.max_new_tokens = max_new_tokens
    return job


def test_batch_tracker_ends_each_row_for_its_own_reason():
    torch = pytest.importorskip("torch")
    from airloom.backends.local.tracker import BatchTracker

    jobs = [_job(10), _job(2), _job(10, stop=["bc"]), _job(10)]
    tracker = BatchTracker(jobs, prompt_width=1, eos_ids=frozenset({0}), tokenizer=_CharTokenizer())
    rows = [[ord("p")] for _ in jobs]
    new_tokens = ["aaa", "bbb", "xbc", "d0d"]  # each row's new tokens ("0": end of turn)
    done = []
    for step in zip(*new_tokens, strict=True):
        for row, char in zip(rows, step, strict=True):
            row.append(0 if char == "0" else ord(char))
        done.append(tracker(torch.tensor(rows), torch.zeros(len(jobs), 1)).tolist())
    assert done[-1] == [False, True, True, True]
    assert tracker.lengths == [None, 2, 3, 2]
    assert tracker.reasons[1:] == ["length", "stop", "stop"]
    jobs[0].future.cancel()
    rows[0].append(ord("e"))
    for row in rows[1:]:
        row.append(ord("z"))
    assert tracker(torch.tensor(rows), torch.zeros(len(jobs), 1)).tolist() == [True] * 4
    assert (tracker.lengths[0], tracker.reasons[0]) == (4, "cancelled")


async def test_batch_tracker_streams_each_rows_new_text():
    torch = pytest.importorskip("torch")
    from airloom.backends.local.jobs import STREAM_END, StreamSink
    from airloom.backends.local.tracker import BatchTracker

    sink = StreamSink(asyncio.get_running_loop())
    jobs = [_job(3, sink=sink)]
    tracker = BatchTracker(jobs, prompt_width=1, eos_ids=frozenset(), tokenizer=_CharTokenizer())
    rows = [[ord("p")]]
    for char in "xyz":
        rows[0].append(ord(char))
        tracker(torch.tensor(rows), torch.zeros(1, 1))
    sink.end()
    await asyncio.sleep(0)
    items = [sink.queue.get_nowait() for _ in range(sink.queue.qsize())]
    assert items == ["x", "y", "z", STREAM_END]
