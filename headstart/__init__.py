"""headstart: transfer learning done right, with the evidence.

>>> import headstart as hs
>>> data = hs.ImageData.from_folder("data/fmnist")
>>> result = hs.fit(data, strategy="progressive", epochs=5)
>>> hs.Checkpoint.load(result.run_dir).predict(["shoe.png"])

The names below are imported on first use: ``headstart.export.runtime`` (predicting from an
ONNX export) must import on a machine that has ONNX Runtime but no PyTorch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from headstart.backbones import list_backbones, load_backbone
    from headstart.classify.checkpoint import Checkpoint
    from headstart.classify.fit import FitResult, fit
    from headstart.config import TrainConfig
    from headstart.data.classmap import ClassMap
    from headstart.data.export import export_dataset
    from headstart.data.imagedata import ImageData
    from headstart.errors import HeadstartError
    from headstart.strategies import Plan, make_plan

__version__ = "0.1.0"

_API = {
    "Checkpoint": "headstart.classify.checkpoint",
    "ClassMap": "headstart.data.classmap",
    "FitResult": "headstart.classify.fit",
    "HeadstartError": "headstart.errors",
    "ImageData": "headstart.data.imagedata",
    "Plan": "headstart.strategies",
    "TrainConfig": "headstart.config",
    "export_dataset": "headstart.data.export",
    "fit": "headstart.classify.fit",
    "list_backbones": "headstart.backbones",
    "load_backbone": "headstart.backbones",
    "make_plan": "headstart.strategies",
}

__all__ = [
    "Checkpoint",
    "ClassMap",
    "FitResult",
    "HeadstartError",
    "ImageData",
    "Plan",
    "TrainConfig",
    "export_dataset",
    "fit",
    "list_backbones",
    "load_backbone",
    "make_plan",
]


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'headstart' has no attribute {name!r}")
    return getattr(importlib.import_module(_API[name]), name)
