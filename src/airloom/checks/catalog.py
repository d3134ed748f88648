"""Load every check module of :mod:`airloom.checks`, so :data:`CHECKS` is complete.

A check registers itself when its module is imported; generation imports the modules
of the categories it runs, but a consumer that wants *all* checks (``airloom verify``)
calls :func:`load_all`, which imports every module of this package — whichever group
wrote it — and returns the registry.

Example:
    >>> registry = load_all()
    >>> {"mathjson", "rules", "summarization", "agent", "plan"} <= set(registry)
    True
"""

from __future__ import annotations

import importlib
import pkgutil

import airloom.checks as package
from airloom.checks import CHECKS, Check


def check_modules() -> list[str]:
    """Names of the check modules in this package (sorted), this one excluded.

    Example:
        >>> "mathjson" in check_modules() and "catalog" not in check_modules()
        True
    """
    return sorted(
        info.name
        for info in pkgutil.iter_modules(package.__path__)
        if info.name != "catalog" and not info.name.startswith("_")
    )


def load_all() -> dict[str, list[Check]]:
    """Import every check module; return :data:`airloom.checks.CHECKS`.

    Example:
        >>> [check.__name__ for check in load_all()["mathjson"]]
        ['check_mathjson']
    """
    for name in check_modules():
        importlib.import_module(f"{package.__name__}.{name}")
    return CHECKS
