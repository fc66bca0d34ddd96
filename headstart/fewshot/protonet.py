"""Prototypical classification: a class is the mean embedding of its support images.

``cosine`` compares L2-normalised vectors (logits = ``COSINE_SCALE`` x cosine similarity);
``euclidean`` uses minus the squared distance to the prototype (Snell et al., 2017). The same
``proto_logits`` serves training (a prototypical loss is cross-entropy over these logits) and
evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from headstart.classify.checkpoint import Prediction
from headstart.embeddings.embed import check_items
from headstart.embeddings.encoders import ImageEncoder
from headstart.embeddings.index import normalize
from headstart.embeddings.store import collect_items
from headstart.errors import DataError, HeadstartError
from headstart.fewshot.episodes import Episode, mean_ci95
from headstart.options import POSITIVE_INT, check_option

METRICS = ("cosine", "euclidean")
COSINE_SCALE = 10.0  # softmax temperature 0.1 on cosine similarities


def proto_logits(
    support: torch.Tensor,
    targets: torch.Tensor,
    query: torch.Tensor,
    ways: int,
    metric: str = "cosine",
) -> torch.Tensor:
    """Logits ``(n_query, ways)`` of each query against the class prototypes of the support."""
    if metric not in METRICS:
        raise HeadstartError(f"--metric '{metric}': choose cosine or euclidean")
    if metric == "cosine":
        support, query = F.normalize(support, dim=1), F.normalize(query, dim=1)
    onehot = F.one_hot(targets, ways).to(support.dtype)
    protos = onehot.T @ support / onehot.sum(0).clamp(min=1)[:, None]
    if metric == "cosine":
        return COSINE_SCALE * query @ F.normalize(protos, dim=1).T
    return -torch.cdist(query, protos).pow(2)


def prototype_scores(
    support: np.ndarray, targets: np.ndarray, query: np.ndarray, ways: int, metric: str = "cosine"
) -> np.ndarray:
    """NumPy twin of ``proto_logits`` for evaluation: thousands of small episodes run far
    faster without torch's per-op overhead."""
    if metric not in METRICS:
        raise HeadstartError(f"--metric '{metric}': choose cosine or euclidean")
    support = np.asarray(support, np.float32)
    query = np.asarray(query, np.float32)
    if metric == "cosine":
        support, query = normalize(support), normalize(query)
    protos = np.stack([support[targets == c].mean(0) for c in range(ways)])
    if metric == "cosine":
        return COSINE_SCALE * query @ normalize(protos).T
    d2 = (query**2).sum(1)[:, None] - 2 * query @ protos.T + (protos**2).sum(1)[None]
    return -np.maximum(d2, 0.0)


def episode_accuracies(
    vectors: np.ndarray, episodes: Sequence[Episode], metric: str = "cosine"
) -> np.ndarray:
    """Nearest-prototype accuracy of each episode on fixed ``vectors``."""
    x = np.asarray(vectors, dtype=np.float32)
    if metric == "cosine":
        x = normalize(x)
    accs = np.empty(len(episodes))
    for i, ep in enumerate(episodes):
        scores = prototype_scores(x[ep.support], ep.support_targets(), x[ep.query], ep.ways, metric)
        accs[i] = (scores.argmax(1) == ep.query_targets()).mean()
    return accs


def evaluate_vectors(
    vectors: np.ndarray, episodes: Sequence[Episode], metric: str = "cosine"
) -> tuple[float, float]:
    """Mean accuracy and 95% CI half-width over ``episodes``."""
    return mean_ci95(episode_accuracies(vectors, episodes, metric))


@dataclass
class FewShotClassifier:
    """Prototypes of a support folder (one sub-folder of images per class)."""

    classes: tuple[str, ...]
    support: np.ndarray
    targets: np.ndarray
    encoder: ImageEncoder
    metric: str = "cosine"

    @classmethod
    def from_support(
        cls,
        support_dir: str | Path,
        encoder: ImageEncoder,
        metric: str = "cosine",
        progress: bool = False,
    ) -> FewShotClassifier:
        items, _ = check_items(collect_items([support_dir]), skip_bad=False)
        classes = tuple(sorted({it.label for it in items if it.label}))
        if len(classes) < 2 or any(not it.label for it in items):
            raise DataError(
                f"{support_dir} must hold one folder of images per class "
                f"(at least 2 classes); found {len(classes)}"
            )
        vectors = np.asarray(encoder.encode([it.path for it in items], progress=progress))
        targets = np.array([classes.index(it.label) for it in items])
        return cls(classes, vectors, targets, encoder, metric)

    def probabilities(self, files: Sequence[Path], progress: bool = False) -> np.ndarray:
        query = np.asarray(self.encoder.encode(list(files), progress=progress), np.float32)
        logits = prototype_scores(self.support, self.targets, query, len(self.classes), self.metric)
        prob = np.exp(logits - logits.max(1, keepdims=True))
        return prob / prob.sum(1, keepdims=True)

    def predict(self, inputs: Sequence[str | Path], top_k: int = 3) -> list[Prediction]:
        """Top-k classes with probabilities for query image files or folders."""
        items, _ = check_items(collect_items(list(inputs)), skip_bad=False)
        files = [it.path for it in items]
        probs = self.probabilities(files)
        k = min(check_option("top_k", top_k, POSITIVE_INT), len(self.classes))
        return [
            Prediction(str(f), [(self.classes[i], float(p[i])) for i in np.argsort(-p)[:k]])
            for f, p in zip(files, probs)
        ]
