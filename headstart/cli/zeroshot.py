"""``headstart zeroshot``: label images with candidate labels, no training."""

from __future__ import annotations

import argparse

from headstart.cli.common import add_command, print_json
from headstart.cli.options import add_checked, add_shared
from headstart.options import DEVICE, POSITIVE_INT, PRECISION


def register(sub: argparse._SubParsersAction) -> None:
    z = add_command(sub, "zeroshot", run_zeroshot)
    z.add_argument("images", nargs="+", help="image files or folders")
    z.add_argument("--labels", required=True, help='comma-separated, e.g. "cat,cup of coffee"')
    z.add_argument(
        "--model",
        default="conse",
        help="conse, conse:BACKBONE[+BACKBONE...] (e.g. conse:tf_efficientnet_lite0, faster), "
        "or clip:NAME_OR_DIR (default conse)",
    )
    z.add_argument(
        "--template",
        action="append",
        dest="templates",
        metavar="TEXT",
        help='prompt template with {} for the label, e.g. "a photo of a {}"; '
        "repeat to ensemble (default: the model's own)",
    )
    add_checked(z, "--top-k", POSITIVE_INT, default=3, help="labels per image")
    add_checked(z, "--device", DEVICE, default="auto", help=DEVICE.describe())
    add_checked(z, "--precision", PRECISION, default="auto", help=PRECISION.describe())
    add_shared(z, "json")


def run_zeroshot(args: argparse.Namespace) -> int:
    """label images with any candidate labels (ConSE offline, or CLIP)

    Zero-shot labels. Default: ConSE (Norouzi et al. 2014) on the mean of the packaged
    EfficientNet-Lite0, -Lite1 and -Lite2 ImageNet classifiers and all-MiniLM-L6-v2, offline;
    it can only express what ImageNet's classes cover, and shows the ImageNet classes behind
    each answer. --model clip:NAME_OR_DIR uses a Hugging Face CLIP model with prompt
    ensembling."""
    from headstart.errors import HeadstartError
    from headstart.zeroshot import zeroshot

    if not (args.model == "conse" or args.model.startswith(("conse:", "clip:"))):
        raise HeadstartError(
            f"--model '{args.model}': use conse, conse:BACKBONE or clip:NAME_OR_DIR"
        )
    res = zeroshot(
        args.images,
        args.labels,
        args.model,
        args.templates,
        args.top_k,
        args.device,
        args.precision,
    )
    if args.json:
        print_json(
            {
                "method": res.method,
                "labels": res.labels,
                "predictions": [p.to_dict() for p in res.predictions],
            }
        )
        return 0
    print(f"zero-shot with {res.method}")
    for p in res.predictions:
        line = f"{p.path}: " + ", ".join(f"{c} {prob:.3f}" for c, prob in p.top)
        if p.evidence:
            line += "  (ImageNet: " + ", ".join(f"{c} {q:.2f}" for c, q in p.evidence) + ")"
        print(line)
    return 0
