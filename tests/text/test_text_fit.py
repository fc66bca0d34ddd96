"""Training text classifiers with every strategy: what trains, what is saved, what reloads.

Plumbing tests on a tiny randomly initialised BERT (see conftest.py): they check which
parameters train and that checkpoints round-trip, never accuracy.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from text_helpers import rows, tiny_text_config, write_csv

from headstart.engine import run as engine
from headstart.engine.checkpoint import read_meta, read_tensors
from headstart.errors import HeadstartError
from headstart.strategies.schedule import lr_factor
from headstart.text.checkpoint import TextCheckpoint
from headstart.text.config import STRATEGIES
from headstart.text.fit import fit_text
from headstart.text.job import TextJob, load_data
from headstart.text.model import build_classifier, load_pretrained
from tests.conftest import assert_tensorboard
from tests.report.figures import assert_figures_have_sources

TEXTS = ["a superb and moving film", "dull, clumsy and tedious", "the cast was really great"]

# strategy -> what must train in the encoder (besides the head)
TRAINS = {
    "feature-extraction": (),
    "full": ("encoder.embeddings.word_embeddings.weight", "encoder.encoder.layer.0"),
    "lora": ("lora_A", "lora_B"),
    "ia3": ("ia3_l",),
    "prompt": ("prompt_encoder",),
    "prefix": ("prompt_encoder",),
}


def encoder_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The pretrained encoder's own tensors (adapter tensors and the head left out)."""
    skip = ("lora_", "ia3_", "prompt_encoder", "head.")
    return {
        n.replace("base_model.model.", ""): p.detach().clone()
        for n, p in model.named_parameters()
        if not any(s in n for s in skip)
    }


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_strategy_trains_what_it_says_and_reloads_identically(
    tiny_bert: Path, reviews_csv: Path, tmp_path: Path, strategy: str
) -> None:
    cfg = tiny_text_config(tiny_bert, data=str(reviews_csv), strategy=strategy, out=str(tmp_path))
    initial = TextJob(cfg, load_data(cfg))  # the same seed: the weights training starts from
    initial.prepare()
    before = encoder_weights(initial.model)
    head_before = {n: p.detach().clone() for n, p in initial.model.head.named_parameters()}
    trainer = TextJob(cfg, load_data(cfg))
    result = trainer.result(engine.fit(trainer, cfg.out, "run", run_dir=tmp_path / "run"))

    trained = {n for n, p in trainer.model.named_parameters() if p.requires_grad}
    assert any(n.startswith("head.") for n in trained)
    others = [n for n in trained if not n.startswith("head.")]
    assert (
        all(any(t in n for t in TRAINS[strategy]) for n in others)
        if strategy != "full"
        else len(others) == len(before)
    )
    assert bool(others) == (strategy != "feature-extraction")
    after = encoder_weights(trainer.model)
    changed = [n for n in before if not torch.equal(before[n], after[n])]
    assert (changed != []) == (strategy == "full")  # only full fine-tuning moves the encoder
    assert any(not torch.equal(p, head_before[n]) for n, p in trainer.model.head.named_parameters())

    run = result.run_dir
    for name in (
        "config.yaml",
        "metrics.csv",
        "curves.png",
        "summary.json",
        "checkpoints/best.safetensors",
        "checkpoints/last.json",
    ):
        assert (run / name).is_file(), name
    assert_tensorboard(run)
    assert_figures_have_sources(run / "report.md")
    meta = read_meta(run / "checkpoints" / "last.safetensors")
    assert meta.task == "text-classification" and meta.strategy == strategy
    assert meta.classes == ["fresh", "rotten"] and meta.model == {
        "name": str(tiny_bert),
        "source": str(tiny_bert),
        "fingerprint": trainer.weights_id,
    }
    assert (meta.peft is not None) == (strategy not in ("feature-extraction", "full"))
    assert set(read_tensors(run / "checkpoints" / "last.safetensors")) == trained

    # The in-memory model and the reloaded checkpoint give identical predictions ...
    live = TextCheckpoint(
        run, meta, trainer.model.eval(), trainer.tokenizer, torch.device("cpu"), None
    ).probabilities(TEXTS)
    loaded = TextCheckpoint.load(run, "last", device="cpu", precision="fp32")
    np.testing.assert_array_equal(loaded.probabilities(TEXTS), live)
    # ... and the stored tensors matter: a fresh model with the same seed predicts otherwise.
    torch.manual_seed(0)
    fresh, _ = build_classifier(load_pretrained(str(tiny_bert))[1], 2, cfg)
    fresh_ckpt = TextCheckpoint(
        run, meta, fresh.eval(), trainer.tokenizer, torch.device("cpu"), None
    )
    assert not np.allclose(fresh_ckpt.probabilities(TEXTS), live)


