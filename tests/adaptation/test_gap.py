"""The proxy A-distance: near 2 for separable domains, near 0 for identical ones."""

from __future__ import annotations

import numpy as np

from headstart.adaptation import proxy_a_distance


def test_separable_domains_are_far_apart():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, (200, 8))
    b = rng.normal(0, 1, (200, 8)) + np.r_[4.0, np.zeros(7)]
    assert proxy_a_distance(a, b) > 1.8


def test_identical_distributions_are_close():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, (200, 8)), rng.normal(0, 1, (300, 8))
    assert abs(proxy_a_distance(a, b)) < 0.4
