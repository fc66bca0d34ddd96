"""Everything both methods share: data, the pretrained backbone, the plan and cached inputs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset, TensorDataset

from headstart.adaptation.config import AdaptConfig
from headstart.adaptation.data import TargetData, check_images, find_target
from headstart.adaptation.task import AdaptInputs
from headstart.backbones import Backbone, count_params, load_backbone
from headstart.cpus import loader_workers
from headstart.data.imagedata import ImageData, ImageDataset, ImageFiles
from headstart.data.sources import Sample
from headstart.data.transforms import eval_transform
from headstart.engine import distributed
from headstart.engine.precision import channels_last, resolve_device
from headstart.engine.precision_probe import choose_precision
from headstart.errors import HeadstartError
from headstart.features.cache import FeatureCache
from headstart.features.extract import Extraction, extraction_probe
from headstart.features.prefix import PrefixSplit, prefix_activations, split_body


@dataclass
class Prepared:
    """The shared state of a run; ``inputs`` are cached activations unless the split is empty.
    Every model starts from a copy of the pristine ``backbone``."""

    cfg: AdaptConfig
    data: ImageData
    target: TargetData
    backbone: Backbone
    strategy: str  # feature-extraction, or partial:N (--train-groups N)
    trainable: list[str]  # backbone parameter names (relative to the body) that train
    split: PrefixSplit  # the frozen prefix (cached) and the trainable suffix of the body
    inputs: AdaptInputs
    target_eval: Dataset | None  # (x, label) for scoring only
    device: torch.device
    dtype: torch.dtype | None
    input_note: str


def prepare(cfg: AdaptConfig) -> Prepared:
    """Read and check both domains, load the backbone, split off and cache the frozen part."""
    data = ImageData.from_folder(cfg.source, cfg.val_fraction, seed=0)
    data.check_images()
    target = find_target(cfg.target, data.class_map, cfg.target_val)
    check_images(target.pool, "target")
    check_images([s.path for s in target.evaluation], "target evaluation")
    device = distributed.setup(resolve_device(cfg.device))  # torchrun: join the group
    distributed.per_process_batch(cfg.batch_size)
    torch.manual_seed(cfg.seeds[0])  # random weights (--weights random) are then reproducible
    backbone = load_backbone(cfg.backbone, cfg.weights)
    # the pass of the frozen prefix over both domains is most of the work
    probe = extraction_probe(backbone, device)
    n_images = len(data.train) + len(data.val) + len(target.pool) + len(target.evaluation)
    dtype = choose_precision(cfg.precision, device, probe, n_images)
    n_groups = len(backbone.groups)
    if cfg.train_groups > n_groups:
        raise HeadstartError(
            f"--train-groups {cfg.train_groups}: {cfg.backbone} has {n_groups} layer groups; "
            f"use 0 to {n_groups}"
        )
    strategy = "feature-extraction" if cfg.train_groups == 0 else f"partial:{cfg.train_groups}"
    trainable = [p for g in backbone.groups[n_groups - cfg.train_groups :] for p in g.params]
    split = split_body(
        backbone.body.cpu(),
        trainable if cfg.train_groups else [],
        backbone.data_config["input_size"],
    )
    backbone.body.to(device)
    inputs, note = _inputs(cfg, data, target, backbone, split, device, dtype)
    target_eval = inputs.target_eval
    if not cfg.monitor_target:
        inputs.target_eval = None
    return Prepared(
        cfg, data, target, backbone, strategy, trainable, split, inputs, target_eval, device,
        dtype, note,
    )  # fmt: skip


def _inputs(
    cfg: AdaptConfig,
    data: ImageData,
    target: TargetData,
    bb: Backbone,
    split: PrefixSplit,
    device: torch.device,
    dtype: torch.dtype | None,
) -> tuple[AdaptInputs, str]:
    """The datasets both methods train on (cached prefix activations, or the images), and a
    note that says which."""
    cl = channels_last(device, dtype)
    workers = loader_workers(cfg.num_workers)
    tf = eval_transform(bb.data_config)
    sources: dict[str, tuple[list[Sample], Dataset]] = {
        "source train": (data.train, data.dataset("train", tf)),
        "source val": (data.val, data.dataset("val", tf)),
        "target": ([Sample(f, "") for f in target.pool], ImageFiles(target.pool, tf)),
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
    if split.empty:
        ds = {k: v for k, (_, v) in sources.items()}
        note = "every epoch runs the whole backbone on the images (no verifiable frozen prefix)"
    else:
        cache = FeatureCache(Path(cfg.cache_dir) / "features" if cfg.cache_dir else None)
        ds = {}
        for k, (samples, images) in sources.items():
            desc = f"{k} (frozen prefix)"
            run = Extraction(device, dtype, num_workers=workers, progress=cfg.progress, desc=desc)
            acts = prefix_activations(split, bb.name, samples, images, tf, run, cache)
            ds[k] = (
                TensorDataset(acts, torch.tensor(labels[k])) if k in labels else TensorDataset(acts)
            )
        note = (
            f"frozen prefix (up to {split.where}) computed once per image and cached; "
            f"training starts from activations {split.shape}"
        )
        workers = 0
    inputs = AdaptInputs(
        ds["source train"], ds["source val"], ds["target"], cfg.batch_size, workers, cl,
        ds.get("target eval"),
    )  # fmt: skip
    return inputs, note


def describe(p: Prepared) -> str:
    """Lines that say what this run trains on."""
    d, t, bb = p.data, p.target, p.backbone
    return "\n".join(
        [
            f"source: {d.root}  {len(d.classes)} classes, {len(d.train)} train / {len(d.val)} val",
            f"target: {t.pool_root}  {len(t.pool)} unlabelled images for adaptation; evaluation: "
            f"{len(t.evaluation)} labelled images from {t.eval_root or '-'} ({t.note})",
            f"backbone: {bb.name} ({bb.weights_source}), {count_params(bb.body):,} params; "
            f"strategy {p.strategy}",
            f"inputs: {p.input_note}",
        ]
    )
