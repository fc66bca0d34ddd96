"""An output folder that cannot be written (a read-only mount, someone else's folder) is one
line naming it, before any work starts, for every command that writes.

The tests run as any user, root included (who may write anywhere on an ordinary disk): the
folder is made read-only with ``chmod 0555`` and, since root ignores that, ``os.access``
answers for it as the kernel answers on a read-only mount.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from headstart.cli.main import main
from tests.cli.helpers import run_main
from tests.conftest import make_folder


@pytest.fixture
def readonly(tmp_path, monkeypatch) -> Path:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    real_access = os.access

    def access(path, mode, *args, **kwargs):  # noqa: ANN001, ANN202
        if Path(path).resolve() == ro.resolve() and mode & os.W_OK:
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
    yield ro
    ro.chmod(0o755)


@pytest.fixture
def inputs(tmp_path) -> dict[str, str]:
    data = make_folder(tmp_path / "d", 2, 1)
    csv = tmp_path / "t.csv"
    csv.write_text("text,label\n" + "good film,pos\nbad film,neg\n" * 4)
    return {"data": str(data), "csv": str(csv)}


TINY = ["--backbone", "test_efficientnet", "--weights", "random"]
COMMANDS = {
    "train": lambda i, ro: ["train", i["data"], *TINY, "--out", f"{ro}/runs"],
    "compare": lambda i, ro: ["compare", i["data"], *TINY, "--out", f"{ro}/runs"],
    "text train": lambda i, ro: ["text", "train", i["csv"], "--out", f"{ro}/runs"],
    "text compare": lambda i, ro: ["text", "compare", i["csv"], "--out", f"{ro}/runs"],
    "adapt": lambda i, ro: (
        ["adapt", "--source", i["data"], "--target", i["data"], *TINY] + ["--out", str(ro)]
    ),
    "fewshot train": lambda i, ro: ["fewshot", "train", i["data"], *TINY, "--out", str(ro)],
    "embed": lambda i, ro: ["embed", i["data"], *TINY, "--out", f"{ro}/emb"],
    "datasets export": lambda i, ro: ["datasets", "export", "digits", f"{ro}/digits"],
    "datasets export text": lambda i, ro: ["datasets", "export", "rotten-tomatoes", f"{ro}/t.csv"],
    "demo": lambda i, ro: ["demo", "--data", f"{ro}/data"],
    "demo out": lambda i, ro: ["demo", "--data", i["data"], "--out", str(ro)],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_unwritable_output_is_one_line(command, inputs, readonly, capsys):
    code, err = run_main(COMMANDS[command](inputs, readonly), capsys)
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert f"{readonly}" in err and "cannot write" in err, err
    assert list(readonly.iterdir()) == []


def test_a_write_refused_midway_is_one_line(inputs, tmp_path, monkeypatch, capsys):
    """The check before the run cannot see everything (a disk that fills, a folder made
    read-only meanwhile): a refused write is still one line naming the file."""
    import headstart.engine.rundir as rundir

    def refuse(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / "runs" / "train"))

    monkeypatch.setattr(rundir.Path, "mkdir", refuse)
    code, err = run_main(["train", inputs["data"], *TINY, "--out", str(tmp_path / "runs")], capsys)
    last = err.strip().splitlines()[-1]  # after the pre-training warnings of tiny data
    assert code == 2 and "Traceback" not in err, err
    assert last == f"headstart: error: {tmp_path / 'runs' / 'train'}: Read-only file system"


def test_embeddings_commands_that_write_into_a_folder(inputs, readonly, tmp_path, capsys):
    """map, index, probe and search --sheet write next to their input or to --out."""
    emb = tmp_path / "emb"
    assert main(["embed", inputs["data"], *TINY, "--out", str(emb), "--no-progress"]) == 0
    assert main(["index", str(emb)]) == 0
    capsys.readouterr()
    for argv in (
        ["map", str(emb), "--method", "pca", "--out", f"{readonly}/m.png"],
        ["index", str(emb), "--out", f"{readonly}/index"],
        ["search", str(emb / "index"), inputs["data"], "--sheet", f"{readonly}/s.png"],
    ):
        code, err = run_main(argv, capsys)
        assert code == 2 and err.count("\n") == 1 and "cannot write" in err, (argv, err)
