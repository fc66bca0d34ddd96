"""Atomic writes: whole files or none, with the mode the user's umask asks for."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from headstart.data.export import export_dataset
from headstart.io import write_atomic, write_json_atomic, write_text_atomic


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path) -> int:  # noqa: ANN001
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_written_files_and_exported_folders_follow_the_umask(tmp_path, mask):
    """They were 0600 and 0700 whatever the umask (mkstemp / mkdtemp modes)."""
    with umask(mask):
        text = write_text_atomic(tmp_path / "a" / "f.txt", "x")
        js = write_json_atomic(tmp_path / "j.json", {"a": 1})
        out = export_dataset("digits", tmp_path / f"dg{mask:o}", 1, 1, seed=0)
    assert mode(text) == mode(js) == 0o666 & ~mask
    assert mode(out) == mode(out / "train") == 0o777 & ~mask
    assert mode(next((out / "train").rglob("*.png"))) == 0o666 & ~mask


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = write_text_atomic(tmp_path / "f.txt", "old")

    def dies_halfway(tmp) -> None:  # noqa: ANN001
        tmp.write_text("half")
        raise RuntimeError("the disk went away")

    with pytest.raises(RuntimeError):
        write_atomic(target, dies_halfway)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]
