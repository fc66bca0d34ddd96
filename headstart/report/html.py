"""Self-contained HTML reports: one file, inline CSS, images inlined as base64 PNGs.

Every report of headstart (train, compare, text, adaptation, embeddings) is built from these
pieces so that they look alike and open anywhere, offline.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from headstart.io import write_text_atomic

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px 32px 64px}
h1{font-size:26px;margin:8px 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:1px solid #dde1e8;padding-bottom:4px}
p.lead{color:#4a5263;margin-top:0}.note{color:#4a5263;font-size:14px}
table{border-collapse:collapse;background:#fff;margin:8px 0;font-size:14px}
th,td{padding:6px 10px;border:1px solid #dde1e8;text-align:right}th{background:#eef1f5}
td:first-child,th:first-child{text-align:left}tr.win td{background:#e6f4ea;font-weight:600}
img{max-width:100%;background:#fff;border:1px solid #dde1e8;margin:6px 0}
.grid{display:flex;flex-wrap:wrap;gap:8px}.grid figure{margin:0;width:120px;font-size:11px}
.grid img{width:120px;height:120px;object-fit:contain}
pre{background:#fff;border:1px solid #dde1e8;padding:10px;overflow:auto;font-size:12px;white-space:pre-wrap;overflow-wrap:anywhere}
""".strip()


def esc(value: Any) -> str:
    return html.escape(str(value))


def inline_png(path: str | Path, alt: str = "", width: int | None = None) -> str:
    """An ``<img>`` whose source is the PNG's bytes (the report stays one file)."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    size = f" width='{width}'" if width else ""
    return f"<img alt='{esc(alt)}'{size} src='data:image/png;base64,{data}'>"


def table(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    formats: Mapping[str, Callable[[Any], str]] | None = None,
    highlight: Callable[[Mapping[str, Any]], bool] | None = None,
) -> str:
    """An HTML table of ``rows`` (dicts) with the given columns, optionally formatted."""
    formats = formats or {}
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cls = " class='win'" if highlight and highlight(row) else ""
        cells = "".join(f"<td>{esc(formats.get(c, _fmt)(row.get(c, '')))}</td>" for c in columns)
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def key_values(pairs: Iterable[tuple[str, Any]]) -> str:
    """A two-column table of facts: each key as a row heading, its value beside it."""
    cells = "".join(f"<tr><th>{esc(k)}</th><td>{esc(_fmt(v))}</td></tr>" for k, v in pairs)
    return f"<table>{cells}</table>"


def plain(value: Any) -> str:
    """A value as a reader wants it: ``min 8, median 28.0, max 28`` for a mapping, items
    joined by commas for a list, never Python's repr."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value)
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


_fmt = plain


def markdown_table(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    formats: Mapping[str, Callable[[Any], str]] | None = None,
) -> str:
    formats = formats or {}
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append(
            "| " + " | ".join(formats.get(c, _fmt)(row.get(c, "")) for c in columns) + " |"
        )
    return "\n".join(lines)


def page(title: str, lead: str, sections: Sequence[tuple[str, str]]) -> str:
    """A whole HTML document: a title, a lead paragraph and (heading, html) sections."""
    body = "".join(f"<section><h2>{esc(h)}</h2>{content}</section>" for h, content in sections)
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>"
        f"<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<style>{CSS}</style></head><body><main><h1>{esc(title)}</h1>"
        f"<p class='lead'>{lead}</p>{body}</main></body></html>"
    )


def write_page(
    path: str | Path, title: str, lead: str, sections: Sequence[tuple[str, str]]
) -> Path:
    """Write a self-contained report atomically."""
    return write_text_atomic(path, page(title, lead, sections))
