"""N-way K-shot episodes: sampled once from labels and a seed, so every method meets the same ones.

An episode picks ``ways`` classes, then ``shots`` support and ``queries`` query items of each,
all distinct. Accuracy is averaged over episodes and reported with a 95% confidence interval
(1.96 standard errors), the usual few-shot protocol.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from headstart.errors import DataError


@dataclass(frozen=True)
class Episode:
    classes: np.ndarray  # (ways,) class indices of the data
    support: np.ndarray  # (ways * shots,) row numbers, grouped by class in ``classes`` order
    query: np.ndarray  # (ways * queries,) row numbers, grouped the same way

    @property
    def ways(self) -> int:
        return len(self.classes)

    def support_targets(self) -> np.ndarray:
        return np.repeat(np.arange(self.ways), len(self.support) // self.ways)

    def query_targets(self) -> np.ndarray:
        return np.repeat(np.arange(self.ways), len(self.query) // self.ways)


def sample_episodes(
    labels: np.ndarray,
    ways: int,
    shots: int,
    queries: int,
    episodes: int,
    seed: int = 0,
    where: str = "these images",
) -> list[Episode]:
    """``episodes`` episodes over the classes that have at least ``shots + queries`` items
    (``where`` names the images, e.g. "the val split of data/fmnist", in the error)."""
    labels = np.asarray(labels)
    need = shots + queries
    if ways < 2 or shots < 1 or queries < 1 or episodes < 1:
        raise DataError("episodes need --ways >= 2, --shots >= 1, --queries >= 1, --episodes >= 1")
    by_class = {int(c): np.flatnonzero(labels == c) for c in np.unique(labels[labels >= 0])}
    eligible = sorted(c for c, rows in by_class.items() if len(rows) >= need)
    if len(eligible) < ways:
        raise DataError(
            f"{ways}-way {shots}-shot episodes with {queries} queries need {ways} "
            f"classes with >= {need} images each; only {len(eligible)} of the "
            f"{len(by_class)} classes in {where} have that many"
        )
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(episodes):
        classes = rng.choice(eligible, size=ways, replace=False)
        picks = [rng.choice(by_class[int(c)], size=need, replace=False) for c in classes]
        out.append(
            Episode(
                classes=np.asarray(classes),
                support=np.concatenate([p[:shots] for p in picks]),
                query=np.concatenate([p[shots:] for p in picks]),
            )
        )
    return out


def mean_ci95(accuracies: np.ndarray) -> tuple[float, float]:
    """Mean and half-width of the 95% confidence interval of the mean."""
    acc = np.asarray(accuracies, dtype=np.float64)
    if len(acc) < 2:
        return float(acc.mean()) if len(acc) else float("nan"), float("nan")
    return float(acc.mean()), float(1.96 * acc.std(ddof=1) / np.sqrt(len(acc)))
