"""2-D maps of embeddings (t-SNE, UMAP, PCA), drawn as a PNG coloured by class."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from headstart.embeddings.index import normalize
from headstart.embeddings.store import EmbeddingSet
from headstart.errors import HeadstartError
from headstart.io import write_atomic
from headstart.report.plots import literal_text

METHODS = ("tsne", "umap", "pca")


def project_2d(vectors: np.ndarray, method: str = "tsne", seed: int = 0) -> np.ndarray:
    """``(n, 2)`` coordinates of L2-normalised ``vectors`` (cosine geometry)."""
    if method not in METHODS:
        raise HeadstartError(f"--method '{method}': choose one of {', '.join(METHODS)}")
    x = normalize(vectors)
    n = len(x)
    if n < 3:
        raise HeadstartError(f"a map needs at least 3 embeddings, got {n}")
    from sklearn.decomposition import PCA

    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(x)
    # Reduce to 50 dimensions first: the usual, faster and less noisy input of t-SNE / UMAP.
    if x.shape[1] > 50 and n > 50:
        x = PCA(n_components=50, random_state=seed).fit_transform(x)
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(30.0, (n - 1) / 3))
        return TSNE(
            n_components=2, perplexity=perplexity, init="pca", random_state=seed, metric="cosine"
        ).fit_transform(x)
    try:
        import umap
    except ImportError:
        raise HeadstartError(
            "--method umap needs umap-learn: pip install umap-learn==0.5.12 "
            "(or use --method tsne or pca)"
        ) from None
    with warnings.catch_warnings():  # "n_jobs overridden by random_state": seeded on purpose
        warnings.simplefilter("ignore", UserWarning)
        return umap.UMAP(
            n_components=2, n_neighbors=min(15, n - 1), metric="cosine", random_state=seed
        ).fit_transform(x)


def plot_map(path: str | Path, xy: np.ndarray, labels: Sequence[str], title: str) -> Path:
    """Scatter of ``xy`` coloured by label, with a legend (grey when labels are unknown)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with literal_text():
        names = sorted({lab for lab in labels if lab})
        cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
        fig, ax = plt.subplots(figsize=(8, 6.5))
        lab = np.asarray(labels)
        size = 12 if len(xy) <= 2000 else 4
        if not names:
            ax.scatter(xy[:, 0], xy[:, 1], s=size, c="tab:grey", alpha=0.7)
        for i, name in enumerate(names):
            sel = lab == name
            ax.scatter(
                xy[sel, 0],
                xy[sel, 1],
                s=size,
                color=cmap(i % cmap.N),
                alpha=0.75,
                label=f"{name} ({int(sel.sum())})",
            )
        if names:
            ax.legend(
                loc="center left",
                bbox_to_anchor=(1.01, 0.5),
                fontsize=8,
                markerscale=2,
                frameon=False,
                title="class",
            )
        ax.set(title=title, xticks=[], yticks=[])
        write_atomic(
            Path(path), lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
        )
    plt.close(fig)
    return Path(path)


def make_map(
    embeddings: str | Path | EmbeddingSet,
    method: str = "tsne",
    out: str | Path | None = None,
    max_points: int = 5000,
    seed: int = 0,
) -> Path:
    """Project an embeddings folder to 2-D and write ``map-<method>.png`` (a seeded sample of
    ``max_points`` when larger). Returns the PNG's path.

    >>> make_map("runs/embed/fmnist", "tsne")
    PosixPath('runs/embed/fmnist/map-tsne.png')
    """
    emb = embeddings if isinstance(embeddings, EmbeddingSet) else EmbeddingSet.load(embeddings)
    n = len(emb.items)
    rows = np.arange(n)
    if n > max_points:
        rows = np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))
    xy = project_2d(np.asarray(emb.vectors[rows]), method, seed)
    enc = emb.meta.get("encoder", {}).get("description", "embeddings")
    sample = f", {len(rows)} of {n} points" if len(rows) < n else f", {n} points"
    title = f"{method.upper() if method != 'tsne' else 't-SNE'} of {enc}{sample}"
    target = Path(out) if out else emb.root / f"map-{method}.png"
    return plot_map(target, xy, [emb.items[i].label for i in rows], title)
