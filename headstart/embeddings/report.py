"""A self-contained ``report.html`` for an embeddings folder: what was embedded, maps, probe."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from headstart.embeddings.store import EmbeddingSet
from headstart.io import write_text_atomic


def write_report(embeddings: str | Path | EmbeddingSet) -> Path:
    """(Re)write ``report.html`` from the folder's meta, ``map-*.png`` and ``probe.json``."""
    emb = embeddings if isinstance(embeddings, EmbeddingSet) else EmbeddingSet.load(embeddings)
    root = emb.root
    enc = emb.meta.get("encoder", {})
    parts = [
        "<!doctype html><meta charset='utf-8'><title>headstart embeddings</title>",
        "<style>body{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}"
        "td,th{padding:2px 10px;text-align:left}img{max-width:100%}</style>",
        f"<h1>Embeddings: {html.escape(root.name)}</h1>",
        "<table>",
        _row("encoder", enc.get("description", "?")),
        _row("vectors", f"{emb.meta['n']} x {emb.meta['dim']}"),
        _row("classes", ", ".join(emb.classes) or "unlabelled"),
        _row("inputs", ", ".join(emb.meta.get("inputs", []))),
        "</table>",
    ]
    probe_path = root / "probe.json"
    if probe_path.is_file():
        res = json.loads(probe_path.read_text(encoding="utf-8"))
        parts += [
            "<h2>Probe</h2><table>",
            _row("held out", f"{res['holdout']} ({res['n_train']} / {res['n_test']})"),
            _row("linear probe accuracy", f"{res['linear_acc']:.4f}"),
            _row(f"kNN accuracy (k={res['k']})", f"{res['knn_acc']:.4f}"),
            _row("k-means purity / NMI", f"{res['kmeans_purity']:.4f} / {res['kmeans_nmi']:.4f}"),
            "</table>",
        ]
    for png in sorted(root.glob("map-*.png")):
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        parts.append(f"<h2>{html.escape(png.stem)}</h2><img src='data:image/png;base64,{data}'>")
    return write_text_atomic(root / "report.html", "\n".join(parts) + "\n")


def _row(key: str, value: str) -> str:
    return f"<tr><th>{html.escape(key)}</th><td>{html.escape(str(value))}</td></tr>"
