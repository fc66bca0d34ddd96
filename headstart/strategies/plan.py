"""Strategies as data: a pure function turns a strategy name into an inspectable ``Plan``.

A plan says, for every layer group of the backbone and for the new head, whether it trains,
at which absolute learning rate, and (for ``progressive``) at which epoch it is unfrozen.
Nothing is hidden in multipliers: the LRs printed are the LRs the optimizer gets.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from headstart.errors import HeadstartError

STRATEGIES = ("feature-extraction", "linear-probe", "partial", "full", "progressive", "scratch")


@dataclass(frozen=True)
class GroupPlan:
    name: str
    n_params: int
    lr: float
    unfreeze_epoch: int | None  # None: frozen throughout; 0: trains from the start

    def trains_at(self, epoch: int) -> bool:
        return self.unfreeze_epoch is not None and epoch >= self.unfreeze_epoch


@dataclass(frozen=True)
class Plan:
    """Which groups train, when and at which LR. ``groups[-1]`` is always the new head."""

    strategy: str
    groups: tuple[GroupPlan, ...]
    pretrained: bool = True
    train_bn: bool = False
    bn_stats: str = "frozen"  # "frozen": BN statistics of pretrained layers never update
    notes: tuple[str, ...] = field(default_factory=tuple)

    def trainable(self, epoch: int) -> list[GroupPlan]:
        return [g for g in self.groups if g.trains_at(epoch)]

    def head_only(self, epoch: int) -> bool:
        return [g.name for g in self.trainable(epoch)] == [self.groups[-1].name]

    def milestones(self) -> list[int]:
        return sorted({g.unfreeze_epoch for g in self.groups if g.unfreeze_epoch})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        """Human-readable plan: one row per group."""
        rows = [f"strategy: {self.strategy}" + ("" if self.pretrained else " (random init)")]
        rows.append(f"  {'group':<28} {'params':>10}  {'lr':>9}  trains")
        for g in self.groups:
            when = (
                "no"
                if g.unfreeze_epoch is None
                else ("yes" if g.unfreeze_epoch == 0 else f"from epoch {g.unfreeze_epoch + 1}")
            )
            lr = f"{g.lr:.2e}" if g.unfreeze_epoch is not None else "-"
            rows.append(f"  {g.name:<28} {g.n_params:>10,}  {lr:>9}  {when}")
        rows.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(rows)


@dataclass(frozen=True)
class PlanOptions:
    """Knobs of the plan. ``lr`` is the backbone's top-group LR; ``head_lr`` the new head's."""

    lr: float = 1e-3
    head_lr: float = 3e-3
    lr_decay: float = 0.7  # layer-wise decay: group k below the top gets lr * decay**k
    lr_min: float | None = None  # geometric spread from lr_min (bottom) to lr (top) instead
    partial_groups: int = 3
    head_epochs: int = 1  # progressive: head-only epochs before the first unfreeze
    unfreeze_every: int = 1  # progressive: epochs between two unfreezes
    unfreeze_per_step: int = 1  # progressive: groups unfrozen at each milestone (0: all by the end)
    train_bn: bool = False
    # "frozen": batch-norm running statistics of pretrained layers stay as pretrained even
    # where the weights train (Keras' fine-tuning advice; stable with small batches and data).
    # "adapt": BN layers of training groups update their statistics (train mode).
    bn_stats: str = "frozen"


def parse_strategy(spec: str) -> tuple[str, int | None]:
    """``"partial:2"`` -> ``("partial", 2)``; ``"full"`` -> ``("full", None)``."""
    name, _, arg = spec.partition(":")
    name = "feature-extraction" if name == "linear-probe" else name
    if name not in STRATEGIES:
        raise HeadstartError(
            f"unknown --strategy '{spec}'; choose one of {', '.join(STRATEGIES)}, partial:N or auto"
        )
    if arg and not (name in ("partial", "progressive") and arg.isdigit()):
        raise HeadstartError(f"--strategy '{spec}': only partial:N and progressive:N take a number")
    return name, int(arg) if arg else None


def make_plan(
    spec: str,
    group_names: list[str],
    group_sizes: list[int],
    head_size: int,
    epochs: int,
    opts: PlanOptions | None = None,
) -> Plan:
    """The plan of strategy ``spec`` for a backbone with these layer groups (input side first).

    >>> make_plan("partial:2", ["stem", "b1", "b2"], [10, 20, 30], 5, epochs=3).table()
    """
    opts = opts or PlanOptions()
    name, arg = parse_strategy(spec)
    n = len(group_names)
    lrs = _group_lrs(n, opts)
    unfreeze: list[int | None]
    notes: list[str] = []
    if name == "feature-extraction":
        unfreeze = [None] * n
    elif name == "partial":
        k = min(n, arg if arg is not None else opts.partial_groups)
        unfreeze = [None] * (n - k) + [0] * k
    elif name in ("full", "scratch"):
        unfreeze = [0] * n
        if name == "scratch":
            lrs = [opts.head_lr] * n  # random init: no pretrained features to protect
    else:  # progressive
        unfreeze, note = _progressive(n, epochs, opts, depth=arg)
        notes.append(note)
    groups = [
        GroupPlan(gname, size, lr, u)
        for gname, size, lr, u in zip(group_names, group_sizes, lrs, unfreeze)
    ]
    groups.append(GroupPlan("head", head_size, opts.head_lr, 0))
    if opts.train_bn and name != "full":
        notes.append("batch-norm layers of frozen groups train (--train-bn)")
    # Random init has no statistics worth keeping: scratch always adapts them.
    bn_stats = "adapt" if name == "scratch" else opts.bn_stats
    if bn_stats not in ("frozen", "adapt"):
        raise HeadstartError(f"--bn-stats '{opts.bn_stats}': choose frozen or adapt")
    if bn_stats == "frozen" and name not in ("feature-extraction",):
        notes.append("batch-norm statistics stay as pretrained (--bn-stats frozen)")
    return Plan(
        name,
        tuple(groups),
        pretrained=name != "scratch",
        train_bn=opts.train_bn,
        bn_stats=bn_stats,
        notes=tuple(notes),
    )


def _group_lrs(n: int, opts: PlanOptions) -> list[float]:
    """Absolute LR per backbone group, input side first; the top group gets ``opts.lr``."""
    if n == 0:
        return []
    if opts.lr_min is not None:
        if n == 1:
            return [opts.lr]
        ratio = (opts.lr / opts.lr_min) ** (1 / (n - 1))
        return [opts.lr_min * ratio**i for i in range(n)]
    return [opts.lr * opts.lr_decay ** (n - 1 - i) for i in range(n)]


def _progressive(
    n: int, epochs: int, opts: PlanOptions, depth: int | None
) -> tuple[list[int | None], str]:
    """Head only for ``head_epochs``, then unfreeze from the top, a step of groups at a time.

    ``depth`` caps how many groups are ever unfrozen (``progressive:N``); by default the steps
    are sized so that every group is unfrozen by the last milestone that fits in ``epochs``.
    """
    depth = n if depth is None else min(depth, n)
    slots = max(1, (epochs - opts.head_epochs + opts.unfreeze_every - 1) // opts.unfreeze_every)
    per_step = opts.unfreeze_per_step or max(1, -(-depth // slots))
    unfreeze: list[int | None] = [None] * n
    for k in range(depth):  # k = 0 is the top group
        step = k // per_step
        epoch = opts.head_epochs + step * opts.unfreeze_every
        if epoch < epochs:
            unfreeze[n - 1 - k] = epoch
    trained = sum(u is not None for u in unfreeze)
    note = (
        f"head only for {opts.head_epochs} epoch(s), then {per_step} group(s) unfrozen every "
        f"{opts.unfreeze_every} epoch(s) from the top; {trained} of {n} groups unfrozen by the end"
    )
    return unfreeze, note
