"""The runnable examples of the record type, its row shapes, the exporter and the checks
(which take records) are tests too."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import airloom.checks

MODULES = sorted(
    [
        "airloom.formats.records",
        "airloom.formats.rows",
        "airloom.export",
        "airloom.export.atomic",
        "airloom.export.writers",
        "airloom.store.database",
        "airloom.curate.sources",
        "airloom.curate.codeblocks",
        "airloom.curate.judge",
        "airloom.train.data",
    ]
    + [info.name for info in pkgutil.iter_modules(airloom.checks.__path__, "airloom.checks.")]
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} example(s) failed in {name}"
