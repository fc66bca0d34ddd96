"""Option help shared by the commands that train (``RUN_HELP``), and ``HEADSTART_OVERRIDES``."""

from __future__ import annotations

import argparse
import json
import os

from headstart.errors import HeadstartError

# The options every training command words alike; a command's own help dict adds the rest and
# may reword one (``{**RUN_HELP, "epochs": "epochs per model", ...}``). A field its config lacks
# is skipped.
RUN_HELP = {
    "weights": "pretrained, random, or a local .safetensors/.pth file",
    "epochs": "training epochs",
    "clip_grad": "clip the global gradient norm to this value (default: off)",
    "seed": "random seed",
    "out": "folder for run directories",
    "name": "run name (default: DATA-STRATEGY)",
    "device": "auto | cpu | cuda | cuda:N",
    "progress": "show progress bars",
    "tensorboard": "write TensorBoard events to RUN/tensorboard (tensorboard --logdir runs)",
    "track": "also log the run to: mlflow (./mlruns, or MLFLOW_TRACKING_URI)",
}


def apply_overrides(args: argparse.Namespace, command: str) -> None:
    """``HEADSTART_OVERRIDES``: a JSON object of option values that replace the options of
    every command, e.g. ``{"epochs": 1, "train_per_class": 4, "datasets export:val": 20}``
    (a ``COMMAND:`` prefix limits one to that command). It runs documented commands at a small
    size without editing them: the README's test does this."""
    raw = os.environ.get("HEADSTART_OVERRIDES")
    if not raw:
        return
    try:
        values = json.loads(raw)
    except json.JSONDecodeError:
        values = None
    if not isinstance(values, dict):
        raise HeadstartError('HEADSTART_OVERRIDES must be a JSON object, e.g. {"epochs": 1}')
    for key, value in values.items():
        scope, _, name = key.rpartition(":")
        if not scope or scope == command:
            setattr(args, name.replace("-", "_"), value)
