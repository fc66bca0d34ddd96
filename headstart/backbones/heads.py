"""Finding and replacing the classifier head of any architecture.

timm models expose ``reset_classifier``; for any other ``nn.Module`` the head is found from
the model itself: the last ``nn.Linear`` registered, wherever it is nested (``fc``,
``classifier[1]``, ``heads.head``...).
"""

from __future__ import annotations

from torch import nn

from headstart.errors import BackboneError


def strip_head(model: nn.Module) -> tuple[nn.Module, int]:
    """Remove the classifier of ``model`` in place; return the model and its feature dim.

    Afterwards ``model(x)`` returns pooled features of shape ``(batch, dim)``.
    """
    reset = getattr(model, "reset_classifier", None)
    if callable(reset) and hasattr(model, "num_features"):
        reset(0)
        return model, int(model.num_features)  # type: ignore[arg-type]
    path, linear = _last_linear(model)
    _set_submodule(model, path, nn.Identity())
    return model, linear.in_features


def _last_linear(model: nn.Module) -> tuple[str, nn.Linear]:
    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise BackboneError(
            f"cannot find a linear classifier head in {type(model).__name__}; "
            "use a timm model or one whose last layer is nn.Linear"
        )
    return linears[-1]


def _set_submodule(model: nn.Module, path: str, new: nn.Module) -> None:
    parent_path, _, leaf = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    if isinstance(parent, nn.Sequential | nn.ModuleList) and leaf.isdigit():
        parent[int(leaf)] = new
    else:
        setattr(parent, leaf, new)


def make_head(
    in_features: int, num_classes: int, hidden: int = 0, dropout: float = 0.0
) -> nn.Module:
    """A new classifier: linear, or an MLP with one hidden layer when ``hidden > 0``."""
    if hidden > 0:
        return nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
    if dropout > 0:
        return nn.Sequential(nn.Dropout(dropout), nn.Linear(in_features, num_classes))
    return nn.Linear(in_features, num_classes)
