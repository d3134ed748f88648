"""The examples in the docstrings of the formats and runtime modules run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "airloom.formats.closed_context",
    "airloom.formats.chat",
    "airloom.runtime.schema",
    "airloom.runtime.decode",
    "airloom.runtime.functions",
    "airloom.runtime.actions",
    "airloom.runtime.solutions",
    "airloom.cli.backend_options",
    "airloom.cli.format_cmd",
    "airloom.cli.ask_cmd",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no docstring examples"
    assert result.failed == 0
