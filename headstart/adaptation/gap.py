"""Measuring the domain gap: embeddings, the proxy A-distance, and 2-D maps of both domains."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from headstart.engine.precision import autocast
from headstart.io import write_atomic
from headstart.report.plots import literal_text  # also selects matplotlib's Agg backend


@torch.no_grad()
def embed(
    fn: Callable[[torch.Tensor], torch.Tensor],
    module: torch.nn.Module,
    ds: Dataset,
    device: torch.device,
    dtype: torch.dtype | None,
    channels_last: bool = False,
    batch_size: int = 128,
) -> np.ndarray:
    """``fn(x)`` for every item of ``ds`` (its first element), in order, ``module`` in eval mode."""
    was_training = module.training
    module.eval()
    out = []
    try:
        for batch in DataLoader(ds, batch_size=batch_size):
            x = (batch[0] if isinstance(batch, list | tuple) else batch).to(device)
            if channels_last and x.ndim == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(device, dtype):
                out.append(fn(x).float().cpu())
    finally:
        module.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros((0, 0), np.float32)


def _balanced(f_s: np.ndarray, f_t: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = min(len(f_s), len(f_t))
    s = f_s[rng.choice(len(f_s), n, replace=False)]
    t = f_t[rng.choice(len(f_t), n, replace=False)]
    return np.concatenate([s, t]), np.r_[np.ones(n), np.zeros(n)]


def proxy_a_distance(
    f_s: np.ndarray, f_t: np.ndarray, seed: int = 0, components: int | None = None
) -> float:
    """Proxy A-distance ``2 (1 - 2 err)`` (Ben-David et al., 2007): ``err`` is the held-out error
    of a linear classifier telling source from target embeddings (equal counts, half held out,
    regularisation chosen by 3-fold cross-validation on the other half). 0: indistinguishable;
    2: perfectly separable. ``components``: first project both domains on their top principal
    components (a coarser view: in hundreds of dimensions a few hundred points of two domains
    are almost always linearly separable, and the full-dimensional value saturates at 2)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score, train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = _balanced(f_s, f_t, seed)
    if components is not None:
        from sklearn.decomposition import PCA

        x = PCA(min(components, *x.shape), random_state=seed).fit_transform(x)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.5, stratify=y, random_state=seed)

    def model(c: float) -> Any:
        return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))

    cv = min(3, int(np.bincount(y_tr.astype(int)).min()))
    best = max(
        (0.001, 0.01, 0.1, 1.0),
        key=lambda c: cross_val_score(model(c), x_tr, y_tr, cv=cv).mean() if cv > 1 else c,
    )
    err = 1.0 - float(model(best).fit(x_tr, y_tr).score(x_te, y_te))
    return 2.0 * (1.0 - 2.0 * err)


def project_2d(x: np.ndarray, method: str = "tsne", seed: int = 0) -> np.ndarray:
    """2-D coordinates of ``x`` by t-SNE (after PCA to 50 dims) or PCA."""
    from sklearn.decomposition import PCA

    x = x - x.mean(0)
    if method == "pca":
        return PCA(2, random_state=seed).fit_transform(x)
    from sklearn.manifold import TSNE

    reduced = PCA(min(50, *x.shape), random_state=seed).fit_transform(x)
    perplexity = float(min(30, max(2, (len(x) - 1) // 3)))
    return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(reduced)


def plot_domain_maps(
    path: Path,
    panels: dict[str, tuple[np.ndarray, np.ndarray]],
    method: str = "tsne",
    max_points: int = 400,
    seed: int = 0,
) -> Path:
    """One 2-D map per panel: source points and target points of the same embedding."""
    import matplotlib.pyplot as plt

    with literal_text():
        fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.4), squeeze=False)
        _draw_maps(axes[0], panels, method, max_points, seed)
        fig.suptitle(f"source vs target embeddings ({method.upper()})")
        write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)
    return path


def _draw_maps(
    axes: Any,
    panels: dict[str, tuple[np.ndarray, np.ndarray]],
    method: str,
    max_points: int,
    seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    for ax, (title, (f_s, f_t)) in zip(axes, panels.items()):
        s = f_s[rng.permutation(len(f_s))[:max_points]]
        t = f_t[rng.permutation(len(f_t))[:max_points]]
        xy = project_2d(np.concatenate([s, t]), method, seed)
        ax.scatter(*xy[: len(s)].T, s=6, alpha=0.6, label="source", c="tab:blue")
        ax.scatter(*xy[len(s) :].T, s=6, alpha=0.6, label="target", c="tab:orange")
        ax.set(title=title, xticks=[], yticks=[])
        ax.legend(loc="best", markerscale=3)
