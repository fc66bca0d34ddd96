"""How much the embeddings know: linear probe, kNN and k-means against the labels.

The held-out split is the data's own ``val`` split when the embeddings have both ``train``
and ``val`` items, else a seeded stratified fraction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from headstart.embeddings.index import normalize
from headstart.embeddings.store import EmbeddingSet
from headstart.errors import DataError


@dataclass
class ProbeResult:
    holdout: str  # how the held-out set was chosen
    n_train: int
    n_test: int
    n_classes: int
    linear_acc: float  # logistic regression on standardised vectors
    knn_acc: float  # k nearest neighbours, cosine
    k: int
    kmeans_purity: float  # k-means (k = number of classes) on all labelled vectors
    kmeans_nmi: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        return "\n".join(
            [
                f"held out: {self.holdout} ({self.n_train} train / {self.n_test} test, "
                f"{self.n_classes} classes)",
                f"linear probe (logistic regression)  accuracy {self.linear_acc:.4f}",
                f"kNN (k={self.k}, cosine)               accuracy {self.knn_acc:.4f}",
                f"k-means (k={self.n_classes})                 purity {self.kmeans_purity:.4f}  "
                f"NMI {self.kmeans_nmi:.4f}",
            ]
        )


def holdout_split(
    emb: EmbeddingSet, test_size: float, seed: int, holdout: str = "auto"
) -> tuple[np.ndarray, np.ndarray, str]:
    """Row numbers of (train, test) among labelled items, and how they were chosen."""
    labels = emb.labels()
    rows = np.flatnonzero(labels >= 0)
    splits = np.array([emb.items[i].split for i in rows])
    if holdout in ("auto", "split") and {"train", "val"} <= set(splits):
        return rows[splits == "train"], rows[splits == "val"], "the data's val split"
    if holdout == "split":
        raise DataError(f"{emb.root} has no train and val items; use --holdout random")
    from sklearn.model_selection import train_test_split

    counts = np.bincount(labels[rows])
    stratify = labels[rows] if counts[counts > 0].min() >= 2 else None
    tr, te = train_test_split(rows, test_size=test_size, random_state=seed, stratify=stratify)
    return np.sort(tr), np.sort(te), f"random stratified {test_size:.0%} (seed {seed})"


def probe(
    embeddings: str | Path | EmbeddingSet,
    test_size: float = 0.25,
    k: int = 5,
    seed: int = 0,
    holdout: str = "auto",
) -> ProbeResult:
    """Linear-probe and kNN accuracy on held-out items; k-means purity and NMI on all of them.

    >>> probe("runs/embed/fmnist").linear_acc
    """
    from sklearn.cluster import KMeans
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import normalized_mutual_info_score
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    emb = embeddings if isinstance(embeddings, EmbeddingSet) else EmbeddingSet.load(embeddings)
    labels = emb.labels()
    n_classes = len(emb.classes)
    if n_classes < 2:
        raise DataError(
            f"{emb.root}: a probe needs labelled embeddings of at least 2 classes "
            "(embed a folder of class folders)"
        )
    tr, te, how = holdout_split(emb, test_size, seed, holdout)
    x = normalize(np.asarray(emb.vectors))
    linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.5))
    linear.fit(x[tr], labels[tr])
    knn = KNeighborsClassifier(n_neighbors=min(k, len(tr)), metric="cosine").fit(x[tr], labels[tr])
    rows = np.flatnonzero(labels >= 0)
    clusters = KMeans(n_clusters=n_classes, n_init=10, random_state=seed).fit_predict(x[rows])
    return ProbeResult(
        holdout=how,
        n_train=len(tr),
        n_test=len(te),
        n_classes=n_classes,
        linear_acc=float(linear.score(x[te], labels[te])),
        knn_acc=float(knn.score(x[te], labels[te])),
        k=min(k, len(tr)),
        kmeans_purity=purity(labels[rows], clusters),
        kmeans_nmi=float(normalized_mutual_info_score(labels[rows], clusters)),
    )


def purity(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Share of items whose cluster's majority class is their own class."""
    total = sum(np.bincount(labels[clusters == c]).max() for c in np.unique(clusters))
    return float(total / len(labels))
