"""The LR range test: the suggestion rules on known curves, the test on a real loop task
(weights restored, divergence stops it, ratios kept), and ``lr-find`` / ``train --lr find``
end to end with a tiny random model (plumbing: no accuracy is claimed)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from torch import nn
from torch.utils.data import TensorDataset

from headstart.cli.main import main
from headstart.engine.loaders import eval_loader, train_loader
from headstart.engine.loop import LoopConfig
from headstart.engine.lr_find import RangeTest, range_test, valley_index
from headstart.engine.task import ClassifierTask, Phase
from headstart.strategies import Part, PlanOptions, apply_plan, build_param_groups, make_plan
from tests.conftest import TINY, tiny_weights_path


def test_valley_is_inside_the_longest_descent():
    loss = np.array([5, 5.1, 5, 4, 3, 2, 1.5, 1.2, 1.1, 1.3, 3, 8], float)
    i = valley_index(loss)
    assert 2 <= i <= 8 and loss[i] < loss[2]


def test_suggestions_of_a_u_shaped_curve():
    lrs = list(np.logspace(-6, 1, 60))
    log = np.log10(lrs)
    smoothed = list(2 + (log + 2) ** 2 / 4)  # lowest at 1e-2, steepest fall early
    t = RangeTest("head", lrs, smoothed, smoothed, base_lrs={"head": 1e-3})
    s = t.suggestions()
    assert 1e-5 < s["valley"] < 1e-2 and s["minimum"] == pytest.approx(1e-3, rel=0.3)
    assert t.factor("valley") == pytest.approx(s["valley"] / 1e-3)


class Points(ClassifierTask):
    def __init__(self, model, plan, data):
        self.model, self.plan, self.data = model, plan, data
        self.criterion = nn.CrossEntropyLoss()

    def phase(self, epoch):
        apply_plan(self.model, self.plan, epoch)
        groups = build_param_groups(self.model, self.plan, epoch, weight_decay=0.0)
        train, val = train_loader(self.data, 16), eval_loader(self.data, 64)
        return Phase("all", self.model, train, val, groups, len(train))

    def set_train_mode(self, epoch):
        self.model.train()


def points_task():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 2, generator=g)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    layers, head = [Part.of("hidden", model[0], "0.")], [Part.of("head", model[2], "2.")]
    plan = make_plan("full", layers, head, 3, PlanOptions(lr=1e-3, head_lr=1e-2, batch_norm=False))
    return Points(model, plan, TensorDataset(x, (x[:, 0] > 0).long())), model


def test_the_range_test_restores_the_weights_keeps_ratios_and_stops_on_divergence():
    task, model = points_task()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    t = range_test(task, LoopConfig(epochs=3, progress=False), 0, "hidden", steps=200)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert t.base_lrs["head"] / t.base_lrs["hidden"] == pytest.approx(10)
    assert "diverged" in t.stopped and len(t.lrs) < 200  # up to LR 10 a small MLP blows up
    assert np.all(np.diff(t.lrs) > 0)
    assert 1e-5 < t.suggestions()["valley"] < 1.0


def _opts(out) -> list[str]:
    return ["--backbone", TINY, "--weights", str(tiny_weights_path()), "--epochs", "2",
            "--batch-size", "4", "--precision", "fp32", "--no-progress", "--num-workers", "0",
            "--out", str(out), "--strategy", "partial:1"]  # fmt: skip


def test_lr_find_writes_its_plot_and_train_lr_find_keeps_the_plan_ratios(
    tiny_data, tmp_path, capsys
):
    assert main(["lr-find", str(tiny_data), *_opts(tmp_path), "--steps", "30", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    folder = tmp_path / "lr-find" / "data-partial1"
    assert found["run_dir"] == str(folder)
    for name in ("lr_find.png", "lr_find.csv", "lr_find.json", "config.yaml"):
        assert (folder / name).is_file(), name
    info = json.loads((folder / "lr_find.json").read_text())
    assert info["reference_group"] != "head" and info["steps"] >= 5
    assert info["head_lr"] / info["lr"] == pytest.approx(3e-3 / 5e-4)  # the plan's ratio
    args = ["train", str(tiny_data), *_opts(tmp_path), "--lr", "find", "--name", "found"]
    assert main(args) == 0
    run = tmp_path / "train" / "found"
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert isinstance(config["lr"], float) and config["extra"]["lr_find"]["rule"] == "steep"
    assert config["head_lr"] / config["lr"] == pytest.approx(3e-3 / 5e-4)
    assert (run / "lr_find.png").is_file()
