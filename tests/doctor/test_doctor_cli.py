"""``headstart doctor`` as a user runs it: one line per finding, exit 1 on errors, --json.

Plumbing with timm's tiny randomly initialised ``test_efficientnet`` on generated images.
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from headstart.cli.main import main
from headstart.engine.checkpoint import CheckpointMeta, save_checkpoint
from tests.conftest import COLOURS, TINY, make_folder, make_image, tiny_weights_path

# The tiny random model, its weights from a file (they stand for pretrained ones).
TINY_ARGS = ["--backbone", TINY, "--weights", str(tiny_weights_path()), "--device", "cpu"]


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return make_folder(tmp_path_factory.mktemp("doctor-cli") / "clean", n_train=10, n_val=3)


def doctor(capsys, *args: str) -> tuple[int, list[str]]:
    code = main(["doctor", *map(str, args)])
    return code, capsys.readouterr().out.strip().splitlines()


def test_clean_data_reports_no_problems(capsys, clean):
    code, lines = doctor(capsys, clean, *TINY_ARGS, "--strategy", "progressive")
    assert (code, lines) == (0, ["no problems found"])


def test_each_mistake_is_one_line_and_errors_exit_1(capsys, clean, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(clean, data)
    make_image(data / "val" / "owl" / "0.png", (90, 90, 90), seed=1)  # a class train lacks
    for i in range(2, 10):  # 'red' keeps 2 train images: too few
        (data / "train" / "red" / f"{i}.png").unlink()
    code, lines = doctor(
        capsys, data, *TINY_ARGS, "--strategy", "full", "--lr", "0.01", "--head-lr", "0.001"
    )
    assert code == 1
    assert [line.split()[:2] for line in lines[:-1]] == [
        ["error", "val-unknown-classes"],
        ["warning", "few-images"],
        ["warning", "backbone-lr"],
    ]
    assert "'owl'" in lines[0] and "'red' (2)" in lines[1]
    assert lines[-1] == "1 error(s), 2 warning(s)"


def test_json_output(capsys, clean):
    code, lines = doctor(
        capsys,
        clean,
        *TINY_ARGS,
        "--strategy",
        "full",
        "--lr",
        "0.01",
        "--head-lr",
        "0.001",
        "--json",
    )
    out = json.loads("\n".join(lines))
    assert code == 0 and (out["errors"], out["warnings"]) == (0, 1)
    assert out["findings"][0]["code"] == "backbone-lr" and out["findings"][0]["level"] == "warning"


def test_checkpoint_with_another_class_order_is_an_error(capsys, clean, tmp_path):
    run = tmp_path / "run"
    meta = CheckpointMeta(
        "image-classification", sorted(COLOURS, reverse=True), backbone={"name": TINY}
    )
    save_checkpoint(run / "checkpoints" / "best.safetensors", {"w": torch.zeros(1)}, meta)
    # no --backbone: the checkpoint's is used
    weights = str(tiny_weights_path())
    code, lines = doctor(capsys, clean, "--weights", weights, "--checkpoint", run)
    assert code == 1
    assert lines[0].split()[:2] == ["error", "class-order"] and "label 0 is 'blue' here" in lines[0]


def test_usage_errors_exit_2(capsys, tmp_path):
    assert main(["doctor", str(tmp_path / "missing"), *TINY_ARGS]) == 2
    assert "data folder not found" in capsys.readouterr().err
