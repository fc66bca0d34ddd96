"""headstart on a CUDA GPU: every strategy (with auto's recommend), bf16/fp16 autocast and few-shot
training, with timm's tiny random ``test_efficientnet``. Plumbing across devices (a body left on
one device and batches on another fail here), not accuracy. Skipped where no GPU is visible."""

from __future__ import annotations

import pytest
import torch

from headstart.compare import compare
from headstart.fewshot import evaluate_fewshot, train_fewshot
from headstart.recommend import recommend
from tests.conftest import TINY, make_folder, tiny_config
from tests.fewshot.test_train import FAST

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

STRATEGIES = ["scratch", "feature-extraction", "partial:1", "full", "progressive", "auto"]


def test_every_strategy_trains_on_the_gpu_with_autocast(tmp_path):
    data = make_folder(tmp_path / "data")
    cfg = tiny_config(device="cuda", precision="auto", out=str(tmp_path / "runs"), report=False)
    result = compare(data, STRATEGIES, config=cfg)
    rows = {r["strategy"]: r for r in result.rows}
    assert set(rows) == set(STRATEGIES)
    assert all(r["epochs"] == 2 and 0.0 <= r["val_acc"] <= 1.0 for r in rows.values())


def test_recommend_measures_on_the_gpu(tmp_path):
    data = make_folder(tmp_path / "data")
    rec = recommend(data, TINY, "random", config=tiny_config(device="cuda"))
    assert rec.strategy in {"feature-extraction", "partial", "full"}
    assert all(v is not None for v in rec.measurements["bn_shift_by_group"].values())


@pytest.mark.parametrize("method", ["protonet", "siamese"])
def test_fewshot_training_and_its_encoder_on_the_gpu(tmp_path, method):
    data = make_folder(tmp_path / "data", n_train=8, n_val=6)
    fast = {**FAST, "epochs": 1, "precision": "auto"}  # AMP on the GPU
    res = train_fewshot(data, method=method, device="cuda", out=str(tmp_path / "runs"), **fast)
    scores = evaluate_fewshot(data, [str(res.run_dir)], ways=3, shots=[1], queries=2, episodes=3)
    assert len(scores) == 1 and 0.0 <= scores[0].mean <= 1.0
