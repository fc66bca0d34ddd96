"""``recommend_text`` and ``--strategy auto`` for text: what is measured, the rules, and that
feature extraction, when advised, trains on the very embeddings the advice computed.

Plumbing on the tiny random BERT (no accuracy is claimed); the rules are checked on given
measurements.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from text_helpers import tiny_text_config

from headstart.text import recommend as rec_mod
from headstart.text.fit import fit_text
from headstart.text.recommend import recommend_text


def test_recommend_measures_the_texts_and_the_probe_curve(tiny_bert: Path, reviews_csv: Path):
    cfg = tiny_text_config(tiny_bert, data=str(reviews_csv))
    rec = recommend_text(config=cfg)
    m = rec.measurements
    assert rec.strategy in ("feature-extraction", "lora", "full") and rec.reasons
    assert m["train_texts"] == 16 and m["per_class_min"] == 8 and m["imbalance"] == 1.0
    assert set(m["probe_curve"]) == {"25%", "50%", "100%"}
    assert 0.0 <= m["split_word_rate"] <= 1.0 and 0.0 <= m["unknown_token_rate"] <= 1.0
    assert m["tokens_p50"] >= 5 and m["truncated_share"] == 0.0
    assert rec.command("rt.csv").startswith("headstart text train rt.csv --strategy ")


def test_auto_trains_the_advice_and_feature_extraction_reuses_its_embeddings(
    tiny_bert: Path, reviews_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(rec_mod, "_choose", lambda m: ("feature-extraction", ["(forced)"]))
    cfg = tiny_text_config(tiny_bert, data=str(reviews_csv), strategy="auto", out=str(tmp_path))
    res = fit_text(config=cfg)
    assert res.plan is not None and res.plan.strategy == "feature-extraction"
    assert "strategy: feature-extraction" in (res.run_dir / "config.yaml").read_text()
    assert res.cache == {"hits": 2, "misses": 0}  # train and val: the advice's embeddings


BASE = dict(per_class_min=200, probe_val_acc=0.8, probe_gain_last_half=3.0, split_word_rate=0.1)


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"per_class_min": 5}, "feature-extraction"),  # too few texts to tune
        ({"probe_val_acc": 0.97}, "feature-extraction"),  # frozen embeddings separate them
        ({"probe_val_acc": 0.9, "probe_gain_last_half": 0.5}, "feature-extraction"),  # flat
        ({"probe_val_acc": 0.9, "probe_gain_last_half": 2.0}, "full"),  # still learning
        ({}, "full"),  # the probe leaves a gap: fine-tune every layer
        ({"per_class_min": 20}, "full"),  # few texts, still enough to tune
        ({"split_word_rate": 0.4}, "full"),  # vocabulary far from the encoder's
    ],
)
def test_rules(changes, expected):
    strategy, reasons = rec_mod._choose({**BASE, **changes})
    assert strategy == expected and reasons


@pytest.mark.parametrize("share,raised", [(0.0, False), (0.15, False), (0.6, True)])
def test_max_length_is_raised_only_when_most_texts_are_cut(share: float, raised: bool) -> None:
    from headstart.text.recommend import _length_advice

    overrides: dict = {}
    reasons = _length_advice({"truncated_share": share, "tokens_p95": 242}, 128, overrides)
    assert (overrides.get("max_length") == 242) is raised
    assert bool(reasons) is (share > 0.05)  # a cut share worth mentioning is mentioned
