"""An image run's model as timm loads it: ``RUN/timm/model.safetensors`` + ``config.json``.

The weights are the ``best`` checkpoint's, under timm's own names (the backbone's, and its
classifier's, e.g. ``classifier.weight``); ``config.json`` is in the layout of a timm model on
the Hugging Face hub: ``architecture``, ``num_classes``, ``num_features``, ``label_names`` and
the ``pretrained_cfg`` the weights expect (mean, std, input size, interpolation, crop):

>>> cfg = json.loads(Path("runs/train/NAME/timm/config.json").read_text())
>>> model = timm.create_model(
...     cfg["architecture"], pretrained=True, num_classes=cfg["num_classes"],
...     pretrained_cfg_overlay={**cfg["pretrained_cfg"], "file": "runs/train/NAME/timm/model.safetensors"},
... )

Exported when the backbone is a timm model and the head a linear layer (``--head-hidden 0``,
the default); an MLP head has no counterpart in timm.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

from headstart.backbones import Backbone
from headstart.io import write_atomic, write_json_atomic

TIMM_DIR = "timm"


def _linear(head: nn.Module) -> tuple[str, nn.Linear] | None:
    """The head's one linear layer and its name in the head, if the head is (dropout and) a
    linear layer."""
    layers = [(n, m) for n, m in head.named_modules() if isinstance(m, nn.Linear)]
    others = [
        m
        for _, m in head.named_modules()
        if not isinstance(m, nn.Linear | nn.Dropout | nn.Sequential)
    ]
    if len(layers) != 1 or others:
        return None
    return layers[0]


def timm_state(
    backbone: Backbone, head: nn.Module, tensors: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor] | None:
    """A checkpoint's tensors (``body.*``, ``head.*``) under timm's names, or ``None`` when the
    model has no timm counterpart."""
    cfg = getattr(backbone.body, "pretrained_cfg", None)
    found = _linear(head)
    if not isinstance(cfg, dict) or not cfg.get("classifier") or found is None:
        return None
    name, _ = found
    prefix = f"head.{name}." if name else "head."
    out = {k.removeprefix("body."): v for k, v in tensors.items() if k.startswith("body.")}
    for part in ("weight", "bias"):
        out[f"{cfg['classifier']}.{part}"] = tensors[prefix + part]
    return out


def timm_config(backbone: Backbone, classes: tuple[str, ...]) -> dict[str, Any]:
    """The hub-style ``config.json`` of the exported model."""
    pretrained = dict(getattr(backbone.body, "pretrained_cfg", {}) or {})
    pretrained.update(
        {
            k: v
            for k, v in backbone.data_config.items()
            if k in ("mean", "std", "input_size", "interpolation", "crop_pct", "crop_mode")
        }
    )
    for key in ("file", "url", "hf_hub_id", "hf_hub_filename", "source", "state_dict"):
        pretrained.pop(key, None)
    pretrained["num_classes"] = len(classes)
    pretrained["label_names"] = list(classes)
    return {
        "architecture": getattr(backbone.body, "default_cfg", {}).get("architecture")
        or backbone.name,
        "num_classes": len(classes),
        "num_features": backbone.num_features,
        "label_names": list(classes),
        "pretrained_cfg": _plain(pretrained),
    }


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value if value is None or isinstance(value, bool | int | float | str) else str(value)


def export_timm(
    run_dir: Path,
    backbone: Backbone,
    head: nn.Module,
    classes: tuple[str, ...],
    tensors: dict[str, torch.Tensor],
) -> Path | None:
    """Write ``run_dir/timm/`` from a checkpoint's ``tensors``; ``None`` when not exportable."""
    state = timm_state(backbone, head, tensors)
    if state is None:
        return None
    folder = run_dir / TIMM_DIR
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    write_atomic(folder / "model.safetensors", lambda tmp: save_file(state, str(tmp)))
    write_json_atomic(folder / "config.json", timm_config(backbone, classes))
    return folder
