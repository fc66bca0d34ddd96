"""Markdown reports (``report.md``) that carry no raw HTML.

Markdown renderers pass inline HTML through, so every value written into a report goes through
``md_escape`` (backslash escapes: a hostile ``<img onerror=...>`` shows as text) and code blocks
get a fence longer than any run of backticks inside them.

>>> md_escape("<b>cat</b> | dog")
'\\\\<b\\\\>cat\\\\</b\\\\> \\\\| dog'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from headstart.report.html import fmt

# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that start
# markup (HTML, links, emphasis, code, tables, headings).
_SPECIAL = re.compile(r"([\\`*_\[\]<>|!#~&])")


def md_escape(value: Any) -> str:
    """``value`` as literal Markdown text on one line."""
    text = " ".join(str(value).splitlines())
    return _SPECIAL.sub(r"\\\1", text)


def md_code(text: str) -> list[str]:
    """A fenced code block (its content is never interpreted) as lines."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, text, fence]


def md_table(
    rows: Sequence[Mapping[Any, Any]] | Sequence[Sequence[Any]],
    columns: Sequence[str],
    formats: Mapping[str, Callable[[Any], str]] | None = None,
) -> str:
    """A Markdown table; ``rows`` are dicts keyed by column, or sequences in column order."""
    formats = formats or {}
    lines = [
        "| " + " | ".join(md_escape(c) for c in columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for row in rows:
        values = [row.get(c, "") for c in columns] if isinstance(row, Mapping) else list(row)
        cells = [md_escape(formats.get(c, fmt)(v)) for c, v in zip(columns, values)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def md_page(title: str, lead: str, sections: Sequence[tuple[str, Sequence[str]]]) -> str:
    """A ``report.md``, the Markdown twin of ``html.page``: ``# title``, the lead paragraph,
    then each ``## heading`` with its lines (made safe by ``md_table``, ``md_code`` or
    ``md_escape``)."""
    lines = [f"# {md_escape(title)}", "", md_escape(lead)]
    for heading, body in sections:
        lines += ["", f"## {md_escape(heading)}", "", *body]
    return "\n".join(lines) + "\n"
