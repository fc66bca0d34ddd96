"""``evaluate_fewshot``: N-way K-shot accuracy of several encoders on the very same episodes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from headstart.data.sources import find_splits
from headstart.embeddings.embed import check_items
from headstart.embeddings.encoders import ImageEncoder
from headstart.embeddings.store import Item, collect_items
from headstart.errors import DataError
from headstart.fewshot.episodes import sample_episodes
from headstart.fewshot.protonet import evaluate_vectors


@dataclass
class FewShotScore:
    encoder: str
    ways: int
    shots: int
    queries: int
    episodes: int
    mean: float  # mean episode accuracy
    ci95: float  # half-width of its 95% confidence interval

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def labelled_items(
    data: str | Path, split: str | None = None, classes: Sequence[str] | None = None
) -> list[Item]:
    """Decodable labelled images of ``data`` (its ``split``; ``val`` by default when present)."""
    root = Path(data)
    if split is None and root.is_dir():
        splits = find_splits(root)
        split = "val" if "val" in splits else next(iter(splits), None)
    items, _ = check_items(collect_items([root], split), skip_bad=False)
    if any(not it.label for it in items):
        raise DataError(f"{root} must hold class folders (labels) for few-shot episodes")
    if classes:
        unknown = sorted(set(classes) - {it.label for it in items})
        if unknown:
            raise DataError(f"--classes: {', '.join(unknown)} not found in {root}")
        items = [it for it in items if it.label in set(classes)]
    return items


def evaluate_fewshot(
    data: str | Path,
    encoders: Sequence[ImageEncoder],
    ways: int = 5,
    shots: Sequence[int] = (1, 5),
    queries: int = 15,
    episodes: int = 600,
    split: str | None = None,
    classes: Sequence[str] | None = None,
    metric: str = "cosine",
    seed: int = 0,
    progress: bool = True,
) -> list[FewShotScore]:
    """Mean accuracy ± 95% CI of nearest-prototype classification for each encoder and shot
    count. Episodes depend only on the labels, ``shots`` and ``seed``: every encoder is
    measured on the same ones.

    >>> evaluate_fewshot("data/fmnist", [load_encoder("pixels"), load_encoder()], shots=[1, 5])
    """
    # Every image of the split is embedded (one cached pass shared with `embed`, probes...);
    # the episodes then draw only from ``classes``.
    items = labelled_items(data, split)
    keep = labelled_items(data, split, classes) if classes else items
    names = sorted({it.label for it in keep})
    kept = {it.id for it in keep}
    labels = np.array([names.index(it.label) if it.id in kept else -1 for it in items])
    where = f"the {items[0].split} split of {data}" if items and items[0].split else str(data)
    plans = {k: sample_episodes(labels, ways, k, queries, episodes, seed + k, where) for k in shots}
    scores = []
    for enc in encoders:
        vectors = np.asarray(enc.encode([it.path for it in items], progress=progress))
        for k, eps in plans.items():
            mean, ci = evaluate_vectors(vectors, eps, metric)
            scores.append(FewShotScore(enc.description, ways, k, queries, episodes, mean, ci))
    return scores


def score_table(scores: Sequence[FewShotScore]) -> str:
    """One row per encoder, one column per shot count: ``mean ± ci95``."""
    shots = sorted({s.shots for s in scores})
    encoders = list(dict.fromkeys(s.encoder for s in scores))
    width = max(len(e) for e in encoders) + 2
    first = scores[0]
    head = f"{'encoder':<{width}}" + "".join(f"{f'{first.ways}-way {k}-shot':>18}" for k in shots)
    rows = [head]
    for e in encoders:
        cells = {s.shots: f"{s.mean:.4f} ± {s.ci95:.4f}" for s in scores if s.encoder == e}
        rows.append(f"{e:<{width}}" + "".join(f"{cells.get(k, '-'):>18}" for k in shots))
    rows.append(f"({first.episodes} episodes, {first.queries} queries per class, 95% CI)")
    return "\n".join(rows)
