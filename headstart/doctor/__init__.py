"""``headstart doctor``: name the transfer-learning mistakes of a set-up before it trains.

Every check is a small function of plain inputs (a transform and the weights' data config, a
model and its head, an optimizer or its parameter groups, class lists, counts) returning
``Finding``s, so a hand-built set-up can be checked as well as headstart's own.
"""

from headstart.doctor.batchnorm import check_bn_frozen, frozen_batchnorms
from headstart.doctor.checks import run_checks
from headstart.doctor.dataset import (
    check_class_counts,
    check_class_order,
    check_imbalance,
    check_split_classes,
)
from headstart.doctor.finding import Finding, has_errors
from headstart.doctor.optimization import (
    check_backbone_lr,
    check_head_trainable,
    check_optimizer_params,
)
from headstart.doctor.preflight import check_training_setup, preflight
from headstart.doctor.preprocessing import (
    check_eval_deterministic,
    check_input_size,
    check_normalization,
)

__all__ = [
    "Finding",
    "check_backbone_lr",
    "check_bn_frozen",
    "check_class_counts",
    "check_class_order",
    "check_eval_deterministic",
    "check_head_trainable",
    "check_imbalance",
    "check_input_size",
    "check_normalization",
    "check_optimizer_params",
    "check_split_classes",
    "check_training_setup",
    "frozen_batchnorms",
    "has_errors",
    "preflight",
    "run_checks",
]
