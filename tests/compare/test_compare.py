"""compare and recommend, end to end on generated images with tiny random models.

Plumbing: the accuracies here mean nothing; the tests check matched budgets, the table,
the report and the advice rules.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest
import torch

from headstart.backbones import load_backbone
from headstart.compare import compare
from headstart.compare.report import text_table
from headstart.data.imagedata import ImageData
from headstart.recommend import advise
from headstart.recommend.measure import bn_shift
from tests.conftest import TINY, assert_tensorboard, make_folder, tiny_config
from tests.report.browser import ink, render
from tests.report.figures import assert_figures_have_sources


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    root = tmp_path_factory.mktemp("cmp")
    data = make_folder(root / "data")
    cfg = tiny_config(epochs=2, out=str(root / "runs"))
    result = compare(data, ["scratch", "feature-extraction", "partial:1"], seeds=[0, 1], config=cfg)
    return result


def test_every_strategy_runs_with_the_same_epochs_and_seeds(compared):
    rows = {r["strategy"]: r for r in compared.rows}
    assert set(rows) == {"scratch", "feature-extraction", "partial:1"}
    for r in rows.values():
        assert r["seeds"] == 2 and r["epochs"] == 2
        assert len(r["runs"]) == 2
        for run in r["runs"]:  # each strategy's run is tracked like any run
            assert_tensorboard(Path(run))
    assert rows["feature-extraction"]["trainable_params"] < rows["partial:1"]["trainable_params"]
    assert rows["scratch"]["trainable_params"] == rows["scratch"]["total_params"]


def test_results_table_and_report(compared, tmp_path):
    d = compared.run_dir
    saved = json.loads((d / "results.json").read_text())
    assert_figures_have_sources(d / "report.md")
    for run in saved["rows"][0]["runs"]:
        assert_figures_have_sources(Path(run) / "report.md")
    assert saved["winner"] == compared.winner["strategy"]
    assert saved["transfer_gap"] == pytest.approx(compared.transfer_gap())
    table = text_table(compared)
    assert "±" in table and "feature-extraction" in table
    check = render(d / "report.html", tmp_path / "shot.png")
    assert "Transfer gap" in check["headings"] and "Why" in check["headings"]
    assert check["first_table"][0][:3] == ["strategy", "val acc", "macro-F1"]
    assert len(check["first_table"]) == 4 and check["winner_rows"] == 1
    assert check["images"] == 2 and check["images_rendered"] == 2
    assert ink(tmp_path / "shot.png") > 0.02


def test_the_report_links_each_strategy_run_and_runs_lists_them_under_it(compared):
    from headstart.runs import find_runs

    d = compared.run_dir
    html = (d / "report.html").read_text()
    links = [unquote(x) for x in re.findall(r'<a href="([^"]+)">', html)]
    assert len(links) == 6  # 3 strategies x 2 seeds
    for link in links:
        assert (d / link).is_file(), link  # relative to the report: the folder can move
    rows = find_runs(d.parent.parent)
    top = next(r for r in rows if r.path == str(d))
    assert top.task == "compare" and len(top.children) == 6
    kids = [r for r in rows if r.parent == str(d)]
    assert {r.strategy for r in kids} == {"scratch", "feature-extraction", "partial:1"}
    assert top.best_val_acc == max(r.best_val_acc for r in kids)


def test_budget_stops_after_the_epoch_that_crosses_it(tmp_path):
    data = make_folder(tmp_path / "data")
    cfg = tiny_config(epochs=3, out=str(tmp_path / "runs"))
    result = compare(data, ["full"], budget=0.0, config=cfg)
    assert result.rows[0]["epochs"] == 1


def test_bn_shift_is_zero_when_statistics_match_the_data(tmp_path):
    data = ImageData.from_folder(make_folder(tmp_path / "d"))
    bb = load_backbone(TINY, "random")
    before = bn_shift(bb, data)
    for m in bb.body.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative: the running stats become this batch's stats
    bb.body.train()
    from torch.utils.data import DataLoader

    from headstart.data.transforms import eval_transform

    x = next(
        iter(DataLoader(data.dataset("train", eval_transform(bb.data_config)), batch_size=64))
    )[0]
    with torch.no_grad():
        bb.body(x)
    after = bn_shift(bb, data)
    assert max(s["shift"] for s in before if s["shift"] is not None) > 0.05
    assert all(s["shift"] < 0.02 for s in after if s["shift"] is not None)
    assert all(abs(s["scale"] - 1) < 0.02 for s in after if s["scale"] is not None)
    # pretrained spread 2x the data's: the scale reads 0.5 (only where the input is unchanged:
    # the first batch-norm layer of the body)
    first = next(m for m in bb.body.modules() if isinstance(m, torch.nn.BatchNorm2d))
    first.running_var.mul_(4).add_(3 * first.eps)
    stem = bn_shift(bb, data)[0]
    assert stem["scale"] < 0.75 and stem["shift"] < 0.02


@pytest.mark.parametrize(
    "per_class, probe, shift, scale, expected, adapt",
    [
        (5, 0.5, 0.5, 1.0, "feature-extraction", False),  # too few images to fine-tune
        (50, 0.97, 0.5, 1.0, "feature-extraction", False),  # frozen features separate classes
        (50, 0.8, 0.5, 1.0, "full", False),  # far from ImageNet, enough images: all layers adapt
        (50, 0.8, 0.05, 1.0, "partial", False),  # near ImageNet: the lower layers' features fit
        (15, 0.8, 0.5, 1.0, "partial", False),  # far, but too few images to re-learn every layer
        (200, 0.8, 0.5, 0.4, "full", True),  # shrunk activations, enough images: adapt BN stats
        (200, 0.8, 0.5, 0.8, "full", False),  # activations spread about as in pretraining
        (50, 0.8, 0.5, 0.4, "full", False),  # shrunk, but too few images to re-estimate them
    ],
)
def test_advice_rules(tmp_path, monkeypatch, per_class, probe, shift, scale, expected, adapt):
    data = make_folder(tmp_path / "d", n_train=per_class, n_val=2)
    monkeypatch.setattr(advise, "_probe", lambda *a: {"val_acc": probe, "train_acc": 1.0})
    monkeypatch.setattr(
        advise,
        "bn_shift",
        lambda bb, d: [{"group": g.name, "shift": shift, "scale": scale} for g in bb.groups],
    )
    rec = advise.recommend(data, backbone=TINY, weights="random", config=tiny_config())
    assert rec.strategy == expected
    assert rec.reasons and "linear_probe_val_acc" in rec.measurements
    assert rec.measurements["bn_shift_mean"] == pytest.approx(shift)
    if expected == "partial":
        assert rec.overrides["partial_groups"] == tiny_config().partial_groups
        assert "--partial-groups" in rec.command("data")
    assert rec.measurements["bn_scale_top_half"] == pytest.approx(scale)
    assert rec.overrides.get("bn_stats") == ("adapt" if adapt else None)
    assert ("--bn-stats adapt" in rec.command("data")) == adapt


def test_imbalance_adds_class_weights(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "d", n_train=40, n_val=2)
    for f in sorted((root / "train" / "red").iterdir())[4:]:
        f.unlink()
    monkeypatch.setattr(advise, "_probe", lambda *a: {"val_acc": 0.8, "train_acc": 1.0})
    rec = advise.recommend(root, backbone=TINY, weights="random", config=tiny_config())
    assert rec.overrides.get("class_weights") is True
    assert any("imbalanced" in r for r in rec.reasons)


def test_compare_row_names_say_what_auto_ran_and_the_settings_it_changed():
    from headstart.compare.report import row_name

    assert row_name({"strategy": "full", "resolved": "full", "settings": {}}) == "full"
    auto = {"strategy": "auto", "resolved": "full", "settings": {"bn_stats": "adapt"}}
    assert row_name(auto) == "auto (full, bn-stats adapt)"
    partial = {"strategy": "auto", "resolved": "partial", "settings": {"partial_groups": 2}}
    assert row_name(partial) == "auto (partial)"  # the depth is partial's own default
