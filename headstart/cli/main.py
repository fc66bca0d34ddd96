"""The ``headstart`` command: parses arguments and calls the Python API."""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import warnings
from collections.abc import Sequence

from headstart import __version__
from headstart.cli.common import Parser
from headstart.cli.options import apply_overrides
from headstart.errors import HeadstartError

COMMAND_MODULES = (
    "train",
    "compare",
    "catalog",
    "demo",
    "text",
    "adapt",
    "doctor",
    "embeddings",
    "fewshot",
    "zeroshot",
    "export",
    "serve",
    "runs",
    "lr_find",
)

# The commands that run on many processes under torchrun.
DISTRIBUTED_COMMANDS = ("train", "text train", "adapt")
# What the system refuses for reasons the user can fix (a read-only or full disk, permissions,
# a missing file): one line naming the file. Other OSErrors are bugs and keep their traceback.
USER_ERRNOS = {
    errno.EACCES,
    errno.EPERM,
    errno.EROFS,
    errno.ENOSPC,
    errno.EDQUOT,
    errno.ENOENT,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.ENAMETOOLONG,
}


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = Parser(
        prog="headstart", description="Transfer learning done right, with the evidence."
    )
    parser.add_argument("--version", action="version", version=f"headstart {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"headstart.cli.{name}").register(sub)
    return parser


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(f"headstart: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """``headstart ARGS``: the exit status (2 for a user's mistake, printed as one line)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1") if os.environ.get("HEADSTART_OFFLINE") else None
    warnings.showwarning = _warning_line
    try:
        try:
            args = build_parser().parse_args(argv)
            if hasattr(args, "parse_rest"):  # a command with parsers of its own (fewshot)
                args = args.parse_rest(args)
        except HeadstartError as err:
            print(f"headstart: error: {err}", file=sys.stderr)
            return 2
        code = _run(args)
        sys.stdout.flush()  # a reader that went away (`| head`) shows here, not at exit
        return code
    except BrokenPipeError:
        # The reader has what it wanted: write nothing more, as `yes | head` does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


def _run(args: argparse.Namespace) -> int:
    # torch comes in with the engine: only once a command runs, so that --help is quick.
    from headstart.engine import distributed

    try:
        command = " ".join(filter(None, (args.command, getattr(args, "action", None))))
        apply_overrides(args, command)
        if distributed.launched() and command not in DISTRIBUTED_COMMANDS:
            raise HeadstartError(
                f"headstart {command} runs in one process: start it without torchrun "
                f"(under torchrun: {', '.join(DISTRIBUTED_COMMANDS)})"
            )
        with distributed.main_prints_only():  # under torchrun only rank 0 prints
            return int(args.func(args) or 0)
    except HeadstartError as err:
        print(f"headstart: error{distributed.rank_tag()}: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        if err.errno not in USER_ERRNOS or not err.filename:
            raise
        where = f"{err.filename}" + (f" -> {err.filename2}" if err.filename2 else "")
        print(f"headstart: error{distributed.rank_tag()}: {where}: {err.strerror}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("headstart: interrupted", file=sys.stderr)
        return 130
    finally:
        distributed.cleanup()


if __name__ == "__main__":
    sys.exit(main())
