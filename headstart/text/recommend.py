"""``recommend_text``: profile labelled texts, measure what frozen embeddings already give,
and propose a strategy (feature extraction, LoRA or full fine-tuning) with its reasons.

What is measured:
- the texts: examples per class, imbalance, length in the encoder's tokens against
  ``--max-length`` (how many would be cut), and how well the encoder's vocabulary covers them
  (unknown tokens; words split into several pieces: many split words mean text unlike the
  encoder's pretraining data);
- the gap: a linear probe (logistic regression) on the frozen encoder's mean-pooled
  embeddings, on 25, 50 and 100% of the training texts. Those embeddings are the ones
  ``feature-extraction`` trains on, computed through the same cache: if it is advised, its
  training starts from them.

The rules, in order (each one a reason printed with the advice):
1. Fewer than ``MIN_PER_CLASS_TO_TUNE`` texts in the smallest class: feature extraction.
2. A probe at ``PROBE_ENOUGH`` or above, or one that gains less than ``FLAT_CURVE`` points from
   half to all of the training texts while already at ``PROBE_GOOD``: feature extraction; the
   frozen embeddings separate the classes and more data (or tuning) buys little.
3. Otherwise fine-tune every layer (``full``, a small LR after warmup). LoRA was the pick for
   fewer than 300 texts per class until ``benchmarks/text_recommend_check.py`` measured it
   (MiniLM, 3 epochs, seed 0, 300 val texts): full fine-tuning beat LoRA on Rotten Tomatoes
   with 200 texts (0.673 vs 0.640) and on the debates with 200 and 600 (0.487 vs 0.483, 0.660
   vs 0.637), LoRA won only on Rotten Tomatoes with 600 (0.763 vs 0.750), and on a CPU a LoRA
   step costs nearly what a full one does (full took 4-32% longer). LoRA's gains are memory
   (its peak was 11-30% lower) and an adapter-sized checkpoint: the reasons say so.
``--max-length`` is raised to cover 95% of the texts only when at least ``LONG_SHARE`` of them
would be cut: a text cut keeps its first tokens, which usually carry its class, while every
token more costs time in every layer (and attention grows with its square). Measured with
``benchmarks/text_recommend_check.py`` (LoRA, 3 epochs, seed 0): on 200 debate statements, 15%
of them over 128 tokens, raising it to 242 took 3.5x the time (156 s vs 45 s) for no gain (val
accuracy 0.480 vs 0.483). Below that share the reasons say how many texts are cut.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from headstart.data.sources import stratified_indices
from headstart.engine import distributed
from headstart.recommend.advise import Recommendation
from headstart.recommend.measure import linear_probe
from headstart.text.config import TextConfig
from headstart.text.data import TextData
from headstart.text.job import TextJob, load_data

MIN_PER_CLASS_TO_TUNE = 8
PROBE_ENOUGH = 0.95
PROBE_GOOD = 0.85
FLAT_CURVE = 1.0  # points of accuracy from 50% to 100% of the training texts
FAR_SPLIT_WORDS = 0.3  # of the words split into several tokens: text unlike the pretraining
FRACTIONS = (0.25, 0.5, 1.0)
LONG_SHARE = 0.5  # of the texts longer than --max-length, before it is raised


class TextRecommendation(Recommendation):
    """The advice for texts: ``overrides`` are ``TextConfig`` fields."""

    train_command: ClassVar[str] = "headstart text train"


def recommend_text(
    data: str | Path | TextData | None = None, config: TextConfig | None = None
) -> TextRecommendation:
    """Measure the texts against the encoder and propose a strategy, epochs and max length.

    >>> rec = recommend_text("data/rt.csv", TextConfig(text_col="review"))
    >>> rec.strategy, rec.reasons
    """
    cfg = dataclasses.replace(config or TextConfig(), strategy="feature-extraction")
    if isinstance(data, str | Path):
        cfg.data = str(data)
    text_data = data if isinstance(data, TextData) else load_data(cfg)
    job = TextJob(cfg, text_data)
    job.prepare()
    m = {**text_profile(job), **probe_curve(job)}
    strategy, reasons = _choose(m)
    overrides: dict[str, Any] = {}
    reasons += _length_advice(m, cfg.max_length, overrides)
    epochs = 10 if strategy == "feature-extraction" else 3
    return TextRecommendation(strategy, overrides, epochs, reasons, _rounded(m))


def _length_advice(m: dict[str, Any], max_length: int, overrides: dict[str, Any]) -> list[str]:
    """Raise ``--max-length`` when most texts would be cut; else say how many are."""
    share, p95 = m["truncated_share"], m["tokens_p95"]
    if share >= LONG_SHARE:
        overrides["max_length"] = p95
        return [
            f"{100 * share:.0f}% of the texts are longer than --max-length {max_length} "
            f"tokens: raise it to {p95}, which covers 95% of them."
        ]
    if share > 0.05:
        return [
            f"{100 * share:.0f}% of the texts are longer than --max-length {max_length} tokens "
            f"and keep their first {max_length}; --max-length {p95} would cover 95% of them at "
            "several times the cost per text, for no gain where it was measured."
        ]
    return []


def text_profile(job: TextJob) -> dict[str, Any]:
    """Counts per class, length in tokens, and the encoder's vocabulary coverage."""
    data, tok = job.data, job.tokenizer
    counts = data.counts("train")
    texts = data.texts("train")
    sample = texts[:2000]  # coverage and lengths on at most 2,000 texts
    enc = tok(sample, add_special_tokens=True, truncation=False)
    lengths = np.array([len(ids) for ids in enc["input_ids"]])
    unk = tok.unk_token_id
    n_tokens = int(lengths.sum())
    n_unk = sum(ids.count(unk) for ids in enc["input_ids"]) if unk is not None else 0
    words = split = 0
    for i in range(len(sample)):
        ids = [w for w in enc.word_ids(i) if w is not None]
        pieces = np.bincount(ids) if ids else np.zeros(0, int)
        words += int((pieces > 0).sum())
        split += int((pieces > 1).sum())
    return {
        "train_texts": len(texts),
        "per_class_min": min(counts.values()),
        "per_class_median": float(np.median(list(counts.values()))),
        "imbalance": max(counts.values()) / max(1, min(counts.values())),
        "tokens_p50": int(np.percentile(lengths, 50)),
        "tokens_p95": min(int(np.ceil(np.percentile(lengths, 95))), _model_limit(job)),
        "truncated_share": float((lengths > job.max_length).mean()),
        "unknown_token_rate": n_unk / max(1, n_tokens),
        "split_word_rate": split / max(1, words),
    }


