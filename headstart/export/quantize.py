"""int8 models with ONNX Runtime's quantization tools.

Image models: static quantization (weights per channel, activations calibrated on training
images), which turns convolutions into integer kernels. Text models: dynamic quantization of
the matrix multiplications (activation ranges measured per batch at run time), the usual
choice for transformer encoders.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process


class _Batches(CalibrationDataReader):
    """Feeds calibration batches ``{"image": x}`` to the calibrator."""

    def __init__(self, batches: Iterable[np.ndarray]):
        self._it: Iterator[np.ndarray] = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        x = next(self._it, None)
        return None if x is None else {"image": x}


def quantize_image_model(fp32: Path, int8: Path, calibration: Iterable[np.ndarray]) -> Path:
    """Static int8 (QDQ, per-channel weights, min-max activation ranges) from ``fp32``."""
    with _prepared(fp32) as prepared:
        quantize_static(
            str(prepared),
            str(int8),
            _Batches(calibration),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
    return int8


def quantize_text_model(fp32: Path, int8: Path) -> Path:
    """Dynamic int8 weights for the matrix multiplications of a transformer encoder."""
    with _prepared(fp32) as prepared:
        quantize_dynamic(str(prepared), str(int8), weight_type=QuantType.QInt8)
    return int8


@contextlib.contextmanager
def _prepared(fp32: Path) -> Iterator[Path]:
    """The graph after ONNX Runtime's pre-processing (shape inference, fusions), which its
    quantizers expect."""
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
        yield prepared
