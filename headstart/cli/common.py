"""Shared CLI helpers: options built from config dataclasses, and one-line errors."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from headstart.config import load_config
from headstart.errors import HeadstartError


def add_dataclass_options(
    parser: argparse.ArgumentParser, cls: type, helps: dict[str, str], skip: tuple[str, ...] = ()
) -> None:
    """One ``--option`` per documented field of ``cls``; unset options stay out of the namespace
    so that ``--config`` values are only overridden by flags actually given."""
    for f in dataclasses.fields(cls):
        if f.name in skip or f.name not in helps:
            continue
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else None
        help_text = f"{helps[f.name]} (default: {default})"
        kind = str(f.type)
        if kind == "bool":
            parser.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=help_text,
            )
        elif "list" in kind:
            parser.add_argument(
                flag,
                type=lambda s: [c for c in s.split(",") if c],
                default=argparse.SUPPRESS,
                help=help_text + "; comma-separated",
            )
        else:
            typ = int if kind.startswith("int") else float if kind.startswith("float") else str
            parser.add_argument(
                flag, type=typ, default=argparse.SUPPRESS, help=help_text, metavar=f.name.upper()
            )


def build_config(cls: type, args: argparse.Namespace, **fixed: Any) -> Any:
    """Dataclass defaults < ``--config`` YAML < flags given on the command line."""
    values: dict[str, Any] = {}
    if getattr(args, "config", None):
        values.update(load_config(args.config, cls))
    names = {f.name for f in dataclasses.fields(cls)}
    values.update({k: v for k, v in vars(args).items() if k in names and v is not None})
    values.update(fixed)
    return cls(**values)


def print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2))


def resume_options(args: argparse.Namespace) -> dict[str, Any]:
    """What ``--resume`` may change: ``--epochs`` (to extend a finished run) and progress bars;
    any other option given is refused (a resumed run keeps its own settings)."""
    given = {
        k: v
        for k, v in vars(args).items()
        if k not in ("resume", "func", "command", "action", "data", "config") and v is not None
    }
    out = {k: given.pop(k) for k in ("epochs", "progress") if k in given}
    if given:
        flags = ", ".join("--" + k.replace("_", "-") for k in sorted(given))
        raise HeadstartError(f"--resume continues a run with its own settings; drop {flags}")
    return out


def add_inference_options(parser: argparse.ArgumentParser) -> None:
    """``--precision`` and ``--device`` of commands that run a trained model."""
    parser.add_argument(
        "--precision",
        default="auto",
        choices=("auto", "bf16", "fp16", "fp32"),
        help="auto: the precision the run trained and validated with (default: auto)",
    )
    parser.add_argument(
        "--device", default="auto", help="auto | cpu | cuda | cuda:N (default: auto)"
    )
