"""ConSE: zero-shot by convex combination of semantic embeddings (Norouzi et al., ICLR 2014).

An image's vector is the mean of the text embeddings of its top-k ImageNet classes, weighted
by the classifier's probabilities (renormalised over those k). A class is embedded with its
WordNet synonyms and definition (``"a photo of a admiral: any of several brightly colored
butterflies"``), so that a label such as "butterfly" finds the classes that are kinds of it.
Candidate labels are embedded by the same sentence encoder, so images and any text live in one
space: zero-shot labels and text-to-image search work offline.

The class probabilities are the mean of those of several ImageNet classifiers (by default the
three packaged EfficientNet-Lite0, -Lite1 and -Lite2): on the 15 sample photos of the tests,
Lite0 alone labels 11 right in bf16 (10 in fp32), the three together 12 in either precision,
and no photo of two other sets got worse. ``conse:tf_efficientnet_lite0`` is the faster single
model. It knows only what ImageNet's classes and the sentence encoder can express: a far weaker
method than CLIP.
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
from headstart.errors import HeadstartError
from headstart.zeroshot.imagenet import (
    imagenet_class_descriptions,
    imagenet_class_names,
    imagenet_classifier,
)
from headstart.zeroshot.text import SentenceEncoder

CLASS_PROMPT = "a photo of a {}"
CHUNK = 4096
DEFAULT_BACKBONES = ("tf_efficientnet_lite0", "tf_efficientnet_lite1", "tf_efficientnet_lite2")


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
class ImageNetClassifier:
    """A backbone's pooled features (cached by the feature cache, so the pass is shared with
    ``embed``, probes and few-shot) and its ImageNet-1k head."""

    features: ModuleEncoder
    head: nn.Linear

    @torch.no_grad()
    def probabilities(self, files: Sequence[Path], progress: bool = True) -> np.ndarray:
        feats = self.features.encode(files, progress=progress)
        out = np.empty((len(feats), self.head.out_features), np.float32)
        for start in range(0, len(feats), CHUNK):
            f = torch.from_numpy(np.array(feats[start : start + CHUNK], np.float32))
            out[start : start + len(f)] = self.head(f).softmax(1).numpy()
        return out


@dataclass
class ConSEEncoder:
    """Images -> ConSE vectors (in the sentence encoder's space)."""

    classifiers: Sequence[ImageNetClassifier]
    text: ConSEText
    class_vectors: np.ndarray  # (1000, dim) unit vectors of the class descriptions
    k: int = 10

    @property
    def backbones(self) -> list[str]:
        return [c.features.spec for c in self.classifiers]

    @property
    def spec(self) -> str:
        return "conse:" + "+".join(self.backbones)

    @property
    def description(self) -> str:
        return (
            f"ConSE (top-{self.k} ImageNet classes of {' + '.join(self.backbones)}, "
            f"embedded by {self.text.name})"
        )

    def probabilities(self, files: Sequence[Path], progress: bool = True) -> np.ndarray:
        """ImageNet class probabilities ``(n, 1000)``: the mean over the classifiers."""
        probs = np.stack([c.probabilities(files, progress) for c in self.classifiers])
        return probs.mean(axis=0)

    def project(self, prob: np.ndarray) -> np.ndarray:
        """ConSE vectors of ImageNet class probabilities ``(n, 1000)``."""
        top, idx = _top(prob, self.k)
        weights = top / top.sum(1, keepdims=True)
        return normalize(np.einsum("nk,nkd->nd", weights, self.class_vectors[idx]))

    def encode(self, files: Sequence[Path], progress: bool = True) -> np.ndarray:
        return self.project(self.probabilities(files, progress))

    def encode_explained(
        self, files: Sequence[Path], progress: bool = True, k: int = 3
    ) -> tuple[np.ndarray, list[list[tuple[str, float]]]]:
        """``encode``, and the ImageNet classes behind each vector, from one set of passes."""
        prob = self.probabilities(files, progress)
        return self.project(prob), self.explain(prob, k)

    def explain(self, prob: np.ndarray, k: int = 3) -> list[list[tuple[str, float]]]:
        """The ``k`` most probable ImageNet classes of each row of class probabilities
        ``(n, 1000)``, with their probabilities, best first."""
        top, idx = _top(prob, k)
        names = imagenet_class_names()
        return [[(names[i], float(p)) for p, i in zip(ps, ix)] for ps, ix in zip(top.tolist(), idx)]

    def meta(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "description": self.description,
            "k": self.k,
            "text_model": self.text.name,
            "weights_id": "+".join(c.features.weights_id for c in self.classifiers),
        }


def _top(prob: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest probabilities of each row and their class indices, largest first."""
    top, idx = torch.from_numpy(np.ascontiguousarray(prob)).topk(k, dim=1)
    return top.numpy(), idx.numpy()


def conse_encoder(
    backbones: str | Sequence[str] = DEFAULT_BACKBONES,
    k: int = 10,
    text_model: str = "minilm",
    device: str = "auto",
    precision: str = "auto",
) -> ConSEEncoder:
    """ConSE over the mean of the ImageNet-1k classifiers of ``backbones`` (a list, or names
    joined by ``+``) and the sentence encoder ``text_model``."""
    names = backbones.split("+") if isinstance(backbones, str) else list(backbones)
    names = [n.strip() for n in names]
    if not all(names):
        raise HeadstartError(
            f"--model conse:{'+'.join(names)}: name the backbones joined by '+', "
            "e.g. conse:tf_efficientnet_lite0+tf_efficientnet_lite2"
        )
    classifiers = []
    for name in names:
        features = backbone_encoder(name, "pretrained", device, precision)
        head = imagenet_classifier(
            name, features.extra["weights_source"], features.extra["num_features"]
        )
        classifiers.append(ImageNetClassifier(features, head))
    text = ConSEText(SentenceEncoder(text_model))
    prompts = [CLASS_PROMPT.format(d) for d in imagenet_class_descriptions()]
    return ConSEEncoder(classifiers, text, text.encode_text(prompts), k)
