"""Public modules say what they export (``__all__``), and every name they list exists."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import airloom

#: Modules whose ``__all__`` is their public interface (plug-ins and programs import these).
PUBLIC_MODULES = (
    "airloom.errors",
    "airloom.configfile",
    "airloom.local_settings",
    "airloom.threads",
    "airloom.formats.chat",
    "airloom.formats.closed_context",
    "airloom.formats.transcripts",
    "airloom.backends.base",
    "airloom.runtime.actions",
    "airloom.runtime.decode",
    "airloom.runtime.functions",
    "airloom.runtime.schema",
    "airloom.runtime.solutions",
    "airloom.runtime.rewoo.parse",
    "airloom.runtime.rewoo.validate",
    "airloom.runtime.rewoo.execute",
    "airloom.runtime.plan_ir",
    "airloom.train.config",
    "airloom.serve.config",
    "airloom.evaluate.cases",
    "airloom.evaluate.scorers",
)

HEAVY_OPTIONAL = ("airloom.serve.app", "airloom.serve.server")


def _modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(airloom.__path__, "airloom."):
        if not info.name.endswith("__main__") and info.name not in HEAVY_OPTIONAL:
            names.append(info.name)
    return names


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_public_modules_declare_their_names(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported, f"{name} has no __all__"
    assert len(set(exported)) == len(exported), f"{name} lists a name twice"


def test_every_listed_name_exists() -> None:
    missing = []
    for name in _modules():
        try:
            module = importlib.import_module(name)
        except ImportError:  # an optional extra that is not installed
            continue
        missing += [
            f"{name}.{item}" for item in getattr(module, "__all__", ()) if not hasattr(module, item)
        ]
    assert not missing, missing