def test_predict_gives_top_classes(tiny_bert: Path, reviews_csv: Path, tmp_path: Path) -> None:
    result = fit_text(
        config=tiny_text_config(
            tiny_bert, data=str(reviews_csv), strategy="lora", out=str(tmp_path)
        )
    )
    preds = TextCheckpoint.load(result.run_dir, precision="fp32").predict(TEXTS, top_k=2)
    assert [p.text for p in preds] == TEXTS
    for p in preds:
        assert {c for c, _ in p.top} == {"fresh", "rotten"}
        assert sum(prob for _, prob in p.top) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(HeadstartError, match="empty"):
        TextCheckpoint.load(result.run_dir).predict(["fine", "  "])


def test_long_texts_are_truncated_with_a_count(tiny_bert: Path, tmp_path: Path) -> None:
    records = rows(8, 4)
    records[0]["review"] = "great " * 50_000  # 300k characters
    records[3]["review"] = "dull " * 40
    path = write_csv(tmp_path / "long.csv", records)
    cfg = tiny_text_config(
        tiny_bert, data=str(path), strategy="lora", out=str(tmp_path), max_length=16
    )
    with pytest.warns(UserWarning, match="2 of 8 train texts are longer than --max-length 16"):
        result = fit_text(config=cfg)
    assert len(result.history) == 1 and np.isfinite(result.final.train_loss)


def test_max_length_beyond_the_model_is_refused(tiny_bert: Path, reviews_csv: Path) -> None:
    cfg = tiny_text_config(tiny_bert, data=str(reviews_csv), max_length=4096)
    with pytest.raises(HeadstartError, match="--max-length 4096 exceeds the 512 positions"):
        fit_text(config=cfg)


def test_frozen_embeddings_are_cached_once(
    tiny_bert: Path, reviews_csv: Path, tmp_path: Path
) -> None:
    cfg = tiny_text_config(
        tiny_bert, data=str(reviews_csv), strategy="frozen", out=str(tmp_path), epochs=2
    )  # the old name of feature extraction
    assert cfg.strategy == "feature-extraction"
    cfg = tiny_text_config(
        tiny_bert, data=str(reviews_csv), strategy="frozen", out=str(tmp_path), epochs=2
    )
    first = fit_text(config=cfg)
    assert first.cache == {"hits": 0, "misses": 2}  # train and val, computed once for 2 epochs
    assert fit_text(config=cfg).cache == {"hits": 2, "misses": 0}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = fit_text(config=cfg, max_length=4)
    said = [str(w.message) for w in caught]
    assert any("16 of 16 train texts are longer than --max-length 4" in m for m in said)
    assert any("8 of 8 val texts are longer" in m for m in said)
    assert again.cache["misses"] == 2  # other token ids: computed anew


def test_class_weights_and_schedules(tiny_bert: Path, tmp_path: Path) -> None:
    records = rows(12, 4)
    records = [
        r
        for i, r in enumerate(records)
        if not (r["split"] == "train" and r["label"] == "rotten" and i > 3)
    ]
    path = write_csv(tmp_path / "imb.csv", records)  # train: 6 fresh, 2 rotten
    cfg = tiny_text_config(tiny_bert, data=str(path), class_weights=True)
    trainer = TextJob(cfg, load_data(cfg))
    trainer.prepare()
    assert trainer._loss().weight.tolist() == pytest.approx([8 / 12, 8 / 4])
    # warmup then linear decay to 1% (the default text schedule), cosine for comparison
    assert [round(lr_factor(s, 10, 2, "linear"), 3) for s in (0, 1, 2, 6, 10)] == [
        0.5,
        1.0,
        1.0,
        0.505,
        0.01,
    ]
    assert lr_factor(6, 10, 2, "cosine") == pytest.approx(0.505)


def test_unknown_strategy_and_missing_model_folder(
    tiny_bert: Path, reviews_csv: Path, tmp_path: Path
) -> None:
    with pytest.raises(HeadstartError, match="unknown --strategy 'adapter'; choose one of"):
        tiny_text_config(tiny_bert, strategy="adapter")
    with pytest.raises(HeadstartError, match="does not apply to text classification"):
        tiny_text_config(tiny_bert, strategy="scratch")
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    with pytest.raises(HeadstartError, match="has no config.json"):
        fit_text(config=tiny_text_config(empty, data=str(reviews_csv)))
