"""Text classification as a task of the one training loop.

Texts are tokenized once with the model's own tokenizer (truncated to ``max_length``) and
padded per batch (dynamic padding). Epochs where only the head trains (``feature-extraction``,
the first epochs of ``progressive``) use mean-pooled embeddings computed once and cached on
disk; the others run the encoder.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset
from tqdm.std import tqdm  # tqdm.auto (asyncio) calls iter() up front: a second DataLoader iterator

from headstart.engine.loaders import eval_loader, train_loader
from headstart.engine.precision import autocast
from headstart.engine.task import Phase, PlannedTask
from headstart.features.cache import FeatureCache, default_cache_dir
from headstart.io import atomic_path, write_json_atomic
from headstart.strategies import Plan
from headstart.text.model import TextClassifier

Features = list[dict[str, list[int]]]


def tokenize(
    tokenizer: Any, texts: Sequence[str], max_length: int, where: str = "texts", warn: bool = True
) -> Features:
    """Token ids per text, truncated to ``max_length``; warns with the count truncated."""
    longer = tokenizer(list(texts), truncation=True, max_length=max_length + 1)["input_ids"]
    n_cut = sum(len(ids) > max_length for ids in longer)
    if n_cut and warn:
        warnings.warn(
            f"{n_cut} of {len(texts)} {where} are longer than --max-length "
            f"{max_length} tokens and were truncated",
            stacklevel=2,
        )
    enc = tokenizer(list(texts), truncation=True, max_length=max_length)
    # Single-segment inputs: token types are all 0, which every model assumes when absent
    # (and PEFT's prompt methods refuse them).
    keys = [k for k in ("input_ids", "attention_mask") if k in enc]
    return [{k: enc[k][i] for k in keys} for i in range(len(texts))]


class TokenDataset(Dataset):
    """(token ids, label) pairs; ``collate`` pads each batch to its longest text."""

    def __init__(self, features: Features, labels: Sequence[int]):
        self.features = features
        self.labels = list(labels)

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, i: int) -> tuple[dict[str, list[int]], int]:
        return self.features[i], self.labels[i]


class Collate:
    """Dynamic padding with the tokenizer's own pad token and side."""

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer

    def __call__(
        self, batch: list[tuple[dict, int]]
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        padded = self.tokenizer.pad([f for f, _ in batch], return_tensors="pt")
        return dict(padded), torch.tensor([y for _, y in batch], dtype=torch.long)


def length_order(features: Features) -> list[int]:
    """Indices from shortest to longest: batches of similar length pad little."""
    return sorted(range(len(features)), key=lambda i: len(features[i]["input_ids"]))


def token_eval_loader(
    features: Features, labels: Sequence[int], tokenizer: Any, batch_size: int
) -> DataLoader:
    """Evaluation batches, shortest texts first (little padding)."""
    return eval_loader(
        TokenDataset(features, labels),
        batch_size,
        order=length_order(features),
        collate_fn=Collate(tokenizer),
    )


@torch.no_grad()
def embed_texts(
    model: TextClassifier,
    features: Features,
    tokenizer: Any,
    device: torch.device,
    dtype: torch.dtype | None,
    batch_size: int = 64,
    progress: bool = False,
    desc: str = "embeddings",
) -> np.ndarray:
    """Mean-pooled embeddings ``(n, dim)`` in the order of ``features`` (eval mode)."""
    was_training = model.training
    model.eval()
    order = length_order(features)
    out: np.ndarray | None = None
    done = 0
    loader = DataLoader(
        TokenDataset(features, [0] * len(features)),
        batch_size=batch_size,
        sampler=order,
        collate_fn=Collate(tokenizer),
    )
    try:
        for batch, _ in tqdm(loader, desc=desc, leave=False, disable=None if progress else True):
            batch = {k: v.to(device) for k, v in batch.items()}
            with autocast(device, dtype):
                emb = model.embed(batch).float().cpu().numpy()
            if out is None:
                out = np.zeros((len(features), emb.shape[1]), np.float32)
            out[order[done : done + len(emb)]] = emb
            done += len(emb)
    finally:
        model.train(was_training)
    return out if out is not None else np.zeros((0, 0), np.float32)


class EmbeddingCache:
    """Frozen-encoder embeddings on disk, keyed by the weights, precision and token ids.

    The token ids stand for the texts, the tokenizer and ``max_length`` at once: changing
    any of them computes anew. Stored through ``FeatureCache`` (atomic ``.npy`` files).
    """

    def __init__(self, root: str | Path | None = None):
        self.store = FeatureCache(Path(root) if root else default_cache_dir() / "text-features")

    @staticmethod
    def key(weights_id: str, features: Features, dtype: torch.dtype | None) -> str:
        h = hashlib.sha256(f"{weights_id}|{dtype}|mean-pool".encode())
        for f in features:
            h.update(np.asarray(f["input_ids"], np.int64).tobytes() + b"|")
        return h.hexdigest()[:32]

    def embeddings(
        self,
        model: TextClassifier,
        weights_id: str,
        features: Features,
        tokenizer: Any,
        device: torch.device,
        dtype: torch.dtype | None,
        progress: bool = False,
        desc: str = "embeddings",
    ) -> np.ndarray:
        key = self.key(weights_id, features, dtype)
        cached = self.store.get(key)
        if cached is not None and len(cached) == len(features):
            self.store.hits += 1
            return np.array(cached, dtype=np.float32)
        self.store.misses += 1
        emb = embed_texts(model, features, tokenizer, device, dtype, progress=progress, desc=desc)
        target = self.store.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as tmp, open(tmp, "wb") as fh:
            np.save(fh, emb)
        write_json_atomic(
            target.with_suffix(".json"),
            {"weights": weights_id, "dtype": str(dtype), "n": len(features)},
        )
        return emb

    def info(self) -> dict[str, int]:
        return self.store.info()


@dataclass
class TextInputs:
    """What the task trains on: token ids and labels per split, and cached embeddings."""

    train: Features
    val: Features
    train_labels: list[int]
    val_labels: list[int]
    tokenizer: Any
    batch_size: int
    embeddings: Any = None  # callable(split) -> np.ndarray (frozen encoder), or None
    group_by_length: bool = True


@dataclass(eq=False)
class TextClassificationTask(PlannedTask):
    """Phases for the loop: the head on cached embeddings while the encoder is frozen, else
    the whole classifier on token batches."""

    model: TextClassifier
    plan: Plan
    inputs: TextInputs
    weight_decay: float
    criterion: nn.Module

    def uses_cache(self, epoch: int) -> bool:
        return self.inputs.embeddings is not None and self.plan.head_only(epoch)

    def phase(self, epoch: int) -> Phase:
        groups = self.param_groups(epoch)
        inp = self.inputs
        if self.uses_cache(epoch):
            train_ds: Dataset = TensorDataset(
                torch.from_numpy(inp.embeddings("train")), torch.tensor(inp.train_labels)
            )
            val_ds = TensorDataset(
                torch.from_numpy(inp.embeddings("val")), torch.tensor(inp.val_labels)
            )
            train = train_loader(train_ds, inp.batch_size)
            val = eval_loader(val_ds, 256)
            return Phase(
                ("cached-head",), self.model.head, train, val, groups, len(train), sharded=True
            )
        train = train_loader(
            TokenDataset(inp.train, inp.train_labels),
            inp.batch_size,
            sampler=_length_grouped(inp),
            collate_fn=Collate(inp.tokenizer),
        )
        val = token_eval_loader(inp.val, inp.val_labels, inp.tokenizer, max(64, inp.batch_size))
        key = tuple(g["name"] for g in groups)
        order = length_order(inp.val)
        return Phase(key, self.model, train, val, groups, len(train), sharded=True, val_order=order)

    def set_train_mode(self, epoch: int) -> None:
        super().set_train_mode(epoch)
        if self.uses_cache(epoch):  # the encoder is not run while training; keep it in eval mode
            self.model.encoder.eval()


def _length_grouped(inp: TextInputs) -> Any:
    """With ``group_by_length`` each batch holds texts of similar length (the Hugging Face
    Trainer's sampler): far less padding, the same random order of batches. Else None
    (plain shuffling)."""
    if not inp.group_by_length:
        return None
    from transformers.trainer_pt_utils import LengthGroupedSampler

    lengths = [len(f["input_ids"]) for f in inp.train]
    return LengthGroupedSampler(inp.batch_size, lengths=lengths)
