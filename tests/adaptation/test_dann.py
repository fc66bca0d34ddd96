"""The domain loss: the discriminator sees both domains' features (source first), gradients to
the features are reversed, the discriminator itself learns normally."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from headstart.adaptation import DomainAdversarialLoss, DomainDiscriminator, GradientReverseLayer


def _features(n_s=6, n_t=4, dim=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (
        torch.randn(n_s, dim, generator=gen, requires_grad=True),
        torch.randn(n_t, dim, generator=gen, requires_grad=True),
    )


def test_discriminator_sees_both_domains():
    torch.manual_seed(0)
    loss_fn = DomainAdversarialLoss(DomainDiscriminator(8, hidden=16))
    seen = []
    loss_fn.discriminator.register_forward_hook(lambda m, inp, out: seen.append(inp[0].detach()))
    f_s, f_t = _features()
    loss_fn(f_s, f_t)
    assert len(seen) == 1
    assert torch.equal(seen[0], torch.cat([f_s, f_t]).detach())


def test_loss_is_the_mean_of_each_domains_cross_entropy():
    torch.manual_seed(0)
    disc = DomainDiscriminator(8, hidden=16).eval()
    loss_fn = DomainAdversarialLoss(disc)
    f_s, f_t = _features(n_s=6, n_t=2)
    d_s, d_t = disc(f_s), disc(f_t)
    expected = 0.5 * (
        F.binary_cross_entropy_with_logits(d_s, torch.ones(6))
        + F.binary_cross_entropy_with_logits(d_t, torch.zeros(2))
    )
    assert loss_fn(f_s, f_t).item() == pytest.approx(expected.item(), rel=1e-6)


@pytest.mark.parametrize("coeff", [0.25, 1.0])
def test_features_get_reversed_gradients_and_the_discriminator_normal_ones(coeff):
    torch.manual_seed(0)
    disc = DomainDiscriminator(8, hidden=16).eval()  # no dropout: the two passes are equal
    plain = copy.deepcopy(disc)
    f_s, f_t = _features()
    DomainAdversarialLoss(disc, GradientReverseLayer(coeff))(f_s, f_t).backward()
    g_s, g_t = f_s.grad.clone(), f_t.grad.clone()
    f_s.grad = f_t.grad = None
    # The same loss without reversal: what the discriminator minimises.
    scores = plain(torch.cat([f_s, f_t]))
    ref = 0.5 * (
        F.binary_cross_entropy_with_logits(scores[:6], torch.ones(6))
        + F.binary_cross_entropy_with_logits(scores[6:], torch.zeros(4))
    )
    ref.backward()
    assert g_s.abs().sum() > 0 and g_t.abs().sum() > 0  # both domains are pushed
    assert torch.allclose(g_s, -coeff * f_s.grad, atol=1e-7)
    assert torch.allclose(g_t, -coeff * f_t.grad, atol=1e-7)
    for p, q in zip(disc.parameters(), plain.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-7)


def test_domain_accuracy_of_a_perfect_and_a_useless_discriminator():
    disc = DomainDiscriminator(1, hidden=1, layers=0)
    with torch.no_grad():
        disc.net[0].weight.fill_(1.0)
        disc.net[0].bias.zero_()
    loss_fn = DomainAdversarialLoss(disc)
    loss_fn(torch.full((5, 1), 3.0), torch.full((3, 1), -3.0))
    assert loss_fn.domain_accuracy == 1.0
    loss_fn(torch.full((5, 1), 3.0), torch.full((3, 1), 3.0))  # calls everything "source"
    assert loss_fn.domain_accuracy == 0.5
