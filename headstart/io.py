"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from headstart.errors import HeadstartError


def umask() -> int:
    """The process's umask (Linux reports it; elsewhere it is read by setting it back)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def mkdtemp_like_mkdir(prefix: str, parent: Path) -> Path:
    """A new temporary folder in ``parent`` with the mode ``mkdir`` gives (``mkdtemp`` makes it
    0700 whatever the umask), for a folder that will be renamed into place."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    os.chmod(tmp, 0o777 & ~umask())
    return tmp


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success it replaces ``target`` atomically.

    On any exception the temporary file is removed and ``target`` is left untouched.

    >>> with atomic_path("out.txt") as tmp:
    ...     tmp.write_text("hello")
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.fchmod(fd, 0o666 & ~umask())  # mkstemp makes it 0600: give the file the usual mode
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_atomic(target: str | Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp_path)`` and move the result onto ``target`` atomically."""
    with atomic_path(target) as tmp:
        write(tmp)
    return Path(target)


def write_text_atomic(target: str | Path, text: str) -> Path:
    return write_atomic(target, lambda p: p.write_text(text, encoding="utf-8"))


def write_bytes_atomic(target: str | Path, data: bytes) -> Path:
    return write_atomic(target, lambda p: p.write_bytes(data))


def write_json_atomic(target: str | Path, obj: Any) -> Path:
    return write_text_atomic(target, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def default_cache_dir() -> Path:
    """headstart's cache folder: ``HEADSTART_CACHE``, else ``~/.cache/headstart`` (or under
    ``XDG_CACHE_HOME``)."""
    root = (
        os.environ.get("HEADSTART_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "headstart"
    )
    return Path(root)


def check_writable(path: str | Path, option: str) -> Path:
    """Fail now, in one line, if ``path`` (a file or folder to write, existing or not) cannot be
    created: the nearest folder on its way that exists must be writable. Returns ``path``.

    Checked before a command starts its work, so a read-only ``--out`` costs nothing.
    """
    target = Path(path)
    existing = target if target.is_dir() else target.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise HeadstartError(f"{option} {path}: cannot write there, {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise HeadstartError(
            f"{option} {path}: cannot write to {existing} (read-only, or not yours); "
            "pick a folder you can write"
        )
    return target


def remove_empty_dirs(folders: Sequence[Path]) -> None:
    """Remove each of ``folders`` that exists and is empty, in order (children first): what a
    command created for outputs it then failed to write."""
    for folder in folders:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
