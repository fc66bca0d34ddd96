"""The strategy vocabulary: one name per way of adapting a pretrained model, parsed once.

Every task speaks it: an image backbone, a text encoder and a few-shot or domain-adaptation
model all freeze, unfreeze and adapt their layer groups by these names. A task accepts the
strategies that fit its model (``Strategy.check``): ``scratch`` only where a random init makes
sense (images), adapters only where PEFT can wrap the model (text encoders).

>>> parse_strategy("partial:2")
Strategy(name='partial', depth=2)
>>> parse_strategy("frozen").name  # the text side's old name
'feature-extraction'
"""

from __future__ import annotations

from dataclasses import dataclass

from headstart.errors import HeadstartError

FEATURE_EXTRACTION = "feature-extraction"
LAYERED = (FEATURE_EXTRACTION, "partial", "full", "progressive", "scratch")
ADAPTERS = ("lora", "ia3", "prompt", "prefix")
NAMES = LAYERED + ADAPTERS
# Old or alternative spellings: image `linear-probe`, text `frozen`.
ALIASES = {"linear-probe": FEATURE_EXTRACTION, "frozen": FEATURE_EXTRACTION}
TAKES_DEPTH = ("partial", "progressive")


@dataclass(frozen=True)
class Strategy:
    """A parsed ``--strategy``: its canonical name and, for ``partial:N`` / ``progressive:N``,
    how many of the top layer groups it trains."""

    name: str
    depth: int | None = None

    def __str__(self) -> str:
        return self.name if self.depth is None else f"{self.name}:{self.depth}"

    @property
    def adapter(self) -> bool:
        """True for PEFT adapter methods: the pretrained layers stay frozen, an adapter trains."""
        return self.name in ADAPTERS

    @property
    def pretrained(self) -> bool:
        """False for ``scratch``: the same architecture from a random init."""
        return self.name != "scratch"

    def check(self, allowed: tuple[str, ...], task: str) -> Strategy:
        """``self`` when ``task`` supports it, else a one-line error listing what it does."""
        if self.name not in allowed:
            names = ", ".join(n for n in allowed)
            raise HeadstartError(
                f"--strategy '{self}' does not apply to {task}; choose one of {names}"
            )
        return self


def parse_strategy(spec: str | Strategy) -> Strategy:
    """``"partial:2"`` -> ``Strategy("partial", 2)``; aliases map to their canonical name."""
    if isinstance(spec, Strategy):
        return spec
    name, sep, arg = str(spec).strip().partition(":")
    name = ALIASES.get(name, name)
    if name not in NAMES:
        raise HeadstartError(
            f"unknown --strategy '{spec}'; choose one of {', '.join(NAMES)}, partial:N, "
            "progressive:N or auto"
        )
    if not sep:
        return Strategy(name)
    if name not in TAKES_DEPTH:
        raise HeadstartError(f"--strategy '{spec}': only partial:N and progressive:N take a number")
    if not arg.isdigit() or int(arg) < 1:
        raise HeadstartError(
            f"--strategy '{spec}': N is the number of top layer groups that train, 1 or more"
        )
    return Strategy(name, int(arg))
