"""One validation layer for options: allowed values as data, checked before any work starts.

Each config dataclass keeps a table of rules next to it (``TRAIN_RULES`` beside
``TrainConfig``...) and validates itself on construction, so the Python API, ``--config`` YAML
and the command line refuse the same values with the same line; the CLI also uses the rules to
parse flags (``option_type``), so a bad flag fails before anything is loaded.

>>> check_option("epochs", 0, Number(low=1, integer=True))
Traceback (most recent call last):
headstart.errors.OptionError: --epochs 0: must be an integer >= 1
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Union

from headstart.errors import HeadstartError, OptionError


def flag(name: str) -> str:
    """``batch_size`` -> ``--batch-size``."""
    return "--" + name.replace("_", "-")


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) or "''"
    return str(value)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


@dataclass(frozen=True)
class Number:
    """An integer or a real number within bounds (``low_open``: ``low`` itself is excluded)."""

    low: float | None = None
    high: float | None = None
    integer: bool = False
    low_open: bool = False
    high_open: bool = False
    optional: bool = False  # None stands for "the default"

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a number"
        lo = None if self.low is None else f"{'>' if self.low_open else '>='} {_num(self.low)}"
        hi = None if self.high is None else f"{'<' if self.high_open else '<='} {_num(self.high)}"
        return f"{kind} {' and '.join(b for b in (lo, hi) if b)}".strip()

    def convert(self, value: Any) -> int | float:
        """``value`` as int/float (strings parsed), or ValueError when it is not a number."""
        if isinstance(value, bool):
            raise ValueError(value)
        if isinstance(value, str):
            value = int(value) if self.integer else float(value)
        if self.integer and not (isinstance(value, int) or float(value).is_integer()):
            raise ValueError(value)
        number = int(value) if self.integer else float(value)
        if math.isnan(number):
            raise ValueError(value)
        return number

    def allows(self, x: float) -> bool:
        low_ok = self.low is None or (x > self.low if self.low_open else x >= self.low)
        high_ok = self.high is None or (x < self.high if self.high_open else x <= self.high)
        return low_ok and high_ok


@dataclass(frozen=True)
class Choice:
    """One of a few words."""

    choices: tuple[str, ...]
    optional: bool = False

    def describe(self) -> str:
        return "one of " + ", ".join(self.choices)

    def convert(self, value: Any) -> str:
        if not isinstance(value, str) or value not in self.choices:
            raise ValueError(value)
        return value


@dataclass(frozen=True)
class Pattern:
    """A word matching a regular expression (``describe`` says what it looks like)."""

    regex: str
    text: str
    optional: bool = False

    def describe(self) -> str:
        return self.text

    def convert(self, value: Any) -> str:
        if not isinstance(value, str) or not re.fullmatch(self.regex, value):
            raise ValueError(value)
        return value


@dataclass(frozen=True)
class Custom:
    """A check written as a function that returns the value or raises ``ValueError``."""

    check: Callable[[Any], Any]
    text: str
    optional: bool = False

    def describe(self) -> str:
        return self.text

    def convert(self, value: Any) -> Any:
        return self.check(value)


@dataclass(frozen=True)
class ListOf:
    """A non-empty list (or comma-separated text) whose every item follows ``item``."""

    item: Number | Choice | Pattern | Custom
    optional: bool = False

    def describe(self) -> str:
        return f"a comma-separated list, each {self.item.describe()}"

    def convert(self, value: Any) -> list[Any]:
        items = [v for v in value.split(",") if v.strip()] if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not items:
            raise ValueError(value)
        try:
            return [_checked(self.item, v) for v in items]
        except HeadstartError:  # an item's own line names the item; this one names the list
            raise ValueError(value) from None


Rule = Union[Number, Choice, Pattern, Custom, ListOf]  # noqa: UP007 - a runtime alias


def _checked(rule: Rule, value: Any) -> Any:
    if isinstance(rule, Number):
        number = rule.convert(value)
        if not rule.allows(number):
            raise ValueError(value)
        return number
    return rule.convert(value)


def check_option(name: str, value: Any, rule: Rule) -> Any:
    """``value`` converted and checked against ``rule``; else one line naming option, value
    and what is allowed."""
    if value is None and rule.optional:
        return None
    try:
        return _checked(rule, value)
    except (ValueError, TypeError, OverflowError):
        raise OptionError(f"{flag(name)} {_shown(value)}: must be {rule.describe()}") from None


def validate(obj: Any, rules: Mapping[str, Rule]) -> None:
    """Check every field of ``obj`` that has a rule, storing the converted values back (frozen
    dataclasses included: this runs in their ``__post_init__``)."""
    for name, rule in rules.items():
        object.__setattr__(obj, name, check_option(name, getattr(obj, name), rule))


@dataclass(frozen=True)
class OptionType:
    """An argparse ``type=`` that converts and checks a flag's text with ``rule``."""

    name: str
    rule: Rule
    option: str = ""  # the flag, when it is not ``flag(name)``

    def __call__(self, text: str) -> Any:
        try:
            return check_option(self.name, text, self.rule)
        except OptionError:  # the value as typed, unquoted
            shown = self.option or flag(self.name)
            raise argparse.ArgumentTypeError(
                f"{shown} {text}: must be {self.rule.describe()}"
            ) from None


def option_type(name: str, rule: Rule, option: str = "") -> OptionType:
    """The argparse ``type=`` of option ``name`` (``top_k`` for ``--top-k``; ``option`` names
    a flag spelled otherwise)."""
    return OptionType(name, rule, option)


# Rules that many commands share.
POSITIVE_INT = Number(low=1, integer=True)
COUNT = Number(low=0, integer=True)  # 0 allowed
SEED = Number(low=0, high=2**32 - 1, integer=True)
LR = Number(low=0, high=1, low_open=True)
OPTIONAL_LR = Number(low=0, high=1, low_open=True, optional=True)  # None: the default LR


def _lr_or_find(value: Any) -> float | str:
    return "find" if value == "find" else _checked(LR, value)


# --lr of an image run: a number, or find (the LR range test's suggestion)
LR_OR_FIND = Custom(_lr_or_find, "a number > 0 and <= 1, or find", optional=True)
FRACTION = Number(low=0, high=1, low_open=True, high_open=True)  # strictly between 0 and 1
PROBABILITY_BELOW_1 = Number(low=0, high=1, high_open=True)  # dropout, label smoothing
WEIGHT_DECAY = Number(low=0, high=1)
EPOCHS_FLOAT = Number(low=0)
PRECISION = Choice(("auto", "bf16", "fp16", "fp32"))
DEVICE = Pattern(r"auto|cpu|mps|cuda(:\d+)?", "auto, cpu, mps, cuda or cuda:N")
WORKERS = Number(low=-1, integer=True)
CLIP_GRAD = Number(low=0, low_open=True, optional=True)  # max gradient norm; None: no clipping
