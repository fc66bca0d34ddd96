"""Checkpoints: one safetensors file holding the tensors and, in its header, the metadata.

A single file written atomically means a checkpoint is always whole: an interrupted write
leaves the previous one intact. A readable ``.json`` copy of the metadata sits beside it.
Loading reads only tensors and JSON, so it never executes pickled code.

The metadata is one typed record, ``CheckpointMeta``, for every task: what every writer
stores and every reader checks (a damaged or edited header is a one-line error naming the
file and what is wrong, never a ``KeyError``).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from headstart.engine.precision import PRECISIONS
from headstart.errors import CheckpointError
from headstart.io import write_atomic, write_json_atomic

FORMAT = "headstart-checkpoint/1"
MODEL = "model."
OPTIM = "optim."
EXTRA = "extra."  # tensors a run needs besides the model's (e.g. a DANN discriminator)


_TYPES: dict[str, tuple[type, ...]] = {
    "classes": (list,),
    "epoch": (int,),
    "backbone": (dict, type(None)),
    "model": (dict, type(None)),
    "head": (dict,),
    "strategy": (str,),
    "plan": (dict,),
    "peft": (dict, type(None)),
    "max_length": (int, type(None)),
    "precision": (str,),
    "metrics": (dict,),
    "best": (dict,),
    "history": (list,),
    "config": (dict,),
    "versions": (dict,),
}


@dataclass
class CheckpointMeta:
    """What a checkpoint says about itself: the task, the class map in order, how to rebuild
    the model (``backbone`` + ``head`` for image models, ``model`` + ``peft`` for text), the
    plan, the precision it trained and validated with, and where the run stood."""

    task: str  # image-classification | text-classification | fewshot-protonet | fewshot-siamese
    classes: list[str] = field(default_factory=list)
    epoch: int = 0  # epochs completed when this checkpoint was written
    backbone: dict[str, Any] | None = None  # name, weights_source, num_features, data_config
    model: dict[str, Any] | None = None  # text encoder: name, source, fingerprint
    head: dict[str, Any] = field(default_factory=dict)
    strategy: str = ""
    plan: dict[str, Any] = field(default_factory=dict)
    peft: dict[str, Any] | None = None  # a PEFT adapter's config
    max_length: int | None = None  # text: tokens per text
    precision: str = "fp32"  # what the run trained and validated with
    metrics: dict[str, Any] = field(default_factory=dict)  # this epoch's row of metrics.csv
    best: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # task-specific, stored at top level
    format: str = FORMAT

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return {"format": self.format, **out, **self.extra}

    @classmethod
    def from_dict(cls, d: Any, where: str | Path = "checkpoint") -> CheckpointMeta:
        """Check the type of every known entry; unknown keys go to ``extra``."""
        if not isinstance(d, dict):
            raise CheckpointError(
                f"{where}: its metadata is not a JSON object; the file is damaged"
            )
        if not isinstance(d.get("task"), str):
            raise CheckpointError(
                f"{where}: its metadata has no 'task'; the file is damaged or was edited"
            )
        for key, kinds in _TYPES.items():
            if key in d and not isinstance(d[key], kinds):
                raise CheckpointError(
                    f"{where}: its metadata entry '{key}' is a {type(d[key]).__name__}, not a "
                    f"{' or '.join(k.__name__ for k in kinds)}; the file is damaged or was edited"
                )
        if not all(isinstance(c, str) for c in d.get("classes", [])):
            raise CheckpointError(
                f"{where}: its 'classes' are not all names; the file is damaged or was edited"
            )
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {k: v for k, v in d.items() if k in names}
        return cls(**known, extra={k: v for k, v in d.items() if k not in names})

    def precision_for(self, requested: str) -> str:
        """``requested``, or for ``auto`` the precision the run trained and validated with
        (so evaluating a checkpoint reproduces the run's validation accuracy)."""
        return self.precision if requested == "auto" and self.precision in PRECISIONS else requested

    def image_data_config(self, where: str | Path) -> dict[str, Any]:
        """The preprocessing config an image model's weights expect (``backbone.data_config``)."""
        cfg = dict(self.need("backbone", where, "data_config"))
        if "input_size" not in cfg:
            raise CheckpointError(f"{where}: its metadata has no input size; the file is damaged")
        cfg["input_size"] = tuple(cfg["input_size"])
        return cfg

    def need(self, key: str, where: str | Path, *inner: str) -> Any:
        """``self.key[inner...]``, or a one-line error naming the file and the missing entry."""
        value: Any = getattr(self, key, None) if hasattr(self, key) else self.extra.get(key)
        path = key
        for k in inner:
            value = value.get(k) if isinstance(value, dict) else None
            path += f".{k}"
        if value is None:
            raise CheckpointError(
                f"{where}: its metadata has no '{path}'; the file is damaged or was edited"
            )
        return value


def save_checkpoint(
    path: str | Path,
    model_state: dict[str, torch.Tensor],
    meta: CheckpointMeta,
    optimizer_state: dict[str, dict[str, torch.Tensor]] | None = None,
    extra: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write ``path`` (``.safetensors``) and ``path.json`` atomically.

    ``optimizer_state`` maps a parameter name to its optimizer tensors (e.g. AdamW's
    ``exp_avg``); keying by name lets a resumed or rebuilt optimizer find its state.
    ``extra`` tensors are stored apart from the model's (``read_tensors(path, EXTRA)``).
    """
    path = Path(path)
    tensors = {MODEL + k: v.detach().cpu().contiguous() for k, v in model_state.items()}
    tensors.update({EXTRA + k: v.detach().cpu().contiguous() for k, v in (extra or {}).items()})
    for pname, state in (optimizer_state or {}).items():
        for key, value in state.items():
            tensors[f"{OPTIM}{pname}::{key}"] = value.detach().cpu().contiguous().reshape(-1)
    record = meta.to_dict()
    header = {"headstart": json.dumps(record, default=str)}
    write_atomic(path, lambda tmp: save_file(_dedupe(tensors), str(tmp), metadata=header))
    write_json_atomic(path.with_suffix(".json"), record)
    return path


def _dedupe(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # safetensors refuses tensors that share memory (tied weights): store copies.
    seen: set[int] = set()
    out = {}
    for k, v in tensors.items():
        ptr = v.data_ptr()
        out[k] = v.clone() if ptr in seen and v.numel() else v
        seen.add(ptr)
    return out


def read_meta(path: str | Path) -> CheckpointMeta:
    """The checked metadata of a checkpoint file."""
    path = _existing(path)
    try:
        with safe_open(str(path), framework="pt") as fh:
            header = fh.metadata() or {}
    except Exception as err:  # noqa: BLE001
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({type(err).__name__})"
        ) from None
    if "headstart" not in header:
        raise CheckpointError(f"{path} is a safetensors file but not a headstart checkpoint")
    try:
        raw = json.loads(header["headstart"])
    except json.JSONDecodeError as err:
        raise CheckpointError(
            f"{path}: its metadata is not valid JSON ({err.msg}); the file is damaged or was edited"
        ) from None
    return CheckpointMeta.from_dict(raw, path)


def read_tensors(path: str | Path, prefix: str = MODEL) -> dict[str, torch.Tensor]:
    path = _existing(path)
    with safe_open(str(path), framework="pt") as fh:
        return {k[len(prefix) :]: fh.get_tensor(k) for k in fh.keys() if k.startswith(prefix)}  # noqa: SIM118


def load_strict(model: torch.nn.Module, path: Path, what: str) -> None:
    """The model tensors of ``path`` into ``model``, every one and nothing else; a mismatch is a
    one-line error (``what``: the architecture the metadata declares)."""
    try:
        model.load_state_dict(read_tensors(path), strict=True)
    except RuntimeError:
        raise CheckpointError(
            f"{path} does not match its declared architecture ({what}); the file is damaged "
            "or was edited"
        ) from None


def read_optimizer_state(path: str | Path) -> dict[str, dict[str, torch.Tensor]]:
    state: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in read_tensors(path, OPTIM).items():
        pname, _, skey = key.rpartition("::")
        state.setdefault(pname, {})[skey] = value
    return state


def resolve_checkpoint(path: str | Path, which: str = "best") -> Path:
    """A run directory, a ``checkpoints/`` folder or a file -> the checkpoint file."""
    p = Path(path)
    for candidate in (
        p,
        p / "checkpoints" / f"{which}.safetensors",
        p / f"{which}.safetensors",
        p.with_suffix(".safetensors"),
    ):
        if candidate.is_file() and candidate.suffix == ".safetensors":
            return candidate
    raise CheckpointError(
        f"no checkpoint at {p}; pass a run directory (runs/train/NAME) or a .safetensors file"
    )


def find_checkpoint(path: str | Path) -> Path:
    """A run directory or file -> its checkpoint (``best``, else ``last``)."""
    try:
        return resolve_checkpoint(path, "best")
    except CheckpointError:
        return resolve_checkpoint(path, "last")


def _existing(path: str | Path) -> Path:
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint not found: {p}")
    return p
