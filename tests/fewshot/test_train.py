"""Episodic fine-tuning and Siamese training with timm's tiny random ``test_efficientnet``:
plumbing and invariants (what trains, what stays frozen, what is saved), not accuracy."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from headstart.backbones import load_backbone
from headstart.encoders import load_encoder
from headstart.errors import HeadstartError
from headstart.features.prefix import split_body
from headstart.fewshot import (
    FewShotClassifier,
    evaluate_fewshot,
    load_fewshot,
    train_fewshot,
    verify,
)
from tests.conftest import CORE_FILES, TINY, make_folder

COLOURS = {
    "red": (200, 30, 30),
    "green": (30, 180, 40),
    "blue": (40, 50, 210),
    "yellow": (220, 220, 30),
    "cyan": (30, 200, 200),
}
FAST = dict(
    backbone=TINY,
    weights="random",
    epochs=2,
    steps=2,
    ways=3,
    shots=2,
    queries=2,
    pairs=8,
    val_episodes=2,
    eval_ways=3,
    eval_shots=[1],
    eval_episodes=10,
    eval_queries=2,
    precision="fp32",
    progress=False,
)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_folder(tmp_path_factory.mktemp("fs") / "data", n_train=6, n_val=4, classes=COLOURS)


@pytest.mark.parametrize("groups", [1, 2, 3])
def test_split_body_reproduces_the_body(groups):
    bb = load_backbone(TINY, "random")
    top = [p for g in bb.groups[len(bb.groups) - groups :] for p in g.params]
    split = split_body(bb.body, top, bb.data_config["input_size"])
    x = torch.randn(2, *bb.data_config["input_size"])
    with torch.no_grad():
        assert torch.allclose(split.suffix(split.prefix(x)), bb.body.eval()(x), atol=1e-6)
    assert tuple(split.prefix(x).shape[1:]) == split.shape


@pytest.mark.parametrize("method", ["protonet", "siamese"])
def test_only_top_groups_train_and_the_run_is_complete(data, tmp_path, tiny_weights, method):
    """With weights from a file (they stand for pretrained ones: their BN statistics stay)."""
    before = load_backbone(TINY, tiny_weights).body.state_dict()
    res = train_fewshot(
        data,
        method=method,
        out=str(tmp_path),
        train_groups=1,
        classes=["red", "green", "blue", "yellow"],
        eval_classes=["cyan", "red", "green"],
        **{**FAST, "weights": str(tiny_weights)},
    )
    model = load_fewshot(res.run_dir)
    after = model.model.body.state_dict()
    top = load_backbone(TINY, "random").groups[-1].params
    changed = {k for k in after if not torch.equal(after[k], before[k])}
    assert changed, "nothing trained"
    assert changed <= set(top), changed - set(top)
    # batch-norm statistics of pretrained layers stay as they were
    assert not any(k.endswith(("running_mean", "running_var")) for k in changed)
    for name in CORE_FILES + ("curves.png", "fewshot_eval.json"):
        assert (res.run_dir / name).is_file(), name
    assert len(res.history) == 2 and {s.shots for s in res.scores} == {1}
    assert model.meta.classes == ["blue", "green", "red", "yellow"]
    if method == "siamese":
        assert res.threshold is not None and model.meta.extra["threshold"] == res.threshold
        same = verify(res.run_dir, data / "val/red/0.png", data / "val/red/0.png")
        assert same.same and same.distance == pytest.approx(0.0, abs=1e-5)
    else:
        with pytest.raises(HeadstartError, match="Siamese"):
            verify(res.run_dir, data / "val/red/0.png", data / "val/red/1.png")


def test_fewshot_run_serves_as_an_encoder(data, tmp_path):
    res = train_fewshot(data, method="protonet", out=str(tmp_path), **FAST)
    scores = evaluate_fewshot(
        data,
        [load_encoder_for(res.run_dir), load_encoder("pixels:8")],
        ways=3,
        shots=[1],
        queries=2,
        episodes=5,
        progress=False,
    )
    assert [s.encoder.split()[0] for s in scores] == ["protonet", "raw"]
    clf = FewShotClassifier.from_support(data / "train", load_encoder_for(res.run_dir))
    preds = clf.predict([data / "val" / "red"], top_k=2)
    assert len(preds) == 4 and all(pr.top[0][0] == "red" for pr in preds)


def load_encoder_for(run: Path):
    return load_encoder(str(run), precision="fp32")


def test_unknown_method_is_refused(data):
    with pytest.raises(HeadstartError, match="--method"):
        train_fewshot(data, method="maml", **FAST)


def test_fewshot_resume_matches_an_uninterrupted_run(data, tmp_path, tiny_weights, monkeypatch):
    from tests.conftest import assert_same_run, interrupt_after

    settings = {**FAST, "weights": str(tiny_weights), "epochs": 3, "out": str(tmp_path)}
    straight = train_fewshot(data, method="siamese", name="straight", **settings)
    with interrupt_after(monkeypatch, 1), pytest.raises(KeyboardInterrupt):
        train_fewshot(data, method="siamese", name="cut", **settings)
    resumed = train_fewshot(resume=tmp_path / "fewshot" / "cut", progress=False)
    assert_same_run(straight.run_dir, resumed.run_dir)
    assert resumed.threshold == straight.threshold
    assert [s.mean for s in resumed.scores] == [s.mean for s in straight.scores]
