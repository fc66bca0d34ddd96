"""Model and optimizer checks: a frozen head, frozen parameters given to the optimizer, the
backbone's LR above the head's, batch-norm statistics moving in frozen parts.

Plumbing with timm's tiny randomly initialised ``test_efficientnet``: what is checked is which
parameters train and which statistics move, never accuracy.
"""

from __future__ import annotations

import pytest
import timm
import torch

from headstart.backbones import TransferModel, load_backbone, make_head
from headstart.doctor import (
    check_backbone_lr,
    check_bn_frozen,
    check_head_trainable,
    check_optimizer_params,
    frozen_batchnorms,
    run_checks,
)
from headstart.strategies import Part, apply_plan, build_param_groups, make_plan, set_train_mode
from tests.conftest import TINY

SIZE = (3, 64, 64)


@pytest.fixture
def setup():
    torch.manual_seed(0)
    bb = load_backbone(TINY, "random")
    model = TransferModel(bb.body, make_head(bb.num_features, 3))
    groups = [g.params for g in bb.groups]
    return model, bb, groups


def plan_for(strategy, model, bb, epochs=3):
    """The plan of ``strategy``, the tiny random weights treated as pretrained."""
    return make_plan(strategy, bb.parts(), [Part.of("head", model.head, "head.")], epochs)


def freeze_body(model):
    for p in model.body.parameters():
        p.requires_grad_(False)


def codes(findings) -> list[str]:
    return [f.code for f in findings]


def test_head_frozen_with_the_backbone_is_named(setup):
    model, _, _ = setup
    for p in model.parameters():  # the tutorial loop that runs after the head was replaced
        p.requires_grad_(False)
    (f,) = check_head_trainable(model.head)
    assert (f.code, f.level) == ("head-frozen", "error")
    assert "head-frozen" in codes(run_checks(model=model))  # found as model.head


def test_frozen_classifier_of_a_timm_model_is_found(setup):
    model = timm.create_model(TINY, num_classes=3)
    model.get_classifier().requires_grad_(False)
    assert codes(run_checks(model=model)) == ["head-frozen"]


def test_adamw_over_all_parameters_with_a_frozen_backbone_is_named(setup):
    model, _, _ = setup
    freeze_body(model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    (f,) = check_optimizer_params(opt, model)
    n_frozen = sum(1 for _ in model.body.parameters())
    assert (f.code, f.level) == ("frozen-in-optimizer", "warning")
    assert f"holds {n_frozen} frozen parameter(s)" in f.message and "body." in f.message
    only_trainable = torch.optim.AdamW(p for p in model.parameters() if p.requires_grad)
    assert check_optimizer_params(only_trainable, model) == []


def test_unfrozen_parameters_left_out_of_the_optimizer_are_named(setup):
    model, _, _ = setup
    opt = torch.optim.AdamW(model.head.parameters(), lr=1e-3)  # built while the body was frozen
    (f,) = check_optimizer_params(opt, model)  # ... and the body unfrozen later
    assert f.code == "trainable-not-in-optimizer"


def test_backbone_lr_above_the_head_is_named(setup):
    model, _, _ = setup
    high = [
        {"params": list(model.body.parameters()), "lr": 1e-2},
        {"params": list(model.head.parameters()), "lr": 1e-3},
    ]
    (f,) = check_backbone_lr(high, model.head.parameters())
    assert (f.code, f.level) == ("backbone-lr", "warning") and "0.01" in f.message
    low = [{**high[0], "lr": 1e-4}, high[1]]
    assert check_backbone_lr(low, model.head.parameters()) == []
    assert check_backbone_lr(high, model.head.parameters(), pretrained=False) == []


def test_model_train_moves_frozen_bn_statistics_and_is_named(setup):
    model, _, _ = setup
    freeze_body(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    modes = [m.training for m in model.modules()]
    (f,) = check_bn_frozen(model, input_size=SIZE)  # plain model.train(), as tutorials do
    assert (f.code, f.level) == ("bn-stats-drift", "error")
    assert f"{len(frozen_batchnorms(model))} frozen batch-norm" in f.message
    # checked on a copy: the user's model, its statistics and its mode are untouched
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert [m.training for m in model.modules()] == modes


@pytest.mark.parametrize("strategy", ["feature-extraction", "partial:2", "progressive"])
def test_set_train_mode_keeps_frozen_bn_statistics(setup, strategy):
    model, bb, groups = setup
    plan = plan_for(strategy, model, bb)
    for epoch in [0, *plan.milestones()]:
        apply_plan(model, plan, epoch)
        assert check_bn_frozen(model, lambda m, e=epoch: set_train_mode(m, plan, e), SIZE) == []
        # the same set-up with a plain model.train() is the mistake
        assert codes(check_bn_frozen(model, input_size=SIZE)) == ["bn-stats-drift"]


@pytest.mark.parametrize(
    "strategy", ["feature-extraction", "partial", "full", "progressive", "scratch"]
)
def test_headstart_param_groups_pass_clean(setup, strategy):
    model, bb, groups = setup
    plan = plan_for(strategy, model, bb)
    for epoch in [0, *plan.milestones()]:
        apply_plan(model, plan, epoch)
        opt_groups = build_param_groups(model, plan, epoch, weight_decay=0.01)
        found = run_checks(
            model=model,
            optimizer=torch.optim.AdamW(opt_groups),
            train_mode=lambda m, e=epoch: set_train_mode(m, plan, e),
            pretrained=plan.pretrained,
            data_config={"input_size": SIZE},
        )
        assert found == [], [f.line() for f in found]
