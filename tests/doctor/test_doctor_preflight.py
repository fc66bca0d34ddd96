"""``check_training_setup``: the checks ``train`` runs on the set-up it builds.

Plumbing with timm's tiny randomly initialised ``test_efficientnet`` on generated images: a
correct headstart set-up passes clean for every strategy, and a broken one is named.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from headstart.data.imagedata import ImageData
from headstart.doctor import check_training_setup
from headstart.doctor.folder import prepared_trainer
from tests.conftest import make_folder, tiny_config


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return make_folder(tmp_path_factory.mktemp("doctor") / "data", n_train=10, n_val=3)


def prepared(root, **kw):
    return prepared_trainer(tiny_config(epochs=3, **kw), ImageData.from_folder(root))


@pytest.mark.parametrize(
    "options",
    [
        {"strategy": "feature-extraction"},
        {"strategy": "linear-probe"},
        {"strategy": "partial"},
        {"strategy": "partial:1", "bn_stats": "adapt"},
        {"strategy": "full"},
        {"strategy": "full", "train_bn": True},
        {"strategy": "progressive"},
        {"strategy": "progressive", "bn_stats": "adapt", "augment": "light"},
        {"strategy": "scratch"},
    ],
    ids=lambda o: "-".join(str(v) for v in o.values()),
)
def test_headstart_setup_passes_clean(data_root, options):
    trainer = prepared(data_root, **options)
    state = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    grads = [p.requires_grad for p in trainer.model.parameters()]
    found = check_training_setup(trainer)
    assert found == [], [f.line() for f in found]
    # the trainer's own model is untouched: checks run on copies
    assert all(torch.equal(v, trainer.model.state_dict()[k]) for k, v in state.items())
    assert [p.requires_grad for p in trainer.model.parameters()] == grads


def test_a_plan_with_a_frozen_head_is_named(data_root):
    trainer = prepared(data_root, strategy="partial")
    head = dataclasses.replace(trainer.plan.groups[-1], unfreeze_epoch=None)
    trainer.plan = dataclasses.replace(trainer.plan, groups=(*trainer.plan.groups[:-1], head))
    assert [f.code for f in check_training_setup(trainer)] == ["head-frozen"]


def test_backbone_lr_above_the_head_is_named(data_root):
    trainer = prepared(data_root, strategy="full", lr=1e-2, head_lr=1e-3)
    assert [f.code for f in check_training_setup(trainer)] == ["backbone-lr"]


def test_data_findings_come_with_the_setup(tmp_path):
    root = make_folder(tmp_path / "few", n_train=4, n_val=2)
    trainer = prepared(root, strategy="feature-extraction")
    (f,) = check_training_setup(trainer)
    assert (f.code, f.level) == ("few-images", "warning")


@pytest.mark.parametrize("strategy", ["feature-extraction", "partial", "full"])
def test_random_weights_with_a_transfer_strategy_are_named(data_root, strategy):
    """Random weights have nothing to transfer: the plan adapts their batch-norm statistics
    (no 'stay as pretrained' note) and the doctor says so; scratch is the honest name."""
    trainer = prepared(data_root, strategy=strategy, weights="random")
    assert "random-weights" in [f.code for f in check_training_setup(trainer)]
    assert "stay as pretrained" not in trainer.plan.table()
    scratch = prepared(data_root, strategy="scratch", weights="random")
    assert "random-weights" not in [f.code for f in check_training_setup(scratch)]
