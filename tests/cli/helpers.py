"""Running the command line in this process, as ``headstart ARGS`` would."""

from __future__ import annotations

import pytest

from headstart.cli.main import main


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Exit status and standard error of ``headstart *argv``."""
    try:
        code = main(argv)
    except SystemExit as stop:  # --help and --version exit through argparse
        code = int(stop.code or 0)
    return code, capsys.readouterr().err
