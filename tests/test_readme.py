"""The README runs: every code block a user would paste is executed here, in README order, on
small data in a scratch folder.

- ``bash`` blocks: each ``headstart ...`` command (lines joined at ``\\``, comments dropped,
  ``&&`` split) runs through the CLI and must exit 0; other lines (``python benchmarks/...``,
  ``make``) are left to their own checks. Sizes are made small by ``HEADSTART_OVERRIDES``
  (``SMALL`` below), the documented override of every command's options, not by editing the
  commands.
- ``python`` blocks run as written.
- A block after ``<!-- readme-test: skip (why) -->`` is not run; after
  ``<!-- readme-test: skip-lines PATTERN (why) -->`` its lines holding PATTERN are not.
- The files the commands name (``shoe.png``, ``photos/``, ``support/``, ...) are made here from
  the exported images and scikit-image's sample photos.

Long (the packaged weights, every command): marked slow, run by ``make test``.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest

from headstart.cli.main import main

README = Path(__file__).resolve().parents[1] / "README.md"

# HEADSTART_OVERRIDES for the test: the smallest sizes that still exercise every path.
SMALL = {
    "epochs": 1,
    "train_per_class": 6,
    "val_per_class": 3,
    "datasets export:train": 60,
    "datasets export:val": 30,
    "seeds": "0",
    "episodes": 5,
    "eval_episodes": 5,
    "val_episodes": 2,
    "steps": 2,
    "map_points": 60,
    "text compare:strategies": ["feature-extraction", "lora"],
    "text compare:in_process": True,
}

MARK = re.compile(r"<!-- readme-test: (skip|skip-lines) (.*?) -->")


def blocks() -> list[tuple[int, str, str, str]]:
    """(line, language, code, marker) of every fenced block of the README."""
    text = README.read_text(encoding="utf-8")
    out, marker = [], ""
    for m in re.finditer(r"(<!-- readme-test: .*? -->)|```(\w+)\n(.*?)```", text, re.S):
        if m.group(1):
            marker = m.group(1)
            continue
        out.append((text[: m.start()].count("\n") + 1, m.group(2), m.group(3), marker))
        marker = ""
    return out


def commands(code: str, marker: str) -> list[str]:
    """The ``headstart`` commands of a bash block."""
    skip = MARK.match(marker)
    pattern = skip.group(2).split(" ")[0] if skip and skip.group(1) == "skip-lines" else None
    joined = re.sub(r"\\\n\s*", " ", code)
    out = []
    for line in joined.splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if not line or line.startswith("#") or (pattern and pattern in line):
            continue
        out += [part.strip() for part in line.split("&&") if part.strip().startswith("headstart")]
    return out


def _photos(folder: Path) -> None:
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    from PIL import Image

    for name in ("chelsea", "coffee", "rocket"):
        Image.fromarray(getattr(data, name)()).save(folder / f"{name}.png")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, monkeypatch_module):
    """A scratch folder with the files the README's commands name."""
    root = tmp_path_factory.mktemp("readme")
    monkeypatch_module.chdir(root)
    monkeypatch_module.setenv("HEADSTART_OVERRIDES", json.dumps(SMALL))
    assert main(["datasets", "export", "fashion-mnist", "fixture"]) == 0
    val = sorted((root / "fixture/val").rglob("*.png"))
    shutil.copy(next(p for p in val if p.parent.name == "sneaker"), root / "shoe.png")
    for i, p in enumerate(val[:2], 1):
        shutil.copy(p, root / f"query{i}.png")
    shutil.copy(val[0], root / "a.png")
    shutil.copy(val[1], root / "b.png")
    for cls in ("sneaker", "bag", "trouser"):
        (root / "support" / cls).mkdir(parents=True)
        for p in sorted((root / "fixture/train" / cls).glob("*.png"))[:3]:
            shutil.copy(p, root / "support" / cls / p.name)
    _photos(root / "photos")
    _photos(root / "new_photos")
    (root / "more.txt").write_text("a tender, funny film\nthe plot never moves\n")
    return root


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


CASES = [(line, lang, code, marker) for line, lang, code, marker in blocks()]


def test_every_block_is_bash_or_python():
    assert CASES and {lang for _, lang, _, _ in CASES} <= {"bash", "python"}


@pytest.mark.slow
@pytest.mark.xdist_group("readme")
@pytest.mark.parametrize("line,lang,code,marker", CASES, ids=[f"line{c[0]}" for c in CASES])
def test_readme_block_runs(workspace, line, lang, code, marker, capsys):
    if MARK.match(marker) and MARK.match(marker).group(1) == "skip":
        pytest.skip(marker)
    if lang == "python":
        exec(compile(code, f"README.md:{line}", "exec"), {})  # noqa: S102 - our own document
        return
    for cmd in commands(code, marker):
        argv = shlex.split(cmd)[1:]
        status = main(argv)
        assert status == 0, (
            f"README.md:{line}: `{cmd}` exited {status}\n{capsys.readouterr().err[-2000:]}"
        )
