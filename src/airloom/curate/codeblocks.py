"""Find the code in a coding record, and the language it is written in (pure).

A PLAINFORMAT record's response is the code itself (a stray fence is tolerated, see
:func:`airloom.formats.chat.plain_code`); otherwise every fenced block is taken. A
block's language comes from its fence tag, else from the instruction ("Write a Python
function…", "Implement a Go program…").

Example:
    >>> from airloom.formats.records import make_record
    >>> record = make_record(instruction="Write a Python function that adds. PLAINFORMAT",
    ...           response="def add(a, b):\\n    return a + b")
    >>> code_blocks(record)
    [CodeBlock(language='python', code='def add(a, b):\\n    return a + b')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from airloom.formats.chat import is_plainformat, plain_code
from airloom.formats.fences import fenced_blocks
from airloom.formats.records import Record

__all__ = ["ALIASES", "CodeBlock", "code_blocks", "language_of", "normalise_language"]

ALIASES = {
    "python": "python",
    "python3": "python",
    "py": "python",
    "javascript": "javascript",
    "js": "javascript",
    "node": "javascript",
    "nodejs": "javascript",
    "mjs": "javascript",
    "typescript": "typescript",
    "ts": "typescript",
    "c": "c",
    "h": "c",
    "cpp": "c++",
    "c++": "c++",
    "cc": "c++",
    "cxx": "c++",
    "hpp": "c++",
    "bash": "bash",
    "sh": "bash",
    "shell": "bash",
    "zsh": "bash",
    "java": "java",
    "go": "go",
    "golang": "go",
    "rust": "rust",
    "rs": "rust",
    "csharp": "c#",
    "c#": "c#",
    "cs": "c#",
    "powershell": "powershell",
    "ps1": "powershell",
    "sql": "sql",
    "ruby": "ruby",
    "rb": "ruby",
    "php": "php",
}

#: Language names as instructions spell them, most specific first.
_NAMED = [
    (re.compile(r"\bC\+\+|\bcpp\b", re.IGNORECASE), "c++"),
    (re.compile(r"\bC#|\bcsharp\b", re.IGNORECASE), "c#"),
    (re.compile(r"\bTypeScript\b", re.IGNORECASE), "typescript"),
    (re.compile(r"\bJavaScript\b|\bNode\.?js\b|\bnode\b", re.IGNORECASE), "javascript"),
    (re.compile(r"\bPython\b", re.IGNORECASE), "python"),
    (re.compile(r"\bJava\b", re.IGNORECASE), "java"),
    (re.compile(r"\bGolang\b|\bGo\b"), "go"),
    (re.compile(r"\bRust\b"), "rust"),
    (re.compile(r"\bPowerShell\b", re.IGNORECASE), "powershell"),
    (re.compile(r"\bBash\b|\bshell script\b", re.IGNORECASE), "bash"),
    (re.compile(r"\bSQL\b"), "sql"),
    (re.compile(r"\bRuby\b"), "ruby"),
    (re.compile(r"\bPHP\b"), "php"),
    (re.compile(r"\bC\b(?![#+])"), "c"),
]


@dataclass(frozen=True, slots=True)
class CodeBlock:
    """One piece of code and its language (None when it cannot be told)."""

    language: str | None
    code: str


def language_of(instruction: str) -> str | None:
    """The programming language an instruction names, if any.

    Example:
        >>> language_of("Implement a Go program that sorts."), language_of("Write a C program.")
        ('go', 'c')
        >>> language_of("Write a poem.") is None
        True
    """
    for pattern, language in _NAMED:
        if pattern.search(instruction):
            return language
    return None


def normalise_language(tag: str | None) -> str | None:
    """A fence tag as one of the known language names (None if unknown).

    Example:
        >>> normalise_language("Py"), normalise_language("text")
        ('python', None)
    """
    if not tag:
        return None
    return ALIASES.get(tag.strip().lower())


def code_blocks(record: Record) -> list[CodeBlock]:
    """The code of a record (module docstring); empty when it holds none.

    Example:
        >>> from airloom.formats.records import make_record
        >>> code_blocks(make_record("coding", "Write a Bash script.",
        ...             "Here:\\n```\\necho hi\\n```\\nand\\n```js\\nf()\\n```"))
        [CodeBlock(language='bash', code='echo hi'), CodeBlock(language='javascript', code='f()')]
    """
    instruction = record.instruction
    answers = record.assistant_texts
    response = answers[-1] if answers else ""
    named = language_of(instruction)
    if is_plainformat(instruction):
        code = plain_code(response)
        return [CodeBlock(named, code)] if code.strip() else []
    blocks = []
    for tag, content in fenced_blocks(response):
        language = normalise_language(tag) if tag else named
        code = content.rstrip("\n")
        if code.strip():
            blocks.append(CodeBlock(language, code))
    return blocks
