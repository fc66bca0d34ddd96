"""HNSW against exact search on 100k Fashion-MNIST embeddings: recall@10, latency, build, memory.

    python benchmarks/search_hnsw.py            # 10,000 real Lite0 embeddings + 90,000 noisy copies

The real vectors are EfficientNet-Lite0 embeddings of the 10,000 Fashion-MNIST test images
(exported and embedded with headstart; cached, so a second run skips the backbone). The rest
are noise-augmented copies of them: each copy is a real vector plus Gaussian noise whose norm
is the median distance from a real (unit) vector to its nearest real neighbour, so that copies
are as close to their source as the nearest other image is, and the neighbourhoods are not
trivial. Queries are 1,000 fresh noisy copies that are not in the index. Exact search is
FAISS ``IndexFlatIP`` on the same normalised vectors.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from headstart.data.export import export_dataset
from headstart.embeddings import EmbeddingSet, IndexParams, VectorIndex, embed
from headstart.embeddings.index import normalize
from headstart.embeddings.store import Item, save_embeddings


def real_embeddings(data: Path, out: Path, per_class: int) -> EmbeddingSet:
    if not (data / "val").is_dir():
        export_dataset("fashion-mnist", data, train_per_class=1, val_per_class=per_class, seed=0)
    if (out / "meta.json").is_file():
        return EmbeddingSet.load(out)
    return embed(data, out, split="val")


def noise_scale(x: np.ndarray, sample: int = 2000, seed: int = 0) -> float:
    """Median distance from a unit vector to its nearest other unit vector (a sample)."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(x), size=min(sample, len(x)), replace=False)
    sims = x[rows] @ x.T
    sims[np.arange(len(rows)), rows] = -np.inf
    return float(np.median(np.sqrt(np.maximum(2 - 2 * sims.max(1), 0))))


def noisy_copies(x: np.ndarray, n: int, scale: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    src = rng.integers(0, len(x), n)
    noise = rng.normal(size=(n, x.shape[1])).astype(np.float32)
    noise *= scale / np.linalg.norm(noise, axis=1, keepdims=True)
    return normalize(x[src] + noise), src


def rss_mb() -> float:
    """Resident memory of this process now (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="data/fmnist-test10k", help="Fashion-MNIST export folder")
    p.add_argument("--embeddings", default="runs/embed/fmnist-test10k-lite0")
    p.add_argument("--per-class", type=int, default=1000, help="real images per class")
    p.add_argument("--total", type=int, default=100_000, help="vectors in the index")
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--m", type=int, default=32)
    p.add_argument("--ef-construction", type=int, default=200)
    p.add_argument("--ef-search", type=int, default=128)
    args = p.parse_args(argv)

    emb = real_embeddings(Path(args.data), Path(args.embeddings), args.per_class)
    real = normalize(np.asarray(emb.vectors))
    scale = noise_scale(real)
    copies, _ = noisy_copies(real, args.total - len(real), scale, seed=1)
    vectors = np.concatenate([real, copies])
    queries, _ = noisy_copies(real, args.queries, scale, seed=2)
    print(
        f"{len(real)} real Lite0 embeddings + {len(copies)} noisy copies (noise norm "
        f"{scale:.3f} = median nearest-neighbour distance), dim {real.shape[1]}"
    )

    with tempfile.TemporaryDirectory() as tmp:
        items = [Item(f"v{i}", Path(f"v{i}")) for i in range(len(vectors))]
        full = save_embeddings(Path(tmp) / "emb", vectors, items, {"encoder": emb.meta["encoder"]})
        del vectors
        rss0 = rss_mb()
        start = time.perf_counter()
        params = IndexParams(
            "hnsw", m=args.m, ef_construction=args.ef_construction, ef_search=args.ef_search
        )
        idx = VectorIndex.build(full, Path(tmp) / "index", params)
        build_s = time.perf_counter() - start
        size_mb = (Path(tmp) / "index" / f"index-{idx.meta['generation']}.faiss").stat().st_size
        size_mb /= 2**20
        grown = rss_mb() - rss0
        _, truth = idx.exact(queries, args.k)
        latencies, found = [], []
        idx.search(queries[:10], args.k)  # warm up
        for q in queries:
            t = time.perf_counter()
            _, rows = idx.search(q[None], args.k)
            latencies.append((time.perf_counter() - t) * 1000)
            found.append(rows[0])
        recall = np.mean(
            [
                len(set(a) & set(b)) / args.k
                for a, b in zip(truth.tolist(), np.array(found).tolist())
            ]
        )
    print(
        f"HNSW (M={args.m}, efConstruction={args.ef_construction}, efSearch={args.ef_search}) "
        f"on {len(idx)} vectors"
    )
    print(f"  build time        {build_s:8.1f} s")
    print(f"  index size        {size_mb:8.1f} MiB (graph + vectors; raw vectors kept beside it)")
    print(f"  resident memory   {grown:+8.1f} MiB with the index loaded")
    print(f"  recall@{args.k} vs exact {recall:8.4f} ({args.queries} held-out queries)")
    print(
        f"  query latency     p50 {np.percentile(latencies, 50):.2f} ms, "
        f"p95 {np.percentile(latencies, 95):.2f} ms (one query at a time)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
