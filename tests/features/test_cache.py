"""Frozen parts cost one pass: features are cached and reused, and recomputed when inputs change.

Plumbing with a tiny randomly initialised model.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from headstart.backbones import fingerprint, load_backbone
from headstart.classify.fit import fit
from headstart.data.imagedata import ImageData
from headstart.data.transforms import eval_transform
from headstart.features import Extraction, FeatureCache, extract_features
from tests.conftest import make_image, tiny_config


def test_second_run_reuses_the_cache(tiny_data, tmp_path):
    cfg = tiny_config(strategy="feature-extraction", out=str(tmp_path / "runs"))
    first = fit(tiny_data, cfg)
    second = fit(tiny_data, cfg)
    assert first.cache == {"hits": 0, "misses": 2}
    assert second.cache == {"hits": 2, "misses": 0}
    assert [r.val_acc for r in first.history] == [r.val_acc for r in second.history]


def _features(cache, bb, data, tf, split="train"):
    samples = getattr(data, split)
    import torch

    return cache.features(
        bb.body,
        fingerprint(bb.body),
        samples,
        data.dataset(split, tf),
        tf,
        Extraction(torch.device("cpu"), None, progress=False),
    )


def test_cache_is_invalidated_by_weights_transform_and_files(tiny_data, tmp_path):
    cache = FeatureCache(tmp_path / "c")
    data = ImageData.from_folder(tiny_data)
    bb = load_backbone("test_efficientnet", "random")
    tf = eval_transform(bb.data_config)
    a = np.array(_features(cache, bb, data, tf))
    assert cache.info() == {"hits": 0, "misses": 1}
    _features(cache, bb, data, tf)
    assert cache.info() == {"hits": 1, "misses": 1}
    # transform changes
    cfg2 = dict(bb.data_config, crop_pct=0.5)
    _features(cache, bb, data, eval_transform(cfg2))
    assert cache.misses == 2
    # weights change
    bb2 = load_backbone("test_efficientnet", "random")
    _features(cache, bb2, data, tf)
    assert cache.misses == 3
    # a file changes
    f = data.train[0].path
    make_image(f, (0, 0, 0), seed=99)
    os.utime(f, ns=(time.time_ns(), time.time_ns() + 10**9))
    b = np.array(_features(cache, bb, data, tf))
    assert cache.misses == 4
    assert not np.allclose(a[0], b[0]) and np.allclose(a[1:], b[1:], atol=1e-5)
    # cached features equal freshly extracted ones
    run = Extraction(__import__("torch").device("cpu"), None, progress=False)
    fresh = extract_features(bb.body, data.dataset("train", tf), run)
    assert np.allclose(b, fresh, atol=1e-5)


@pytest.mark.slow
def test_compiled_extraction_matches_eager(tiny_data):
    """torch.compile path (used for large collections): same features, last batch padded."""
    import torch

    data = ImageData.from_folder(tiny_data)
    bb = load_backbone("test_efficientnet", "random")
    ds = data.dataset("train", eval_transform(bb.data_config))
    run = Extraction(torch.device("cpu"), None, batch_size=4, progress=False)
    eager = extract_features(bb.body, ds, run, compile=False)
    compiled = extract_features(bb.body, ds, run, compile=True)
    assert compiled.shape == eager.shape == (18, bb.num_features)
    assert np.allclose(compiled, eager, atol=1e-4)
