"""The command line as a program: --version, quick --help, JSON listings that survive a closed
pipe, --config in flag spellings, and help that states every default once."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import subprocess
import sys

import pytest

from headstart import __version__
from headstart.adaptation.config import AdaptConfig
from headstart.cli.common import HelpFormatter
from headstart.cli.main import main
from headstart.config import TrainConfig
from headstart.fewshot.train import FewShotConfig
from headstart.text.config import TextConfig
from tests.cli.helpers import run_main
from tests.cli.test_options import _parsers
from tests.conftest import make_folder

HEAVY = ("torch", "timm", "transformers", "peft", "sklearn", "matplotlib", "PIL", "numpy")
# `fewshot train` builds its options from FewShotConfig, which lives with the training code in
# fewshot/train.py (torch); every other command answers --help without loading torch.
LOADS_TORCH = {"fewshot train"}


def test_version_line(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out == f"headstart {__version__}\n"


def test_help_of_every_command_loads_no_heavy_library():
    """--help builds every parser without torch & co: what keeps it well under 2 s (measured
    0.2-0.35 s per command on a busy 2-core machine, against 9-14 s before)."""
    commands = [c for c in _parsers() if c not in LOADS_TORCH]
    code = (
        "import sys, contextlib, io\n"
        "from headstart.cli.main import main\n"
        f"for c in {commands!r}:\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        try: main([*c.split(), '--help'])\n"
        "        except SystemExit: pass\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout


@pytest.mark.parametrize("argv", [["backbones", "--json"], ["datasets", "list", "--json"]])
def test_listings_as_json(argv, capsys):
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all({"name"} <= set(r) for r in rows)
    if argv[0] == "backbones":
        lite0 = next(r for r in rows if r["name"] == "tf_efficientnet_lite0")
        assert lite0["offline"] is True
    else:
        assert {r["kind"] for r in rows} == {"image", "text"}


@pytest.mark.parametrize("argv", [["backbones", "--json"], ["--help"], ["train", "--help"]])
def test_a_reader_that_goes_away_is_no_traceback(argv):
    """`headstart backbones --json | head -1`: the pipe closes before headstart writes."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "headstart", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.close()  # the reader is gone
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) in (0, 141), err
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_config_file_takes_flag_spellings(tmp_path, capsys):
    data = make_folder(tmp_path / "d", 2, 1)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "batch-size: 8\nepochs: 1\nbackbone: test_efficientnet\nweights: random\n"
        f"strategy: feature-extraction\nprecision: fp32\nno-such-option: 1\nout: {tmp_path}\n"
    )
    code, err = run_main(["train", str(data), "--config", str(cfg)], capsys)
    assert code == 2 and "unknown option(s) no_such_option" in err, err  # still checked
    cfg.write_text(cfg.read_text().replace("no-such-option: 1\n", "") + "progress: false\n")
    assert main(["train", str(data), "--config", str(cfg), "--name", "c"]) == 0
    assert "batch_size: 8" in (tmp_path / "train" / "c" / "config.yaml").read_text()


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    formatter = HelpFormatter(parser.prog)
    return formatter._expand_help(action) if action.help else ""


CONFIGS = {
    "train": TrainConfig,
    "compare": TrainConfig,
    "doctor": TrainConfig,
    "lr-find": TrainConfig,
    "text train": TextConfig,
    "text compare": TextConfig,
    "text recommend": TextConfig,
    "adapt": AdaptConfig,
    "fewshot train": FewShotConfig,
}


def _default(command: str, action: argparse.Action) -> object:
    """What an option defaults to: argparse's default, or its config field's (config options
    keep argparse's default SUPPRESSed so that a --config file is not overridden)."""
    if action.default is not argparse.SUPPRESS:
        return action.default
    fields = {f.name: f for f in dataclasses.fields(CONFIGS[command])}
    f = fields[action.dest]
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


def test_every_option_states_its_default_once():
    """It said "(default: DATA-STRATEGY) (default: None)" and "default 3e-3 (default: None)";
    options off unless given (flags, --config, a None default) may leave it unsaid."""
    missing, twice = [], []
    for command, parser in _parsers().items():
        for action in parser._actions:
            if not action.option_strings or action.help in (None, argparse.SUPPRESS):
                continue
            if isinstance(action, argparse._HelpAction | argparse._VersionAction):
                continue
            n = len(re.findall(r"\bdefault\b", _help(parser, action), re.I))
            flag = f"{command} {action.option_strings[0]}"
            if n > 1:
                twice.append(flag)
            elif n == 0 and action.nargs != 0 and _default(command, action) is not None:
                missing.append(flag)
    assert twice == [] and missing == [], (twice, missing)
