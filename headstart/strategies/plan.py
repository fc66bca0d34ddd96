"""Strategies as data: a pure function turns a strategy into an inspectable ``Plan``.

A plan is a list of *groups*: named sets of parameters, each with its absolute learning rate,
the epoch it starts training (``None``: never) and its batch-norm mode. The pretrained layer
groups of an image backbone, the layers of a text encoder, a PEFT adapter, the new head and a
DANN discriminator are all plain groups. Nothing is hidden in multipliers: the LRs printed are
the LRs the optimizer gets.

>>> layers = [Part("stem", ("body.stem.w",), 10), Part("top", ("body.top.w",), 30)]
>>> plan = make_plan("partial:1", layers, [Part("head", ("head.w",), 5)], epochs=3)
>>> [g.name for g in plan.trainable(0)]
['top', 'head']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from headstart.errors import HeadstartError
from headstart.strategies.strategy import Strategy, parse_strategy

if TYPE_CHECKING:  # annotations only: the CLI reads PlanOptions without importing torch
    from torch import nn

# Batch-norm modes of a group: "frozen" keeps the pretrained running statistics even while
# the group's weights train (Keras' fine-tuning advice; stable with small batches); "adapt"
# updates them while the group trains; "train" lets the BN layers train (statistics and affine
# parameters) even while the rest of the group is frozen (``--train-bn``).
BN_MODES = ("frozen", "adapt", "train")


@dataclass(frozen=True)
class Part:
    """A named set of parameters of the model being trained (full parameter names)."""

    name: str
    params: tuple[str, ...]
    n_params: int

    @classmethod
    def of(cls, name: str, module: nn.Module, prefix: str = "") -> Part:
        """All parameters of ``module``, named as ``prefix + name`` in the trained model."""
        named = list(module.named_parameters())
        return cls(name, tuple(prefix + n for n, _ in named), sum(p.numel() for _, p in named))


@dataclass(frozen=True)
class PlanGroup:
    name: str
    n_params: int
    lr: float
    unfreeze_epoch: int | None  # None: frozen throughout; 0: trains from the start
    bn: str = "frozen"
    new: bool = False  # a module created for this task (head, discriminator): no pretraining
    params: tuple[str, ...] = field(default=(), repr=False, compare=False)

    def trains_at(self, epoch: int) -> bool:
        return self.unfreeze_epoch is not None and epoch >= self.unfreeze_epoch


@dataclass(frozen=True)
class Plan:
    """Which groups train, when, at which LR and with which batch-norm mode."""

    strategy: str
    groups: tuple[PlanGroup, ...]
    pretrained: bool = True
    notes: tuple[str, ...] = field(default_factory=tuple)
    batch_norm: bool = True  # the model has batch-norm layers (the BN modes matter)

    def trainable(self, epoch: int) -> list[PlanGroup]:
        return [g for g in self.groups if g.trains_at(epoch)]

    def head_only(self, epoch: int) -> bool:
        """True when only new modules train at ``epoch``: the pretrained part is a fixed
        function of the input, so its outputs can be computed once and cached."""
        return all(g.new for g in self.trainable(epoch))

    def milestones(self) -> list[int]:
        return sorted({g.unfreeze_epoch for g in self.groups if g.unfreeze_epoch})

    @property
    def train_bn(self) -> bool:
        return any(g.bn == "train" for g in self.groups)

    @property
    def bn_stats(self) -> str:
        """``adapt`` when pretrained layers update their BN statistics, else ``frozen``."""
        return "adapt" if any(g.bn == "adapt" and not g.new for g in self.groups) else "frozen"

    def n_trainable(self, epoch: int) -> int:
        return sum(g.n_params for g in self.trainable(epoch))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for g in out["groups"]:
            g.pop("params")  # long and derivable from the model; the names say which
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Plan:
        names = {f.name for f in fields(PlanGroup)}
        groups = tuple(PlanGroup(**{k: v for k, v in g.items() if k in names}) for g in d["groups"])
        return cls(
            d["strategy"],
            groups,
            d.get("pretrained", True),
            tuple(d.get("notes", ())),
            d.get("batch_norm", True),
        )

    def table(self, epoch: int | None = None) -> str:
        """Human-readable plan: one row per group, and the share of parameters that trains."""
        total = sum(g.n_params for g in self.groups)
        last = max([0, *self.milestones()]) if epoch is None else epoch
        n = self.n_trainable(last)
        rows = [
            f"strategy: {self.strategy}"
            + ("" if self.pretrained else " (random init)")
            + f"  trains {n:,} of {total:,} parameters ({100 * n / max(1, total):.3g}%)"
        ]
        bn = f"  {'bn':<6}" if self.batch_norm else ""
        rows.append(f"  {'group':<28} {'params':>11}  {'lr':>9}{bn}  trains")
        for g in self.groups:
            when = (
                "no"
                if g.unfreeze_epoch is None
                else ("yes" if g.unfreeze_epoch == 0 else f"from epoch {g.unfreeze_epoch + 1}")
            )
            lr = f"{g.lr:.2e}" if g.unfreeze_epoch is not None else "-"
            bn = f"  {g.bn:<6}" if self.batch_norm else ""
            rows.append(f"  {g.name:<28} {g.n_params:>11,}  {lr:>9}{bn}  {when}")
        rows.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(rows)


@dataclass(frozen=True)
class PlanOptions:
    """Knobs of the plan. ``lr`` is the top pretrained group's (or the adapter's) LR; ``head_lr``
    the new modules'."""

    lr: float = 1e-3
    head_lr: float = 3e-3
    lr_decay: float = 0.7  # layer-wise decay: group k below the top gets lr * decay**k
    lr_min: float | None = None  # geometric spread from lr_min (bottom) to lr (top) instead
    partial_groups: int = 3
    head_epochs: int = 1  # progressive: head-only epochs before the first unfreeze
    unfreeze_every: int = 1  # progressive: epochs between two unfreezes
    unfreeze_per_step: int = 1  # progressive: groups unfrozen at each milestone (0: all by the end)
    train_bn: bool = False
    bn_stats: str = "frozen"  # BN statistics of pretrained layers that train: frozen | adapt
    pretrained: bool = True  # False: the layers start from random weights (no statistics to keep)
    batch_norm: bool = True  # False: the model has no batch-norm layers (no BN notes)

    @classmethod
    def of(cls, cfg: Any, **kw: Any) -> PlanOptions:
        """The knobs a task's config dataclass sets (its fields of the same names), then ``kw``."""
        values = {f.name: getattr(cfg, f.name) for f in fields(cls) if hasattr(cfg, f.name)}
        return cls(**{**values, **kw})


