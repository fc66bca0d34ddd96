"""Backbones: pretrained networks with their own preprocessing, heads and layer groups."""

from headstart.backbones.groups import LayerGroup, layer_groups
from headstart.backbones.heads import make_head, strip_head
from headstart.backbones.model import HEAD, Backbone, TransferModel
from headstart.backbones.registry import (
    DEFAULT_BACKBONE,
    BackboneInfo,
    count_params,
    list_backbones,
    load_backbone,
)
from headstart.backbones.weights import PACKAGED, fingerprint, read_state_dict

__all__ = [
    "DEFAULT_BACKBONE",
    "HEAD",
    "PACKAGED",
    "Backbone",
    "BackboneInfo",
    "LayerGroup",
    "TransferModel",
    "count_params",
    "fingerprint",
    "layer_groups",
    "list_backbones",
    "load_backbone",
    "make_head",
    "read_state_dict",
    "strip_head",
]
