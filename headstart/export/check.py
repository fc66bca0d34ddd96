"""The parity check made right after an export: exported logits against PyTorch's on the
same real inputs, and the accuracy of an int8 model against the fp32 one."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from headstart.errors import HeadstartError


class ExportCheckFailed(HeadstartError):
    """The exported model does not compute what the trained one does."""


@dataclass(frozen=True)
class Parity:
    """How far exported logits are from the reference ones on ``n`` inputs."""

    n: int
    max_abs_diff: float
    agreement: float  # share of inputs whose top-1 class is the same
    accuracy_reference: float | None = None  # on labelled inputs
    accuracy: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self, name: str) -> str:
        acc = (
            f"; accuracy {self.accuracy_reference:.4f} -> {self.accuracy:.4f}"
            if self.accuracy is not None and self.accuracy_reference is not None
            else ""
        )
        return (
            f"{name}: top-1 agreement {self.agreement:.2%} on {self.n} inputs, "
            f"max |logit diff| {self.max_abs_diff:.2e}{acc}"
        )


def parity(reference: np.ndarray, exported: np.ndarray, labels: np.ndarray | None) -> Parity:
    """Compare two ``(n, classes)`` logit arrays computed on the same inputs."""
    if reference.shape != exported.shape or not len(reference):
        raise ExportCheckFailed(
            f"the exported model returned logits of shape {exported.shape}, "
            f"expected {reference.shape}"
        )
    ref_top, exp_top = reference.argmax(1), exported.argmax(1)
    acc_ref = acc = None
    if labels is not None and len(labels) == len(reference):
        acc_ref, acc = float((ref_top == labels).mean()), float((exp_top == labels).mean())
    return Parity(
        n=len(reference),
        max_abs_diff=float(np.abs(reference - exported).max()),
        agreement=float((ref_top == exp_top).mean()),
        accuracy_reference=acc_ref,
        accuracy=acc,
    )


def require_parity(p: Parity, min_agreement: float, max_abs_diff: float) -> None:
    """Refuse an export whose logits drift from PyTorch's or whose classes disagree."""
    if p.agreement < min_agreement or not p.max_abs_diff <= max_abs_diff:
        raise ExportCheckFailed(
            f"export check failed: {p.line('exported vs PyTorch')} (required: agreement >= "
            f"{min_agreement:.2%}, max diff <= {max_abs_diff:g}); nothing was written"
        )


def accuracy_drop(p: Parity) -> float:
    """Accuracy points lost by a quantized model against the fp32 one (negative: gained)."""
    if p.accuracy is None or p.accuracy_reference is None:
        return 0.0
    return 100.0 * (p.accuracy_reference - p.accuracy)


def require_drop(p: Parity, max_drop: float) -> None:
    drop = accuracy_drop(p)
    if drop > max_drop:
        raise ExportCheckFailed(
            f"int8 check failed: accuracy drops {drop:.2f} points "
            f"({p.accuracy_reference:.4f} -> {p.accuracy:.4f}), over --max-int8-drop "
            f"{max_drop:g}; export without --quantize, or accept the drop with a higher "
            "--max-int8-drop"
        )
