"""Strategies: freeze plans, parameter groups and learning-rate schedules."""

from headstart.strategies.apply import apply_plan, build_param_groups, set_train_mode
from headstart.strategies.plan import (
    STRATEGIES,
    GroupPlan,
    Plan,
    PlanOptions,
    make_plan,
    parse_strategy,
)
from headstart.strategies.schedule import lr_factor

__all__ = [
    "STRATEGIES",
    "GroupPlan",
    "Plan",
    "PlanOptions",
    "apply_plan",
    "build_param_groups",
    "lr_factor",
    "make_plan",
    "parse_strategy",
    "set_train_mode",
]
