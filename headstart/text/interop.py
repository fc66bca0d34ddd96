"""A text adapter run as PEFT saves it: ``RUN/peft/``.

``adapter_config.json`` + ``adapter_model.safetensors`` from PEFT's own ``save_pretrained`` (the
``best`` checkpoint's adapter; ``base_model_name_or_path`` names the encoder it adapts), the
tokenizer files, and the new head beside them (``head.safetensors``, a linear layer on the
mean-pooled token vectors; ``head.json`` says the classes, the pooling and the max length):

>>> base = AutoModel.from_pretrained(BASE)                     # the encoder of the run
>>> encoder = PeftModel.from_pretrained(base, "runs/text/NAME/peft")
>>> logits = head(mean_pool(encoder(**tokens).last_hidden_state, tokens["attention_mask"]))
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

from headstart.io import write_json_atomic
from headstart.text.model import TextClassifier

PEFT_DIR = "peft"


def export_peft(
    run_dir: Path,
    model: TextClassifier,
    tokenizer: Any,
    tensors: dict[str, torch.Tensor],
    classes: tuple[str, ...],
    max_length: int,
) -> Path | None:
    """Write ``run_dir/peft/`` with the adapter and head of ``tensors`` (a checkpoint's); the
    model keeps its own weights. ``None`` for a model without a PEFT adapter."""
    if not hasattr(model.encoder, "peft_config"):
        return None
    current = {n: p.detach().clone() for n, p in model.named_parameters() if n in tensors}
    tmp = run_dir / f".{PEFT_DIR}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.load_state_dict(tensors, strict=False)
        encoder: Any = model.encoder  # a PEFT model: save_pretrained writes the adapter
        encoder.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        save_file(_linear_state(model.head), str(tmp / "head.safetensors"))
        write_json_atomic(
            tmp / "head.json",
            {"classes": list(classes), "pooling": "mean", "max_length": max_length,
             "head": "the linear layer of head.safetensors, on the mean of the token vectors"},
        )  # fmt: skip
    finally:
        model.load_state_dict(current, strict=False)
    folder = run_dir / PEFT_DIR
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(tmp, folder)  # the whole folder appears at once
    return folder


def _linear_state(head: nn.Module) -> dict[str, torch.Tensor]:
    """The head's linear layer as ``weight`` and ``bias`` (its dropout does nothing at
    inference), loadable into a plain ``nn.Linear``."""
    (linear,) = [m for m in head.modules() if isinstance(m, nn.Linear)]
    return {k: v.detach().cpu().contiguous() for k, v in linear.state_dict().items()}
