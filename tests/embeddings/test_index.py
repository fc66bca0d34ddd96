"""The FAISS index: exact below the threshold, HNSW above, checked against exact search,
updated by adding vectors, rebuilt from the kept raw vectors, written one whole generation
at a time. Random vectors: no model involved."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from headstart.embeddings.index import IndexParams, VectorIndex, normalize
from headstart.embeddings.store import EmbeddingSet, Item, save_embeddings
from headstart.errors import DataError


def make_set(root: Path, n: int = 300, dim: int = 16, seed: int = 0) -> EmbeddingSet:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(5, dim))
    labels = rng.integers(0, 5, n)
    vectors = (centres[labels] + 0.3 * rng.normal(size=(n, dim))).astype(np.float32)
    items = [Item(f"img{i}.png", Path(f"/data/img{i}.png"), f"c{labels[i]}") for i in range(n)]
    return save_embeddings(root, vectors, items, {"encoder": {"description": "random"}})


def brute_force(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    sims = normalize(queries) @ normalize(vectors).T
    return np.argsort(-sims, axis=1)[:, :k]


def test_flat_index_is_exact_cosine_search(tmp_path):
    emb = make_set(tmp_path / "emb")
    idx = VectorIndex.build(emb, tmp_path / "index")
    assert idx.kind == "flat"
    queries = np.asarray(emb.vectors[:20]) * 3.0  # scale must not matter: cosine
    scores, rows = idx.search(queries, 5)
    np.testing.assert_array_equal(rows, brute_force(np.asarray(emb.vectors), queries, 5))
    assert np.allclose(scores[:, 0], 1.0, atol=1e-5)  # each query finds itself first


def test_auto_switches_to_hnsw_above_threshold_and_recall_is_measured(tmp_path):
    emb = make_set(tmp_path / "emb", n=400)
    idx = VectorIndex.build(emb, tmp_path / "index", IndexParams(threshold=300))
    assert idx.kind == "hnsw"
    res = idx.check(k=10, n_queries=50)
    assert res["recall_at_k"] >= 0.9
    assert res["latency_ms_p50"] > 0


def test_add_updates_index_and_skips_known_ids(tmp_path):
    emb = make_set(tmp_path / "emb", n=100)
    idx = VectorIndex.build(emb, tmp_path / "index")
    new = np.random.default_rng(5).normal(size=(3, 16)).astype(np.float32)
    items = [Item("img0.png", Path("/data/img0.png"))] + [
        Item(f"new{i}.png", Path(f"/new/{i}.png")) for i in range(2)
    ]
    idx2 = idx.add(new, items)
    assert len(idx2) == 102  # img0.png was indexed already
    _, rows = idx2.search(new[1:], 1)
    assert [idx2.items[r].id for r in rows[:, 0]] == ["new0.png", "new1.png"]
    reloaded = VectorIndex.load(tmp_path / "index")
    assert len(reloaded) == 102 and reloaded.meta["generation"] == 2
    # the previous generation's files are gone; the new one is complete
    names = sorted(p.name for p in (tmp_path / "index").iterdir())
    assert names == ["index-2.faiss", "index.json", "items-2.csv", "vectors-2.npy"]


def test_add_crossing_threshold_rebuilds_as_hnsw(tmp_path):
    emb = make_set(tmp_path / "emb", n=100)
    idx = VectorIndex.build(emb, tmp_path / "index", IndexParams(threshold=110))
    assert idx.kind == "flat"
    more = np.random.default_rng(1).normal(size=(20, 16)).astype(np.float32)
    idx = idx.add(more, [Item(f"m{i}", Path(f"/m/{i}.png")) for i in range(20)])
    assert idx.kind == "hnsw" and idx.index.ntotal == 120


def test_rebuild_from_raw_vectors_matches_exact(tmp_path):
    emb = make_set(tmp_path / "emb", n=200)
    idx = VectorIndex.build(emb, tmp_path / "index", IndexParams(kind="hnsw"))
    flat = idx.rebuild(IndexParams(kind="flat"))
    assert flat.kind == "flat"
    q = np.asarray(emb.vectors[:10])
    np.testing.assert_array_equal(flat.search(q, 5)[1], flat.exact(q, 5)[1])
    np.testing.assert_array_equal(np.asarray(flat.vectors), np.asarray(emb.vectors))


def test_inconsistent_index_is_reported_not_used(tmp_path):
    emb = make_set(tmp_path / "emb", n=50)
    VectorIndex.build(emb, tmp_path / "index")
    meta = json.loads((tmp_path / "index" / "index.json").read_text())
    meta["n"] = 49
    (tmp_path / "index" / "index.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="--rebuild"):
        VectorIndex.load(tmp_path / "index")


def test_not_an_index(tmp_path):
    with pytest.raises(DataError, match="headstart index"):
        VectorIndex.load(tmp_path)
