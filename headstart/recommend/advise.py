"""``recommend``: profile the data, measure the domain gap, propose a plan with its reasons.

The rules, in order (each one a reason printed with the advice):
1. Fewer than ``MIN_PER_CLASS_TO_TUNE`` images per class: feature extraction. Fine-tuning
   millions of weights on a handful of images overfits; the frozen features are the safest bet.
2. A linear probe on frozen features already at ``PROBE_ENOUGH`` or above: feature extraction.
   There is little left for fine-tuning to gain, and it costs one backbone pass instead of many.
3. Otherwise the backbone should adapt: progressive unfreezing from the top (head first on
   cached features, then one more layer group per epoch), which adapts the layers whose
   statistics moved most on these images while keeping the lower, generic ones stable. With
   ``MANY_PER_CLASS`` images per class or more and a large shift in the lower groups, full
   fine-tuning with layer-wise decayed LRs instead, since there is enough data to re-learn them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from headstart.backbones import fingerprint, load_backbone
from headstart.config import TrainConfig
from headstart.data.imagedata import ImageData
from headstart.data.profile import profile
from headstart.data.transforms import eval_transform
from headstart.engine.precision import resolve_device, resolve_precision
from headstart.features.cache import FeatureCache
from headstart.recommend.measure import bn_shift, linear_probe

MIN_PER_CLASS_TO_TUNE = 10
PROBE_ENOUGH = 0.95
MANY_PER_CLASS = 1000
LARGE_SHIFT = 1.0


@dataclass
class Recommendation:
    strategy: str
    overrides: dict[str, Any]  # TrainConfig fields besides the strategy
    epochs: int
    reasons: list[str]
    measurements: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def command(self, data: str) -> str:
        opts = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in self.overrides.items())
        return f"headstart train {data} --strategy {self.strategy} --epochs {self.epochs} {opts}".strip()


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
        data = ImageData.from_folder(data, cfg.val_fraction, cfg.seed, cfg.classes)
    data.check_images(skip_bad=cfg.skip_bad)
    bb = load_backbone(backbone, weights)
    prof = profile(data)
    shifts = bn_shift(bb, data)
    probe = _probe(bb, data, cfg)
    per_class = prof["per_class_median"]
    m = {
        "per_class_median": per_class,
        "imbalance": round(prof["imbalance"], 2),
        "image_size": f"{prof['image_width']['median']:.0f}x{prof['image_height']['median']:.0f}",
        "linear_probe_val_acc": round(probe["val_acc"], 4),
        "linear_probe_train_acc": round(probe["train_acc"], 4),
        "bn_shift_by_group": {
            s["group"]: None if s["shift"] is None else round(s["shift"], 3) for s in shifts
        },
    }
    known = [s["shift"] for s in shifts if s["shift"] is not None]
    low = float(np.mean(known[: len(known) // 2])) if known else 0.0
    top = float(np.mean(known[len(known) // 2 :])) if known else 0.0
    shift_words = (
        f"batch-norm statistics shift by {low:.2f} (lower half of the network) and "
        f"{top:.2f} (upper half) pretrained standard deviations on these images"
    )
    reasons: list[str] = []
    overrides: dict[str, Any] = {}
    if per_class < MIN_PER_CLASS_TO_TUNE:
        strategy = "feature-extraction"
        reasons.append(
            f"only {per_class:.0f} images per class: too few to fine-tune the backbone "
            "without overfitting; train only a new head on frozen features."
        )
        n_epochs = epochs or 10
    elif probe["val_acc"] >= PROBE_ENOUGH:
        strategy = "feature-extraction"
        reasons.append(
            f"a linear probe on frozen features already reaches {probe['val_acc']:.3f} "
            f"(>= {PROBE_ENOUGH}): the pretrained features separate these classes, so "
            "fine-tuning has little to gain for many times the cost."
        )
        n_epochs = epochs or 10
    elif per_class >= MANY_PER_CLASS and low >= LARGE_SHIFT:
        strategy = "full"
        reasons.append(
            f"{per_class:.0f} images per class and a large shift in the lower layers "
            f"({shift_words}): enough data to re-learn every layer, with layer-wise "
            "decayed learning rates to keep the pretrained start."
        )
        n_epochs = epochs or 10
    else:
        strategy = "progressive"
        reasons.append(
            f"a linear probe on frozen features reaches {probe['val_acc']:.3f}: the "
            f"pretrained features help but do not suffice, and {shift_words}, so the "
            "backbone should adapt."
        )
        reasons.append(
            f"with {per_class:.0f} images per class, unfreeze gradually from the top: "
            "the head first on cached features (almost free), then one more layer group "
            "per epoch at layer-wise decayed learning rates, keeping pretrained "
            "batch-norm statistics; the lower, generic layers move least."
        )
        n_epochs = epochs or 6
    if prof["imbalance"] > 3:
        overrides["class_weights"] = True
        reasons.append(
            f"classes are imbalanced ({prof['imbalance']:.1f}x): weight the loss by "
            "inverse class frequency."
        )
    lr, head_lr = dataclasses.replace(cfg, strategy=strategy).resolved_lrs()
    m["learning_rates"] = {"head": head_lr, "backbone_top": lr, "layer_decay": cfg.lr_decay}
    return Recommendation(strategy, overrides, n_epochs, reasons, m)


def _probe(bb: Any, data: ImageData, cfg: TrainConfig) -> dict[str, float]:
    device = resolve_device(cfg.device)
    dtype = resolve_precision(cfg.precision, device)
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
            device,
            dtype,
            progress=cfg.progress,
            desc=f"{split} features",
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
