"""Option help shared by the commands that train (each config has these fields), and
``HEADSTART_OVERRIDES``."""

from __future__ import annotations

import argparse
import json
import os

from headstart.errors import HeadstartError

TRACKING_HELP = {
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
    overridden = []
    for key, value in values.items():
        scope, _, name = key.rpartition(":")
        if not scope or scope == command:
            setattr(args, name.replace("-", "_"), value)
            overridden.append(name.replace("-", "_"))
    args.overridden = tuple(overridden)  # what --resume leaves to the run's own settings
