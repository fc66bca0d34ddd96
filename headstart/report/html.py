"""Self-contained HTML reports: one file, inline CSS, images inlined as base64 PNGs.

Every report of headstart (train, compare, text, adaptation, embeddings) is a title, a lead
line and sections of *blocks* (tables, facts, text, images) rendered by one Jinja2 template
with autoescaping. Callers hand over plain values only: there is no way to put markup into a
page, so a hostile file name, class name or config value shows as text and never runs.

>>> page("Run", "lead text", [("Facts", key_values([("data", "<script>x</script>")]))])[:15]
'<!doctype html>'
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from headstart.io import write_text_atomic


def _plain(value: Any) -> str:
    """A value as a plain ``str``: a ``markupsafe.Markup`` loses its "safe" mark here, so the
    template escapes everything that reaches it."""
    return str.__str__(str(value))


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    highlight: frozenset[int] = frozenset()  # row numbers shown as the winner
    kind: str = "table"


@dataclass(frozen=True)
class KeyValues:
    pairs: tuple[tuple[str, str], ...]
    kind: str = "facts"


@dataclass(frozen=True)
class Text:
    text: str
    note: bool = False  # smaller, grey
    kind: str = "text"


@dataclass(frozen=True)
class Pre:
    text: str
    kind: str = "pre"


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]
    kind: str = "bullets"


@dataclass(frozen=True)
class Links:
    """Bullets of ``label: link, link``; each link a relative path, percent-encoded (no
    scheme can survive the encoding, so a link never runs script)."""

    items: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
    kind: str = "links"


@dataclass(frozen=True)
class Image:
    data: str  # base64 PNG
    alt: str = ""
    width: int | None = None
    kind: str = "image"


@dataclass(frozen=True)
class Figure:
    """A thumbnail with caption lines of (label, emphasised value)."""

    data: str  # base64 PNG
    alt: str
    lines: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Gallery:
    figures: tuple[Figure, ...]
    kind: str = "gallery"


Block = Table | KeyValues | Text | Pre | Bullets | Links | Image | Gallery
Content = Block | Sequence[Block]

_TEMPLATE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title><meta name="viewport" content="width=device-width,initial-scale=1">
<style>
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
</style></head><body><main><h1>{{ title }}</h1><p class="lead">{{ lead }}</p>
{%- for heading, blocks in sections %}<section><h2>{{ heading }}</h2>
{%- for b in blocks %}
{%- if b.kind == "table" %}<table><thead><tr>{% for c in b.columns %}<th>{{ c }}</th>{% endfor %}</tr></thead><tbody>
{%- for row in b.rows %}<tr{% if loop.index0 in b.highlight %} class="win"{% endif %}>{% for v in row %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}</tbody></table>
{%- elif b.kind == "facts" %}<table>{% for k, v in b.pairs %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}</table>
{%- elif b.kind == "text" %}<p{% if b.note %} class="note"{% endif %}>{{ b.text }}</p>
{%- elif b.kind == "pre" %}<pre>{{ b.text }}</pre>
{%- elif b.kind == "bullets" %}<ul>{% for x in b.items %}<li>{{ x }}</li>{% endfor %}</ul>
{%- elif b.kind == "links" %}<ul>{% for label, links in b.items %}<li>{{ label }}: {% for href, t in links %}<a href="{{ href }}">{{ t }}</a>{% if not loop.last %}, {% endif %}{% endfor %}</li>{% endfor %}</ul>
{%- elif b.kind == "image" %}<img alt="{{ b.alt }}"{% if b.width %} width="{{ b.width }}"{% endif %} src="data:image/png;base64,{{ b.data }}">
{%- elif b.kind == "gallery" %}<div class="grid">{% for f in b.figures %}<figure><img alt="{{ f.alt }}" src="data:image/png;base64,{{ f.data }}"><figcaption>
{%- for label, value in f.lines %}{{ label }} <b>{{ value }}</b>{% if not loop.last %}<br>{% endif %}{% endfor %}</figcaption></figure>{% endfor %}</div>
{%- endif %}{% endfor %}</section>{% endfor %}</main></body></html>
"""

