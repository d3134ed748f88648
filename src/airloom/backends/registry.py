"""Backend kinds by name: the built-ins (``openai``, ``local``, ``scripted``) in code,
third-party kinds from the ``airloom.backends`` entry-point group.

A kind is an object with ``describe(config) -> (endpoint name, model)`` and
``build(config, base_dir) -> Backend`` (:class:`BackendKind`); ``backend: <name>`` in
the config picks it. A package adds one by declaring, in its own pyproject.toml::

    [project.entry-points."airloom.backends"]
    my_kind = "my_package.module:MY_KIND"

Example:
    >>> BACKENDS.names()[:3]
    ['local', 'openai', 'scripted']
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from airloom.errors import ConfigError
from airloom.plugins import Registry

if TYPE_CHECKING:
    from airloom.backends.base import Backend
    from airloom.config import Config

__all__ = ["BACKENDS", "GROUP", "BackendKind"]

#: The entry-point group third-party backend kinds register in.
GROUP = "airloom.backends"


@runtime_checkable
class BackendKind(Protocol):
    """How one kind of teacher is named and built from the config."""

    def describe(self, config: Config) -> tuple[str, str]:
        """(endpoint name shown to users and stored as provenance, model name)."""
        ...

    def build(self, config: Config, base_dir: Path | None) -> Backend:
        """The backend (heavy work such as loading a model is left to the first call)."""
        ...


def _accept_kind(name: str, value: Any) -> BackendKind:
    if isinstance(value, type):
        value = value()
    if not isinstance(value, BackendKind):
        raise ConfigError(
            f"backend plug-in '{name}' has no describe(config) and build(config, base_dir)"
        )
    return value


#: Every backend kind: the built-ins of :mod:`airloom.backends.factory` and plug-ins.
BACKENDS: Registry[BackendKind] = Registry(
    "backend",
    GROUP,
    {
        "openai": ("airloom.backends.factory:OpenAIKind",),
        "local": ("airloom.backends.factory:LocalKind",),
        "scripted": ("airloom.backends.factory:ScriptedKind",),
    },
    _accept_kind,
)
