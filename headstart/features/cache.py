"""``FeatureCache``: frozen-backbone features on disk, computed once per (weights, transform, files).

The key hashes the backbone's weights, the transform, the precision, the revision of the
inference rewrite (``fuse.INFERENCE_REVISION``: features rounded another way are not mixed with
a head trained on them) and every file's path, size and modification time, so changing any of
them computes anew. Features are streamed into a memory-mapped ``.npy`` written atomically;
reading maps it instead of loading it.

Under torchrun each process extracts its share of the batches, all of them gather the complete
array, and the first process of each machine stores it: the same file, bit for bit, as one
process would write.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset, Subset

from headstart.data.sources import Sample
from headstart.engine import distributed
from headstart.features.extract import Extraction, iter_features
from headstart.features.fuse import INFERENCE_REVISION
from headstart.io import atomic_path, default_cache_dir, write_json_atomic


class FeatureCache:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root else default_cache_dir() / "features"
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(weights_id: str, transform: object, samples: Sequence[Sample], dtype: object) -> str:
        h = hashlib.sha256()
        h.update(f"{weights_id}|{transform!r}|{dtype}|{INFERENCE_REVISION}".encode())
        for s in samples:
            st = s.path.stat()
            h.update(f"{s.path.resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        return h.hexdigest()[:32]

    def path(self, key: str) -> Path:
        return self.root / f"{key}.npy"

    def get(self, key: str) -> np.ndarray | None:
        p = self.path(key)
        if not p.is_file():
            return None
        try:
            return np.load(p, mmap_mode="r")
        except (ValueError, OSError):  # a damaged entry is recomputed, never trusted
            return None

    def features(
        self,
        body: nn.Module,
        weights_id: str,
        samples: Sequence[Sample],
        dataset: Dataset,
        transform: object,
        run: Extraction,
    ) -> np.ndarray:
        """Features of ``samples`` (rows in order), from the cache or computed as ``run`` says
        and stored."""
        key = self.key(weights_id, transform, samples, run.dtype)
        cached = self.get(key)
        fresh = cached is not None and len(cached) == len(samples)
        if distributed.active() and not distributed.all_true(fresh):  # all compute, or none
            self.misses += 1
            every = _extract_sharded(body, dataset, len(samples), run)
            if distributed.local_rank() == 0:  # one copy per machine (no shared disk needed)
                self.root.mkdir(parents=True, exist_ok=True)
                with atomic_path(self.path(key)) as tmp, open(tmp, "wb") as fh:
                    np.save(fh, every)
                self._describe(key, weights_id, transform, run.dtype, samples)
            return every
        if cached is not None and len(cached) == len(samples):
            self.hits += 1
            return cached
        self.misses += 1
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.path(key)
        written = 0
        # Streamed to the file batch by batch (a plain write, not a writable memory map, whose
        # dirty pages would count in the process's memory): flat memory for any collection size.
        with atomic_path(target) as tmp, open(tmp, "wb") as fh:
            for _, f in iter_features(body, dataset, run):
                if written == 0:
                    header = {
                        "descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
                        "fortran_order": False,
                        "shape": (len(samples), f.shape[1]),
                    }
                    np.lib.format.write_array_header_2_0(fh, header)
                fh.write(np.ascontiguousarray(f, dtype=np.float32).tobytes())
                written += len(f)
            if written != len(samples):
                raise ValueError(f"extracted {written} feature rows for {len(samples)} samples")
        self._describe(key, weights_id, transform, run.dtype, samples)
        return np.load(target, mmap_mode="r")

    def _describe(
        self, key: str, weights_id: str, transform: object, dtype: object, samples: Sequence[Sample]
    ) -> None:
        write_json_atomic(
            self.path(key).with_suffix(".json"),
            {
                "weights": weights_id,
                "transform": repr(transform),
                "dtype": str(dtype),
                "n": len(samples),
                "first": str(samples[0].path) if samples else None,
            },
        )

    def info(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses}


def _extract_sharded(body: nn.Module, dataset: Dataset, n: int, run: Extraction) -> np.ndarray:
    """This process extracts whole batches ``rank, rank + N, ...``; every process gets them all.

    Each batch has the composition it has in one process, so its features are the same numbers.
    """
    shard = distributed.OrderedShard(n, run.batch)
    mine = dataclasses.replace(run, progress=run.progress and distributed.is_main())
    parts = [f for _, f in iter_features(body, Subset(dataset, shard.indices), mine)]
    local = torch.from_numpy(np.concatenate(parts)) if parts else torch.zeros(0, 0)
    return shard.assemble(local).numpy()
