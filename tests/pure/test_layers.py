"""The package keeps its layers and has no import circle (the import-linter contracts in
pyproject.toml), and the check really fails when someone adds one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the package under ``project/src`` with ``project``'s contracts."""
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports())"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_package_keeps_its_layers_and_has_no_circle() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


@pytest.fixture
def copy_of_the_project(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "src" / "airloom",
        tmp_path / "src" / "airloom",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def plant(project: Path, module: str, line: str) -> None:
    path = project / "src" / Path(*module.split(".")).with_suffix(".py")
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


def test_a_new_circle_between_packages_fails_the_check(copy_of_the_project: Path) -> None:
    # the store already imports errors; errors importing the store closes a circle
    plant(copy_of_the_project, "airloom.errors", "import airloom.store.database")
    result = lint_imports(copy_of_the_project)
    assert result.returncode == 1
    assert "No circle between the packages" in result.stdout and "BROKEN" in result.stdout
    assert ".errors -> .store" in result.stdout or ".store -> .errors" in result.stdout


def test_a_circle_inside_a_package_fails_the_check(copy_of_the_project: Path) -> None:
    # the runner imports the gate; the gate importing the runner back is a circle
    plant(copy_of_the_project, "airloom.engine.gate", "from airloom.engine import runner")
    result = lint_imports(copy_of_the_project)
    assert result.returncode == 1
    assert "No cycles are allowed in airloom.engine" in result.stdout


def test_an_import_from_a_higher_layer_fails_the_check(copy_of_the_project: Path) -> None:
    # lazily, inside a function, is still an import: backends must not reach the engine
    plant(
        copy_of_the_project,
        "airloom.backends.base",
        "def _engine():\n    from airloom.engine import runner\n    return runner",
    )
    result = lint_imports(copy_of_the_project)
    assert result.returncode == 1
    assert "airloom.backends.base -> airloom.engine.runner" in result.stdout


def test_the_package_says_it_is_typed() -> None:
    from importlib.resources import files

    assert files("airloom").joinpath("py.typed").is_file()
