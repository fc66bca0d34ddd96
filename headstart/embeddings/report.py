"""A self-contained ``report.html`` for an embeddings folder: what was embedded, maps, probe."""

from __future__ import annotations

import json
from pathlib import Path

from headstart.embeddings.store import EmbeddingSet
from headstart.report.html import Content, inline_png, key_values, write_page


def write_report(embeddings: str | Path | EmbeddingSet) -> Path:
    """(Re)write ``report.html`` from the folder's meta, ``map-*.png`` and ``probe.json``."""
    emb = embeddings if isinstance(embeddings, EmbeddingSet) else EmbeddingSet.load(embeddings)
    root = emb.root
    enc = emb.meta.get("encoder", {})
    about = key_values(
        [
            ("encoder", enc.get("description", "?")),
            ("vectors", f"{emb.meta['n']} x {emb.meta['dim']}"),
            ("classes", ", ".join(emb.classes) or "unlabelled"),
            ("inputs", ", ".join(emb.meta.get("inputs", []))),
        ]
    )
    sections: list[tuple[str, Content]] = [("Embeddings", about)]
    probe_path = root / "probe.json"
    if probe_path.is_file():
        res = json.loads(probe_path.read_text(encoding="utf-8"))
        probe = [
            ("held out", f"{res['holdout']} ({res['n_train']} / {res['n_test']})"),
            ("linear probe accuracy", f"{res['linear_acc']:.4f}"),
            (f"kNN accuracy (k={res['k']})", f"{res['knn_acc']:.4f}"),
            ("k-means purity / NMI", f"{res['kmeans_purity']:.4f} / {res['kmeans_nmi']:.4f}"),
        ]
        sections.append(("Probe", key_values(probe)))
    sections += [(png.stem, inline_png(png, png.stem)) for png in sorted(root.glob("map-*.png"))]
    return write_page(root / "report.html", f"Embeddings: {root.name}", "headstart embed", sections)
