"""The ImageNet-1k classifier of a backbone and the names of its 1,000 classes.

``load_backbone`` removes the classifier; ConSE needs it back. For the packaged EfficientNet-
Lite weights it is read from the packaged state dict (its last weight and bias, checked by
shape); for other timm names it comes from timm's pretrained model (hub or local cache).
"""

from __future__ import annotations

from typing import Any

import timm
from timm.data import ImageNetInfo
from torch import nn

from headstart.backbones import PACKAGED, read_state_dict
from headstart.errors import BackboneError

N_CLASSES = 1000


def imagenet_class_names() -> list[str]:
    """The 1,000 class names in the classifier's order: the first synonym of each
    WordNet description (``"tabby, tabby cat"`` -> ``"tabby"``)."""
    info = ImageNetInfo()
    return [info.index_to_description(i).split(",")[0].strip() for i in range(N_CLASSES)]


def imagenet_class_descriptions() -> list[str]:
    """The 1,000 classes as WordNet describes them: every synonym, then the definition
    (``"admiral: any of several brightly colored butterflies"``)."""
    info = ImageNetInfo()
    return [info.index_to_description(i, detailed=True) for i in range(N_CLASSES)]


def imagenet_classifier(name: str, weights_source: str, num_features: int) -> nn.Linear:
    """A ``Linear(num_features, 1000)`` holding backbone ``name``'s pretrained ImageNet head
    (``weights_source`` as recorded by ``load_backbone``)."""
    package = PACKAGED.get(name)
    if weights_source.startswith("package:") and package is not None:
        path = package.path()
        assert path is not None  # the backbone was loaded from it
        tensors = list(read_state_dict(path).values())
        weight, bias = tensors[-2], tensors[-1]
    elif weights_source.startswith("timm:"):
        model: Any = timm.create_model(name, pretrained=True)
        head = model.get_classifier()
        if not isinstance(head, nn.Linear):
            raise BackboneError(f"'{name}' has no linear ImageNet classifier; ConSE needs one")
        weight, bias = head.weight.detach(), head.bias.detach()
    else:
        raise BackboneError(
            f"ConSE needs a backbone with its ImageNet-1k classifier; "
            f"'{name}' was loaded from {weights_source}"
        )
    if tuple(weight.shape) != (N_CLASSES, num_features) or tuple(bias.shape) != (N_CLASSES,):
        raise BackboneError(
            f"the weights of '{name}' have no {N_CLASSES}-class ImageNet head "
            f"(found {tuple(weight.shape)}); ConSE needs one"
        )
    linear = nn.Linear(num_features, N_CLASSES)
    linear.weight.data.copy_(weight.float())
    linear.bias.data.copy_(bias.float())
    return linear.eval()
