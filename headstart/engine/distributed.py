"""Many processes, one training: torch DistributedDataParallel as launched by ``torchrun``.

headstart never starts processes itself. ``torchrun`` starts one per GPU (or per share of the
CPU cores) and sets RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous address; ``setup`` joins
that process group (gloo on CPUs, nccl on CUDA) with a bounded timeout, so that a process that
dies or hangs makes the others fail within ``HEADSTART_DIST_TIMEOUT`` seconds instead of
waiting forever. In one process every helper here is a no-op.

Batches are sharded so that the processes together see exactly the batches a single process
would: ``ShardedSampler`` splits each global batch of the single-process order between the
processes, and DDP averages their gradients, so the global batch, the LR schedule and (up to
floating-point summation order) the result stay those of one process.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Sampler

from headstart.cpus import compute_threads
from headstart.errors import HeadstartError

TIMEOUT_ENV = "HEADSTART_DIST_TIMEOUT"
DEFAULT_TIMEOUT_S = 300.0


def launched() -> bool:
    """True when this process was started by ``torchrun`` with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def active() -> bool:
    """True once this process is part of a process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def rank() -> int:
    """This process's rank (from the environment before ``setup``; 0 in a single process)."""
    return dist.get_rank() if active() else int(os.environ.get("RANK", "0"))


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main() -> bool:
    """Only the main process (rank 0) writes files and prints."""
    return rank() == 0


def timeout() -> datetime.timedelta:
    """How long a collective waits for the other processes (``HEADSTART_DIST_TIMEOUT`` s)."""
    raw = os.environ.get(TIMEOUT_ENV, "")
    try:
        seconds = float(raw) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        raise HeadstartError(f"{TIMEOUT_ENV}={raw!r}: give a positive number of seconds")
    return datetime.timedelta(seconds=seconds)


def setup(device: torch.device) -> torch.device:
    """Join torchrun's process group (once) and return this process's device.

    The backend is nccl when ``device`` is CUDA (each process on GPU ``LOCAL_RANK``), else
    gloo; each process gets ``cores // processes per machine`` threads (``share_cores``).
    """
    share_cores()
    if not launched():
        return device
    cuda = device.type == "cuda"
    if cuda and device.index is None:
        device = torch.device("cuda", local_rank())
    if not dist.is_initialized():
        if cuda:
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if cuda else "gloo", timeout=timeout())
        atexit.register(cleanup)
    return device