# ``finalize`` turns every value into a plain str before autoescaping, so even a value marked
# "safe" (``markupsafe.Markup``) is escaped: the template is the only source of markup.
_ENV = jinja2.Environment(autoescape=True, finalize=_plain, undefined=jinja2.StrictUndefined)
_PAGE = _ENV.from_string(_TEMPLATE)


def png_base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def inline_png(path: str | Path, alt: str = "", width: int | None = None) -> Image:
    """An image block holding the PNG's bytes (the report stays one file)."""
    return Image(png_base64(Path(path).read_bytes()), _plain(alt), int(width) if width else None)


def figure(png: bytes, alt: str, lines: Iterable[tuple[Any, Any]]) -> Figure:
    return Figure(png_base64(png), _plain(alt), tuple((_plain(k), _plain(v)) for k, v in lines))


def gallery(figures: Iterable[Figure]) -> Gallery:
    return Gallery(tuple(figures))


def text(value: Any, note: bool = False) -> Text:
    return Text(_plain(value), note)


def pre(value: Any) -> Pre:
    return Pre(_plain(value))


def bullets(items: Iterable[Any]) -> Bullets:
    return Bullets(tuple(_plain(x) for x in items))


def links(items: Iterable[tuple[Any, Iterable[tuple[str | Path, Any]]]]) -> Links:
    """``[(label, [(relative path, text), ...]), ...]`` as bullets of links."""
    return Links(
        tuple(
            (_plain(label), tuple((quote(Path(p).as_posix()), _plain(t)) for p, t in pairs))
            for label, pairs in items
        )
    )


def table(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    formats: Mapping[str, Callable[[Any], str]] | None = None,
    highlight: Callable[[Mapping[str, Any]], bool] | None = None,
) -> Table:
    """A table of ``rows`` (dicts) with the given columns, optionally formatted."""
    formats = formats or {}
    cells, win = [], set()
    for i, row in enumerate(rows):
        if highlight and highlight(row):
            win.add(i)
        cells.append(tuple(_plain(formats.get(c, fmt)(row.get(c, ""))) for c in columns))
    return Table(tuple(_plain(c) for c in columns), tuple(cells), frozenset(win))


def key_values(pairs: Iterable[tuple[Any, Any]]) -> KeyValues:
    """A two-column table of facts: each key as a row heading, its value beside it."""
    return KeyValues(tuple((_plain(k), readable(v)) for k, v in pairs))


def readable(value: Any) -> str:
    """A value as a reader wants it: ``min 8, median 28.0, max 28`` for a mapping, items
    joined by commas for a list, never Python's repr."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {readable(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(readable(v) for v in value)
    return _plain(value)


def fmt(value: Any) -> str:
    """How a table cell shows a number: 4 decimals, thousands separators."""
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _blocks(content: Content) -> tuple[Block, ...]:
    blocks = (content,) if not isinstance(content, Sequence) else tuple(content)
    for b in blocks:
        if not isinstance(b, Table | KeyValues | Text | Pre | Bullets | Links | Image | Gallery):
            raise TypeError(f"a report section holds blocks, not {type(b).__name__}")
    return blocks


def page(title: str, lead: str, sections: Sequence[tuple[str, Content]]) -> str:
    """A whole HTML document: a title, a lead paragraph and (heading, blocks) sections."""
    return _PAGE.render(
        title=_plain(title),
        lead=_plain(lead),
        sections=[(_plain(h), _blocks(c)) for h, c in sections],
    )


def write_page(
    path: str | Path, title: str, lead: str, sections: Sequence[tuple[str, Content]]
) -> Path:
    """Write a self-contained report atomically."""
    return write_text_atomic(path, page(title, lead, sections))
