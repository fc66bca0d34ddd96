"""A cosine-similarity index over embeddings, with FAISS.

Vectors are L2-normalised so that inner product is cosine similarity. Small collections get an
exact ``IndexFlatIP``; above ``HNSW_THRESHOLD`` vectors an ``IndexHNSWFlat`` (approximate,
sub-linear). The raw vectors and items are kept beside the index, so it can be rebuilt and
checked against exact search at any time.

On disk, one *generation* of files (``vectors-G.npy``, ``items-G.csv``, ``index-G.faiss``) is
written completely before ``index.json`` is switched to it atomically; the previous
generation is then removed. A reader always sees one whole generation.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from headstart.embeddings.store import (
    CHUNK,
    EmbeddingSet,
    Item,
    read_items,
    read_meta,
    write_items,
    write_vectors,
)
from headstart.errors import DataError, HeadstartError
from headstart.io import write_atomic, write_json_atomic

FORMAT = "headstart-index/1"
HNSW_THRESHOLD = 20_000
KINDS = ("auto", "flat", "hnsw")


def _faiss():  # noqa: ANN202 - faiss has no type stubs
    try:
        import faiss
    except ImportError:
        raise HeadstartError("vector search needs FAISS: pip install faiss-cpu==1.15.1") from None
    return faiss


def normalize(x: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation, float32; zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / np.maximum(norms, 1e-12), dtype=np.float32)


@dataclass(frozen=True)
class IndexParams:
    kind: str = "auto"  # auto | flat | hnsw
    threshold: int = HNSW_THRESHOLD  # auto: HNSW from this many vectors on
    m: int = 32  # HNSW graph degree
    ef_construction: int = 200
    ef_search: int = 128

    def resolved(self, n: int) -> str:
        if self.kind not in KINDS:
            raise HeadstartError(f"--kind '{self.kind}': choose one of {', '.join(KINDS)}")
        if self.kind != "auto":
            return self.kind
        return "hnsw" if n >= self.threshold else "flat"


def _build_faiss(vectors: np.ndarray, kind: str, p: IndexParams) -> Any:
    faiss = _faiss()
    dim = vectors.shape[1]
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.IndexHNSWFlat(dim, p.m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = p.ef_construction
    _add_chunks(index, vectors)
    return index


def _add_chunks(index: Any, vectors: np.ndarray) -> None:
    for start in range(0, len(vectors), CHUNK):
        index.add(normalize(vectors[start : start + CHUNK]))


@dataclass
class VectorIndex:
    """A loaded index: ``search`` (approximate for HNSW), ``exact``, ``add``, ``rebuild``."""

    root: Path
    meta: dict[str, Any]
    index: Any
    vectors: np.ndarray
    items: list[Item]

    @property
    def kind(self) -> str:
        return str(self.meta["kind"])

    @property
    def params(self) -> IndexParams:
        return IndexParams(**self.meta["params"])

    def __len__(self) -> int:
        return len(self.items)

    @classmethod
    def build(
        cls,
        embeddings: str | Path | EmbeddingSet,
        out: str | Path,
        params: IndexParams | None = None,
    ) -> VectorIndex:
        """Index the vectors of an embeddings folder into ``out``."""
        emb = embeddings if isinstance(embeddings, EmbeddingSet) else EmbeddingSet.load(embeddings)
        p = params or IndexParams()
        meta = {"embeddings": emb.meta, "source": str(emb.root)}
        return _write_generation(Path(out), 1, emb.vectors, None, list(emb.items), p, meta, None)

    @classmethod
    def load(cls, root: str | Path) -> VectorIndex:
        root = Path(root)
        meta = read_meta(
            root / "index.json",
            f"{root} is not an index (no index.json); build one with "
            "`headstart index EMBEDDINGS_DIR`",
        )
        g = meta["generation"]
        index = _faiss().read_index(str(root / f"index-{g}.faiss"))
        if meta["kind"] == "hnsw":
            index.hnsw.efSearch = meta["params"]["ef_search"]
        vectors = np.load(root / f"vectors-{g}.npy", mmap_mode="r")
        items = read_items(root / f"items-{g}.csv")
        if not len(vectors) == len(items) == index.ntotal == meta["n"]:
            raise DataError(
                f"{root} is inconsistent; rebuild it with `headstart index {root} --rebuild`"
            )
        return cls(root, meta, index, vectors, items)

    def search(self, queries: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """Cosine similarities and row numbers ``(n_queries, k)`` of the nearest vectors."""
        k = max(1, min(k, len(self)))
        scores, rows = self.index.search(normalize(np.atleast_2d(queries)), k)
        return scores, rows

    def exact(self, queries: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """Exact search over the raw vectors (the reference an approximate index is checked by)."""
        flat = _build_faiss(self.vectors, "flat", self.params)
        k = max(1, min(k, len(self)))
        scores, rows = flat.search(normalize(np.atleast_2d(queries)), k)
        return scores, rows

    def add(self, vectors: np.ndarray, items: list[Item]) -> VectorIndex:
        """Append new vectors (items whose id is already indexed are skipped) as a new generation."""
        known = {it.id for it in self.items}
        keep = [i for i, it in enumerate(items) if it.id not in known]
        if not keep:
            return self
        new_vectors = np.asarray(vectors, np.float32)[keep]
        new_items = [items[i] for i in keep]
        if new_vectors.shape[1] != self.vectors.shape[1]:
            raise DataError(
                f"new vectors have {new_vectors.shape[1]} dimensions, the index "
                f"{self.vectors.shape[1]}; embed them with the index's encoder"
            )
        n = len(self) + len(keep)
        same_kind = self.params.resolved(n) == self.kind or self.params.kind != "auto"
        reuse = self.index if same_kind else None
        return _write_generation(
            self.root,
            self.meta["generation"] + 1,
            self.vectors,
            new_vectors,
            self.items + new_items,
            self.params,
            self.meta,
            reuse,
        )

    def rebuild(self, params: IndexParams | None = None) -> VectorIndex:
        """Rebuild the FAISS index from the kept raw vectors (optionally with new parameters)."""
        return _write_generation(
            self.root,
            self.meta["generation"] + 1,
            self.vectors,
            None,
            self.items,
            params or self.params,
            self.meta,
            None,
        )

    def check(self, k: int = 10, n_queries: int = 200, seed: int = 0) -> dict[str, float]:
        """Recall@k of this index against exact search, and single-query latency (ms)."""
        rng = np.random.default_rng(seed)
        picks = rng.choice(len(self), size=min(n_queries, len(self)), replace=False)
        queries = np.asarray(self.vectors[np.sort(picks)], np.float32)
        _, truth = self.exact(queries, k)
        found, times = [], []
        for q in queries:
            start = time.perf_counter()
            _, rows = self.search(q[None], k)
            times.append((time.perf_counter() - start) * 1000)
            found.append(rows[0])
        hits = [len(set(t.tolist()) & set(f.tolist())) for t, f in zip(truth, found)]
        return {
            "recall_at_k": float(np.mean(hits) / truth.shape[1]),
            "k": float(truth.shape[1]),
            "queries": float(len(queries)),
            "latency_ms_p50": float(np.percentile(times, 50)),
            "latency_ms_p95": float(np.percentile(times, 95)),
        }


def _write_generation(
    root: Path,
    g: int,
    vectors: np.ndarray,
    extra: np.ndarray | None,
    items: list[Item],
    p: IndexParams,
    meta: dict[str, Any],
    index: Any,
) -> VectorIndex:
    root.mkdir(parents=True, exist_ok=True)
    n = len(items)
    kind = p.resolved(n)
    start = time.perf_counter()
    write_vectors(root / f"vectors-{g}.npy", vectors, extra)
    write_items(root / f"items-{g}.csv", items)
    if index is None:
        index = _build_faiss(np.load(root / f"vectors-{g}.npy", mmap_mode="r"), kind, p)
    elif extra is not None:
        if kind == "hnsw":
            index.hnsw.efConstruction = p.ef_construction
        _add_chunks(index, extra)
    faiss = _faiss()
    write_atomic(root / f"index-{g}.faiss", lambda tmp: faiss.write_index(index, str(tmp)))
    new_meta = {
        **{k: v for k, v in meta.items() if k != "format"},
        "format": FORMAT,
        "generation": g,
        "kind": kind,
        "n": n,
        "dim": int(vectors.shape[1]),
        "metric": "cosine",
        "params": asdict(p),
        "build_seconds": round(time.perf_counter() - start, 3),
    }
    write_json_atomic(root / "index.json", new_meta)
    for old in root.glob("*-*.*"):
        stem = old.stem.rsplit("-", 1)
        if old.name.startswith(("vectors-", "items-", "index-")) and stem[-1] != str(g):
            old.unlink(missing_ok=True)
    return VectorIndex.load(root)
