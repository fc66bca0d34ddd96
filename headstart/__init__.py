"""headstart: transfer learning done right, with the evidence.

>>> import headstart as hs
>>> data = hs.ImageData.from_folder("data/fmnist")
>>> result = hs.fit(data, strategy="progressive", epochs=5)
>>> hs.Checkpoint.load(result.run_dir).predict(["shoe.png"])

The names below are imported on first use: ``headstart.export.runtime`` (predicting from an
ONNX export) must import on a machine that has ONNX Runtime but no PyTorch.
"""

from typing import TYPE_CHECKING

import lazy_loader

from headstart.cpus import prefer_sleeping_threads

__version__ = "0.1.0"

# Before PyTorch loads its OpenMP runtime (headstart.cpus says why): threads that sleep while
# they wait keep training fast on a machine shared with other CPU-bound work.
prefer_sleeping_threads()

# Names load on first use: `headstart --help`, light modules and an ONNX-only machine stay free
# of torch.
__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "backbones": ["list_backbones", "load_backbone"],
        "classify.checkpoint": ["Checkpoint"],
        "classify.fit": ["FitResult", "fit"],
        "config": ["TrainConfig"],
        "data.classmap": ["ClassMap"],
        "data.export": ["export_dataset"],
        "data.imagedata": ["ImageData"],
        "errors": ["HeadstartError"],
        "strategies": ["Plan", "make_plan"],
    },
)

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
