"""headstart: transfer learning done right, with the evidence.

>>> import headstart as hs
>>> data = hs.ImageData.from_folder("data/fmnist")
>>> result = hs.fit(data, strategy="progressive", epochs=5)
>>> hs.Checkpoint.load(result.run_dir).predict(["shoe.png"])
"""

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
