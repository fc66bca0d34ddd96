"""Shared CLI helpers: options built from config dataclasses, and one-line errors."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from headstart.config import load_config
from headstart.errors import HeadstartError, OptionError
from headstart.options import ListOf, Rule, option_type


class HelpFormatter(argparse.HelpFormatter):
    """Each option's help states its default once: added unless the text already says it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (
            "default" in text.lower()
            or action.default in (None, argparse.SUPPRESS)
            or not action.option_strings
            or action.nargs == 0  # flags: off unless given
        ):
            return text
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """argparse with headstart's error line: one line naming the option, no usage block
    (``main`` prints it and exits with status 2), and help that states each default once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        # "argument --epochs: --epochs 0: must be ..." -> "--epochs 0: must be ..."
        m = re.match(r"argument (\S+?)(?:/\S+)?: (.*)", message, re.S)
        if m and m.group(2).startswith(m.group(1)):  # a rule's line names option and value
            line = m.group(2)
        else:
            line = f"{m.group(1)}: {m.group(2)}" if m else message
            line += f" (see: {self.prog} --help)"
        raise OptionError(" ".join(line.split()))


def add_command(
    sub: argparse._SubParsersAction,
    name: str,
    run: Callable[[argparse.Namespace], int],
    **kwargs: Any,
) -> argparse.ArgumentParser:
    """The subcommand ``name``, which calls ``run(args)`` and is documented by ``run``'s
    docstring: its first paragraph is the command's line in ``headstart --help``, the rest what
    ``headstart NAME --help`` says of it (argparse rewraps both). ``kwargs`` go to
    ``add_parser`` (a ``help`` or ``description`` there replaces the docstring's)."""
    summary, _, details = inspect.cleandoc(run.__doc__ or "").partition("\n\n")
    kwargs.setdefault("help", summary)
    kwargs.setdefault("description", details or None)
    parser = sub.add_parser(name, **kwargs)
    parser.set_defaults(func=run)
    return parser


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
    out: dict[str, Any] = {k: given.pop(k) for k in ("epochs", "progress") if k in given}
    if given:
        flags = ", ".join("--" + k.replace("_", "-") for k in sorted(given))
        raise HeadstartError(f"--resume continues a run with its own settings; drop {flags}")
    return out


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
