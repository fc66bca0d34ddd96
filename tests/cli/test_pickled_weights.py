"""Weights files that hold pickled objects are refused in one line, and the pickle never runs.

Each hostile file's payload would create a marker file when unpickled; the marker must never
appear. Plumbing only: no model is trained.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from tests.cli.helpers import run_main
from tests.conftest import make_folder


class Payload:
    """Unpickling this runs ``touch MARKER``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (os.system, (f"touch '{self.marker}'",))


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "PAYLOAD-RAN"


@pytest.fixture
def evil_pth(tmp_path, marker) -> Path:
    path = tmp_path / "evil.pth"
    torch.save({"conv.weight": torch.zeros(1), "extra": Payload(marker)}, path)
    return path


@pytest.fixture
def evil_folder(tmp_path, marker) -> Path:
    """A Hugging Face model folder whose only weights are a pickled ``pytorch_model.bin``."""
    folder = tmp_path / "evil_model"
    folder.mkdir()
    config = {"model_type": "bert", "hidden_size": 32, "num_hidden_layers": 1}
    (folder / "config.json").write_text(json.dumps(config))
    torch.save(
        {"embeddings.weight": torch.zeros(1), "x": Payload(marker)}, folder / "pytorch_model.bin"
    )
    return folder


def assert_refused(code: int, err: str, path: Path, marker: Path) -> None:
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert f"{path} holds pickled objects; headstart loads only tensors" in err, err
    assert "convert it" in err
    assert not marker.exists(), "the pickle ran"


def test_pickled_weights_file_is_one_line(tmp_path, evil_pth, marker, monkeypatch, capsys):
    data = make_folder(tmp_path / "d", 2, 1)
    monkeypatch.chdir(tmp_path)
    argv = ["train", str(data), "--backbone", "test_efficientnet", "--weights", str(evil_pth)]
    assert_refused(*run_main(argv, capsys), evil_pth, marker)
    argv = ["embed", str(data), "--backbone", "test_efficientnet", "--weights", str(evil_pth)]
    assert_refused(*run_main(argv, capsys), evil_pth, marker)
    assert not (tmp_path / "runs").exists()


def test_text_model_folder_with_pickled_weights_is_one_line(
    tmp_path, evil_folder, marker, monkeypatch, capsys
):
    csv = tmp_path / "t.csv"
    csv.write_text("text,label\n" + "good film,pos\nbad film,neg\n" * 4)
    monkeypatch.chdir(tmp_path)
    code, err = run_main(["text", "train", str(csv), "--model", f"{evil_folder}/"], capsys)
    assert_refused(code, err, evil_folder / "pytorch_model.bin", marker)
    assert not (tmp_path / "runs").exists()


def test_clip_folder_with_pickled_weights_is_one_line(tmp_path, evil_folder, marker, capsys):
    img = make_folder(tmp_path / "d", 1, 1) / "val" / "red" / "0.png"
    argv = ["zeroshot", str(img), "--labels", "a,b", "--model", f"clip:{evil_folder}"]
    assert_refused(*run_main(argv, capsys), evil_folder / "pytorch_model.bin", marker)


def test_tensor_only_pth_still_loads(tmp_path):
    """The check refuses pickled objects, not ``.pth`` files: a plain state dict loads."""
    from headstart.backbones import read_state_dict

    path = tmp_path / "good.pth"
    torch.save({"w": torch.ones(2)}, path)
    assert torch.equal(read_state_dict(path)["w"], torch.ones(2))
