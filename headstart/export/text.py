"""Exporting a text run: the whole ``TextClassifier`` (encoder with any LoRA or IA3 adapter
merged into its weights, mean pooling over real tokens, head) taking ``input_ids`` and
``attention_mask`` with dynamic batch and sequence axes; the tokenizer ships beside it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from headstart.errors import DataError, HeadstartError
from headstart.export.common import INT8_FILE, finish_meta, onnx_runner, run_checks, subset
from headstart.export.common import write_model as write_model_file
from headstart.export.options import ExportOptions
from headstart.export.quantize import quantize_text_model
from headstart.export.runtime import TEXT_TASK, TOKENIZER_DIR, load_tokenizer
from headstart.text.checkpoint import TextCheckpoint
from headstart.text.config import TextConfig
from headstart.text.job import load_data
from headstart.text.model import TextClassifier

MERGEABLE = ("lora", "ia3")  # adapters whose weights fold into the encoder's
INPUTS = ("input_ids", "attention_mask")
BATCH = 32


class TextLogits(nn.Module):
    """``TextClassifier`` called with two tensors instead of a dict, for tracing."""

    def __init__(self, model: TextClassifier):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model({"input_ids": input_ids, "attention_mask": attention_mask})


def plain_classifier(ckpt: TextCheckpoint) -> TextClassifier:
    """The checkpoint's classifier with its adapter merged: a plain encoder and the head."""
    strategy = ckpt.meta.strategy
    model = ckpt.model
    if strategy in MERGEABLE:
        peft_model: Any = model.encoder
        model = TextClassifier(peft_model.merge_and_unload(), model.head)
    elif ckpt.meta.peft:
        raise HeadstartError(
            f"a '{strategy}' run cannot be exported: its virtual tokens are not part of the "
            f"encoder's weights; export runs trained with frozen, full, {' or '.join(MERGEABLE)}"
        )
    return model.float().eval()


def build_text_export(file: Path, opts: ExportOptions, folder: Path) -> dict[str, Any]:
    """Write the model file(s) and tokenizer of the text checkpoint ``file`` into ``folder``,
    check them and return the export's metadata."""
    ckpt = TextCheckpoint.load(file, device="cpu", precision="fp32")
    texts, labels, where = check_texts(ckpt, opts.data)
    tok_meta = save_tokenizer(ckpt, folder / TOKENIZER_DIR)
    module = TextLogits(plain_classifier(ckpt))
    example = ckpt.tokenizer(["an example text", "two"], padding=True, return_tensors="pt")
    dynamic = {k: {0: "batch", 1: "sequence"} for k in INPUTS}
    path, run_fp32 = write_model_file(
        module, tuple(example[k] for k in INPUTS), folder, opts, INPUTS, dynamic
    )
    runners = {"fp32": run_fp32}
    if opts.quantize:
        runners["int8"] = onnx_runner(quantize_text_model(path, folder / INT8_FILE))
    picked = subset(list(zip(texts, labels)), opts.check_samples, opts.seed)
    runtime_tok = load_tokenizer(folder, {"tokenizer": tok_meta})
    batches = _check_batches(picked, ckpt, module, runtime_tok)
    check = {"inputs": "texts", "data": where, **run_checks(batches, runners, opts)}
    meta = {
        "task": TEXT_TASK,
        "classes": list(ckpt.classes),
        "tokenizer": tok_meta,
        "inputs": {k: ["batch", "sequence"] for k in INPUTS},
        "outputs": {"logits": ["batch", len(ckpt.classes)]},
        "check": check,
    }
    source = {
        "model": ckpt.meta.need("model", file, "name"),
        "strategy": ckpt.meta.strategy,
        "epoch": ckpt.meta.epoch,
        "metrics": ckpt.meta.metrics,
    }
    return finish_meta(meta, folder, opts, file, source)


def save_tokenizer(ckpt: TextCheckpoint, folder: Path) -> dict[str, Any]:
    """The run's tokenizer files, and how it truncates and pads (for the runtime)."""
    tok = ckpt.tokenizer
    if not getattr(tok, "is_fast", False):
        raise HeadstartError("export needs a fast (Rust) tokenizer with a tokenizer.json")
    tok.save_pretrained(str(folder))
    return {
        "max_length": int(ckpt.meta.need("max_length", ckpt.path)),
        "padding_side": tok.padding_side,
        "truncation_side": tok.truncation_side,
        "pad_token": tok.pad_token,
        "pad_id": int(tok.pad_token_id),
    }


def check_texts(ckpt: TextCheckpoint, data: str | None) -> tuple[list[str], list[int], str]:
    """Labelled texts to check on: ``data``, else the run's own validation split."""
    cfg = dict(ckpt.meta.config)
    if data:
        cfg.update(data=data, val=None)
    known = set(TextConfig.__dataclass_fields__)
    source = cfg.get("data")
    if not source or not Path(source).is_file():
        raise DataError(
            f"the run's data file {source or '(none recorded)'} is not there; pass --data "
            "FILE with labelled texts of the run's classes to check the export on"
        )
    text_data = load_data(TextConfig(**{k: v for k, v in cfg.items() if k in known}))
    ckpt_classes = list(ckpt.classes)
    if set(text_data.classes) != set(ckpt_classes):
        raise DataError(f"{source} has other classes than the run ({', '.join(ckpt_classes)})")
    labels = [ckpt_classes.index(n) for n in text_data.val_names]
    return text_data.val_texts, labels, f"{source} (val)"


@torch.no_grad()
def _check_batches(
    picked: Sequence[tuple[str, int]], ckpt: TextCheckpoint, module: nn.Module, runtime_tok: Any
) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]]:
    """(PyTorch logits on the transformers tokenizer's ids, the export's feeds from the
    runtime's ``tokenizers`` ids, labels): the check covers tokenization too."""
    max_length = int(ckpt.meta.need("max_length", ckpt.path))
    for i in range(0, len(picked), BATCH):
        texts = [t for t, _ in picked[i : i + BATCH]]
        enc = ckpt.tokenizer(
            texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        )
        reference = module(enc["input_ids"], enc["attention_mask"]).float().numpy()
        ids = runtime_tok.encode_batch(texts)
        feeds = {
            "input_ids": np.asarray([e.ids for e in ids], np.int64),
            "attention_mask": np.asarray([e.attention_mask for e in ids], np.int64),
        }
        yield reference, feeds, np.array([y for _, y in picked[i : i + BATCH]])
