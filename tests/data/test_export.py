"""Exports never delete what headstart did not write: an existing folder is reused only when it
holds this very export, replaced only when it holds an earlier export and ``--force`` is given,
and anything else is an error naming it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from headstart.data.export import MANIFEST, export_dataset
from headstart.errors import DataError
from headstart.text.datasets import export_text_dataset
from tests.cli.helpers import run_main


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def precious(tmp_path) -> Path:
    folder = tmp_path / "mydata"
    folder.mkdir()
    (folder / "notes.txt").write_text("precious\n")
    return folder


def test_demo_never_deletes_a_users_folder(precious, capsys):
    """The reproduction: `headstart demo --data mydata` removed mydata/notes.txt."""
    before = snapshot(precious)
    code, err = run_main(["demo", "--data", str(precious), "--out", str(precious.parent)], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert f"{precious} is not empty and holds files headstart did not export" in err
    assert snapshot(precious) == before


def test_datasets_export_force_never_deletes_a_users_folder(precious, capsys):
    before = snapshot(precious)
    code, err = run_main(["datasets", "export", "digits", str(precious), "--force"], capsys)
    assert code == 2 and str(precious) in err and "did not export" in err, err
    assert snapshot(precious) == before
    assert [p.name for p in precious.parent.iterdir()] == ["mydata"]  # no temporary left


def test_a_previous_export_is_reused_or_replaced_only_with_force(tmp_path):
    out = export_dataset("digits", tmp_path / "dg", 3, 2, seed=1)
    first = snapshot(out)
    assert (out / MANIFEST).is_file() and len(first) == 10 * 5 + 1
    stamp = (out / MANIFEST).stat().st_mtime_ns
    assert export_dataset("digits", out, 3, 2, seed=1) == out  # the same export: reused as is
    assert (out / MANIFEST).stat().st_mtime_ns == stamp and snapshot(out) == first
    with pytest.raises(DataError, match=r"holds an earlier export \(digits, 3 \+ 2 per class"):
        export_dataset("digits", out, 4, 2, seed=1)
    assert snapshot(out) == first
    export_dataset("digits", out, 4, 2, seed=1, force=True)
    assert len(snapshot(out)) == 10 * 6 + 1
    (out / "train" / "0" / "mine.txt").write_text("added by hand")  # no longer an export
    with pytest.raises(DataError, match="did not export"):
        export_dataset("digits", out, 3, 2, seed=1, force=True)
    assert (out / "train" / "0" / "mine.txt").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dg"]


def test_an_empty_folder_is_used(tmp_path):
    (tmp_path / "empty").mkdir()
    out = export_dataset("digits", tmp_path / "empty", 2, 2, seed=0)
    assert len(list((out / "val").rglob("*.png"))) == 20


def test_a_demo_folder_of_the_previous_version_is_reused(tmp_path):
    """Folders written by `headstart demo` 0.1.0 carry a one-line marker instead of JSON."""
    out = export_dataset("digits", tmp_path / "old", 2, 2, seed=0)
    (out / MANIFEST).write_text("digits 2 2 0")
    before = snapshot(out)
    assert export_dataset("digits", out, 2, 2, seed=0) == out and snapshot(out) == before


def test_text_export_never_overwrites_a_users_file(tmp_path):
    mine = tmp_path / "reviews.csv"
    mine.write_text("id,text\n1,my own data\n")
    with pytest.raises(DataError, match="is not a headstart export"):
        export_text_dataset("rotten-tomatoes", mine, 10, 10, force=True)
    assert mine.read_text() == "id,text\n1,my own data\n"
    out = export_text_dataset("rotten-tomatoes", tmp_path / "rt.csv", 10, 10)
    stamp = out.stat().st_mtime_ns
    assert export_text_dataset("rotten-tomatoes", out, 10, 10).stat().st_mtime_ns == stamp
