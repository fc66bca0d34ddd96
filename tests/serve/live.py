"""A real server on a free loopback port, and a page driven in headless Chromium: an image
is put into the page's file input as a person picking it would, and the page's own code
uploads it and draws the bars."""

from __future__ import annotations

import contextlib
import html
import json
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response

from headstart.serve.page import PAGE
from tests.report.browser import FLAGS, chromium

# Picks the test image, as the file dialog would, once the page has read /info; then waits
# for the bars (or an error) and records what a person sees.
PICK = """
<script>
async function pick() {
  while (document.getElementById("image-input").hidden) await new Promise(r => setTimeout(r, 50));
  const blob = await (await fetch("/_image")).blob();
  const dt = new DataTransfer();
  dt.items.add(new File([blob], %s, { type: "image/png" }));
  const input = document.getElementById("file");
  input.files = dt.files;
  input.dispatchEvent(new Event("change"));
  for (let i = 0; i < 400 && !document.querySelector(".row") && !document.querySelector(".error"); i++)
    await new Promise(r => setTimeout(r, 50));
  const out = {
    rows: [...document.querySelectorAll(".row")].map(r => ({
      label: r.querySelector(".label").textContent,
      width: r.querySelector(".bar").style.width,
      prob: r.querySelector(".prob").textContent })),
    names: [...document.querySelectorAll(".bars > .muted")].map(e => e.textContent),
    images: document.querySelectorAll("img").length,
    status: document.getElementById("status").textContent,
    title: document.title,
  };
  document.body.setAttribute("data-check", JSON.stringify(out));
}
pick();
</script>
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(app: FastAPI, image: bytes, filename: str) -> Iterator[str]:
    """Run ``app`` (with a page that picks ``image``) on 127.0.0.1; yield its base URL."""
    page = PAGE.replace("</body>", PICK % json.dumps(filename) + "</body>")
    app.add_api_route("/_pick", lambda: HTMLResponse(page))
    app.add_api_route("/_image", lambda: Response(image, media_type="image/png"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def upload_in_browser(base: str, screenshot: Path | None = None) -> dict:
    """Open the picking page in headless Chromium; return what it shows."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [chromium(), *FLAGS, f"--user-data-dir={tmp}/profile"]
        cmd = [c for c in cmd if not c.startswith("--virtual-time-budget")]
        dom = subprocess.run(
            [*cmd, "--virtual-time-budget=30000", "--dump-dom", f"{base}/_pick"],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
        if screenshot is not None:
            subprocess.run(
                [
                    *cmd,
                    "--virtual-time-budget=30000",
                    "--window-size=900,700",
                    f"--screenshot={screenshot}",
                    f"{base}/_pick",
                ],
                capture_output=True,
                timeout=120,
            )
    marker = 'data-check="'
    assert marker in dom, dom[-2000:]
    start = dom.index(marker) + len(marker)
    return json.loads(html.unescape(dom[start : dom.index('"', start)]))
