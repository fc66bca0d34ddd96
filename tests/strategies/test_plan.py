"""Plan invariants, for every strategy: what trains, at which LR, and what stays frozen."""

from __future__ import annotations

import pytest
import torch

from headstart.backbones import TransferModel, load_backbone, make_head
from headstart.errors import HeadstartError
from headstart.strategies import (
    Part,
    PlanOptions,
    apply_plan,
    build_param_groups,
    make_plan,
    set_train_mode,
)
from headstart.strategies.plan import parse_strategy
from tests.conftest import TINY

STRATEGIES = [
    "feature-extraction",
    "linear-probe",
    "partial",
    "partial:1",
    "full",
    "progressive",
    "progressive:2",
    "scratch",
]


def build(strategy: str, epochs: int = 4, **opts):
    """The tiny random backbone with a head and the plan of ``strategy`` for it (its BN
    statistics treated as pretrained unless the test says otherwise)."""
    torch.manual_seed(0)
    bb = load_backbone(TINY, "random")
    model = TransferModel(bb.body, make_head(bb.num_features, 3))
    head = [Part.of("head", model.head, "head.")]
    plan = make_plan(strategy, bb.parts(), head, epochs, PlanOptions(**opts))
    return model, plan, None


def step(model, plan, groups, epoch):
    apply_plan(model, plan, epoch)
    opt = torch.optim.AdamW(build_param_groups(model, plan, epoch, 0.01))
    set_train_mode(model, plan, epoch)
    x = torch.randn(4, 3, 64, 64)
    loss = torch.nn.functional.cross_entropy(model(x), torch.tensor([0, 1, 2, 0]))
    opt.zero_grad()
    loss.backward()
    opt.step()
    return opt


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("epoch", [0, 1, 3])
def test_every_trainable_param_in_exactly_one_group_and_no_frozen_one(strategy, epoch):
    model, plan, groups = build(strategy)
    apply_plan(model, plan, epoch)
    pgroups = build_param_groups(model, plan, epoch, 0.01)
    ids = [id(p) for g in pgroups for p in g["params"]]
    assert len(ids) == len(set(ids))
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert set(ids) == trainable
    assert all(p.requires_grad for g in pgroups for p in g["params"])


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_head_always_trains(strategy):
    model, plan, groups = build(strategy)
    for epoch in range(4):
        apply_plan(model, plan, epoch)
        assert all(p.requires_grad for p in model.head.parameters())
    assert plan.groups[-1].name == "head" and plan.groups[-1].unfreeze_epoch == 0


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_frozen_params_and_bn_statistics_unchanged_after_a_step(strategy):
    model, plan, groups = build(strategy)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    step(model, plan, groups, 0)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    for name in frozen:
        assert torch.equal(model.state_dict()[name], before[name]), name
    # BN buffers of frozen groups (eval mode kept after model.train()) did not move.
    for mname, m in model.named_modules():
        if isinstance(m, torch.nn.BatchNorm2d) and not m.weight.requires_grad:
            assert not m.training, mname
            assert torch.equal(m.running_mean, before[f"{mname}.running_mean"]), mname
    trained = [n for n, p in model.named_parameters() if p.requires_grad]
    assert any(not torch.equal(model.state_dict()[n], before[n]) for n in trained)


def test_feature_extraction_trains_only_the_head():
    model, plan, groups = build("feature-extraction")
    apply_plan(model, plan, 0)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {f"head.{n}" for n, _ in model.head.named_parameters()}


def test_train_bn_lets_frozen_batchnorm_learn():
    model, plan, groups = build("feature-extraction", train_bn=True)
    bn = next(m for m in model.body.modules() if isinstance(m, torch.nn.BatchNorm2d))
    before = bn.running_mean.clone()
    step(model, plan, groups, 0)
    assert bn.training and bn.weight.requires_grad
    assert not torch.equal(bn.running_mean, before)


def test_partial_trains_the_top_groups_only():
    model, plan, groups = build("partial:2")
    assert [g.unfreeze_epoch for g in plan.groups[:-1]][-2:] == [0, 0]
    assert all(g.unfreeze_epoch is None for g in plan.groups[:-3])


def test_progressive_unfreezes_one_group_at_a_time_from_the_top():
    model, plan, groups = build("progressive", epochs=4)
    body = plan.groups[:-1]
    assert plan.head_only(0)
    assert [g.unfreeze_epoch for g in body][-3:] == [3, 2, 1]
    n_trainable = [len(plan.trainable(e)) for e in range(4)]
    assert n_trainable == [1, 2, 3, 4]


def test_discriminative_lrs_are_absolute_and_decay_towards_the_input():
    model, plan, groups = build("full", lr=1e-3, head_lr=1e-2, lr_decay=0.5)
    lrs = [g.lr for g in plan.groups]
    assert lrs[-1] == 1e-2 and lrs[-2] == 1e-3 and lrs[-3] == 5e-4
    apply_plan(model, plan, 0)
    pg = build_param_groups(model, plan, 0, 0.01)
    assert {g["lr"] for g in pg} <= set(lrs)


def test_geometric_spread_between_lr_min_and_lr():
    _, plan, _ = build("full", lr=1e-3, lr_min=1e-5)
    body = [g.lr for g in plan.groups[:-1]]
    assert body[0] == pytest.approx(1e-5) and body[-1] == pytest.approx(1e-3)
    ratios = [b / a for a, b in zip(body, body[1:])]
    assert max(ratios) == pytest.approx(min(ratios))


def test_no_weight_decay_on_biases_and_norm_params():
    model, plan, groups = build("full")
    apply_plan(model, plan, 0)
    for g in build_param_groups(model, plan, 0, 0.05):
        for p in g["params"]:
            if p.ndim <= 1:
                assert g["weight_decay"] == 0.0
            else:
                assert g["weight_decay"] == 0.05


def test_unknown_strategy_is_a_clear_error():
    with pytest.raises(HeadstartError, match="unknown --strategy 'fine'"):
        parse_strategy("fine")
    with pytest.raises(HeadstartError, match="partial:N"):
        parse_strategy("full:3")
    with pytest.raises(HeadstartError, match="1 or more"):
        parse_strategy("partial:0")


def test_partial_deeper_than_the_backbone_is_refused_not_clamped():
    with pytest.raises(HeadstartError, match="has 6 layer groups; use partial:1 to partial:6"):
        build("partial:99")
    with pytest.raises(HeadstartError, match="progressive:1 to progressive:6"):
        build("progressive:7")


def test_one_vocabulary_old_names_are_aliases():
    assert parse_strategy("linear-probe") == parse_strategy("frozen")
    assert parse_strategy("frozen").name == "feature-extraction"
    assert str(parse_strategy("partial:2")) == "partial:2"


@pytest.mark.parametrize("strategy", ["feature-extraction", "partial:2", "full", "progressive"])
def test_random_weights_adapt_batch_norm_statistics(strategy):
    """Random weights have no pretrained statistics to keep: every layer group adapts them
    (frozen 0/1 statistics would normalise nothing)."""
    _, plan, _ = build(strategy, pretrained=False)
    assert all(g.bn == "adapt" for g in plan.groups)
    assert "stay as pretrained" not in plan.table()
    _, pretrained, _ = build(strategy)
    assert all(g.bn == "frozen" for g in pretrained.groups if not g.new)


def test_plan_round_trips_through_its_dict():
    from headstart.strategies import Plan

    _, plan, _ = build("progressive", epochs=4)
    back = Plan.from_dict(plan.to_dict())
    assert back == plan and back.table() == plan.table()
