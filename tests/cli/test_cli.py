"""The command line as a user runs it: one line for every mistake, no traceback.

Plumbing with a tiny randomly initialised model: no accuracy is claimed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from headstart.cli.main import main
from tests.conftest import make_folder


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "headstart", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    data = make_folder(root / "data")
    out = root / "runs"
    assert (
        main(
            [
                "train",
                str(data),
                "--backbone",
                "test_efficientnet",
                "--weights",
                "random",
                "--strategy",
                "partial:2",
                "--epochs",
                "1",
                "--batch-size",
                "4",
                "--precision",
                "fp32",
                "--no-progress",
                "--out",
                str(out),
                "--name",
                "r",
            ]
        )
        == 0
    )
    return data, out / "train" / "r"


def test_train_writes_the_run_and_prints_the_plan(trained, capsys):
    data, run = trained
    assert (run / "checkpoints" / "best.safetensors").is_file()
    cfg = (run / "config.yaml").read_text()
    assert "strategy: partial:2" in cfg and "backbone: test_efficientnet" in cfg


def test_evaluate_prints_metrics_and_table(trained, capsys):
    data, run = trained
    assert main(["evaluate", str(run), str(data), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 9 and 0 <= out["accuracy"] <= 1
    assert [r["class"] for r in out["per_class"]] == ["blue", "green", "red"]
    assert len(out["confusion_matrix"]) == 3


def test_predict_json_top_k(trained, capsys):
    data, run = trained
    img = data / "val" / "red" / "0.png"
    assert (
        main(["predict", str(run), str(img), str(data / "val" / "blue"), "--top-k", "2", "--json"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert len(out) == 4 and all(len(p["top"]) == 2 for p in out)


def test_evaluate_with_other_classes_is_one_line(trained, tmp_path):
    _, run = trained
    other = make_folder(tmp_path / "o", classes={"cat": (1, 1, 1), "dog": (250, 250, 250)})
    r = cli("evaluate", str(run), str(other))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "class map" in r.stderr


@pytest.mark.parametrize(
    "args, expected",
    [
        (["train", "{data}", "--backbone", "no_such_net"], "unknown backbone 'no_such_net'"),
        (["train", "{tmp}/missing"], "data folder not found"),
        (["train", "{data}", "--strategy", "magic"], "unknown --strategy 'magic'"),
        (["train", "{data}", "--backbone", "resnet18"], "not available offline"),
        (["predict", "{tmp}/nope", "x.png"], "no checkpoint at"),
        (["train", "{data}", "--config", "{tmp}/none.yaml"], "--config file not found"),
    ],
)
def test_user_mistakes_are_one_clear_line(tmp_path, args, expected):
    data = make_folder(tmp_path / "d")
    r = cli(*[a.format(data=data, tmp=tmp_path) for a in args], cwd=tmp_path)  # runs/ goes here
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert expected in r.stderr
    assert r.stderr.strip().count("\n") == 0
    assert not (tmp_path / "runs").exists()


def test_missing_offline_weights_name_where_they_come_from(tmp_path):
    data = make_folder(tmp_path / "d")
    r = cli("train", str(data), "--backbone", "tf_efficientnet_lite3")
    assert r.returncode == 2
    assert "efficientnet-lite3-pytorch-model" in r.stderr or "hub" in r.stderr


def test_config_file_with_flag_override(tmp_path):
    data = make_folder(tmp_path / "d")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"data: {data}\nbackbone: test_efficientnet\nweights: random\nepochs: 3\n"
        f"strategy: feature-extraction\nprecision: fp32\nprogress: false\n"
        f"out: {tmp_path / 'runs'}\nname: c\n"
    )
    assert main(["train", "--config", str(cfg), "--epochs", "1"]) == 0
    saved = (tmp_path / "runs" / "train" / "c" / "config.yaml").read_text()
    assert "epochs: 1" in saved and "strategy: feature-extraction" in saved


def test_backbones_lists_the_packaged_default(capsys):
    assert main(["backbones"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("tf_efficientnet_lite0"))
    assert " yes " in line


def test_datasets_export_digits_is_seeded_and_stratified(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert (
        main(
            [
                "datasets",
                "export",
                "digits",
                str(a),
                "--train-per-class",
                "5",
                "--val-per-class",
                "3",
                "--seed",
                "1",
            ]
        )
        == 0
    )
    main(
        [
            "datasets",
            "export",
            "digits",
            str(b),
            "--train-per-class",
            "5",
            "--val-per-class",
            "3",
            "--seed",
            "1",
        ]
    )
    files_a = sorted(p.relative_to(a) for p in a.rglob("*.png"))
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*.png"))
    assert len(list((a / "train" / "7").glob("*.png"))) == 5
    assert len(list((a / "val" / "7").glob("*.png"))) == 3
    train = {p.name for p in (a / "train").rglob("*.png")}
    assert not train & {p.name for p in (a / "val").rglob("*.png")}
    r = cli("datasets", "export", "digits", str(a))
    assert r.returncode == 2 and "not empty" in r.stderr


def test_compare_reads_seed_as_its_seeds():
    from headstart.cli.main import build_parser

    args = build_parser().parse_args(["compare", "data", "--seed", "1"])
    assert args.seeds == [1] and "seed" not in vars(args)
