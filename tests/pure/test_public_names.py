"""Public modules say what they export (``__all__``), and every name they list exists."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import airloom

HEAVY_OPTIONAL = ("airloom.serve.app", "airloom.serve.server")


def _modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(airloom.__path__, "airloom."):
        if not info.name.endswith("__main__") and info.name not in HEAVY_OPTIONAL:
            names.append(info.name)
    return names


def _module_files() -> list[Path]:
    root = Path(airloom.__file__).parent
    return sorted(p for p in root.rglob("*.py") if p.name not in ("__init__.py", "__main__.py"))


def _declared_names(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        targets = node.targets if isinstance(node, ast.Assign) else [target]
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            value = getattr(node, "value", None)
            items = value.elts if isinstance(value, (ast.List, ast.Tuple)) else []
            return [item.value for item in items if isinstance(item, ast.Constant)]
    return None


@pytest.mark.parametrize(
    "path",
    _module_files(),
    ids=lambda p: str(p.relative_to(Path(airloom.__file__).parent).with_suffix("")),
)
def test_every_module_declares_its_names(path: Path) -> None:
    """Read from the source, so that modules of optional extras are checked too."""
    listed = _declared_names(ast.parse(path.read_text(encoding="utf-8")))
    assert listed is not None, f"{path} has no __all__"
    assert len(set(listed)) == len(listed), f"{path} lists a name twice"


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
