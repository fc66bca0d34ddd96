"""How commands declare their options: the options many share (``SHARED_OPTIONS``), the help
every training command words alike (``RUN_HELP``), options from config dataclasses and options
checked by rules as they are parsed; and ``HEADSTART_OVERRIDES``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from headstart.errors import HeadstartError
from headstart.options import ListOf, Rule, option_type

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


# Options many commands share, in their usual wording: ``add_shared`` adds them by name.
SHARED_OPTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "config": ("--config", {"help": "YAML file of options; flags override it"}),
    "resume": (
        "--resume",
        {
            "metavar": "RUN_DIR",
            "help": "continue the run in RUN_DIR from its last checkpoint (with --epochs N: "
            "extend a finished run to N epochs)",
        },
    ),
    "json": ("--json", {"action": "store_true", "help": "print JSON"}),
    "which": ("--which", {"default": "best", "choices": ("best", "last")}),
    "precision": (
        "--precision",
        {
            "default": "auto",
            "choices": ("auto", "bf16", "fp16", "fp32"),
            "help": "auto: the precision the run trained and validated with (default: auto)",
        },
    ),
    "device": (
        "--device",
        {"default": "auto", "help": "auto | cpu | cuda | cuda:N (default: auto)"},
    ),
}


def add_shared(parser: argparse.ArgumentParser, *names: str, **helps: str) -> None:
    """Add the shared options ``names`` (keys of ``SHARED_OPTIONS``) in that order;
    ``helps[name]`` replaces an option's usual help text, e.g.
    ``add_shared(parser, "config", "resume", resume="continue the run in RUN_DIR")``."""
    for name in names:
        flag, kwargs = SHARED_OPTIONS[name]
        parser.add_argument(flag, **{**kwargs, **({"help": helps[name]} if name in helps else {})})


def add_checkpoint_options(parser: argparse.ArgumentParser) -> None:
    """``--which``, ``--precision``, ``--device`` and ``--json`` of commands that run a trained
    model from a run directory."""
    add_shared(parser, "which", "precision", "device", "json")


def add_dataclass_options(
    parser: argparse.ArgumentParser,
    cls: type,
    helps: dict[str, str],
    skip: tuple[str, ...] = (),
    rules: Mapping[str, Rule] | None = None,
) -> None:
    """One ``--option`` per documented field of ``cls``; unset options stay out of the namespace
    so that ``--config`` values are only overridden by flags actually given. A field with a
    rule in ``rules`` is checked as the flag is parsed."""
    rules = rules or {}
    for f in dataclasses.fields(cls):
        if f.name in skip or f.name not in helps:
            continue
        flag = "--" + f.name.replace("_", "-")
        help_text = helps[f.name]
        default = _default(f)
        if default is not None and "default" not in help_text.lower():
            help_text += f" (default: {default})"
        kind = str(f.type)
        if kind == "bool":
            parser.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=help_text,
            )
        elif "list" in kind:
            rule = rules.get(f.name)
            parser.add_argument(
                flag,
                type=option_type(f.name, rule)
                if isinstance(rule, ListOf)
                else lambda s: [c for c in s.split(",") if c],
                default=argparse.SUPPRESS,
                help=help_text + "; comma-separated",
            )
        else:
            typ: Callable[[str], Any] = (
                int if kind.startswith("int") else float if kind.startswith("float") else str
            )
            if f.name in rules:
                typ = option_type(f.name, rules[f.name])
            parser.add_argument(
                flag, type=typ, default=argparse.SUPPRESS, help=help_text, metavar=f.name.upper()
            )


def add_checked(parser: argparse.ArgumentParser, flag: str, rule: Rule, **kwargs: Any) -> None:
    """An option whose value is checked by ``rule`` as it is parsed (one line if it fails)."""
    parser.add_argument(flag, type=option_type(flag.lstrip("-").replace("-", "_"), rule), **kwargs)


def _default(f: dataclasses.Field) -> Any:
    """A field's default as help shows it (lists comma-separated, as the flag takes them)."""
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
        return ",".join(map(str, value)) if isinstance(value, list) else value
    return None


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
