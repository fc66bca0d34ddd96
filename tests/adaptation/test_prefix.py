"""The frozen prefix that is cached and the trainable suffix compose to the whole backbone."""

from __future__ import annotations

import torch
from torch import nn

from headstart.adaptation.prefix import split_body
from headstart.backbones import load_backbone
from tests.conftest import TINY


def test_prefix_then_suffix_equals_the_body_and_holds_nothing_trainable():
    torch.manual_seed(0)
    bb = load_backbone(TINY, "random")
    top = [p for g in bb.groups[-2:] for p in g.params]
    split = split_body(bb.body, top, (3, 64, 64))
    assert split is not None
    prefix, suffix = split
    owned = {id(p) for p in prefix.parameters()}
    assert owned and not owned & {id(bb.body.get_parameter(n)) for n in top}
    assert {id(bb.body.get_parameter(n)) for n in top} <= {id(p) for p in suffix.parameters()}
    bb.body.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(suffix(prefix(x)), bb.body(x), atol=1e-5)


class _Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)

    def forward(self, x):
        return self.b(self.a(x)) + x  # not a plain chain of its children


def test_a_body_that_is_not_a_chain_gets_no_split():
    assert split_body(_Residual(), ["b.weight", "b.bias"], (4,)) is None


def test_nothing_trainable_puts_everything_in_the_prefix():
    body = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    split = split_body(body, [], (4,))
    assert split is not None and len(split[0]) == 3 and len(split[1]) == 0
