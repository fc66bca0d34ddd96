"""The options of an export, shared by the image and text exporters and the CLI."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from headstart import options as opt
from headstart.errors import HeadstartError
from headstart.options import Rule, validate

FORMATS = ("onnx", "torchscript")
QUANTIZE = ("int8",)
# The allowed value of every numeric or choice option of ``ExportOptions``.
EXPORT_RULES: dict[str, Rule] = {
    "format": opt.Choice(FORMATS),
    "quantize": opt.Choice(QUANTIZE, optional=True),
    "which": opt.Choice(("best", "last")),
    "check_samples": opt.POSITIVE_INT,
    "calibration_samples": opt.POSITIVE_INT,
    "min_agreement": opt.Number(low=0, high=1),
    "max_abs_diff": opt.Number(low=0, low_open=True),
    "max_int8_drop": opt.Number(low=0, high=100),  # accuracy points
    "opset": opt.Number(low=7, integer=True),  # the oldest opset torch.onnx writes
    "seed": opt.SEED,
}


@dataclass
class ExportOptions:
    """What ``headstart export`` does; the CLI builds it from its flags."""

    format: str = "onnx"  # onnx | torchscript
    quantize: str | None = None  # int8 (ONNX only)
    out: str | None = None  # default: RUN/export
    which: str = "best"  # best | last checkpoint
    data: str | None = None  # inputs to check on; default: the run's own validation split
    check_samples: int = 1000
    calibration_samples: int = 200
    min_agreement: float = 0.995
    max_abs_diff: float = 1e-3
    max_int8_drop: float = 1.0  # accuracy points
    opset: int = 17
    seed: int = 0
    force: bool = False

    def __post_init__(self) -> None:
        validate(self, EXPORT_RULES)

    def validate(self) -> None:
        validate(self, EXPORT_RULES)
        if self.quantize and self.format != "onnx":
            raise HeadstartError("--quantize int8 needs --format onnx")


def options_from(**values: Any) -> ExportOptions:
    """``ExportOptions`` from keyword values, ignoring the ones left unset (None)."""
    names = {f.name for f in dataclasses.fields(ExportOptions)}
    return ExportOptions(**{k: v for k, v in values.items() if k in names and v is not None})
