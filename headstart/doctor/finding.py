"""A finding of ``headstart doctor``: one mistake, named, with its fix."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

LEVELS = ("error", "warning")


@dataclass(frozen=True)
class Finding:
    """``code`` names the check; ``message`` names the mistake and how to fix it.

    ``error``: the run would train or evaluate wrongly; ``warning``: it would likely do worse.
    """

    code: str
    level: str
    message: str

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"Finding level must be one of {LEVELS}, got {self.level!r}")

    def line(self) -> str:
        return f"{self.level:<8} {self.code:<26} {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def error(code: str, message: str) -> Finding:
    return Finding(code, "error", message)


def warning(code: str, message: str) -> Finding:
    return Finding(code, "warning", message)


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.level == "error" for f in findings)


def unique(findings: Iterable[Finding]) -> list[Finding]:
    """Findings without repeats, errors first, otherwise in the order found."""
    kept = list(dict.fromkeys(findings))
    return sorted(kept, key=lambda f: LEVELS.index(f.level))


def names(items: Sequence[str], limit: int = 5) -> str:
    """``'a', 'b', 'c' and 4 more``: a short list for a one-line message."""
    shown = ", ".join(f"'{x}'" for x in items[:limit])
    more = len(items) - limit
    return shown + (f" and {more} more" if more > 0 else "")
