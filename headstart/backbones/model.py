"""The model headstart trains: a backbone body that outputs pooled features, and a new head."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from headstart.backbones.groups import LayerGroup
from headstart.strategies.plan import Part

HEAD = "head"


@dataclass
class Backbone:
    """A pretrained network without its classifier, with the preprocessing its weights expect.

    ``body(x)`` returns pooled features ``(batch, num_features)``. ``data_config`` comes from
    the weights' own pretrained config (mean, std, input size, interpolation, crop).
    """

    name: str
    body: nn.Module
    num_features: int
    data_config: dict[str, Any]
    weights_source: str
    groups: list[LayerGroup] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        """What a checkpoint records of the backbone (enough to rebuild it and its transform)."""
        return {
            "name": self.name,
            "weights_source": self.weights_source,
            "num_features": self.num_features,
            "data_config": self.data_config,
        }

    def parts(self, prefix: str = "body.") -> list[Part]:
        """The layer groups as plan parts, named as in a model holding the body at ``prefix``."""
        params = dict(self.body.named_parameters())
        return [
            Part(
                g.name,
                tuple(prefix + p for p in g.params),
                sum(params[p].numel() for p in g.params),
            )
            for g in self.groups
        ]


def fp32_head(head: nn.Module, features: torch.Tensor) -> torch.Tensor:
    with torch.autocast(device_type=features.device.type, enabled=False):
        return head(features.float())


class FP32Head(nn.Module):
    """Runs ``head`` outside autocast, on fp32 features (for training on cached features)."""

    def __init__(self, head: nn.Module):
        super().__init__()
        self.head = head

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return fp32_head(self.head, features)


class TransferModel(nn.Module):
    """``head(body(x))``: a backbone body with a new classifier head."""

    def __init__(self, body: nn.Module, head: nn.Module):
        super().__init__()
        self.body = body
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.body(x))

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """The head, always in fp32: it is tiny, and its logits decide the predicted class."""
        return fp32_head(self.head, features)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled penultimate-layer features."""
        return self.body(x)
