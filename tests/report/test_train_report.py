"""The training report, rendered in a real browser (headless Chromium).

Plumbing with a tiny randomly initialised model: the figures in it are not accuracy claims.
"""

from __future__ import annotations

import pytest

from headstart.classify.fit import fit
from tests.conftest import tiny_config
from tests.report.browser import ink, render
from tests.report.figures import assert_figures_have_sources


@pytest.mark.xdist_group("browser")
def test_train_report_renders_every_section(tiny_data, tmp_path):
    run = fit(tiny_data, tiny_config(strategy="progressive", epochs=2, out=str(tmp_path))).run_dir
    check = render(run / "report.html", tmp_path / "shot.png")
    for heading in (
        "Plan",
        "Data",
        "Curves",
        "Confusion matrix",
        "Per class",
        "Most confidently wrong validation images",
        "Learning rate per parameter group",
        "Metrics per epoch",
        "Environment",
    ):
        assert heading in check["headings"], heading
    assert check["images"] >= 4 and check["images_rendered"] == check["images"]
    assert 4 in check["table_rows"]  # per-class table: header + 3 classes
    assert ink(tmp_path / "shot.png") > 0.02
    assert (run / "report.md").read_text().startswith("# headstart run")
    assert_figures_have_sources(run / "report.md")
