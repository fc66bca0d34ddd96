"""Data loaders of the one loop, the same in one process and under ``torchrun``.

In one process they are plain DataLoaders. In N processes each yields this process's share of
every batch a single process would see (``ShardedSampler`` over the same order; the batch size
is global), and evaluation loaders this process's share of whole batches (``OrderedShard``),
so a task whose loaders come from here trains the same run in any number of processes.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from typing import Any, TypeVar, cast

import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, Sampler

from headstart.engine import distributed

T = TypeVar("T")


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


def prefetched(batches: Iterable[T], depth: int = 2) -> Iterator[T]:
    """``batches``, each made in a background thread while the caller works on the previous
    ones (at most ``depth`` ahead): for loaders without worker processes, whose decoding would
    otherwise wait for the model and the model for it. Image decoding and resizing (PIL) and
    PyTorch's kernels release the GIL, so the two overlap.

    Only for work whose outcome does not depend on which thread draws random numbers (frozen
    inference over an evaluation transform, not augmented training). An error in the thread
    is raised in the caller; closing the iterator early stops the thread.

    >>> list(prefetched(iter(range(3))))
    [0, 1, 2]
    """
    out: queue.Queue[tuple[str, Any]] = queue.Queue(depth)
    stop = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for batch in batches:
                if not put(("batch", batch)):
                    return
        except BaseException as err:  # noqa: BLE001 - handed to the caller, raised there
            put(("error", err))
            return
        put(("done", None))

    thread = threading.Thread(target=work, name="headstart-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, item = out.get()
            if kind == "done":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        thread.join()
