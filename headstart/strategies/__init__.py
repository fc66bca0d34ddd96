"""Strategies: the strategy vocabulary, freeze plans, parameter groups and LR schedules."""

from typing import TYPE_CHECKING

import lazy_loader

# Names load on first use: `headstart --help` and light modules stay free of torch.
__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "apply": ["apply_plan", "build_param_groups", "set_train_mode"],
        "defaults": ["DEFAULT_LRS", "default_lrs", "resolve_lrs"],
        "plan": ["Part", "Plan", "PlanGroup", "PlanOptions", "make_plan"],
        "schedule": ["lr_factor"],
        "strategy": ["ADAPTERS", "ALIASES", "LAYERED", "NAMES", "Strategy", "parse_strategy"],
    },
)

if TYPE_CHECKING:
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
