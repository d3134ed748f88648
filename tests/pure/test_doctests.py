"""The runnable examples in the docstrings of the reWOO runtime, tools and CLI are tests too."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import airloom.runtime

MODULES = sorted(
    [
        info.name
        for info in pkgutil.walk_packages(airloom.runtime.__path__, "airloom.runtime.")
        if not info.ispkg
    ]
    + ["airloom.cli.plan_cmd"]
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} example(s) failed in {name}"
    assert result.attempted > 0, f"{name} has no runnable example"
