"""The options of an export, shared by the image and text exporters and the CLI."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from headstart.errors import HeadstartError

FORMATS = ("onnx", "torchscript")
QUANTIZE = ("int8",)


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

    def validate(self) -> None:
        if self.format not in FORMATS:
            raise HeadstartError(f"--format {self.format}: choose one of {', '.join(FORMATS)}")
        if self.quantize is not None and self.quantize not in QUANTIZE:
            raise HeadstartError(f"--quantize {self.quantize}: only int8 is supported")
        if self.quantize and self.format != "onnx":
            raise HeadstartError("--quantize int8 needs --format onnx")
        if self.check_samples < 1 or self.calibration_samples < 1:
            raise HeadstartError("--check-samples and --calibration-samples must be at least 1")


def options_from(**values: Any) -> ExportOptions:
    """``ExportOptions`` from keyword values, ignoring the ones left unset (None)."""
    names = {f.name for f in dataclasses.fields(ExportOptions)}
    return ExportOptions(**{k: v for k, v in values.items() if k in names and v is not None})
