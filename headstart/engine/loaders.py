"""Data loaders of the one loop, the same in one process and under ``torchrun``.

In one process they are plain DataLoaders. In N processes each yields this process's share of
every batch a single process would see (``ShardedSampler`` over the same order; the batch size
is global), and evaluation loaders this process's share of whole batches (``OrderedShard``),
so a task whose loaders come from here trains the same run in any number of processes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence, Sized
from typing import Any, cast

import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, Sampler

from headstart.engine import distributed


def train_loader(
    ds: Dataset,
    batch_size: int,
    sampler: Sampler[int] | None = None,
    generator: torch.Generator | None = None,
    num_workers: int = 0,
    collate_fn: Callable[[list[Any]], Any] | None = None,
) -> DataLoader:
    """One training epoch's batches in random order (``sampler``'s order when given).

    The last incomplete batch is dropped when there is more than one batch: every step then
    averages the same number of examples, in one process or split among N.
    """
    n = len(cast(Sized, ds))
    drop_last = n > batch_size
    if not distributed.active():
        order: dict[str, Any] = (
            {"sampler": sampler}
            if sampler is not None
            else {"shuffle": True, "generator": generator}
        )
        return DataLoader(
            ds,
            batch_size=batch_size,
            drop_last=drop_last,
            num_workers=num_workers,
            collate_fn=collate_fn,
            **order,
        )
    per_batch = distributed.per_process_batch(batch_size)
    per_process = (n // batch_size) * per_batch if drop_last else -(-n // distributed.world_size())
    base = sampler if sampler is not None else RandomSampler(ds, generator=generator)  # type: ignore[arg-type]
    # The loader draws its workers' base seed from ``generator`` before the sampler draws the
    # order, as in one process: the same draws in the same sequence give the same order.
    return DataLoader(
        ds,
        batch_size=per_batch,
        sampler=distributed.ShardedSampler(base, per_process),
        num_workers=num_workers,
        collate_fn=collate_fn,
        generator=generator,
    )


def eval_loader(
    ds: Dataset,
    batch_size: int,
    order: Sequence[int] | None = None,
    num_workers: int = 0,
    collate_fn: Callable[[list[Any]], Any] | None = None,
) -> DataLoader:
    """Evaluation batches in ``order`` (default: data set order); under torchrun this process's
    share of them, which the loop's ``evaluate`` gathers back into that order."""
    sampler: Any = list(order) if order is not None else None
    if distributed.active():
        sampler = distributed.OrderedShard(len(cast(Sized, ds)), batch_size, order)
    return DataLoader(
        ds, batch_size=batch_size, sampler=sampler, num_workers=num_workers, collate_fn=collate_fn
    )
