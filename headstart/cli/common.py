"""The CLI's parser (one-line errors, help that states each default once), its commands, the
config built from the arguments, and JSON output. How commands declare their options:
``cli/options.py``."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import re
from collections.abc import Callable
from typing import Any, NoReturn

from headstart.config import load_config
from headstart.errors import HeadstartError, OptionError


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
    any other option given is refused (a resumed run keeps its own settings; values of
    ``HEADSTART_OVERRIDES`` other than those two are left out)."""
    ignored = {"resume", "func", "command", "action", "data", "config", "overridden"}
    ignored |= set(getattr(args, "overridden", ())) - {"epochs", "progress"}
    given = {k: v for k, v in vars(args).items() if k not in ignored and v is not None}
    out: dict[str, Any] = {k: given.pop(k) for k in ("epochs", "progress") if k in given}
    if given:
        flags = ", ".join("--" + k.replace("_", "-") for k in sorted(given))
        raise HeadstartError(f"--resume continues a run with its own settings; drop {flags}")
    return out
