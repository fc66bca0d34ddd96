"""``zeroshot``: label images with candidate labels no model was trained on.

Each label is embedded through prompt templates (the mean of the unit vectors of every
template, renormalised: prompt ensembling), images by the encoder's image side; an image
gets the softmax over labels of its scaled cosine similarities.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from headstart.embeddings.embed import check_items
from headstart.embeddings.encoders import ImageEncoder
from headstart.embeddings.index import normalize
from headstart.embeddings.store import collect_items
from headstart.errors import HeadstartError
from headstart.options import POSITIVE_INT, check_option
from headstart.zeroshot.clip import clip_encoder
from headstart.zeroshot.conse import conse_encoder


def text_aligned_encoder(spec: str, device: str = "auto", precision: str = "auto") -> ImageEncoder:
    """A text-aligned image encoder by spec: ``conse``, ``conse:A+B`` or ``clip:NAME_OR_DIR``."""
    kind, _, arg = spec.partition(":")
    if kind == "conse":
        if arg:
            return conse_encoder(arg, device=device, precision=precision)
        return conse_encoder(device=device, precision=precision)
    if kind == "clip":
        if not arg:
            raise HeadstartError(
                "--model clip:NAME_OR_DIR needs a name, e.g. "
                "clip:openai/clip-vit-base-patch32 or clip:path/to/folder"
            )
        return clip_encoder(arg, device=device, precision=precision)
    raise HeadstartError(
        f"--model '{spec}' has no text side; use conse, conse:BACKBONE or clip:NAME"
    )


def parse_labels(text: str | Sequence[str]) -> list[str]:
    """``"cat, cup of coffee,rocket"`` -> ``["cat", "cup of coffee", "rocket"]`` (unique)."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    labels = list(dict.fromkeys(p.strip() for p in parts if p.strip()))
    if len(labels) < 2:
        raise HeadstartError(
            "--labels needs at least 2 comma-separated labels, e.g. "
            '--labels "cat,cup of coffee,rocket"'
        )
    return labels


def check_templates(templates: Sequence[str] | None) -> list[str] | None:
    """Prompt templates that each put the label in one place (``{}``), or one line saying
    which does not."""
    for t in templates or []:
        try:
            ok = t.format("\0") != t.format("")  # the label lands somewhere
        except (IndexError, KeyError, ValueError):
            ok = False
        if not ok:
            raise HeadstartError(f"--template '{t}': put one {{}} where the label goes")
    return list(templates) if templates else None


def label_vectors(
    text: Any, labels: Sequence[str], templates: Sequence[str] | None = None
) -> np.ndarray:
    """Unit vectors of ``labels``: each the renormalised mean over prompt ``templates``."""
    templates = list(templates) if templates else list(getattr(text, "templates", ("{}",)))
    prompts = [t.format(label) for label in labels for t in templates]
    vectors = text.encode_text(prompts).reshape(len(labels), len(templates), -1)
    return normalize(vectors.mean(1))


@dataclass
class ZeroShotPrediction:
    path: str
    top: list[tuple[str, float]]  # (label, probability), best first
    similarity: dict[str, float]  # cosine similarity of every label
    evidence: list[tuple[str, float]] | None = None  # ConSE: the ImageNet classes behind it

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "top": [{"label": c, "prob": p} for c, p in self.top],
            "similarity": self.similarity,
        }
        if self.evidence is not None:
            out["imagenet"] = [{"class": c, "prob": p} for c, p in self.evidence]
        return out


@dataclass
class ZeroShotResult:
    method: str  # what produced the labels, e.g. "ConSE (top-10 ImageNet classes of ...)"
    labels: list[str]
    predictions: list[ZeroShotPrediction]


def zeroshot(
    images: Sequence[str | Path],
    labels: str | Sequence[str],
    model: str | ImageEncoder = "conse",
    templates: Sequence[str] | None = None,
    top_k: int = 3,
    device: str = "auto",
    precision: str = "auto",
    progress: bool = False,
) -> ZeroShotResult:
    """Zero-shot labels for image files or folders.

    ``model``: ``conse`` (default: offline, packaged EfficientNet-Lite0/1/2 + MiniLM; each
    prediction carries the ImageNet classes behind it), ``conse:BACKBONE[+BACKBONE...]`` or
    ``clip:NAME_OR_DIR``.

    >>> res = zeroshot(["cat.png"], "cat,cup of coffee,rocket")
    >>> res.predictions[0].top[0]
    ('cat', 0.93)
    """
    names = parse_labels(labels)
    templates = check_templates(templates)
    top_k = check_option("top_k", top_k, POSITIVE_INT)
    items, _ = check_items(collect_items(list(images)), skip_bad=False)  # before loading models
    enc = text_aligned_encoder(model, device, precision) if isinstance(model, str) else model
    if enc.text is None:
        raise HeadstartError(f"--model {enc.spec} has no text side; use conse or clip:NAME")
    files = [it.path for it in items]
    explained = getattr(enc, "encode_explained", None)  # ConSE: vectors and their classes
    if explained is not None:
        vectors, evidence = explained(files, progress=progress)
    else:
        vectors, evidence = enc.encode(files, progress=progress), [None] * len(files)
    image_vecs = normalize(np.asarray(vectors))
    text_vecs = label_vectors(enc.text, names, templates)
    sims = image_vecs @ text_vecs.T
    scale = float(getattr(enc.text, "logit_scale", 100.0))
    logits = scale * sims
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    k = min(top_k, len(names))
    preds = [
        ZeroShotPrediction(
            str(it.path),
            [(names[j], float(p[j])) for j in np.argsort(-p)[:k]],
            {n: float(s) for n, s in zip(names, srow)},
            ev,
        )
        for it, p, srow, ev in zip(items, probs, sims, evidence)
    ]
    return ZeroShotResult(enc.description, names, preds)
