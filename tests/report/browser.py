"""Render a report in headless Chromium, as a person opening it would see it."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

PROBE = """
<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const out = {
    images: imgs.length,
    images_rendered: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
    headings: [...document.querySelectorAll('h2')].map(h => h.textContent),
    table_rows: [...document.querySelectorAll('table')].map(t => t.rows.length),
    first_table: [...(document.querySelector('table')?.rows || [])].map(r => [...r.cells].map(c => c.textContent)),
    winner_rows: document.querySelectorAll('tr.win').length,
    height: document.body.scrollHeight,
  };
  document.body.setAttribute('data-check', JSON.stringify(out));
});
</script>
"""

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=5000",
]


def chromium() -> str:
    exe = (
        shutil.which("chromium")
        or shutil.which("chromium-browser")
        or shutil.which("google-chrome")
    )
    assert exe, "Chromium is needed to test reports: `apt-get install chromium` (make test does it)"
    return exe


def render(report: Path, screenshot: Path) -> dict:
    """What the browser rendered (image and table counts, headings) and a full-page screenshot."""
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "page.html"
        page.write_text(report.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"))
        base = [chromium(), *FLAGS, f"--user-data-dir={tmp}/profile"]
        dom = subprocess.run(
            [*base, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
        ).stdout
        marker = 'data-check="'
        start = dom.index(marker) + len(marker)
        raw = dom[start : dom.index('"', start)]
        import html

        check = json.loads(html.unescape(raw))
        subprocess.run(
            [*base, "--window-size=1200,3000", f"--screenshot={screenshot}", page.as_uri()],
            capture_output=True,
            timeout=120,
            check=True,
        )
    return check


def ink(png: Path) -> float:
    """Share of the screenshot's pixels that differ from the page background (0: blank page)."""
    import numpy as np
    from PIL import Image

    arr = np.asarray(Image.open(png).convert("RGB")).astype(int)
    background = arr[5, 5]
    return float((np.abs(arr - background).sum(axis=2) > 30).mean())


def dom(page: Path) -> str:
    """The page's DOM after its scripts (if any) ran, as Chromium serializes it."""
    with tempfile.TemporaryDirectory() as tmp:
        base = [chromium(), *FLAGS, f"--user-data-dir={tmp}/profile"]
        return subprocess.run(
            [*base, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
        ).stdout
