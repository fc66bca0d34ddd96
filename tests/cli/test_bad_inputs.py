"""Bad inputs the sweep (benchmarks/bad_inputs.py) found crashing, now one line each."""

from __future__ import annotations

import pytest

from tests.cli.helpers import run_main
from tests.conftest import make_folder


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["train", "{d}", "--config", "{tmp}/c.yaml"], "is not UTF-8 text"),
        (["embed", "{d}", "--backbone", "pixels:0"], "use pixels or pixels:SIZE"),
        (
            ["zeroshot", "{img}", "--labels", "a,b", "--template", "{{}} and {{}}"],
            "put one {} where the label goes",
        ),
        (
            ["zeroshot", "{img}", "--labels", "a,b", "--template", "{{name}}"],
            "put one {} where the label goes",
        ),
        (["zeroshot", "{tmp}/missing.png", "--labels", "a,b"], "missing.png"),
    ],
)
def test_found_by_the_sweep(argv, expected, tmp_path, monkeypatch, capsys):
    data = make_folder(tmp_path / "d", 1, 1)
    (tmp_path / "c.yaml").write_bytes(b"\xff\xfe\x00garbage")
    monkeypatch.chdir(tmp_path)
    values = {"d": data, "tmp": tmp_path, "img": data / "val" / "red" / "0.png"}
    code, err = run_main([a.format(**values) for a in argv], capsys)
    assert code == 2 and err.count("\n") == 1 and expected in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "d"]
