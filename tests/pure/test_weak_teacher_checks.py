"""Checks against what a weak teacher slipped through, from real replies: markdown
debris, echoes, rewordings of the prompt's own examples, tool names in another case,
the closed-context layout's placeholder as an answer."""

from __future__ import annotations

from airloom.checks.plans import check_plan
from airloom.instructors.base import load_template
from airloom.instructors.contextual import answer_problem
from airloom.instructors.engines import copied_from_prompt, echoes
from airloom.instructors.parsing import parse_labelled_items, parse_qa_pairs
from tests.support.records import record_of


def test_markdown_debris_is_stripped_from_task_lists() -> None:
    reply = (
        "TSK 1. Write a limerick about a lighthouse keeper who collects bottles.**\n\n"
        "TSK 2. **List five uses of copper in medieval households.\n\n---\n**"
    )
    assert parse_labelled_items(reply, "TSK") == [
        "Write a limerick about a lighthouse keeper who collects bottles.",
        "List five uses of copper in medieval households.",
    ]
    headed = "**TSK 3.** **Classification:** Sort these animals by habitat: otter, camel.\n"
    assert parse_labelled_items(headed, "TSK") == [
        "Classification: Sort these animals by habitat: otter, camel."
    ]
    pairs = parse_qa_pairs(
        "QUESTION: **What is a fjord?**\nANSWER: A sea inlet.", "QUESTION", "ANSWER"
    )
    assert pairs == [("What is a fjord?", "A sea inlet.")]


def test_a_response_identical_to_its_instruction_is_an_echo() -> None:
    task = "Describe the smell of rain on hot asphalt in three sentences."
    assert echoes(task, task)
    assert echoes(task, "  describe the smell of rain on hot asphalt in three sentences  ")
    assert not echoes(task, "Petrichor rises from the road like steam from a kettle.")


def test_a_reworded_example_of_the_prompt_is_a_copy() -> None:
    prompt = load_template("coding.txt", None).text
    reworded = (
        "Create a Golang program that reads a weighted graph from a file, then prints "
        "the shortest path between two nodes using Dijkstra's algorithm."
    )
    assert copied_from_prompt(reworded, prompt)
    assert not copied_from_prompt(
        "Write a Golang program that tails a log file and counts HTTP status codes per minute.",
        prompt,
    )


def test_a_plan_task_asking_the_examples_question_is_a_copy() -> None:
    prompt = load_template("plan.txt", None).text
    task = (
        "Tools:\nBing[input]: web search.\nQA[input]: answers questions.\n"
        "Question: Who won the Nobel Prize in Literature in 2020 and what is their most "
        "famous work?"
    )
    assert copied_from_prompt(task, prompt)


def test_tool_names_are_matched_exactly_against_the_offered_list() -> None:
    task = (
        "Here are the tools available to be called:\n"
        "DUCKDuckGo[input]: Searches the web.\nTextScraper[input]: Loads pages.\n\n"
        "Question: When was the Eiffel Tower painted last?"
    )
    plan = (
        "Plan: Search.\n:evidence0: = DuckDuckGo[Eiffel Tower last painted]\n"
        "Plan: Read.\n:evidence1: = TextScraper[:evidence0:]\nAnswer: :evidence1:"
    )
    verdict = check_plan(record_of(instruction=task, response=plan))
    assert not verdict.ok
    assert verdict.reason == "the plan calls 'DuckDuckGo', the task offers 'DUCKDuckGo'"
    exact = task.replace("DUCKDuckGo", "DuckDuckGo")
    assert check_plan(record_of(instruction=exact, response=plan)).ok


def test_placeholder_contextual_answers_are_rejected() -> None:
    assert answer_problem("key: value no source available") == (
        "placeholder",
        "key: value",
    )
    assert answer_problem("Reference(s):\nno source available")[0] == "no_answer"
    assert answer_problem("The bridge opened in 1911.\n\nReference(s):\nurl: https://x") is None
