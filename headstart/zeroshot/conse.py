"""ConSE: zero-shot by convex combination of semantic embeddings (Norouzi et al., ICLR 2014).

An image's vector is the mean of the text embeddings of its top-k ImageNet classes, weighted
by the classifier's probabilities (renormalised over those k). A class is embedded with its
WordNet synonyms and definition (``"a photo of a admiral: any of several brightly colored
butterflies"``), so that a label such as "butterfly" finds the classes that are kinds of it;
bare class names (``"a photo of a admiral"``) labelled 9 of the 15 sample photos of the tests
right, the descriptions 11 (bf16; 10 in fp32). Candidate labels are embedded by the same
sentence encoder, so images and any text live in one space: zero-shot labels and text-to-image
search work with the packaged EfficientNet-Lite0 and all-MiniLM-L6-v2, offline. It knows only
what ImageNet's classes and the sentence encoder can express: a far weaker method than CLIP.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from headstart.embeddings.encoders import ModuleEncoder, backbone_encoder
from headstart.embeddings.index import normalize
from headstart.zeroshot.imagenet import (
    imagenet_class_descriptions,
    imagenet_class_names,
    imagenet_classifier,
)
from headstart.zeroshot.text import SentenceEncoder

CLASS_PROMPT = "a photo of a {}"
CHUNK = 4096


@dataclass
class ConSEText:
    """The text side of a ConSE space: the sentence encoder, with label prompt templates."""

    encoder: SentenceEncoder
    templates: tuple[str, ...] = (CLASS_PROMPT,)
    logit_scale: float = 20.0  # softmax temperature 0.05 over cosine similarities

    @property
    def name(self) -> str:
        return self.encoder.name

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        return self.encoder.encode_text(texts)


@dataclass
class ConSEEncoder:
    """Images -> ConSE vectors (in the sentence encoder's space). Backbone features are
    cached by the feature cache: the pass is shared with ``embed``, probes and few-shot."""

    features: ModuleEncoder
    classifier: nn.Linear
    text: ConSEText
    class_vectors: np.ndarray  # (1000, dim) unit vectors of the class descriptions
    k: int = 10

    @property
    def spec(self) -> str:
        return f"conse:{self.features.spec}"

    @property
    def description(self) -> str:
        return (
            f"ConSE (top-{self.k} ImageNet classes of {self.features.spec}, "
            f"embedded by {self.text.name})"
        )

    @torch.no_grad()
    def project(self, features: np.ndarray) -> np.ndarray:
        """ConSE vectors of pooled backbone features ``(n, num_features)``."""
        out = np.empty((len(features), self.class_vectors.shape[1]), np.float32)
        for start in range(0, len(features), CHUNK):
            f = torch.from_numpy(np.array(features[start : start + CHUNK], np.float32))
            prob = self.classifier(f).softmax(1)
            top, idx = prob.topk(self.k, dim=1)
            weights = (top / top.sum(1, keepdim=True)).numpy()
            mixed = np.einsum("nk,nkd->nd", weights, self.class_vectors[idx.numpy()])
            out[start : start + len(f)] = normalize(mixed)
        return out

    def top_classes(self, features: np.ndarray, k: int = 5) -> list[list[tuple[str, float]]]:
        """The ImageNet classes behind each vector, with probabilities (for explanations)."""
        names = imagenet_class_names()
        with torch.no_grad():
            prob = self.classifier(torch.from_numpy(np.array(features, np.float32))).softmax(1)
        top, idx = prob.topk(k, dim=1)
        return [
            [(names[i], float(p)) for p, i in zip(pr, ix)]
            for pr, ix in zip(top.tolist(), idx.tolist())
        ]

    def encode(self, files: Sequence[Path], progress: bool = True) -> np.ndarray:
        return self.project(self.features.encode(files, progress=progress))

    def meta(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "description": self.description,
            "k": self.k,
            "text_model": self.text.name,
            "weights_id": self.features.weights_id,
        }


def conse_encoder(
    backbone: str = "tf_efficientnet_lite0",
    k: int = 10,
    text_model: str = "minilm",
    device: str = "auto",
    precision: str = "auto",
) -> ConSEEncoder:
    """ConSE over ``backbone``'s ImageNet-1k classifier and the sentence encoder ``text_model``."""
    features = backbone_encoder(backbone, "pretrained", device, precision)
    classifier = imagenet_classifier(
        backbone, features.extra["weights_source"], features.extra["num_features"]
    )
    text = ConSEText(SentenceEncoder(text_model))
    prompts = [CLASS_PROMPT.format(d) for d in imagenet_class_descriptions()]
    return ConSEEncoder(features, classifier, text, text.encode_text(prompts), k)
