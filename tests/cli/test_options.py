"""Every numeric or choice option of every command refuses bad values before any work starts:
exit status 2, one line naming the option, the value and what is allowed, no traceback, no
run folder. The table is read from the parsers themselves, so a new option is covered (and an
option without a rule fails ``test_every_numeric_option_has_a_rule``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from headstart.cli import fewshot as fewshot_cli
from headstart.cli.main import build_parser
from headstart.options import Choice, Custom, ListOf, Number, OptionType, Pattern, Rule
from tests.cli.helpers import run_main

POSITIONALS = {  # arguments that make each command otherwise complete
    "train": ["d"],
    "evaluate": ["run", "d"],
    "predict": ["run", "x.png"],
    "compare": ["d"],
    "recommend": ["d"],
    "doctor": ["d"],
    "embed": ["d"],
    "map": ["emb"],
    "index": ["emb"],
    "search": ["idx"],
    "probe": ["emb"],
    "zeroshot": ["x.png", "--labels", "a,b"],
    "text train": ["t.csv"],
    "text compare": ["t.csv"],
    "text predict": ["run", "a text"],
    "datasets export": ["digits", "out"],
    "fewshot": ["support", "x.png"],
    "fewshot eval": ["d"],
    "fewshot train": ["d"],
    "export": ["run"],
    "text export": ["run"],
    "serve": ["export"],
}


def _parsers() -> dict[str, argparse.ArgumentParser]:
    """Every command's parser by its name (``text train``), fewshot's own three included."""
    found: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        for action in subs:
            for name, sub in action.choices.items():
                walk(sub, f"{prefix} {name}".strip())
        if not subs:
            found[prefix] = parser

    walk(build_parser(), "")
    found["fewshot"] = fewshot_cli._classify_parser()
    found["fewshot eval"] = fewshot_cli._eval_parser()
    found["fewshot train"] = fewshot_cli._train_parser()
    return found


def bad_values(rule: Rule) -> list[str]:
    """0, a negative value, a value above the range and a wrong type, where each is bad."""
    if isinstance(rule, ListOf):
        return [f"1,{v}" if isinstance(rule.item, Number) else v for v in bad_values(rule.item)]
    if isinstance(rule, Choice | Pattern):
        return ["bogus", "0"]
    if isinstance(rule, Custom):
        return ["bogus", "partial:0", "-1"]
    out = [v for v in ("0", "-1", "-2") if not rule.allows(float(v))][:2]
    if rule.high is not None:
        out.append(str(int(rule.high) + 1) if rule.integer else f"{rule.high + 0.5:g}")
    return [*out, "abc", "1.5" if rule.integer else "1e400x"]


CASES = [
    pytest.param(
        command,
        action.option_strings[0],
        value,
        action.type.rule,
        id=f"{command} {action.dest} {value}",
    )
    for command, parser in _parsers().items()
    for action in parser._actions
    if isinstance(action.type, OptionType)
    for value in bad_values(action.type.rule)
]


def test_the_table_covers_every_command():
    commands = {c.values[0] for c in CASES}
    assert len(CASES) >= 400, len(CASES)
    assert set(POSITIONALS) <= commands | {"evaluate"}


def test_every_numeric_option_has_a_rule():
    """No ``type=int``/``float`` flag is left unchecked."""
    for command, parser in _parsers().items():
        for action in parser._actions:
            assert action.type not in (int, float), f"{command} {action.option_strings}"


@pytest.mark.parametrize("command, option, value, rule", CASES)
def test_bad_option_is_one_line(command, option, value, rule, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = [*command.split(), *POSITIONALS.get(command, []), f"{option}={value}"]
    code, err = run_main(argv, capsys)
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("headstart: error: "), err
    if isinstance(rule, Custom) and option == "--strategy":  # the strategy parser's own line
        assert f"--strategy '{value}'" in err, err
    else:
        assert f"{option} {value}: must be " in err, err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == [], "something was written"


YAML_CASES = [
    ("train", "d", "epochs: 0", "--epochs 0: must be an integer >= 1"),
    ("train", "d", "batch-size: -3", "--batch-size -3: must be an integer >= 1"),
    ("train", "d", "label_smoothing: 2", "--label-smoothing 2: must be a number >= 0 and < 1"),
    ("train", "d", "strategy: partial:0", "--strategy 'partial:0': N is the number"),
    ("compare", "d", "lr: -1", "--lr -1: must be a number > 0 and <= 1"),
    ("doctor", "d", "dropout: 1.5", "--dropout 1.5: must be a number >= 0 and < 1"),
    ("text train", "t.csv", "max_length: 0", "--max-length 0: must be an integer >= 1"),
    ("fewshot train", "d", "ways: 1", "--ways 1: must be an integer >= 2"),
    ("adapt", None, "seeds: [a]", "--seeds a: must be a comma-separated list"),
    ("train", "d", "epochs: five", "--epochs 'five': must be an integer >= 1"),
]


@pytest.mark.parametrize("command, data, line, expected", YAML_CASES)
def test_bad_config_file_value_is_one_line(command, data, line, expected, tmp_path, capsys):
    """``--config`` values meet the same rules as flags, before anything is created."""
    from tests.conftest import make_folder

    make_folder(tmp_path / "d", 1, 1)
    (tmp_path / "t.csv").write_text("text,label\na,x\nb,y\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"{line}\nout: {tmp_path / 'runs'}\n")
    argv = [*command.split(), *([str(tmp_path / data)] if data else []), "--config", str(cfg)]
    if command == "adapt":
        argv += ["--source", str(tmp_path / "d"), "--target", str(tmp_path / "d")]
    code, err = run_main(argv, capsys)
    assert code == 2 and err.count("\n") == 1 and expected in err, err
    assert not (tmp_path / "runs").exists()


def test_python_api_refuses_the_same_values(tmp_path):
    from headstart.adaptation.config import AdaptConfig
    from headstart.classify.fit import fit
    from headstart.compare import compare
    from headstart.config import TrainConfig
    from headstart.errors import OptionError
    from headstart.fewshot.train import FewShotConfig
    from headstart.text.config import TextConfig
    from tests.conftest import make_folder

    data = make_folder(tmp_path / "d", 1, 1)
    with pytest.raises(OptionError, match=r"--epochs 0: must be an integer >= 1"):
        TrainConfig(epochs=0)
    with pytest.raises(OptionError, match=r"--lora-r 0: must be an integer >= 1"):
        TextConfig(lora_r=0)
    for bad in (
        lambda: AdaptConfig(gamma=0),
        lambda: FewShotConfig(margin=3),
        lambda: fit(data, epochs=0, out=str(tmp_path / "runs")),
        lambda: compare(data, ["partial:0"], out=str(tmp_path / "runs")),
        lambda: compare(data, ["full"], seeds=[-1], out=str(tmp_path / "runs")),
        lambda: compare(data, ["full"], budget=-1, out=str(tmp_path / "runs")),
    ):
        with pytest.raises(OptionError):
            bad()
    assert not (tmp_path / "runs").exists()


def test_partial_above_the_backbone_groups_names_the_count(tmp_path, monkeypatch, capsys):
    """``partial:99`` can only be checked once the backbone is known: still before the run."""
    from tests.conftest import make_folder

    data = make_folder(tmp_path / "d", 2, 1)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "runs"
    for command in ("train", "doctor"):
        argv = [command, str(data), "--backbone", "test_efficientnet", "--weights", "random"]
        code, err = run_main([*argv, "--strategy", "partial:99"], capsys)
        assert code == 2 and err.count("\n") == 1, err
        assert "--strategy partial:99: this model has 6 layer groups" in err
    argv = ["compare", str(data), "--backbone", "test_efficientnet", "--weights", "random"]
    code, err = run_main([*argv, "--strategies", "full,progressive:7", "--out", str(out)], capsys)
    assert code == 2 and "progressive:7: this model has 6 layer groups" in err, err
    assert not out.exists()


def test_a_bad_option_from_a_shell(tmp_path):
    """As a user runs it: a fresh process, exit 2, one line, nothing written."""
    r = subprocess.run(
        [sys.executable, "-m", "headstart", "train", "d", "--batch-size", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert r.returncode == 2
    assert r.stderr == "headstart: error: --batch-size 0: must be an integer >= 1\n"
    assert not Path(tmp_path / "runs").exists()