def share_cores() -> int:
    """Size PyTorch's intra-op threads to this process's share of the cores it may use
    (``headstart.cpus``: affinity mask and cgroup quota, split between torchrun's processes on
    this machine). In one process, never more threads than already set: a lower count chosen
    by the user (``torch.set_num_threads``, ``OMP_NUM_THREADS``) stays; torchrun's processes
    get their share whatever torchrun put in ``OMP_NUM_THREADS`` (1). Returns the count."""
    if launched():
        threads = compute_threads(int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    else:
        threads = min(torch.get_num_threads(), compute_threads())
    torch.set_num_threads(threads)
    return threads


@contextlib.contextmanager
def main_prints_only() -> Iterator[None]:
    """Under torchrun the other processes' output and warnings go nowhere (errors still show)."""
    if is_main():
        yield
        return
    with (
        open(os.devnull, "w") as null,
        contextlib.redirect_stdout(null),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        yield


def rank_tag() -> str:
    """`` (rank N)`` for messages of a process other than the main one, else empty."""
    return "" if is_main() else f" (rank {rank()})"


def cleanup() -> None:
    """Leave the process group (at exit, and after an error)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def per_process_batch(batch_size: int) -> int:
    """``--batch-size`` is the global batch: each of N processes takes ``batch_size / N``."""
    n = world_size()
    if batch_size % n:
        raise HeadstartError(
            f"--batch-size {batch_size} is the global batch and does not split evenly among "
            f"{n} processes; use a multiple of {n}"
        )
    return batch_size // n


def _comm_device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if _nccl() else torch.device("cpu")


def _nccl() -> bool:
    return active() and dist.get_backend() == "nccl"


def all_reduce_sum(values: Sequence[float]) -> list[float]:
    """Element-wise sums of ``values`` over all processes (float64)."""
    if not active():
        return list(values)
    t = torch.tensor(list(values), dtype=torch.float64, device=_comm_device())
    dist.all_reduce(t)
    return t.cpu().tolist()


def any_true(flag: bool) -> bool:
    """True on every process when ``flag`` is true on any of them."""
    return all_reduce_sum([float(flag)])[0] > 0


def all_true(flag: bool) -> bool:
    """True on every process when ``flag`` is true on all of them."""
    return all_reduce_sum([float(flag)])[0] == world_size()


def broadcast_object(obj: Any) -> Any:
    """``obj`` of the main process, on every process (e.g. the run directory it created)."""
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0, device=_comm_device() if _nccl() else None)
    return box[0]


def barrier() -> None:
    if active():
        dist.barrier()


def all_gather_rows(x: torch.Tensor) -> list[torch.Tensor]:
    """Every process's 1-D or 2-D tensor, in rank order; row counts may differ (even be 0).

    An empty 2-D tensor may be ``(0, 0)``: it takes the column count of the others.
    """
    if not active():
        return [x]
    dev = _comm_device()
    shape = torch.tensor([x.shape[0], x.shape[1] if x.ndim == 2 else 0], device=dev)
    shapes = [torch.zeros_like(shape) for _ in range(world_size())]
    dist.all_gather(shapes, shape)
    rows = max(int(s[0]) for s in shapes)
    cols = (max(int(s[1]) for s in shapes),) if x.ndim == 2 else ()
    padded = torch.zeros((rows, *cols), dtype=x.dtype, device=dev)
    if len(x):
        padded[: len(x)] = x.to(dev)
    out = [torch.zeros_like(padded) for _ in range(world_size())]
    dist.all_gather(out, padded)
    return [o[: int(s[0])].cpu() for o, s in zip(out, shapes)]


def shard_batches(n: int, batch_size: int, rank: int, world: int) -> list[int]:
    """Indices of batches ``rank, rank + world, ...`` of ``range(n)`` cut into ``batch_size``.

    Every batch keeps the composition it has in one process, so per-batch results (features,
    eval outputs) are the same numbers whichever process computes them.

    >>> shard_batches(10, 3, rank=1, world=2)
    [3, 4, 5, 9]
    """
    starts = range(rank * batch_size, n, world * batch_size)
    return [i for s in starts for i in range(s, min(s + batch_size, n))]


class OrderedShard(Sampler[int]):
    """This process's share of a data set in whole batches, in order, without padding.

    For evaluation and feature extraction: ``assemble`` puts every process's outputs back in
    the order of ``order`` (default: data set order), the order one process would see.
    """

    def __init__(self, n: int, batch_size: int, order: Sequence[int] | None = None):
        self.n, self.batch_size = n, batch_size
        self.order = list(order) if order is not None else list(range(n))
        self.positions = shard_batches(n, batch_size, rank(), world_size())
        self.indices = [self.order[i] for i in self.positions]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)

    def assemble(self, local: torch.Tensor) -> torch.Tensor:
        """All processes' rows of ``local`` put back in the order (on every process)."""
        parts = all_gather_rows(local)
        filled = [p for p in parts if len(p)]
        if not filled:
            return local
        out = torch.zeros((self.n, *filled[0].shape[1:]), dtype=filled[0].dtype)
        for r, part in enumerate(parts):
            if len(part):
                out[shard_batches(self.n, self.batch_size, r, len(parts))] = part
        return out


class ShardedSampler(Sampler[int]):
    """This process's share of the order drawn by ``base`` (e.g. a random or balanced sampler).

    Every process draws the same order (they are seeded alike) and takes ``per_process``
    indices, every N-th one starting at its rank: batch ``i`` of all processes together is
    batch ``i`` of a single process with the global batch size. Augmentations are drawn per
    sample (``data/augment.py``), so they too are those of a single process.
    """

    def __init__(self, base: Iterable[int], per_process: int):
        self.base, self.per_process = base, per_process

    def __iter__(self) -> Iterator[int]:
        order = list(self.base)
        need = self.per_process * world_size()
        while len(order) < need:  # too few for every process: repeat from the start
            order += order[: need - len(order)]
        return iter(order[rank() : need : world_size()])

    def __len__(self) -> int:
        return self.per_process


def wrap(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` in DistributedDataParallel (its trainable parameters only).

    Frozen parameters (``requires_grad`` False) are left out by DDP, so a wrapper is built for
    each set of trainable parameters (each phase); trainable ones that do not reach the loss
    are allowed. Buffers are synchronised when it is built,
    not on every forward: ``average_bn_statistics`` reconciles them once per epoch.
    """
    if not any(p.requires_grad for p in module.parameters()):
        raise HeadstartError("nothing trains in this phase: no parameter requires a gradient")
    ids = [device] if device.type == "cuda" else None
    # Some trainable parameters may not reach the loss (a text encoder's pooler, which mean
    # pooling never reads): DDP must not wait for their gradients.
    return nn.parallel.DistributedDataParallel(
        module, device_ids=ids, forward_sync_buffers=False, find_unused_parameters=True
    )


@torch.no_grad()
def average_bn_statistics(module: nn.Module) -> None:
    """Average the running statistics of batch-norm layers that trained, over the processes.

    Each process updated them from its part of every batch; the running mean is linear in the
    batch means, so the average is what one process would hold. Frozen BN layers (eval mode)
    are untouched and stay bit-identical.
    """
    if not active():
        return
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._NormBase) and m.training and m.track_running_stats:
            for buf in (m.running_mean, m.running_var):
                if buf is not None:
                    t = buf.to(_comm_device())
                    dist.all_reduce(t)
                    buf.copy_((t / world_size()).to(buf.device))
