"""Checkpoints: one safetensors file holding the tensors and, in its header, the metadata.

A single file written atomically means a checkpoint is always whole: an interrupted write
leaves the previous one intact. A readable ``.json`` copy of the metadata sits beside it.
Loading reads only tensors and JSON, so it never executes pickled code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from headstart.errors import CheckpointError
from headstart.io import write_atomic, write_json_atomic

FORMAT = "headstart-checkpoint/1"
MODEL = "model."
OPTIM = "optim."


def save_checkpoint(
    path: str | Path,
    model_state: dict[str, torch.Tensor],
    meta: dict[str, Any],
    optimizer_state: dict[str, dict[str, torch.Tensor]] | None = None,
) -> Path:
    """Write ``path`` (``.safetensors``) and ``path.json`` atomically.

    ``optimizer_state`` maps a parameter name to its optimizer tensors (e.g. AdamW's
    ``exp_avg``); keying by name lets a resumed or rebuilt optimizer find its state.
    """
    path = Path(path)
    tensors = {MODEL + k: v.detach().cpu().contiguous() for k, v in model_state.items()}
    for pname, state in (optimizer_state or {}).items():
        for key, value in state.items():
            tensors[f"{OPTIM}{pname}::{key}"] = value.detach().cpu().contiguous().reshape(-1)
    meta = {"format": FORMAT, **meta}
    header = {"headstart": json.dumps(meta, default=str)}
    write_atomic(path, lambda tmp: save_file(_dedupe(tensors), str(tmp), metadata=header))
    write_json_atomic(path.with_suffix(".json"), meta)
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


def read_meta(path: str | Path) -> dict[str, Any]:
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
    meta: dict[str, Any] = json.loads(header["headstart"])
    return meta


def read_tensors(path: str | Path, prefix: str = MODEL) -> dict[str, torch.Tensor]:
    path = _existing(path)
    with safe_open(str(path), framework="pt") as fh:
        return {k[len(prefix) :]: fh.get_tensor(k) for k in fh.keys() if k.startswith(prefix)}  # noqa: SIM118


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


def _existing(path: str | Path) -> Path:
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint not found: {p}")
    return p
