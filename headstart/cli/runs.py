"""``headstart runs``: every run as a table; ``headstart runs show RUN``: one run."""

from __future__ import annotations

import argparse

from headstart.cli.common import add_command, print_json
from headstart.cli.options import add_shared

SORT_HELP = (
    "column to sort by: task, name, data, model, strategy, epochs, best_val_acc, last_val_acc, "
    "wall_s, date, path (default: date, newest first; numbers highest first)"
)


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "runs", run_runs)
    p.add_argument(
        "args",
        nargs="*",
        metavar="DIR | show RUN",
        help="the folder of runs (default: runs), or `show` and a run directory",
    )
    add_shared(p, "json")
    p.add_argument("--sort", default="date", metavar="KEY", help=SORT_HELP)
    p.add_argument("--ascending", action="store_true", help="sort lowest (oldest) first")


def run_runs(args: argparse.Namespace) -> int:
    """list every run (task, data, model, strategy, epochs, accuracy, wall time, date)

    List every run under DIR (default: runs), or `headstart runs show RUN` for one run's plan,
    metrics per epoch and files."""
    from headstart.errors import HeadstartError
    from headstart.runs import find_runs, format_show, format_table, show_run, sort_rows

    words = list(args.args)
    if words and words[0] == "show":
        if len(words) != 2:
            raise HeadstartError("runs show takes one run directory: headstart runs show RUN")
        info = show_run(words[1])
        print_json(info) if args.json else print(format_show(info))
        return 0
    if len(words) > 1:
        raise HeadstartError("runs takes one folder: headstart runs [DIR] (or runs show RUN)")
    rows = sort_rows(
        find_runs(words[0] if words else "runs"), args.sort, False if args.ascending else None
    )
    if args.json:
        print_json([r.to_dict() for r in rows])
    else:
        print(format_table(rows))
    return 0
