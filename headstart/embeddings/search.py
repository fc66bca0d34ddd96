"""Nearest images of query images or texts in an index, with a contact sheet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from headstart.data.images import open_image
from headstart.embeddings.encoders import ImageEncoder
from headstart.embeddings.index import VectorIndex
from headstart.embeddings.store import collect_items
from headstart.errors import HeadstartError
from headstart.io import write_atomic
from headstart.report.plots import literal_text


@dataclass
class Hit:
    rank: int
    id: str
    path: str
    label: str
    score: float  # cosine similarity


@dataclass
class QueryResult:
    query: str  # an image path, or the text
    kind: str  # "image" | "text"
    hits: list[Hit]

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "kind": self.kind, "hits": [asdict(h) for h in self.hits]}


def search(
    index: str | Path | VectorIndex,
    encoder: ImageEncoder,
    images: Sequence[str | Path] = (),
    texts: Sequence[str] = (),
    k: int = 5,
    progress: bool = False,
) -> list[QueryResult]:
    """Nearest neighbours of each query image and each text (text needs a text-aligned index).

    ``encoder`` embeds the queries: the one that made the index
    (``headstart.encoders.index_encoder(index)`` rebuilds it).

    >>> search("runs/embed/fmnist/index", index_encoder("runs/embed/fmnist/index"), ["shoe.png"])
    """
    idx = index if isinstance(index, VectorIndex) else VectorIndex.load(index)
    if not images and not texts:
        raise HeadstartError("give query images or --text")
    emb_meta = idx.meta["embeddings"]
    if texts and not emb_meta.get("text_space"):
        raise HeadstartError(
            f"{idx.root} holds {emb_meta['encoder']['description']} vectors, which have no text "
            "side; for --text search embed with `--backbone conse` or `--backbone clip:NAME`"
        )
    results: list[QueryResult] = []
    if images:
        files = [it.path for it in collect_items(list(images))]
        vectors = np.asarray(encoder.encode(files, progress=progress))
        results += _hits(idx, vectors, [str(f) for f in files], "image", k)
    if texts:
        assert encoder.text is not None
        results += _hits(idx, encoder.text.encode_text(list(texts)), list(texts), "text", k)
    return results


def _hits(
    idx: VectorIndex, vectors: np.ndarray, queries: list[str], kind: str, k: int
) -> list[QueryResult]:
    scores, rows = idx.search(vectors, k)
    out = []
    for q, srow, rrow in zip(queries, scores, rows):
        hits = [
            Hit(r + 1, idx.items[i].id, str(idx.items[i].path), idx.items[i].label, float(s))
            for r, (s, i) in enumerate(zip(srow, rrow))
            if i >= 0
        ]
        out.append(QueryResult(q, kind, hits))
    return out


def contact_sheet(path: str | Path, results: Sequence[QueryResult], thumb: int = 96) -> Path:
    """One row per query: the query (image or text) then its hits with scores and labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with literal_text():
        cols = 1 + max((len(r.hits) for r in results), default=0)
        fig, axes = plt.subplots(
            len(results), cols, figsize=(1.6 * cols, 1.9 * len(results)), squeeze=False
        )
        for row, res in zip(axes, results):
            for ax in row:
                ax.axis("off")
            if res.kind == "image":
                row[0].imshow(_thumb(res.query, thumb))
                row[0].set_title("query", fontsize=8, color="tab:blue")
            else:
                row[0].text(
                    0.5,
                    0.5,
                    f"“{res.query}”",
                    ha="center",
                    va="center",
                    wrap=True,
                    fontsize=9,
                    color="tab:blue",
                    transform=row[0].transAxes,
                )
            for ax, hit in zip(row[1:], res.hits):
                ax.imshow(_thumb(hit.path, thumb))
                ax.set_title(
                    f"{hit.score:.3f}" + (f"\n{hit.label}" if hit.label else ""), fontsize=7
                )
        fig.tight_layout()
        write_atomic(Path(path), lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)
    return Path(path)


def _thumb(path: str, size: int) -> np.ndarray:
    im = open_image(path)
    im.thumbnail((size, size))
    return np.asarray(im)
