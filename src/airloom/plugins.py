"""One registry style for every kind of plug-in: backends, instructors, checks, tools.

A :class:`Registry` knows its built-ins from a table in code (name → ``module:attr``,
imported only when first used, so a new built-in needs no reinstall and listing names
imports nothing) and finds third-party plug-ins through one entry-point group. A
package adds one by declaring, in its own ``pyproject.toml``::

    [project.entry-points."airloom.instructors"]
    my_category = "my_package.module:MyInstructor"

A built-in keeps its name: a plug-in of the same name adds to it where a name may
carry several objects (:meth:`Registry.load_each`, e.g. more checks of a category)
and is otherwise ignored.

Example:
    >>> greetings = Registry("greeting", "example.greetings", {"hello": ["string:capwords"]})
    >>> greetings.names(), greetings.load("hello")("hi there")
    (['hello'], 'Hi There')
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from airloom.errors import ConfigError

__all__ = ["Registry", "load_spec"]

T = TypeVar("T")


def load_spec(spec: str) -> Any:
    """The object a ``module:attr`` (or ``module:attr.inner``) spec names.

    Example:
        >>> load_spec("os.path:join")("a", "b")
        'a/b'
    """
    module_name, _, attribute = spec.partition(":")
    value: Any = importlib.import_module(module_name)
    for part in filter(None, attribute.split(".")):
        value = getattr(value, part)
    return value


def _accept_any(name: str, value: Any) -> Any:
    return value


class Registry(Generic[T]):
    """Plug-ins of one kind, keyed by name: built-ins in code, others by entry point.

    ``builtins`` maps a name to the specs of its objects (one for most kinds, several
    for checks). ``accept(name, value)`` checks a loaded object and returns it typed,
    raising :class:`ConfigError` when it is not what this kind needs.
    """

    def __init__(
        self,
        kind: str,
        group: str,
        builtins: Mapping[str, Sequence[str]],
        accept: Callable[[str, Any], T] = _accept_any,
    ) -> None:
        self.kind = kind
        self.group = group
        self.builtins = builtins
        self._accept = accept
        self._plugins: dict[str, list[str]] | None = None
        self._loaded: dict[str, T] = {}

    def plugins(self) -> dict[str, list[str]]:
        """Third-party specs by name, read from the installed distributions' metadata
        (nothing is imported).

        Example:
            >>> Registry("thing", "example.none", {}).plugins()
            {}
        """
        if self._plugins is None:
            found: dict[str, list[str]] = {}
            for entry in entry_points(group=self.group):
                specs = found.setdefault(entry.name, [])
                if entry.value not in specs:
                    specs.append(entry.value)
            self._plugins = found
        return self._plugins

    def refresh(self) -> None:
        """Forget what was found and loaded (after installing a plug-in in-process)."""
        self._plugins = None
        self._loaded.clear()

    def names(self) -> list[str]:
        """Every registered name, built-in or plug-in, sorted (nothing is imported)."""
        return sorted({*self.builtins, *self.plugins()})

    def is_builtin(self, name: str) -> bool:
        """Whether ``name`` is one of the built-ins."""
        return name in self.builtins

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self.builtins or name in self.plugins())

    def specs(self, name: str) -> list[str]:
        """The ``module:attr`` specs registered under ``name``, built-ins first."""
        builtin = list(self.builtins.get(name, ()))
        return builtin + [s for s in self.plugins().get(name, []) if s not in builtin]

    def load(self, name: str) -> T:
        """The one object registered under ``name`` (the built-in when there is one).

        Raises :class:`ConfigError` for an unknown name (with the closest known one)
        and for a plug-in that fails to import or is not of this kind.
        """
        if name not in self._loaded:
            specs = self.specs(name)
            if not specs:
                raise self.unknown(name)
            self._loaded[name] = self._load_one(name, specs[0])
        return self._loaded[name]

    def load_each(self, name: str) -> list[T]:
        """Every object registered under ``name`` (none for an unknown name)."""
        return [self._load_one(name, spec) for spec in self.specs(name)]

    def load_all(self) -> dict[str, T]:
        """Every registered name with its object (imports them all)."""
        return {name: self.load(name) for name in self.names()}

    def unknown(self, name: str) -> ConfigError:
        """The error for a name nobody registered, naming the closest known one."""
        import difflib

        known = self.names()
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return ConfigError(
            f"unknown {self.kind} '{name}'",
            hint=f"{hint}known: {', '.join(known) or 'none'}",
        )

    def _load_one(self, name: str, spec: str) -> T:
        try:
            value = load_spec(spec)
        except Exception as exc:  # a broken plug-in must say which one it is
            raise ConfigError(
                f"{self.kind} plug-in '{name}' ({spec}) failed to load: {exc}",
                hint="reinstall or uninstall the package that provides it",
            ) from exc
        return self._accept(name, value)
