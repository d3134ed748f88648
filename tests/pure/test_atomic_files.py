"""Atomic output files get the permissions the umask gives, not a temporary file's 0600."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from airloom.export.atomic import current_umask, write_lines_atomic
from airloom.export.writers import write_dataset
from airloom.formats.records import make_record


@pytest.fixture
def umask() -> Iterator[object]:
    saved = os.umask(0o022)
    os.umask(saved)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(saved)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_new_files_follow_the_umask(tmp_path: Path, umask, mask: int, expected: int) -> None:
    umask(mask)
    assert current_umask() == mask
    target = tmp_path / "out.jsonl"
    assert write_lines_atomic(target, ["{}", "{}"]) == 2
    assert mode(target) == expected
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_replaced_file_keeps_its_mode(tmp_path: Path, umask) -> None:
    umask(0o022)
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")
    target.chmod(0o640)
    write_lines_atomic(target, ["new"])
    assert target.read_text() == "new\n" and mode(target) == 0o640


def test_dataset_exports_follow_the_umask(tmp_path: Path, umask) -> None:
    umask(0o022)
    out = tmp_path / "data.jsonl"
    write_dataset([make_record("general", "i", "r")], out, "jsonl")
    assert mode(out) == 0o644
