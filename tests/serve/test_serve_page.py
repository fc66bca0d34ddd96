"""The web page in headless Chromium: an image picked in the page is uploaded by the page's
own code and its classes appear as bars (tiny random model: plumbing, never accuracy)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from headstart.serve.app import create_app
from headstart.serve.backends import load_backend
from tests.deploy_helpers import png_bytes
from tests.report.browser import ink
from tests.serve.live import serving, upload_in_browser

HOSTILE = "<img src=x onerror=document.title=1>.png"  # browsers escape '"' in file names


def test_page_uploads_an_image_and_draws_the_api_answer_as_bars(
    image_export: Path, tmp_path: Path
) -> None:
    image = png_bytes(colour=(40, 50, 210))
    app = create_app(load_backend(image_export))
    answer = (
        TestClient(app)
        .post("/predict", files=[("file", ("x.png", image, "image/png"))])
        .json()["predictions"][0]["top"]
    )
    shot = tmp_path / "page.png"
    with serving(app, image, HOSTILE) as base:
        seen = upload_in_browser(base, shot)
    assert seen["status"] == ""  # no error shown
    assert [r["label"] for r in seen["rows"]] == [t["class"] for t in answer]
    assert [r["prob"] for r in seen["rows"]] == [f"{100 * t['prob']:.1f}%" for t in answer]
    widths = [float(r["width"].rstrip("%")) for r in seen["rows"]]
    assert widths == [round(100 * t["prob"], 1) for t in answer]  # bars as long as the probs
    # The hostile file name is shown as text, never run as HTML.
    assert seen["names"] == [HOSTILE] and seen["title"] == "headstart serve"
    assert seen["images"] == 1  # the preview only
    assert ink(shot) > 0.01  # the screenshot shows the page, not a blank window
