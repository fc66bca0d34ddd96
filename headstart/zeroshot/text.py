"""Sentence embeddings (mean-pooled transformer, L2-normalised) for labels and text queries.

The default is the packaged all-MiniLM-L6-v2 (``minilm``, offline); any Hugging Face encoder
name or folder works. Vectors of a list of texts are cached on disk, keyed by the model's
weights and the texts: ConSE's 1,000 ImageNet class prompts are embedded once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from headstart.backbones import fingerprint
from headstart.features.cache import default_cache_dir
from headstart.io import atomic_path
from headstart.text.model import MINILM, load_pretrained, mean_pool, resolve_model


class SentenceEncoder:
    """``encode_text(texts) -> (n, dim)`` unit vectors; ``name`` says which model."""

    def __init__(self, model: str = MINILM, max_length: int = 64):
        self.source = resolve_model(model)
        self.name = "all-MiniLM-L6-v2" if model == MINILM else model
        self.tokenizer, self.model = load_pretrained(self.source)
        self.model.eval()
        self.max_length = max_length
        self.weights_id = fingerprint(self.model)

    @torch.no_grad()
    def _encode(self, texts: Sequence[str], batch_size: int = 128) -> np.ndarray:
        out = []
        for start in range(0, len(texts), batch_size):
            batch = self.tokenizer(
                list(texts[start : start + batch_size]),
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            )
            hidden = self.model(**batch).last_hidden_state
            out.append(F.normalize(mean_pool(hidden, batch["attention_mask"]), dim=1))
        return torch.cat(out).numpy().astype(np.float32)

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts``, from the disk cache when this exact list was seen."""
        digest = hashlib.sha256(self.weights_id.encode())
        for t in texts:
            digest.update(t.encode() + b"\x00")
        path = default_cache_dir() / "text" / f"{digest.hexdigest()[:32]}.npy"
        if path.is_file():
            try:
                cached = np.load(path)
                if cached.shape[0] == len(texts):
                    return cached
            except (ValueError, OSError):
                pass
        vectors = self._encode(list(texts))
        if len(texts) >= 100:  # worth a file: e.g. the ImageNet class prompts
            with atomic_path(path) as tmp, open(tmp, "wb") as fh:
                np.save(fh, vectors)
        return vectors