def make_plan(
    strategy: str | Strategy,
    layers: Sequence[Part],
    new: Sequence[Part],
    epochs: int,
    opts: PlanOptions | None = None,
    adapter: Part | None = None,
) -> Plan:
    """The plan of ``strategy`` for pretrained ``layers`` (input side first), an optional PEFT
    ``adapter`` and the ``new`` modules (the head first), which always train at ``head_lr``."""
    opts = opts or PlanOptions()
    s = parse_strategy(strategy)
    if s.adapter and adapter is None:
        raise HeadstartError(f"--strategy {s} needs an adapter, which this model does not have")
    if opts.bn_stats not in ("frozen", "adapt"):
        raise HeadstartError(f"--bn-stats '{opts.bn_stats}': choose frozen or adapt")
    unfreeze, lrs, notes = _layer_schedule(s, len(layers), epochs, opts)
    # Random init has no statistics worth keeping: scratch and random weights adapt them.
    random_init = not s.pretrained or not opts.pretrained
    bn = "train" if opts.train_bn else ("adapt" if random_init else opts.bn_stats)
    groups = [
        PlanGroup(p.name, p.n_params, lr, u, bn, params=p.params)
        for p, lr, u in zip(layers, lrs, unfreeze)
    ]
    if adapter is not None:
        u = 0 if s.adapter else None
        groups.append(
            PlanGroup(adapter.name, adapter.n_params, opts.lr, u, bn, params=adapter.params)
        )
    groups += [PlanGroup(p.name, p.n_params, opts.head_lr, 0, "adapt", True, p.params) for p in new]
    if opts.batch_norm:
        notes += _bn_notes(s, opts, bn, random_init)
    return Plan(
        str(s),
        tuple(groups),
        pretrained=s.pretrained and opts.pretrained,
        notes=tuple(notes),
        batch_norm=opts.batch_norm,
    )


def _bn_notes(s: Strategy, opts: PlanOptions, bn: str, random_init: bool) -> list[str]:
    notes = []
    if opts.train_bn and s.name != "full":
        notes.append("batch-norm layers of frozen groups train (--train-bn)")
    if bn == "frozen" and s.name != "feature-extraction" and not s.adapter:
        notes.append("batch-norm statistics stay as pretrained (--bn-stats frozen)")
    if random_init and s.pretrained:
        notes.append("random weights have no pretrained batch-norm statistics: they adapt")
    return notes


def _layer_schedule(
    s: Strategy, n: int, epochs: int, opts: PlanOptions
) -> tuple[list[int | None], list[float], list[str]]:
    """Unfreeze epoch and LR of each pretrained layer group, and notes on the schedule."""
    lrs = _group_lrs(n, opts)
    notes: list[str] = []
    unfreeze: list[int | None]
    if s.name == "feature-extraction" or s.adapter:
        unfreeze = [None] * n
    elif s.name == "partial":
        k = s.depth if s.depth is not None else opts.partial_groups
        if k > n:
            raise HeadstartError(
                f"--strategy partial:{k}: this model has {n} layer groups; use partial:1 to "
                f"partial:{n}"
            )
        unfreeze = [None] * (n - k) + [0] * k
    elif s.name in ("full", "scratch"):
        unfreeze = [0] * n
        if s.name == "scratch":
            lrs = [opts.head_lr] * n  # random init: no pretrained features to protect
    else:  # progressive
        unfreeze, note = _progressive(n, epochs, opts, depth=s.depth)
        notes.append(note)
    return unfreeze, lrs, notes


def _group_lrs(n: int, opts: PlanOptions) -> list[float]:
    """Absolute LR per layer group, input side first; the top group gets ``opts.lr``."""
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
    if depth is not None and depth > n:
        raise HeadstartError(
            f"--strategy progressive:{depth}: this model has {n} layer groups; use "
            f"progressive:1 to progressive:{n}"
        )
    depth = n if depth is None else depth
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
