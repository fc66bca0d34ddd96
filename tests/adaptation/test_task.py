"""DANN and source-only as loop tasks, on synthetic tensors (a tiny linear "backbone"): target
labels never reach a loss, both methods see the same source batches, and the reversal
coefficient follows its schedule step by step. Plumbing: no accuracy is claimed."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from headstart.adaptation import DomainAdversarialLoss, DomainDiscriminator, GradientReverseLayer
from headstart.adaptation.grl import dann_coefficient
from headstart.adaptation.task import AdaptationTask, AdaptInputs, AdaptModel, Tail
from headstart.backbones import make_head
from headstart.engine.loop import Loop, LoopConfig
from headstart.strategies import Part, PlanOptions, make_plan

EPOCHS, BATCH = 2, 4


def _data(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    xs = torch.randn(16, 5, generator=gen)
    ys = torch.randint(0, 3, (16,), generator=gen)
    xt = torch.randn(12, 5, generator=gen) + 2.0
    return xs, ys, xt


def _task(method: str, target: TensorDataset | None = None, seed: int = 0):
    xs, ys, xt = _data()
    torch.manual_seed(seed)
    body = nn.Sequential(nn.Linear(5, 8))
    head = make_head(8, 3, hidden=6, dropout=0.0)
    loss = None
    if method == "dann":
        loss = DomainAdversarialLoss(DomainDiscriminator(6, hidden=8), GradientReverseLayer(0.0))
    model = AdaptModel(body, head, loss.discriminator if loss is not None else None)
    new = [Part.of("head", head, "head.")]
    if loss is not None:
        new.append(Part.of("discriminator", loss.discriminator, "discriminator."))
    opts = PlanOptions(lr=1e-2, head_lr=1e-2)
    plan = make_plan("partial:1", [Part.of("0", body, "body.")], new, EPOCHS, opts)
    inputs = AdaptInputs(
        TensorDataset(xs, ys),
        TensorDataset(xs[:6], ys[:6]),
        target if target is not None else TensorDataset(xt),
        BATCH,
        0,
        False,
    )
    return AdaptationTask(model, Tail(body, head), plan, inputs, method, seed, EPOCHS, 0.0, loss)


def _run(task):
    loop = Loop(task, LoopConfig(epochs=EPOCHS, seed=0, progress=False))
    loop.run()
    return loop


def test_only_source_labels_reach_the_class_loss_and_only_features_the_domain_loss():
    task = _task("dann")
    xs, ys, xt = _data()
    class_targets, domain_inputs = [], []
    criterion = task.criterion

    def spy(logits, y):
        if torch.is_grad_enabled():  # training, not the source-val evaluation
            class_targets.append(y.clone())
        return criterion(logits, y)

    task.criterion = spy
    assert task.domain_loss is not None
    task.domain_loss.register_forward_pre_hook(
        lambda m, args: domain_inputs.append((args[0].detach(), args[1].detach()))
    )
    _run(task)
    assert len(class_targets) == EPOCHS * (16 // BATCH) == len(domain_inputs)
    for y, (f_s, f_t) in zip(class_targets, domain_inputs):
        assert len(y) == BATCH == len(f_s) == len(f_t)
        assert set(y.tolist()) <= set(ys.tolist())
        assert f_s.shape[1] == f_t.shape[1] == 6  # bottleneck features, not labels


def test_target_labels_cannot_change_training():
    """A target dataset that carries labels is stripped to its images by the pairing."""
    _, _, xt = _data()
    runs = []
    for labels in (torch.zeros(12, dtype=torch.long), torch.arange(12) % 3):
        task = _task("dann", target=TensorDataset(xt, labels))
        _run(task)
        runs.append({k: v.clone() for k, v in task.model.state_dict().items()})
    for k in runs[0]:
        assert torch.equal(runs[0][k], runs[1][k]), k


def test_both_methods_see_the_same_source_batches():
    seen: dict[str, list[list[int]]] = {}
    for method in ("source-only", "dann"):
        task = _task(method)
        criterion = task.criterion
        batches: list[list[int]] = []

        def spy(logits, y, b=batches, c=criterion):
            if torch.is_grad_enabled():
                b.append(y.tolist())
            return c(logits, y)

        task.criterion = spy
        _run(task)
        seen[method] = batches
    assert seen["source-only"] == seen["dann"]
    assert len(seen["dann"]) == EPOCHS * 16 // BATCH


def test_coefficient_follows_the_schedule_over_training():
    task = _task("dann")
    assert task.domain_loss is not None
    coeffs: list[float] = []
    task.domain_loss.register_forward_pre_hook(lambda m, args: coeffs.append(m.grl.coeff))
    _run(task)
    total = EPOCHS * 16 // BATCH
    assert coeffs == pytest.approx([dann_coefficient(i / total) for i in range(total)])


def test_dann_trains_the_discriminator_and_logs_both_losses():
    task = _task("dann")
    assert task.domain_loss is not None
    before = [p.clone() for p in task.domain_loss.discriminator.parameters()]
    loop = _run(task)
    names = [g["name"] for g in loop.optimizer.param_groups]
    assert "discriminator" in names
    after = list(task.domain_loss.discriminator.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after))
    stats = loop.history[-1].logs
    assert set(stats) == {"class_loss", "domain_loss", "domain_acc", "coeff"}
    assert 0.0 <= stats["domain_acc"] <= 1.0 and stats["domain_loss"] > 0


def test_source_only_has_no_domain_loss():
    task = _task("source-only")
    loop = _run(task)
    assert all("discriminator" not in g["name"] for g in loop.optimizer.param_groups)
    assert set(loop.history[-1].logs) == {"class_loss"}


def test_a_collapsed_dann_model_is_reported():
    import numpy as np

    from headstart.adaptation.train import warn_if_collapsed

    head = make_head(4, 3, hidden=5, dropout=0.0)
    feats = np.random.default_rng(0).normal(size=(30, 5)).astype("float32")
    with torch.no_grad():
        head[-1].bias.copy_(torch.tensor([100.0, 0.0, 0.0]))  # every image -> class 0
    with pytest.warns(UserWarning, match="collapsed"):
        assert (
            warn_if_collapsed(Tail(nn.Identity(), head), feats, "dann", 0, torch.device("cpu"))
            == 1.0
        )
    with torch.no_grad():
        head[-1].bias.zero_()
        head[-1].weight.copy_(torch.eye(3, 5) * 10)  # the argmax follows the features
    assert warn_if_collapsed(Tail(nn.Identity(), head), feats, "dann", 0, torch.device("cpu")) < 0.9
