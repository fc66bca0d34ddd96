"""Plots of a run, written atomically as PNG files."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from headstart.io import write_atomic  # noqa: E402


@contextlib.contextmanager
def literal_text() -> Iterator[None]:
    """Figures made inside show every label as typed: a class named ``a$\\frac$`` is text,
    not mathtext that fails to parse when the figure is saved."""
    with plt.rc_context({"text.parse_math": False}):
        yield


def _save(fig: plt.Figure, path: Path) -> Path:
    write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)
    return path


@literal_text()
def plot_curves(path: Path, rows: Sequence[dict]) -> Path:
    """Loss and accuracy per epoch, train and val."""
    epochs = [int(r["epoch"]) for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for key, label in (("train_loss", "train"), ("val_loss", "val")):
        ax1.plot(epochs, [float(r[key]) for r in rows], marker="o", label=label)
    for key, label in (("train_acc", "train"), ("val_acc", "val")):
        ax2.plot(epochs, [float(r[key]) for r in rows], marker="o", label=label)
    ax1.set(title="loss", xlabel="epoch")
    ax2.set(title="accuracy", xlabel="epoch", ylim=(0, 1.01))
    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path)


@literal_text()
def plot_confusion(
    path: Path, cm: np.ndarray, classes: Sequence[str], normalize: bool = False
) -> Path:
    """Confusion matrix: rows are true classes, columns predicted."""
    return _save(confusion_figure(cm, classes, normalize), path)


def confusion_figure(cm: np.ndarray, classes: Sequence[str], normalize: bool = False) -> plt.Figure:
    """The confusion matrix as a matplotlib figure (for a PNG, or TensorBoard's image tab)."""
    data = cm.astype(float)
    if normalize:
        data = data / np.maximum(data.sum(1, keepdims=True), 1)
    n = len(classes)
    size = max(4.0, 0.55 * n + 2)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    im = ax.imshow(data, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_xticks(range(n), classes, rotation=60, ha="right")
    ax.set_yticks(range(n), classes)
    ax.set(
        xlabel="predicted",
        ylabel="true",
        title="confusion matrix" + (" (normalized)" if normalize else ""),
    )
    if n <= 25:
        thresh = data.max() / 2 if data.size else 0
        for i in range(n):
            for j in range(n):
                txt = f"{data[i, j]:.2f}" if normalize else f"{int(cm[i, j])}"
                ax.text(
                    j,
                    i,
                    txt,
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if data[i, j] > thresh else "black",
                )
    return fig


@literal_text()
def plot_lines(
    path: Path,
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    title: str,
    xlabel: str,
    ylabel: str,
    integer_x: bool | None = None,
) -> Path:
    """Several named (x, y) lines on one chart (``integer_x``: whole-number ticks; by default
    when the x axis is epochs)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, (x, y) in series.items():
        ax.plot(list(x), list(y), marker="o", label=name)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if integer_x or (integer_x is None and xlabel == "epoch"):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_lr_find(
    path: Path,
    lrs: Sequence[float],
    smoothed: Sequence[float],
    suggestions: Mapping[str, float],
    chosen: str,
    group: str,
) -> Path:
    """The LR range test: smoothed loss against the LR (log scale), each suggestion marked."""
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(list(lrs), list(smoothed), label="smoothed loss")
    ax.set_xscale("log")
    for i, (name, lr) in enumerate(suggestions.items()):
        y = float(np.interp(np.log(lr), np.log(np.asarray(lrs)), np.asarray(smoothed)))
        style = "o" if name == chosen else "x"
        ax.plot([lr], [y], style, ms=9, color=f"C{i + 1}", label=f"{name}: {lr:.2e}")
    ax.set(title="LR range test", xlabel=f"learning rate of {group}", ylabel="loss")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return _save(fig, path)
