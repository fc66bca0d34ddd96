"""``headstart export RUN``: an image run -> a checked ONNX (or TorchScript) export folder."""

from __future__ import annotations

import argparse

from headstart.cli.common import add_command
from headstart.export.options import EXPORT_RULES, FORMATS, ExportOptions
from headstart.options import option_type


def add_export_options(p: argparse.ArgumentParser, inputs: str) -> None:
    """The options ``headstart export`` and ``headstart text export`` share."""
    d = ExportOptions()
    p.add_argument("run", help="run directory (or its .safetensors checkpoint)")
    p.add_argument("--format", choices=FORMATS, default=d.format, help="default: onnx")
    p.add_argument(
        "--quantize",
        choices=("int8",),
        help="also write model.int8.onnx and measure its accuracy drop on the check "
        f"{inputs}" + (" (static, calibrated on train images)" if inputs == "images" else ""),
    )
    p.add_argument("--out", help="export folder (default: RUN/export)")
    p.add_argument("--which", choices=("best", "last"), default=d.which)
    p.add_argument(
        "--data",
        help=f"labelled {inputs} to check the export on (default: the run's own data, "
        "validation split)",
    )
    numbers = {
        "check_samples": f"{inputs} the export is checked on",
        "calibration_samples": "train images that calibrate int8 activation ranges",
        "min_agreement": "fail below this top-1 agreement with PyTorch",
        "max_abs_diff": "fail above this logit difference from PyTorch",
        "max_int8_drop": "fail when int8 loses more accuracy points than this",
        "opset": "ONNX opset",
    }
    for name, text in numbers.items():
        default = getattr(d, name)
        p.add_argument(
            "--" + name.replace("_", "-"),
            type=option_type(name, EXPORT_RULES[name]),
            default=default,
            help=f"{text} (default: %(default)s)",
        )
    p.add_argument("--force", action="store_true", help="replace an existing export folder")


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "export", run_export)
    add_export_options(p, "images")


def run_export(args: argparse.Namespace) -> int:
    """export an image run to ONNX (optionally int8) or TorchScript, checked

    Export a trained image run as a self-describing folder: the model, headstart-export.json
    (classes, preprocessing, source run, check figures). The export is checked against
    PyTorch on the run's validation images and not written when the check fails. Text runs:
    headstart text export."""
    from headstart.export.options import options_from
    from headstart.export.run import export_run

    result = export_run(args.run, options_from(**vars(args)))
    print("\n".join(result.lines()))
    return 0
