"""The figure checker itself: it accepts what the data says, at the precision shown, and
names a figure the data does not hold."""

from __future__ import annotations

import json

from tests.report.figures import unsourced_figures


def test_figures_are_matched_at_their_precision_and_as_points(tmp_path):
    (tmp_path / "summary.json").write_text(
        json.dumps({"acc": 0.83404, "n": 3383818, "lr": 0.0005, "gap": 0.0123})
    )
    report = tmp_path / "report.md"
    report.write_text(
        "| acc 0.8340 | 3,383,818 params | lr 5.00e-04 |\n"
        "gains 1.2 points over seed0 (see ![plot](curve2.png))\n"
    )
    assert unsourced_figures(report, tmp_path) == []
    report.write_text("acc 0.8350, and 1.5x the wall time\n")
    missing = unsourced_figures(report, tmp_path)
    assert [m.split(" ")[0] for m in missing] == ["0.8350", "1.5"]
