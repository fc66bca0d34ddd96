"""Training batches for the loop: episodes and pairs drawn from cached prefix activations.

Each pass over a batch source draws new episodes / pairs from NumPy's global generator, which
the loop seeds at every epoch: runs are reproducible. Validation sources are ``fixed``: the
same episodes / pairs every epoch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from headstart.errors import DataError
from headstart.fewshot.episodes import sample_episodes


def _rows(
    acts: np.ndarray | torch.Tensor, rows: np.ndarray, shape: tuple[int, ...]
) -> torch.Tensor:
    return torch.from_numpy(np.asarray(acts[rows], dtype=np.float32)).view(-1, *shape)


class EpisodeBatches:
    """``(episode, query_targets)`` pairs for ``EpisodeNet``: ``steps`` episodes per pass."""

    def __init__(
        self,
        acts: np.ndarray | torch.Tensor,
        shape: tuple[int, ...],
        labels: np.ndarray,
        ways: int,
        shots: int,
        queries: int,
        steps: int,
        fixed_seed: int | None = None,
        split: str = "",
    ):
        self.acts, self.shape, self.labels = acts, shape, np.asarray(labels)
        self.ways, self.shots, self.queries, self.steps = ways, shots, queries, steps
        self.fixed_seed = fixed_seed
        self.where = f"the {split} split" if split else "these images"
        # fail early on too little data
        sample_episodes(self.labels, ways, shots, queries, 1, where=self.where)

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[tuple[Any, torch.Tensor]]:  # (dict of tensors, targets)
        seed = self.fixed_seed if self.fixed_seed is not None else int(np.random.randint(2**31))
        for ep in sample_episodes(
            self.labels, self.ways, self.shots, self.queries, self.steps, seed, self.where
        ):
            episode = {
                "support": _rows(self.acts, ep.support, self.shape),
                "support_targets": torch.from_numpy(ep.support_targets()),
                "query": _rows(self.acts, ep.query, self.shape),
            }
            yield episode, torch.from_numpy(ep.query_targets())


class PairBatches:
    """``(pair, same)`` for ``PairNet``: half same-class, half different-class pairs."""

    def __init__(
        self,
        acts: np.ndarray | torch.Tensor,
        shape: tuple[int, ...],
        labels: np.ndarray,
        pairs: int,
        steps: int,
        fixed_seed: int | None = None,
    ):
        self.acts, self.shape, self.labels = acts, shape, np.asarray(labels)
        self.pairs, self.steps, self.fixed_seed = pairs, steps, fixed_seed
        self.by_class = {
            int(c): np.flatnonzero(self.labels == c)
            for c in np.unique(self.labels[self.labels >= 0])
        }
        if len(self.by_class) < 2 or max(len(r) for r in self.by_class.values()) < 2:
            raise DataError("Siamese training needs at least 2 classes and 2 images of a class")

    def __len__(self) -> int:
        return self.steps

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Row numbers ``a``, ``b`` and ``same`` (1/0) of one batch of pairs."""
        multi = [c for c, r in self.by_class.items() if len(r) >= 2]
        classes = list(self.by_class)
        a, b, same = [], [], []
        for i in range(self.pairs):
            if i % 2 == 0:
                c = multi[rng.integers(len(multi))]
                x, y = rng.choice(self.by_class[c], size=2, replace=False)
            else:
                c1, c2 = rng.choice(classes, size=2, replace=False)
                x, y = rng.choice(self.by_class[int(c1)]), rng.choice(self.by_class[int(c2)])
            a.append(x)
            b.append(y)
            same.append(1 if i % 2 == 0 else 0)
        return np.array(a), np.array(b), np.array(same)

    def __iter__(self) -> Iterator[tuple[Any, torch.Tensor]]:  # (dict of tensors, targets)
        seed = self.fixed_seed if self.fixed_seed is not None else int(np.random.randint(2**31))
        rng = np.random.default_rng(seed)
        for _ in range(self.steps):
            a, b, same = self.sample(rng)
            pair = {"a": _rows(self.acts, a, self.shape), "b": _rows(self.acts, b, self.shape)}
            yield pair, torch.from_numpy(same)