def _model_limit(job: TextJob) -> int:
    limit = getattr(job.model.encoder.config, "max_position_embeddings", None)
    return int(limit) if isinstance(limit, int) else 512


def probe_curve(job: TextJob) -> dict[str, Any]:
    """A linear probe on the frozen embeddings with 25, 50 and 100% of the training texts."""
    embeddings = job.make_task().inputs.embeddings
    x_train, x_val = embeddings("train"), embeddings("val")
    y_train = np.array(job.data.labels("train"))
    y_val = np.array(job.data.labels("val"))
    names = [job.data.classes[i] for i in y_train]
    curve = {}
    for fraction in FRACTIONS:
        rows = (
            np.arange(len(y_train))
            if fraction == 1.0
            else np.array(stratified_indices(names, 1 - fraction, job.cfg.seed, in_order=True)[0])
        )
        curve[fraction] = linear_probe(x_train[rows], y_train[rows], x_val, y_val, job.cfg.seed)[
            "val_acc"
        ]
    return {
        "probe_curve": {f"{int(100 * f)}%": acc for f, acc in curve.items()},
        "probe_val_acc": curve[1.0],
        "probe_gain_last_half": 100 * (curve[1.0] - curve[0.5]),
    }


def _choose(m: dict[str, Any]) -> tuple[str, list[str]]:
    """Rules 1-3: the strategy and the reasons."""
    low, probe, gain = m["per_class_min"], m["probe_val_acc"], m["probe_gain_last_half"]
    split = m["split_word_rate"]
    if low < MIN_PER_CLASS_TO_TUNE:
        return "feature-extraction", [
            f"only {low} texts in the smallest class: too few to fine-tune the encoder without "
            "overfitting; train a new head on its frozen embeddings."
        ]
    if probe >= PROBE_ENOUGH or (probe >= PROBE_GOOD and gain < FLAT_CURVE):
        return "feature-extraction", [
            f"a linear probe on frozen embeddings reaches {probe:.3f} and gains {gain:.1f} "
            "points from half to all of the training texts: the frozen encoder already "
            "separates these classes, so fine-tuning buys little for many times the cost."
        ]
    probe_words = (
        f"a linear probe on frozen embeddings reaches {probe:.3f} (and gains {gain:.1f} points "
        "from half to all of the training texts): the encoder should adapt"
    )
    far = (
        f"; {100 * split:.0f}% of the words split into several tokens (text unlike the "
        "encoder's pretraining)"
        if split >= FAR_SPLIT_WORDS
        else ""
    )
    return "full", [
        f"{probe_words}{far}: fine-tune every layer at a small LR after warmup.",
        "LoRA (--strategy lora) trains far fewer weights but, on a CPU, costs nearly as much per "
        "step and was behind full fine-tuning on 3 of the 4 text sets measured; take it when "
        "memory (11-30% less at its peak where measured) or an adapter-sized checkpoint matters.",
    ]


def _rounded(m: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in m.items():
        if isinstance(v, float):
            out[k] = round(v, 4)
        elif isinstance(v, dict):
            out[k] = {kk: round(vv, 4) for kk, vv in v.items()}
        else:
            out[k] = v
    return out


def resolve_auto(cfg: TextConfig, data: TextData) -> TextConfig:
    """``--strategy auto``: the advised strategy and settings (the given epochs are kept)."""
    rec = recommend_text(data, cfg)
    if distributed.is_main():
        print(f"auto: {rec.strategy}. " + " ".join(rec.reasons))
    return dataclasses.replace(cfg, strategy=rec.strategy, **rec.overrides)
