"""Few-shot networks as small modules: a prototypical episode network and a Siamese pair network.

Both wrap an *encoder* (images, or cached prefix activations, -> embedding). ``EpisodeNet``
returns the query logits of an episode, so the prototypical loss is plain cross-entropy.
``PairNet`` returns two logits per pair (different, same) built from the embedding distance,
and ``contrastive_loss`` is the loss of Hadsell, Chopra and LeCun (2006).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from headstart.fewshot.protonet import proto_logits


class Normalize(nn.Module):
    """L2-normalise rows: Siamese embeddings live on the unit sphere (distances in [0, 2])."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=1)


def projection_head(in_features: int, dim: int) -> nn.Module:
    """The Siamese embedding head: linear projection, then L2 normalisation."""
    return nn.Sequential(nn.Linear(in_features, dim), Normalize())


def embed_together(
    encoder: nn.Module, a: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The float32 embeddings of ``a`` and ``b`` from one call of ``encoder`` on both: one set of
    batch-norm statistics for the two, and one forward, as DistributedDataParallel expects."""
    z = encoder(torch.cat([a, b])).float()
    return z[: len(a)], z[len(a) :]


class EpisodeNet(nn.Module):
    """``forward(episode) -> (n_query, ways)`` logits against the support's prototypes.

    ``episode`` holds ``support`` and ``query`` inputs of the encoder and ``support_targets``
    (class positions 0..ways-1 in the episode).
    """

    def __init__(self, encoder: nn.Module, metric: str = "cosine"):
        super().__init__()
        self.encoder = encoder
        self.metric = metric

    def forward(self, episode: dict[str, torch.Tensor]) -> torch.Tensor:
        support, query = embed_together(self.encoder, episode["support"], episode["query"])
        targets = episode["support_targets"]
        ways = int(targets.max().item()) + 1
        return proto_logits(support, targets, query, ways, self.metric)


class PairNet(nn.Module):
    """``forward(pair) -> (n, 2)`` logits ``[d - margin/2, margin/2 - d]`` (different, same)."""

    def __init__(self, encoder: nn.Module, margin: float = 1.0):
        super().__init__()
        self.encoder = encoder
        self.margin = margin

    def distance(self, pair: dict[str, torch.Tensor]) -> torch.Tensor:
        a, b = embed_together(self.encoder, pair["a"], pair["b"])
        return (a - b).norm(dim=1)

    def logits(self, distance: torch.Tensor) -> torch.Tensor:
        half = self.margin / 2
        return torch.stack([distance - half, half - distance], dim=1)

    def forward(self, pair: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.logits(self.distance(pair))

    def distance_from_logits(self, logits: torch.Tensor) -> torch.Tensor:
        return self.margin / 2 - logits[:, 1]


def contrastive_loss(distance: torch.Tensor, same: torch.Tensor, margin: float) -> torch.Tensor:
    """``same * d^2 + (1 - same) * max(0, margin - d)^2``, averaged over pairs."""
    same = same.float()
    return (same * distance.pow(2) + (1 - same) * F.relu(margin - distance).pow(2)).mean()
