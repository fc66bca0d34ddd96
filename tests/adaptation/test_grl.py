"""Gradient reversal: identity forward, exactly ``-coeff`` times the gradient backward, and the
DANN coefficient schedule ``2 / (1 + exp(-10 p)) - 1``."""

from __future__ import annotations

import math

import pytest
import torch

from headstart.adaptation import GradientReverseLayer, dann_coefficient, reverse_gradient


@pytest.mark.parametrize("coeff", [0.0, 0.37, 1.0, 2.5])
def test_reversed_gradient_is_exactly_minus_coeff_times_incoming(coeff):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(5, 7, generator=gen, requires_grad=True)
    incoming = torch.randn(5, 7, generator=gen)
    y = reverse_gradient(x, coeff)
    assert torch.equal(y, x)  # forward is the identity
    y.backward(incoming)
    assert torch.equal(x.grad, -coeff * incoming)


def test_layer_reverses_only_what_lies_below_it():
    torch.manual_seed(0)
    features = torch.nn.Linear(4, 3)
    head = torch.nn.Linear(3, 1)
    grl = GradientReverseLayer(coeff=0.5)
    x = torch.randn(8, 4)
    head(grl(features(x))).sum().backward()
    reversed_grads = [p.grad.clone() for p in features.parameters()]
    head_grads = [p.grad.clone() for p in head.parameters()]
    for m in (features, head):
        m.zero_grad()
    head(features(x)).sum().backward()
    for g_rev, p in zip(reversed_grads, features.parameters()):
        assert torch.allclose(g_rev, -0.5 * p.grad)
    for g, p in zip(head_grads, head.parameters()):  # the layer above is untouched
        assert torch.equal(g, p.grad)


@pytest.mark.parametrize("p", [0.0, 0.05, 0.1, 0.25, 0.5, 0.9, 1.0])
def test_schedule_formula(p):
    assert dann_coefficient(p) == pytest.approx(2 / (1 + math.exp(-10 * p)) - 1, abs=1e-12)
    assert dann_coefficient(p, gamma=5, high=0.3) == pytest.approx(
        0.3 * (2 / (1 + math.exp(-5 * p)) - 1), abs=1e-12
    )


def test_schedule_starts_at_zero_rises_and_is_clipped():
    values = [dann_coefficient(i / 20) for i in range(21)]
    assert values[0] == 0.0
    assert all(a < b for a, b in zip(values, values[1:]))
    assert values[-1] == pytest.approx(0.99991, abs=1e-5)
    assert dann_coefficient(-1.0) == 0.0 and dann_coefficient(3.0) == dann_coefficient(1.0)


def test_layer_schedule_sets_the_coefficient_used_backward():
    grl = GradientReverseLayer(gamma=10, high=1.0)
    assert grl.schedule(0.3) == pytest.approx(2 / (1 + math.exp(-3)) - 1)
    x = torch.ones(3, requires_grad=True)
    grl(x).sum().backward()
    assert torch.equal(x.grad, torch.full((3,), -grl.coeff))
