"""``recommend``: profile the data, measure the domain gap, propose a plan with its reasons.

The rules, in order (each one a reason printed with the advice):
1. Fewer than ``MIN_PER_CLASS_TO_TUNE`` images per class: feature extraction. Fine-tuning
   millions of weights on a handful of images overfits; the frozen features are the safest bet.
2. A linear probe on frozen features already at ``PROBE_ENOUGH`` or above: feature extraction.
   There is little left for fine-tuning to gain, and it costs one backbone pass instead of many.
3. Images far from the pretraining data (mean batch-norm shift at least ``FAR_SHIFT``) and at
   least ``MIN_PER_CLASS_FULL`` per class: full fine-tuning with layer-wise decayed LRs. Every
   layer sees inputs unlike ImageNet's, so every layer should adapt.
4. Otherwise partial fine-tuning of the top ``partial_groups`` layer groups: near-ImageNet
   images keep their generic lower features, or there are too few images to re-learn them.
5. Fine-tuning keeps the pretrained batch-norm statistics (``--bn-stats frozen``), unless the
   top half of the layer groups sees activations spread at most ``ADAPT_BN_SCALE`` times as
   wide as in pretraining and there are at least ``ADAPT_BN_PER_CLASS`` images per class: then
   the training groups re-estimate them (``--bn-stats adapt``), since pretrained statistics
   would shrink the signal those layers pass on.

Measured with ``benchmarks/recommend_check.py`` and ``compare`` (Lite0, 5 epochs, seed 0): on
Fashion-MNIST with 25, 50 and 100 train images per class and MNIST with 100, full or partial
fine-tuning won every time and progressive unfreezing never did (1.0-4.4 points behind the
best), so progressive is not advised. Shifts seen: Fashion-MNIST 0.29, MNIST 0.41, a set of
ordinary photos (scikit-image, scikit-learn, OpenCV samples) 0.09.

Rule 5 (full fine-tuning, 4 epochs, seed 0, ``--bn-stats frozen`` vs ``adapt``): the simulated
textile images (RESOURCES: 1,600 train / 400 val, 400-800 per class, top-half spread 0.40)
reach 0.75 frozen, stuck on two of the three classes, and 0.91 adapted (partial: 0.75 vs 0.95);
with 200 per class 0.67 vs 0.69; with 100 and 50 per class (5 epochs) frozen wins (0.68 vs
0.62, 0.66 vs 0.59). Fashion-MNIST (spread 0.77) wins frozen at 300 per class (0.902 vs 0.872)
and at 50 (5 epochs, 0.834 vs 0.764), as MNIST (spread 0.67) does at 100 (5 epochs, 0.963 vs
0.949). Ordinary photos give about 1.0.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from headstart.backbones import fingerprint, load_backbone
from headstart.config import TrainConfig
from headstart.data.imagedata import ImageData
from headstart.data.profile import profile
from headstart.data.transforms import eval_transform
from headstart.engine.precision import resolve_device
from headstart.engine.precision_probe import choose_precision
from headstart.features.cache import FeatureCache
from headstart.features.extract import Extraction, extraction_probe
from headstart.recommend.measure import bn_shift, linear_probe

# When progressive unfreezing is worth it, from every comparison measured (the module docstring).
PROGRESSIVE_WHEN = (
    "progressive unfreezing (--strategy progressive) took 40-85% of full fine-tuning's time; "
    "of 12 data sets and sizes measured it was the best on 2 (animal silhouettes at 25 per "
    "class, textile defects at 100) and within 1 point of the best on 5: take it when full "
    "fine-tuning does not fit the time you have, or compare both."
)

MIN_PER_CLASS_TO_TUNE = 10
PROBE_ENOUGH = 0.95
FAR_SHIFT = 0.2
MIN_PER_CLASS_FULL = 25
ADAPT_BN_PER_CLASS = 200
ADAPT_BN_SCALE = 0.5


@dataclass
class Recommendation:
    """A strategy, its epochs and other settings, with the reasons and what was measured."""

    strategy: str
    overrides: dict[str, Any]  # the training config's fields besides the strategy
    epochs: int
    reasons: list[str]
    measurements: dict[str, Any] = field(default_factory=dict)
    train_command: ClassVar[str] = "headstart train"  # what trains as advised

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def command(self, data: str) -> str:
        """The command line that trains ``data`` as advised."""
        opts = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in self.overrides.items())
        advice = f"--strategy {self.strategy} --epochs {self.epochs} {opts}"
        return f"{self.train_command} {data} {advice}".strip()


def recommend(
    data: str | Path | ImageData,
    backbone: str = "tf_efficientnet_lite0",
    weights: str = "pretrained",
    epochs: int | None = None,
    config: TrainConfig | None = None,
) -> Recommendation:
    """Measure ``data`` against ``backbone`` and propose a strategy, depth, LRs and epochs.

    >>> rec = recommend("data/fmnist")
    >>> rec.strategy, rec.reasons
    """
    cfg = config or TrainConfig()
    if not isinstance(data, ImageData):
        data = ImageData.load(
            data, cfg.val_fraction, cfg.seed, cfg.classes, cfg.image_col, cfg.label_col
        )
    data.check_images(skip_bad=cfg.skip_bad)
    m = measure_data(load_backbone(backbone, weights), data, cfg)
    strategy, overrides, n_epochs, reasons = _choose(m, cfg, epochs)
    if strategy in ("partial", "full"):
        reasons.append(_bn_advice(m, overrides))
        reasons.append(PROGRESSIVE_WHEN)
    if m["imbalance"] > 3:
        overrides["class_weights"] = True
        reasons.append(
            f"classes are imbalanced ({m['imbalance']:.1f}x): weight the loss by "
            "inverse class frequency."
        )
    lr, head_lr = dataclasses.replace(cfg, strategy=strategy).resolved_lrs()
    shown = {k: round(v, ROUNDING[k]) if k in ROUNDING else v for k, v in m.items()}
    shown["learning_rates"] = {"head": head_lr, "backbone_top": lr, "layer_decay": cfg.lr_decay}
    return Recommendation(strategy, overrides, n_epochs, reasons, shown)


def measure_data(bb: Any, data: ImageData, cfg: TrainConfig) -> dict[str, Any]:
    """What the rules read: images per class, imbalance, image size, a linear probe on frozen
    features, and the batch-norm shift and spread of every layer group."""
    prof = profile(data)
    shifts = bn_shift(bb, data)
    probe = _probe(bb, data, cfg)
    known = [s["shift"] for s in shifts if s["shift"] is not None]
    scales = [s["scale"] for s in shifts if s["scale"] is not None]
    top_scale = float(np.exp(np.mean(np.log(scales[len(scales) // 2 :])))) if scales else 1.0
    return {
        "per_class_median": prof["per_class_median"],
        "imbalance": prof["imbalance"],
        "image_size": f"{prof['image_width']['median']:.0f}x{prof['image_height']['median']:.0f}",
        "linear_probe_val_acc": probe["val_acc"],
        "linear_probe_train_acc": probe["train_acc"],
        "bn_shift_by_group": _by_group(shifts, "shift"),
        "bn_shift_mean": float(np.mean(known)) if known else 0.0,
        "bn_scale_by_group": _by_group(shifts, "scale"),
        "bn_scale_top_half": top_scale,
    }


ROUNDING = {
    "imbalance": 2,
    "linear_probe_val_acc": 4,
    "linear_probe_train_acc": 4,
    "bn_shift_mean": 3,
    "bn_scale_top_half": 3,
}


def _choose(
    m: dict[str, Any], cfg: TrainConfig, epochs: int | None
) -> tuple[str, dict[str, Any], int, list[str]]:
    """Rules 1-4: the strategy, its settings, the epochs and the reasons."""
    per_class, probe, shift = m["per_class_median"], m["linear_probe_val_acc"], m["bn_shift_mean"]
    shift_words = (
        f"batch-norm statistics shift by {shift:.2f} pretrained standard deviations on average "
        f"on these images ({'far from' if shift >= FAR_SHIFT else 'close to'} ImageNet's; "
        f"ordinary photos give about 0.1)"
    )
    helps = f"a linear probe on frozen features reaches {probe:.3f}: the pretrained features help but do not suffice"
    if per_class < MIN_PER_CLASS_TO_TUNE:
        return (
            "feature-extraction",
            {},
            epochs or 10,
            [
                f"only {per_class:.0f} images per class: too few to fine-tune the backbone "
                "without overfitting; train only a new head on frozen features."
            ],
        )
    if probe >= PROBE_ENOUGH:
        return (
            "feature-extraction",
            {},
            epochs or 10,
            [
                f"a linear probe on frozen features already reaches {probe:.3f} "
                f"(>= {PROBE_ENOUGH}): the pretrained features separate these classes, so "
                "fine-tuning has little to gain for many times the cost."
            ],
        )
    if shift >= FAR_SHIFT and per_class >= MIN_PER_CLASS_FULL:
        return (
            "full",
            {},
            epochs or 8,
            [
                f"{helps}, and {shift_words}: every layer sees inputs unlike its pretraining data.",
                f"with {per_class:.0f} images per class, fine-tune every layer at layer-wise "
                f"decayed learning rates (x{cfg.lr_decay} per group down from the top), so the "
                "lower layers move least.",
            ],
        )
    why = (
        f"{shift_words}, so the lower layers' generic features fit"
        if shift < FAR_SHIFT
        else f"{shift_words}, but {per_class:.0f} images per class are too few to "
        "re-learn every layer"
    )
    return (
        "partial",
        {"partial_groups": cfg.partial_groups},
        epochs or 8,
        [
            f"{helps}; {why}.",
            f"fine-tune the top {cfg.partial_groups} layer groups and a new head at layer-wise "
            "decayed learning rates, keeping the rest frozen with pretrained batch-norm "
            "statistics: most of full fine-tuning's gain at a fraction of its cost.",
        ],
    )


def _bn_advice(m: dict[str, Any], overrides: dict[str, Any]) -> str:
    """Rule 5: adapt batch-norm statistics where pretrained ones would shrink the signal."""
    per_class, top_scale = m["per_class_median"], m["bn_scale_top_half"]
    if top_scale <= ADAPT_BN_SCALE and per_class >= ADAPT_BN_PER_CLASS:
        overrides["bn_stats"] = "adapt"
        return (
            f"the top layers' activations spread {top_scale:.2f}x as wide as in "
            "pretraining, so pretrained batch-norm statistics would shrink the signal they "
            f"pass on; with {per_class:.0f} images per class (>= {ADAPT_BN_PER_CLASS}) the "
            "training groups re-estimate them (--bn-stats adapt)."
        )
    why = (
        f"only {per_class:.0f} images per class (< {ADAPT_BN_PER_CLASS})"
        if top_scale <= ADAPT_BN_SCALE
        else f"the top layers' activations spread {top_scale:.2f}x as wide as in pretraining"
    )
    return (
        f"batch-norm layers keep their pretrained statistics ({why}), which keeps "
        "fine-tuning stable."
    )


def _by_group(shifts: list[dict[str, Any]], key: str) -> dict[str, float | None]:
    """``{group: value}`` of one of ``bn_shift``'s measurements, rounded for the report."""
    return {s["group"]: None if s[key] is None else round(s[key], 3) for s in shifts}


def _probe(bb: Any, data: ImageData, cfg: TrainConfig) -> dict[str, float]:
    device = resolve_device(cfg.device)
    probe = extraction_probe(bb, device)
    dtype = choose_precision(cfg.precision, device, probe, len(data.train) + len(data.val))
    tf = eval_transform(bb.data_config)
    cache = FeatureCache(Path(cfg.cache_dir) / "features" if cfg.cache_dir else None)
    wid = f"{bb.name}:{fingerprint(bb.body)}"
    feats = {
        split: cache.features(
            bb.body,
            wid,
            getattr(data, split),
            data.dataset(split, tf),
            tf,
            Extraction(device, dtype, progress=cfg.progress, desc=f"{split} features"),
        )
        for split in ("train", "val")
    }
    return linear_probe(
        feats["train"],
        np.array(data.labels("train")),
        feats["val"],
        np.array(data.labels("val")),
        cfg.seed,
    )
