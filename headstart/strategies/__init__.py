"""Strategies: the strategy vocabulary, freeze plans, parameter groups and LR schedules."""

from headstart.strategies.apply import apply_plan, build_param_groups, set_train_mode
from headstart.strategies.defaults import DEFAULT_LRS, default_lrs, resolve_lrs
from headstart.strategies.plan import Part, Plan, PlanGroup, PlanOptions, make_plan
from headstart.strategies.schedule import lr_factor
from headstart.strategies.strategy import (
    ADAPTERS,
    ALIASES,
    LAYERED,
    NAMES,
    Strategy,
    parse_strategy,
)

__all__ = [
    "ADAPTERS",
    "ALIASES",
    "DEFAULT_LRS",
    "LAYERED",
    "NAMES",
    "Part",
    "Plan",
    "PlanGroup",
    "PlanOptions",
    "Strategy",
    "apply_plan",
    "build_param_groups",
    "default_lrs",
    "lr_factor",
    "make_plan",
    "parse_strategy",
    "resolve_lrs",
    "set_train_mode",
]
