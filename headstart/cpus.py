"""How many CPUs this process may use, and thread settings that hold up on a shared machine.

Every thread pool headstart sizes (PyTorch's intra-op threads, ONNX Runtime's sessions, data
loading workers) is sized from ``available_cpus``: the cores of this process's affinity mask
(``taskset``, a container's cpuset), capped by a cgroup CPU quota (``docker --cpus``), not the
machine's count. This module does not import PyTorch: ONNX-only installs use it too.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

# GNU OpenMP (PyTorch's CPU thread pool here: ``torch.__config__.parallel_info()``) spins for a
# while at every barrier before it sleeps. With another CPU-bound process on the same cores a
# spinning thread holds a core that the thread everyone waits for needs, and every one of the
# thousands of barriers of a training step can cost a scheduler time slice.
# ``OMP_WAIT_POLICY=PASSIVE`` makes waiting threads sleep (``benchmarks/run.py contention``
# measures it); it must be in the environment before the OpenMP runtime loads.
WAIT_POLICY = ("OMP_WAIT_POLICY", "PASSIVE")
CGROUP_V2 = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1 = (
    Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
    Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us"),
)


def _affinity() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cgroup_cpu_quota(v2: Path = CGROUP_V2, v1: tuple[Path, Path] = CGROUP_V1) -> float | None:
    """The CPU time this process's cgroup may use, in CPUs (e.g. 1.5), or None when unlimited
    or unknown."""
    try:
        if v2.is_file():
            quota, _, period = v2.read_text().strip().partition(" ")
            return None if quota == "max" else int(quota) / int(period or 100000)
        if v1[0].is_file():
            q, p = (int(f.read_text().strip()) for f in v1)
            return None if q <= 0 or p <= 0 else q / p
    except (OSError, ValueError, ZeroDivisionError):
        return None
    return None


def available_cpus() -> int:
    """Cores this process may run on: its affinity mask, capped by a cgroup CPU quota."""
    cpus = _affinity()
    quota = cgroup_cpu_quota()
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return max(1, cpus)


def compute_threads(processes: int = 1) -> int:
    """Intra-op threads for each of ``processes`` processes sharing this machine (torchrun's
    processes per node): the available cores split between them, at least one each."""
    return max(1, available_cpus() // max(1, processes))


def loader_workers(requested: int = -1) -> int:
    """Data-loading worker processes: ``requested`` when it is 0 or more, else none on a
    machine of 2 cores or fewer (the model needs them all), else half the cores, at most 6."""
    if requested >= 0:
        return requested
    cpus = available_cpus()
    return 0 if cpus <= 2 else min(6, cpus // 2)


def prefer_sleeping_threads() -> bool:
    """Ask OpenMP for threads that sleep rather than spin while they wait (``WAIT_POLICY``),
    unless the environment says otherwise. True when the setting can still take effect, that
    is, before the OpenMP runtime has loaded with PyTorch."""
    name, value = WAIT_POLICY
    os.environ.setdefault(name, value)
    return "torch" not in sys.modules
