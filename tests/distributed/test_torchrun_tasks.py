"""``torchrun --nproc_per_node 2`` for text classification and domain adaptation: 2 CPU
processes on gloo train the same run as one process.

Plumbing with tiny randomly initialised models (a 2-layer BERT, timm's ``test_efficientnet``
with weights from a file) and dropout off: dropout masks are drawn per process, so they
cannot match one process's. No accuracy is claimed. Tolerances as for image runs: accuracies
within one validation example, losses and weights within 1e-4 (the order of floating-point
sums: DDP averages two half-batch gradients).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist

from headstart.adaptation.adapt import adapt
from headstart.adaptation.config import AdaptConfig
from headstart.engine.checkpoint import read_tensors
from headstart.engine.rundir import read_csv
from headstart.text.config import TextConfig
from headstart.text.fit import fit_text
from tests.conftest import make_folder, make_tiny_bert
from tests.distributed.launch import threads_per_process, torchrun
from tests.text.text_helpers import rows, write_csv

pytestmark = [
    pytest.mark.xdist_group("distributed"),
    pytest.mark.skipif(not dist.is_gloo_available(), reason="torch built without gloo"),
]


def _one_process(fn, **kw):
    before = torch.get_num_threads()
    torch.set_num_threads(threads_per_process(2))
    try:
        return fn(**kw)
    finally:
        torch.set_num_threads(before)


def _assert_same(two: Path, one: Path, n_val: int, epochs: int) -> None:
    rows_two, rows_one = read_csv(two / "metrics.csv"), read_csv(one / "metrics.csv")
    assert len(rows_two) == len(rows_one) == epochs
    for a, b in zip(rows_two, rows_one):
        for key in ("train_acc", "val_acc", "val_f1"):
            assert abs(float(a[key]) - float(b[key])) <= 1 / n_val + 1e-6, (key, a, b)
        for key in ("train_loss", "val_loss"):
            assert abs(float(a[key]) - float(b[key])) <= 1e-4, (key, a, b)
    w_two = read_tensors(two / "checkpoints" / "last.safetensors")
    w_one = read_tensors(one / "checkpoints" / "last.safetensors")
    assert w_two.keys() == w_one.keys() and not any(k.startswith("module.") for k in w_two)
    for k in w_one:
        assert torch.allclose(w_two[k].float(), w_one[k].float(), atol=1e-4), k


@pytest.fixture(scope="module")
def bert_without_dropout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("bert"), dropout=0.0)


@pytest.mark.parametrize("strategy", ["full", "feature-extraction"])
def test_text_train_in_two_processes_is_the_run_of_one(
    bert_without_dropout: Path, tmp_path: Path, strategy: str
) -> None:
    data = write_csv(tmp_path / "reviews.csv", rows(18, 10))  # 18 texts: a last partial batch
    settings = dict(
        model=str(bert_without_dropout), text_col="review", strategy=strategy, epochs=2,
        batch_size=4, max_length=32, precision="fp32", dropout=0.0, device="cpu",
    )  # fmt: skip
    args = ["text", "train", str(data), "--no-progress", "--out", str(tmp_path / "two")]
    for key, value in settings.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    launch = torchrun([*args, "--name", "run"], tmp_path / "cache2", tmp_path / "log")
    cfg = TextConfig(data=str(data), out=str(tmp_path / "one"), name="run", progress=False)
    one = _one_process(fit_text, config=cfg, **settings)
    rc, out, err = launch.finish()
    assert rc == 0, err[-4000:]
    assert out.count("run: ") == 1 and out.count("best: epoch") == 1
    _assert_same(tmp_path / "two" / "text" / "run", one.run_dir, 10, 2)


def test_adapt_in_two_processes_is_the_run_of_one(tmp_path: Path, tiny_weights: Path) -> None:
    source = make_folder(tmp_path / "source", n_train=8, n_val=3)
    target = make_folder(
        tmp_path / "target",
        n_train=6,
        n_val=2,
        classes={"red": (150, 60, 60), "green": (60, 140, 70), "blue": (70, 80, 160)},
    )
    settings = dict(
        source=str(source), target=str(target), backbone="test_efficientnet",
        weights=str(tiny_weights), train_groups=1, epochs=2, batch_size=8, precision="fp32",
        dropout=0.0, disc_dropout=0.0, bottleneck=16, disc_hidden=16, map_method="pca",
        map_points=20, num_workers=0, device="cpu",
    )  # fmt: skip
    args = ["adapt", "--no-progress", "--out", str(tmp_path / "two"), "--name", "run"]
    for key, value in settings.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    launch = torchrun(args, tmp_path / "cache2", tmp_path / "log")
    cfg = AdaptConfig(out=str(tmp_path / "one"), name="run", progress=False, **settings)
    one = _one_process(adapt, config=cfg)
    rc, out, err = launch.finish()
    assert rc == 0, err[-4000:]
    for method in ("source-only", "dann"):
        sub = f"runs/{method}-seed0"
        _assert_same(tmp_path / "two" / "adapt" / "run" / sub, one.run_dir / sub, 9, 2)
    two_rows = read_csv(tmp_path / "two" / "adapt" / "run" / "metrics.csv")
    one_rows = read_csv(one.run_dir / "metrics.csv")
    dom = [
        (float(a["domain_acc"]), float(b["domain_acc"]))
        for a, b in zip(two_rows, one_rows)
        if a["domain_acc"]
    ]
    assert dom and np.allclose(*zip(*dom), atol=1e-6)  # the loop's logs, summed over processes
