"""The self-distillation example: its configs load, its generate step composes plan, function
call and closed-context records that verify keeps and the eval's scorers accept, and its
canonicalise step rewrites plans."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from airloom.backends.base import ChatRequest, ChatResponse
from airloom.backends.scripted import ScriptedBackend
from airloom.checks.plans import offered_tools
from airloom.config_load import load_config
from airloom.evaluate.scorers import says_unknown
from airloom.formats.closed_context import check_citations, parse_closed_context
from airloom.instructors.contextual_compose import SOURCE_REQUESTS
from airloom.instructors.settings.agent import AgentConfig
from airloom.instructors.settings.contextual import ContextualConfig
from airloom.instructors.settings.plan import PlanConfig
from airloom.runtime.functions import FunctionRegistry
from airloom.runtime.rewoo.prompt import EXAMPLE as PLAN_EXAMPLE
from airloom.runtime.tools.standard import standard_tools
from airloom.store.database import Store
from airloom.train.config import load_train_config
from airloom.train.memory import ModelShape, step_bytes
from tests.support.cli import run_airloom

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "self-distill"


def test_example_configs_load() -> None:
    config = load_config(EXAMPLE / "generate.yaml")
    assert set(config.instructors) == {"plan", "agent", "contextual"}
    contextual = config.instructors["contextual"]
    assert isinstance(contextual, ContextualConfig) and contextual.mode == "compose"
    plan, agent = config.instructors["plan"], config.instructors["agent"]
    assert isinstance(plan, PlanConfig) and plan.mode == "compose" and plan.record_example
    assert isinstance(agent, AgentConfig) and agent.mode == "compose"
    train = load_train_config(EXAMPLE / "train.yaml")
    assert train.template == "chatml" and train.method == "lora"
    assert train.batch_size * train.grad_accum == 4
    # a step at max_length fits a 24 GiB machine with the embedded model loaded
    qwen = ModelShape(hidden=896, intermediate=4864, layers=24, vocab=151936)
    worst = step_bytes(
        qwen,
        tokens=train.batch_size * train.max_length,
        dtype_bytes=4,
        checkpointing=train.gradient_checkpointing,
    )
    assert worst < 16 * 10**9


def test_canonicalise_rewrites_plans_and_drops_unusable_ones(tmp_path: Path) -> None:
    records = [
        {"category": "plan", "instruction": "q", "response": "#E1 = Google[x]\nFinal answer: #E1"},
        {"category": "plan", "instruction": "q", "response": "I would search the web."},
        {"category": "agent", "instruction": "q", "response": '{"function": "f", "params": {}}'},
    ]
    source = tmp_path / "kept.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    target = tmp_path / "train.jsonl"
    result = subprocess.run(
        [sys.executable, str(EXAMPLE / "canonicalise.py"), str(source), str(target)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    kept = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert [r["category"] for r in kept] == ["plan", "agent"]
    assert kept[0]["response"] == ":evidence0: = Google[x]\nAnswer: :evidence0:"
    assert kept[1] == records[2]
    assert "1  plan rewritten canonically" in result.stdout
    assert "1  dropped: no plan to render canonically" in result.stdout


class RequestWriter:
    """The demo script, plus a teacher for compose-mode function calling: it writes the
    request with the values it is given, and answers the call from the request."""

    name = "request-writer"

    def __init__(self) -> None:
        self.script = ScriptedBackend.from_file("demo")

    async def complete(self, request: ChatRequest) -> ChatResponse:
        prompt = request.messages[-1].content
        if "The message must state each of these values" in prompt:
            values = [line[2:] for line in prompt.splitlines() if line.startswith("- ")]
            return ChatResponse(f"Please do this for me: {'; '.join(values)}.")
        if "Available functions:" in prompt:
            said = prompt.split("Please do this for me: ", 1)[1].split(".\n", 1)[0]
            values = dict(pair.split(": ", 1) for pair in said.split("; "))
            listing = prompt.split("Available functions:\n", 1)[1]
            registry = FunctionRegistry.from_schemas(
                [{"name": n, "parameters": {}} for n in offered_names(listing)]
            )
            return ChatResponse(json.dumps(answer_for(listing, registry.names, values)))
        return await self.script.complete(request)

    async def aclose(self) -> None:
        """Nothing to release."""


def offered_names(listing: str) -> list[str]:
    return [line[:-1] for line in listing.splitlines() if line and not line.startswith(" ")]


def answer_for(listing: str, names: list[str], said: dict[str, str]) -> dict[str, object]:
    """The call whose parameters are the ones the request states (typed as the listing's
    catalogue function declares them)."""
    from airloom.instructors.agent_compose import load_catalogue

    catalogue = {f["name"]: f for f in load_catalogue()}
    for name in names:
        properties = catalogue[name]["parameters"]["properties"]
        required = catalogue[name]["parameters"].get("required", [])
        if set(required) <= set(said) <= set(properties):
            typed = {
                key: {"boolean": value == "yes", "integer": int, "number": float}.get(
                    properties[key]["type"], value
                )
                for key, value in said.items()
            }
            typed = {k: (v(said[k]) if callable(v) else v) for k, v in typed.items()}
            return {"function": name, "params": typed}
    raise AssertionError(f"no listed function takes {sorted(said)}")


def test_generate_step_composes_records_that_verify_keeps(openai_server, tmp_path: Path) -> None:
    server = openai_server(backend=RequestWriter())
    sets = {
        "base_url": server.url,
        "model": "teacher",
        "embedding_model": "hashing",
        "output_path": str(tmp_path / "generated.jsonl"),
        "topics_path": str(tmp_path / "topics.txt"),
        "instructors.plan.count": "4",
        "instructors.agent.count": "4",
        "instructors.contextual.count": "8",
    }
    options = [part for key, value in sets.items() for part in ("--set", f"{key}={value}")]
    made = run_airloom(
        "generate", "--config", str(EXAMPLE / "generate.yaml"), *options, "--quiet", cwd=tmp_path
    )
    assert made.returncode == 0, made.stderr
    kept = tmp_path / "kept.jsonl"
    verified = run_airloom(
        "verify", str(tmp_path / "generated.airloom.db"), "--out", str(kept), "-q", cwd=tmp_path
    )
    assert verified.returncode == 0, verified.stderr
    records = [json.loads(line) for line in kept.read_text(encoding="utf-8").splitlines()]
    by_kind = {kind: [r for r in records if r["category"] == kind] for kind in ("plan", "agent")}
    assert len(by_kind["plan"]) == 4 and len(by_kind["agent"]) == 4
    for record in by_kind["plan"]:
        # the runtime's own tools, and the worked example kept as the runtime sends it
        assert sorted(offered_tools(record["instruction"])) == sorted(
            n for n, _ in standard_tools()
        )
        assert PLAN_EXAMPLE in record["instruction"]
        assert record["response"].startswith("Plan: ")
    with Store.open(tmp_path / "generated.airloom.db", read_only=True) as store:
        stored = {r.instruction: r.meta for r in store.iter_records(["agent"])}
    for record in by_kind["agent"]:
        # the call the teacher answered is the drawn one, with exactly the drawn values
        meta = stored[record["instruction"]]
        call = FunctionRegistry.from_schemas(meta["functions"]).parse(
            record["response"], prefer=meta["format"]
        )
        assert call.to_dict() == {"function": meta["function"], "params": meta["values"]}
    contextual = [r for r in records if r["category"] == "contextual"]
    assert len(contextual) == 8
    for record in contextual:
        parsed = parse_closed_context(record["instruction"], strict=True)
        assert parsed.blocks and parsed.instruction.strip()
        assert check_citations(record["response"], record["instruction"]) == []
        asked = parsed.instruction.endswith(SOURCE_REQUESTS)
        cites = "\n\nReference(s):\n" in record["response"]
        assert cites == (asked and not says_unknown(record["response"]))
