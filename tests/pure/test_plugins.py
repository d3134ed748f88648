"""One registry style: built-ins from tables in code, third-party plug-ins from entry
points of a real distribution installed on the path."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from airloom.backends.factory import build_default_backend, describe_default
from airloom.backends.registry import BACKENDS
from airloom.backends.scripted import ScriptedBackend
from airloom.checks import CHECKS, checks_for
from airloom.config import Config, validate_config
from airloom.config_load import plugin_tables
from airloom.errors import ConfigError
from airloom.instructors.catalog import BUILTIN_CATEGORIES, INSTRUCTORS, section_models
from airloom.instructors.registry import available_instructors, load_enabled, run_order
from airloom.plugins import Registry
from airloom.runtime.tools.registry import TOOLS
from airloom.runtime.tools.search import LocalCorpus
from airloom.runtime.tools.standard import make_registry
from tests.support.cli import airloom_env
from tests.support.plugin_dist import PACKAGE, write_plugin

REGISTRIES: list[Registry[object]] = [INSTRUCTORS, BACKENDS, CHECKS, TOOLS]  # type: ignore[list-item]


def refresh() -> None:
    for registry in REGISTRIES:
        registry.refresh()


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = write_plugin(tmp_path / "site")
    monkeypatch.syspath_prepend(str(folder))
    refresh()
    yield folder
    monkeypatch.undo()
    sys.modules.pop(PACKAGE, None)
    refresh()


# ---- built-ins ----------------------------------------------------------------------------
def test_every_builtin_category_row_matches_its_class() -> None:
    classes = available_instructors()
    assert set(BUILTIN_CATEGORIES) <= set(classes)
    models = section_models()
    for name, category in BUILTIN_CATEGORIES.items():
        cls = classes[name]
        assert cls.name == name
        assert cls.config_model is models[name] is category.settings_model(), name


def test_config_validation_imports_no_instructor_code() -> None:
    probe = (
        "import sys\n"
        "from airloom.config import validate_config\n"
        "from airloom.config_load import plugin_tables\n"
        "data = {'instructors': {'rules': {'count': 2}, 'editor': {}, 'rp': {}}}\n"
        "validate_config(data, tables=plugin_tables())\n"
        "loaded = [m for m in sys.modules if m.startswith('airloom.instructors.')]\n"
        "print(sorted(m for m in loaded if '.settings' not in m))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=airloom_env()
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['airloom.instructors.catalog']"


def test_a_run_imports_only_the_enabled_categories_and_their_dependencies() -> None:
    assert sorted(load_enabled(["editor", "general"])) == ["editor", "general", "writing"]
    assert run_order(["editor", "writing"]) == [["writing"], ["editor"]]


def test_unknown_names_say_what_is_known() -> None:
    with pytest.raises(ConfigError) as info:
        INSTRUCTORS.load("genral")
    assert "unknown instructor 'genral'" in info.value.message
    assert "did you mean 'general'?" in str(info.value.hint)
    with pytest.raises(ConfigError, match="unknown backend 'olama'"):
        BACKENDS.load("olama")


def test_builtin_backend_kinds_build_without_branches() -> None:
    config = Config(backend="scripted", script_path="demo")
    assert describe_default(config) == ("scripted", "scripted:demo", "scripted")
    assert isinstance(build_default_backend(config), ScriptedBackend)
    assert describe_default(Config(base_url="http://127.0.0.1:9/v1", model="m"))[0] == "openai"
    with pytest.raises(ConfigError, match="unknown backend"):
        validate_config({"backend": "magic"}, tables=plugin_tables())


def test_builtin_tools_fill_the_four_roles(tmp_path: Path) -> None:
    registry = make_registry(LocalCorpus(tmp_path), ScriptedBackend([]), "m", tmp_path)
    assert sorted(registry.tools) == ["links", "qa", "scrape", "search"]
    assert registry.resolve("Google Search") is not None


# ---- third-party plug-ins -----------------------------------------------------------------
def test_a_third_party_instructor_is_found_validated_and_run(plugin: Path) -> None:
    assert "haiku" in INSTRUCTORS.names() and not INSTRUCTORS.is_builtin("haiku")
    config = validate_config(
        {"instructors": {"haiku": {"count": 2, "season": "winter"}}}, tables=plugin_tables()
    )
    section = config.instructors["haiku"]
    assert type(section).__name__ == "HaikuConfig" and section.season == "winter"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=r"instructors\.haiku\.season"):
        validate_config({"instructors": {"haiku": {"season": 3}}}, tables=plugin_tables())
    assert section_models()["haiku"] is INSTRUCTORS.load("haiku").config_model


def test_a_third_party_backend_is_selectable_by_name(plugin: Path) -> None:
    config = validate_config({"backend": "echo"}, tables=plugin_tables())
    assert describe_default(config) == ("echo", "echo", "echo-model")
    backend = build_default_backend(config)
    assert isinstance(backend, ScriptedBackend) and backend.name == "echo"


def test_third_party_checks_add_to_a_category(plugin: Path) -> None:
    assert [c.__name__ for c in checks_for("haiku")] == ["check_haiku"]
    general = checks_for("general")
    assert [c.__name__ for c in general] == ["check_general_extra"]
    assert not general[0]({"response": "forbidden fruit"}).ok
    assert [c.__name__ for c in checks_for("mathjson")] == ["check_mathjson"]  # built-in kept


def test_a_third_party_tool_is_offered_to_plans(plugin: Path, tmp_path: Path) -> None:
    registry = make_registry(LocalCorpus(tmp_path), ScriptedBackend([]), "m", tmp_path)
    found = registry.resolve("CALC")
    assert found is not None and found[0] == "calculator"
    assert asyncio.run(found[1].run("2+3", None)) == "5"  # type: ignore[arg-type]
    assert "Calculator" in [name for name, _ in registry.offered()]


def test_a_plugin_cannot_replace_a_builtin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_plugin(
        tmp_path / "site",
        entry_points=f"[airloom.instructors]\ngeneral = {PACKAGE}:HaikuInstructor\n",
    )
    monkeypatch.syspath_prepend(str(folder))
    refresh()
    try:
        assert INSTRUCTORS.load("general").__module__ == "airloom.instructors.general"
    finally:
        monkeypatch.undo()
        refresh()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (f"haiku = {PACKAGE}:missing_name", "instructor plug-in 'haiku' .* failed to load"),
        ("haiku = no_such_module_here:Thing", "failed to load"),
        (f"haiku = {PACKAGE}:check_haiku", "is not an Instructor subclass"),
        (f"sonnet = {PACKAGE}:HaikuInstructor", "declares name 'haiku'"),
    ],
)
def test_a_broken_plugin_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry: str, message: str
) -> None:
    folder = write_plugin(tmp_path / "site", entry_points=f"[airloom.instructors]\n{entry}\n")
    monkeypatch.syspath_prepend(str(folder))
    refresh()
    try:
        name = entry.split(" =")[0]
        with pytest.raises(ConfigError, match=message):
            INSTRUCTORS.load(name)
        with pytest.raises(ConfigError, match=message):
            validate_config({"instructors": {name: {}}}, tables=plugin_tables())
        # a config that does not use it still validates
        assert validate_config(
            {"instructors": {"general": {}}}, tables=plugin_tables()
        ).instructors["general"]
    finally:
        monkeypatch.undo()
        sys.modules.pop(PACKAGE, None)
        refresh()
