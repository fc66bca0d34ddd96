"""Everything both methods share: data, the pretrained backbone, the plan and cached inputs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from headstart.adaptation.config import AdaptConfig
from headstart.adaptation.data import TargetData, UnlabelledImages, check_images, find_target
from headstart.adaptation.prefix import FlatOutput, split_body
from headstart.adaptation.task import AdaptInputs
from headstart.backbones import Backbone, count_params, fingerprint, load_backbone
from headstart.classify.task import default_workers
from headstart.data.imagedata import ImageData, ImageDataset
from headstart.data.sources import Sample
from headstart.data.transforms import eval_transform
from headstart.engine.precision import channels_last, resolve_device, resolve_precision
from headstart.features.cache import FeatureCache
from headstart.strategies import Plan, PlanOptions, make_plan


@dataclass
class Prepared:
    """The shared state of a run; ``inputs`` are cached activations when ``cut`` is set."""

    cfg: AdaptConfig
    data: ImageData
    target: TargetData
    backbone: Backbone  # pristine: every model starts from a copy
    plan: Plan
    groups: list[tuple[str, ...]]
    trainable: list[str]  # backbone parameter names that train
    inputs: AdaptInputs
    target_eval: Dataset | None  # (x, label) for scoring only
    device: torch.device
    dtype: torch.dtype | None
    cut: int | None  # number of chain modules in the cached frozen prefix; None: no cache
    input_note: str


def prepare(cfg: AdaptConfig) -> Prepared:
    """Read and check both domains, load the backbone, plan what trains, cache the frozen part."""
    data = ImageData.from_folder(cfg.source, cfg.val_fraction, seed=0)
    data.check_images()
    target = find_target(cfg.target, data.class_map, cfg.target_val)
    check_images(target.pool, "target")
    check_images([s.path for s in target.evaluation], "target evaluation")
    device = resolve_device(cfg.device)
    dtype = resolve_precision(cfg.precision, device)
    torch.manual_seed(cfg.seeds[0])  # random weights (--weights random) are then reproducible
    backbone = load_backbone(cfg.backbone, cfg.weights)
    backbone.body.to(device)
    strategy = "feature-extraction" if cfg.train_groups == 0 else f"partial:{cfg.train_groups}"
    plan = make_plan(
        strategy,
        [g.name for g in backbone.groups],
        [sum(backbone.body.get_parameter(p).numel() for p in g.params) for g in backbone.groups],
        _head_size(backbone.num_features, len(data.classes), cfg),
        cfg.epochs,
        PlanOptions(lr=cfg.lr, head_lr=cfg.head_lr, lr_decay=cfg.lr_decay),
    )
    groups = [g.params for g in backbone.groups]
    trainable = [
        p for g, gp in zip(backbone.groups, plan.groups) if gp.trains_at(0) for p in g.params
    ]
    split = split_body(backbone.body.cpu(), trainable, tuple(backbone.data_config["input_size"]))
    backbone.body.to(device)
    cl = channels_last(device, dtype)
    workers = default_workers(cfg.num_workers)
    tf = eval_transform(backbone.data_config)
    sources: dict[str, tuple[list[Sample], Dataset]] = {
        "source train": (data.train, data.dataset("train", tf)),
        "source val": (data.val, data.dataset("val", tf)),
        "target": ([Sample(p, "") for p in target.pool], UnlabelledImages(target.pool, tf)),
    }
    if target.evaluation:
        sources["target eval"] = (
            target.evaluation,
            ImageDataset(target.evaluation, data.class_map, tf),
        )
    labels = {
        "source train": data.labels("train"),
        "source val": data.labels("val"),
        "target eval": [data.class_map.index(s.label) for s in target.evaluation],
    }
    if split is not None and len(split[0]) > 0:
        prefix = split[0]
        cached = _cache(prefix, backbone, sources, tf, device, dtype, cfg, workers)
        ds: dict[str, Dataset] = {
            k: TensorDataset(v, torch.tensor(labels[k])) if k in labels else TensorDataset(v)
            for k, v in cached.items()
        }
        cut: int | None = len(prefix)
        shape = tuple(next(iter(cached.values())).shape[1:])
        note = (
            f"frozen prefix ({len(prefix)} modules) computed once per image and cached; "
            f"training starts from activations {shape}"
        )
        workers = 0
    else:
        ds = {k: v for k, (_, v) in sources.items()}
        cut = None
        note = "every epoch runs the whole backbone on the images (no verifiable frozen prefix)"
    inputs = AdaptInputs(
        ds["source train"], ds["source val"], ds["target"], cfg.batch_size, workers, cl
    )
    return Prepared(
        cfg,
        data,
        target,
        backbone,
        plan,
        groups,
        trainable,
        inputs,
        ds.get("target eval"),
        device,
        dtype,
        cut,
        note,
    )


def _head_size(dim: int, n_classes: int, cfg: AdaptConfig) -> int:
    return dim * cfg.bottleneck + cfg.bottleneck + cfg.bottleneck * n_classes + n_classes


def _cache(
    prefix: nn.Sequential,
    bb: Backbone,
    sources: dict[str, tuple[list[Sample], Dataset]],
    tf: Any,
    device: torch.device,
    dtype: torch.dtype | None,
    cfg: AdaptConfig,
    workers: int,
) -> dict[str, torch.Tensor]:
    """Frozen-prefix activations of every image set, through the feature cache."""
    cache = FeatureCache(Path(cfg.cache_dir) / "features" if cfg.cache_dir else None)
    prefix.eval()
    with torch.no_grad():
        shape = prefix(torch.zeros(1, *bb.data_config["input_size"], device=device)).shape[1:]
    weights_id = f"{bb.name}:prefix{len(prefix)}:{fingerprint(prefix)}"
    out = {}
    for name, (samples, ds) in sources.items():
        flat = cache.features(
            FlatOutput(prefix),
            weights_id,
            samples,
            ds,
            tf,
            device,
            dtype,
            num_workers=workers,
            progress=cfg.progress,
            desc=f"{name} (frozen prefix)",
        )
        out[name] = torch.tensor(np.asarray(flat)).view(len(samples), *shape)
    return out


def describe(p: Prepared) -> str:
    """Lines that say what this run trains on."""
    d, t, bb = p.data, p.target, p.backbone
    return "\n".join(
        [
            f"source: {d.root}  {len(d.classes)} classes, {len(d.train)} train / {len(d.val)} val",
            f"target: {t.pool_root}  {len(t.pool)} unlabelled images for adaptation; evaluation: "
            f"{len(t.evaluation)} labelled images from {t.eval_root or '-'} ({t.note})",
            f"backbone: {bb.name} ({bb.weights_source}), {count_params(bb.body):,} params",
            p.plan.table(),
            f"inputs: {p.input_note}",
        ]
    )
