"""Benchmark: eager DAG execution versus one-step-at-a-time execution of a reWOO plan.

The plan runs four independent searches feeding one QA step; every tool sleeps a
fixed latency, so the figures measure the scheduler, not the tools. Prints the
median wall time of each mode over several repetitions and their ratio.

Run: ``PYTHONPATH=src python benchmarks/rewoo.py [--latency 0.2] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from airloom.runtime.rewoo.execute import execute_plan
from airloom.runtime.rewoo.parse import parse_plan
from airloom.runtime.rewoo.validate import ValidPlan, validate_plan
from airloom.runtime.tools.base import ToolContext
from airloom.runtime.tools.registry import ToolRegistry

PLAN = """Plan: Search four angles at once.
:evidence0: = DuckDuckGo[airoboros model family]
:evidence1: = DuckDuckGo[reWOO planning paper]
:evidence2: = DuckDuckGo[closed-context question answering]
:evidence3: = DuckDuckGo[execution plan tool use]
Plan: Answer from all four.
:evidence4: = KnowledgeModel[Summarise :evidence0: :evidence1: :evidence2: :evidence3:]
Answer: :evidence4:"""


class FixedLatency:
    """A tool that takes exactly ``latency`` seconds."""

    def __init__(self, name: str, latency: float) -> None:
        self.name = name
        self.latency = latency

    async def run(self, input: str, ctx: ToolContext) -> str:
        await asyncio.sleep(self.latency)
        return f"{self.name} result for {input[:30]}"


async def run_dag(plan: ValidPlan, registry: ToolRegistry) -> float:
    start = time.perf_counter()
    trace = await execute_plan(plan, registry)
    assert trace.ok, trace.error
    return time.perf_counter() - start


async def run_sequential(plan: ValidPlan, registry: ToolRegistry) -> float:
    """The same plan, one step at a time in dependency order (what a simple loop does)."""
    start = time.perf_counter()
    for step_id in plan.order:
        step = plan.steps[step_id].step
        resolved = registry.resolve(step.tool)
        assert resolved is not None
        await resolved[1].run(step.raw_input, ToolContext())
    return time.perf_counter() - start


async def main(latency: float, repeats: int) -> None:
    registry = ToolRegistry(
        {"search": FixedLatency("search", latency), "qa": FixedLatency("qa", latency)}
    )
    plan = validate_plan(parse_plan(PLAN), offered=registry.known_names())
    dag = [await run_dag(plan, registry) for _ in range(repeats)]
    seq = [await run_sequential(plan, registry) for _ in range(repeats)]
    dag_median, seq_median = statistics.median(dag), statistics.median(seq)
    print(f"plan: 4 independent searches -> 1 QA step; tool latency {latency * 1000:.0f} ms")
    print(f"repetitions: {repeats}")
    print(f"DAG time (median):        {dag_median:.3f} s")
    print(f"sequential time (median): {seq_median:.3f} s")
    print(f"speed-up:                 {seq_median / dag_median:.2f}x (target >= 2x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per tool call")
    parser.add_argument("--repeats", type=int, default=5, help="repetitions per mode")
    args = parser.parse_args()
    asyncio.run(main(args.latency, args.repeats))
