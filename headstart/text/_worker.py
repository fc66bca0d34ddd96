"""One strategy of ``headstart text compare`` in a process of its own.

``python -m headstart.text._worker CONFIG.json RESULT.json``: trains the run described by
CONFIG.json (a ``TextConfig``) into the folder holding it and writes the measured
``StrategyResult`` to RESULT.json.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import warnings
from pathlib import Path

from headstart.cli.main import _warning_line
from headstart.errors import HeadstartError
from headstart.io import write_json_atomic
from headstart.text.compare import run_strategy
from headstart.text.config import TextConfig


def main(argv: list[str]) -> int:
    warnings.showwarning = _warning_line  # one line per warning, as in the CLI
    cfg_file, out_file = Path(argv[0]), Path(argv[1])
    cfg = TextConfig(**json.loads(cfg_file.read_text(encoding="utf-8")))
    try:
        result = run_strategy(cfg, cfg_file.parent)
    except HeadstartError as err:
        print(f"headstart: error: {err}", file=sys.stderr)
        return 2
    write_json_atomic(out_file, dataclasses.asdict(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
