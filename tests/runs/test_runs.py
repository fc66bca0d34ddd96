"""``headstart runs``: every run under a folder as one table (and JSON), sortable, and
``runs show RUN``. Plumbing with a tiny randomly initialised model: no accuracy is claimed."""

from __future__ import annotations

import json

import pytest

from headstart.classify.fit import fit
from headstart.cli.main import main
from tests.conftest import interrupt_after, tiny_config


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs-table")
    from tests.conftest import make_folder

    data = make_folder(root / "data")
    out = root / "runs"
    done = fit(data, tiny_config(strategy="feature-extraction", epochs=2, out=str(out)), name="fe")
    mp = pytest.MonkeyPatch()
    with interrupt_after(mp, 1), pytest.raises(KeyboardInterrupt):
        fit(data, tiny_config(strategy="full", epochs=2, out=str(out)), name="cut")
    mp.undo()
    return out, done


def test_the_table_lists_every_run_with_its_numbers(runs, capsys):
    out, done = runs
    assert main(["runs", str(out), "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"fe", "cut"}
    fe, cut = rows["fe"], rows["cut"]
    assert fe["task"] == "train" and fe["strategy"] == "feature-extraction"
    assert fe["model"] == "test_efficientnet" and fe["data"].endswith("data")
    assert fe["epochs"] == 2 and fe["best_val_acc"] == pytest.approx(done.best["val_acc"])
    assert fe["last_val_acc"] == pytest.approx(done.final.val_acc)
    assert fe["wall_s"] > 0 and fe["date"].startswith("20")
    assert cut["epochs"] == 1 and cut["planned_epochs"] == 2  # interrupted: 1 of 2
    assert main(["runs", str(out)]) == 0
    text = capsys.readouterr().out
    assert "best val acc" in text.splitlines()[0] and "1/2" in text


def test_sorting_by_a_column_and_refusing_an_unknown_one(runs, capsys):
    out, _ = runs
    assert main(["runs", str(out), "--sort", "name", "--json"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == ["cut", "fe"]
    assert main(["runs", str(out), "--sort", "epochs", "--json"]) == 0  # highest first
    assert [r["epochs"] for r in json.loads(capsys.readouterr().out)] == [2, 1]
    assert main(["runs", str(out), "--sort", "epochs", "--ascending", "--json"]) == 0
    assert [r["epochs"] for r in json.loads(capsys.readouterr().out)] == [1, 2]
    assert main(["runs", str(out), "--sort", "colour"]) == 2
    assert "--sort colour: choose one of" in capsys.readouterr().err


def test_show_prints_the_plan_metrics_and_files(runs, capsys):
    out, done = runs
    assert main(["runs", "show", str(done.run_dir)]) == 0
    text = capsys.readouterr().out
    assert "strategy: feature-extraction" in text and "head" in text
    assert "metrics per epoch:" in text and "report.html" in text and "best.safetensors" in text
    assert main(["runs", "show", str(done.run_dir), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert len(info["metrics"]) == 2 and info["plan"]["strategy"] == "feature-extraction"
    assert info["files"]["report.html"].endswith("report.html")


def test_a_damaged_run_is_listed_with_its_problem_and_bad_paths_are_errors(runs, tmp_path, capsys):
    import shutil

    out, done = runs
    copy = tmp_path / "runs"
    shutil.copytree(out, copy)
    (copy / "train" / "fe" / "checkpoints" / "last.json").write_text("[1, 2]")
    assert main(["runs", str(copy), "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert "damaged" in rows["fe"]["problem"] and rows["cut"]["epochs"] == 1
    assert main(["runs", str(tmp_path / "nowhere")]) == 2
    assert "no runs folder" in capsys.readouterr().err
    assert main(["runs", "show", str(tmp_path)]) == 2
    assert "is not a run directory" in capsys.readouterr().err
