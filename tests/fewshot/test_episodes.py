"""Episodes, prototypes and confidence intervals: exact arithmetic on small arrays."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from headstart.errors import DataError
from headstart.fewshot import mean_ci95, proto_logits, sample_episodes
from headstart.fewshot.protonet import COSINE_SCALE, episode_accuracies, prototype_scores

LABELS = np.repeat(np.arange(6), 10)


def test_episodes_are_disjoint_balanced_and_reproducible():
    eps = sample_episodes(LABELS, ways=5, shots=2, queries=3, episodes=50, seed=7)
    assert len(eps) == 50
    for ep in eps:
        assert len(set(ep.classes)) == 5
        assert not set(ep.support) & set(ep.query)
        support_classes = LABELS[ep.support].reshape(5, 2)
        assert (support_classes == ep.classes[:, None]).all()
        assert (LABELS[ep.query].reshape(5, 3) == ep.classes[:, None]).all()
    again = sample_episodes(LABELS, 5, 2, 3, 50, seed=7)
    assert all((a.query == b.query).all() for a, b in zip(eps, again))
    other = sample_episodes(LABELS, 5, 2, 3, 50, seed=8)
    assert any((a.query != b.query).any() for a, b in zip(eps, other))


def test_too_few_images_per_class_is_a_clear_error():
    with pytest.raises(DataError, match="5 classes with >= 16"):
        sample_episodes(LABELS, ways=5, shots=1, queries=15, episodes=1)


def test_prototypes_are_class_means():
    support = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [0.0, 4.0]])
    targets = torch.tensor([0, 0, 1, 1])
    query = torch.tensor([[2.0, 0.5], [0.0, 3.0]])
    euc = proto_logits(support, targets, query, 2, "euclidean")
    protos = torch.tensor([[2.0, 0.0], [0.0, 3.0]])
    assert torch.allclose(euc, -torch.cdist(query, protos).pow(2))
    cos = proto_logits(support, targets, query, 2, "cosine")
    assert torch.allclose(cos[1], torch.tensor([0.0, COSINE_SCALE]))
    assert euc.argmax(1).tolist() == [0, 1] and cos.argmax(1).tolist() == [0, 1]
    for metric, expected in (("euclidean", euc), ("cosine", cos)):  # the NumPy twin agrees
        got = prototype_scores(support.numpy(), targets.numpy(), query.numpy(), 2, metric)
        np.testing.assert_allclose(got, expected.numpy(), atol=1e-5)


def test_separable_vectors_score_one_and_noise_scores_chance():
    rng = np.random.default_rng(0)
    eps = sample_episodes(LABELS, 5, 1, 5, 200, seed=0)
    separable = np.eye(6)[LABELS] + 0.01 * rng.normal(size=(60, 6))
    assert episode_accuracies(separable, eps).mean() == 1.0
    noise = rng.normal(size=(60, 32))
    assert 0.1 < episode_accuracies(noise, eps).mean() < 0.3  # chance is 0.2


def test_ci95_is_1_96_standard_errors():
    acc = np.array([0.5, 0.7, 0.6, 0.8])
    mean, ci = mean_ci95(acc)
    assert mean == pytest.approx(0.65)
    assert ci == pytest.approx(1.96 * acc.std(ddof=1) / 2)


def test_too_few_images_names_the_split_it_counted(tmp_path, capsys):
    """`fewshot train` said "only 0 have that many" without saying where it counted."""
    from tests.cli.helpers import run_main
    from tests.conftest import make_folder

    data = make_folder(tmp_path / "d", 12, 3)
    argv = ["fewshot", "train", str(data), "--backbone", "test_efficientnet", "--weights"]
    argv += ["random", "--ways", "2", "--shots", "2", "--queries", "2", "--no-progress"]
    code, err = run_main([*argv, "--out", str(tmp_path / "runs")], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert "only 0 of the 3 classes in the val split have that many" in err
    code, err = run_main(["fewshot", "eval", str(data), "--backbone", "pixels:8"], capsys)
    assert f"only 0 of the 3 classes in the val split of {data} have that many" in err, err
