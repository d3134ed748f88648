"""The planning prompt: the model card's reWOO instructions with one worked example.

Models that were not trained on the format plan much better with the example
(few-shot); airoboros models accept it too. Tool names and descriptions come from
the registry, so the prompt offers exactly the tools the plan may use.

Example:
    >>> prompt = build_planning_prompt("Who wrote Dune?", [("DuckDuckGo", "Search the web.")])
    >>> "DuckDuckGo[input]: Search the web." in prompt, prompt.endswith("Question: Who wrote Dune?")
    (True, True)
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["EXAMPLE", "INSTRUCTIONS", "OUTPUT_FORMAT", "build_planning_prompt"]

INSTRUCTIONS = (
    "Please construct a systematic plan to generate an optimal response to the user "
    "instruction, utilizing a set of provided tools. Each plan will correspond to an evidence "
    "value, which will be the output of one of the available functions given an input string\n"
    "that could be the user's question, one or more prior evidence values, or a combination "
    "of both."
)

OUTPUT_FORMAT = """The output should be in format:
Plan: [first action to take based on input question]
:evidence0: = [function to call with input parameter]
Plan: [next action to take, based on result of :evidence0:]
:evidence1: = [next function to call and input parameter, which may include reference to \
previous evidence, e.g. "Given context :evidence0:"]
Answer: [:evidence[n]: containing the final answer.]"""

EXAMPLE = """Question: Who won the Nobel Prize in Literature in 2020 and what is their most \
famous work?

Plan: Begin by conducting a web search to find out who won the Nobel Prize in Literature in 2020.
:evidence0: = DuckDuckGo[Nobel Prize in Literature 2020 winner]
Plan: Utilize the KnowledgeModel to interpret the search results and find the name of the \
laureate.
:evidence1: = KnowledgeModel[Who won the Nobel Prize in Literature in 2020, given :evidence0:?]
Plan: Conduct another web search to find the most famous work of the identified laureate.
:evidence2: = DuckDuckGo[Most famous work of :evidence1:]
Plan: Extract the relevant links from the DuckDuckGo search results for a more focused search.
:evidence3: = HyperlinkExtractor[:evidence2:]
Plan: Use the TextScraper tool to extract information from the relevant links.
:evidence4: = TextScraper[:evidence3:]
Plan: Finally, utilize the KnowledgeModel to identify and summarize the most famous work of \
the laureate from the extracted information.
:evidence5: = KnowledgeModel[What is the most famous work of :evidence1:, given :evidence4:?]
Answer: :evidence5:"""


def build_planning_prompt(
    question: str, tools: Sequence[tuple[str, str]], *, example: bool = True
) -> str:
    """The full planning prompt for ``question`` with ``(name, description)`` tools.

    Example:
        >>> "Here is an example" in build_planning_prompt("q", [], example=True)
        True
        >>> "Here is an example" in build_planning_prompt("q", [], example=False)
        False
    """
    lines = [INSTRUCTIONS, "", "Here are the tools available to be called:"]
    lines += [f"{name}[input]: {' '.join(description.split())}" for name, description in tools]
    lines += ["", OUTPUT_FORMAT, ""]
    if example:
        lines += ["Here is an example of a complete plan:", "", EXAMPLE, ""]
        lines += ["Now write the plan for the following question, in the same format.", ""]
    lines.append(f"Question: {' '.join(question.split())}")
    return "\n".join(lines)
