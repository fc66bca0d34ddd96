"""Sentence embeddings (mean-pooled transformer, L2-normalised) for labels and text queries.

The default is the packaged all-MiniLM-L6-v2 (``minilm``, offline); any Hugging Face encoder
name or folder works. Every text's vector is kept on disk per text encoder
(``TextVectorCache``): ConSE's 1,000 ImageNet class descriptions are embedded once, a changed
label list embeds only its new labels, and when every text is known the model is not even
loaded.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from headstart.backbones import fingerprint
from headstart.io import atomic_path, default_cache_dir
from headstart.text.model import MINILM, load_pretrained, mean_pool, resolve_model

POOLING = "mean-pool, L2"  # part of every vector's identity, with the model and max length


class TextVectorCache:
    """Unit vectors of texts by one text encoder, in one file (``CACHE/text/<encoder>.npz``,
    written atomically; read without unpickling). A damaged file is ignored and rewritten."""

    def __init__(self, encoder_id: str, root: Path | None = None):
        self.path = (root or default_cache_dir() / "text") / f"{encoder_id}.npz"

    def load(self) -> dict[str, np.ndarray]:
        try:
            with np.load(self.path, allow_pickle=False) as f:
                texts, vectors = f["texts"], f["vectors"]
        except (OSError, ValueError, KeyError, EOFError):
            return {}
        if len(texts) != len(vectors):
            return {}
        return dict(zip(texts.tolist(), vectors))

    def add(self, new: dict[str, np.ndarray]) -> None:
        """Store ``new`` with what the file holds now (another process may have added some)."""
        known = {**self.load(), **new}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.path) as tmp, open(tmp, "wb") as fh:
            np.savez(
                fh,
                texts=np.array(list(known), dtype=np.str_),
                vectors=np.stack(list(known.values())).astype(np.float32),
            )


def folder_identity(folder: Path) -> str:
    """A digest of every file's relative path, size and modification time under ``folder``:
    the identity of a local model (weights, config and tokenizer) without reading it."""
    digest = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        st = f.stat()
        digest.update(f"{f.relative_to(folder)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


class SentenceEncoder:
    """``encode_text(texts) -> (n, dim)`` unit vectors; ``name`` says which model. The model
    is loaded on first need: not at all when every text's vector is cached."""

    def __init__(self, model: str = MINILM, max_length: int = 64):
        self.source = resolve_model(model)
        self.name = "all-MiniLM-L6-v2" if model == MINILM else model
        self.max_length = max_length
        folder = Path(self.source)
        # a local folder is known by its files; a hub name by the weights it loads
        self.weights_id = folder_identity(folder) if folder.is_dir() else fingerprint(self.model)
        key = f"{self.source}|{self.weights_id}|{max_length}|{POOLING}"
        self.cache = TextVectorCache(hashlib.sha256(key.encode()).hexdigest()[:32])

    @functools.cached_property
    def _loaded(self) -> tuple[Any, torch.nn.Module]:
        tokenizer, model = load_pretrained(self.source)
        return tokenizer, model.eval()

    @property
    def model(self) -> torch.nn.Module:
        return self._loaded[1]

    @torch.inference_mode()
    def _encode(self, texts: Sequence[str], batch_size: int = 128) -> np.ndarray:
        """Vectors of ``texts`` in order; batches of similar lengths, so little padding."""
        tokenizer, model = self._loaded
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), 0), np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            batch = tokenizer(
                [texts[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            )
            hidden = model(**batch).last_hidden_state
            vec = F.normalize(mean_pool(hidden, batch["attention_mask"]), dim=1).numpy()
            if out.shape[1] == 0:
                out = np.empty((len(texts), vec.shape[1]), np.float32)
            out[rows] = vec
        return out

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts``: those seen before from the disk cache, the rest
        computed (and added to it)."""
        known = self.cache.load()
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            new = dict(zip(missing, self._encode(missing)))
            self.cache.add(new)
            known.update(new)
        return np.stack([known[t] for t in texts]).astype(np.float32)
