"""Peak memory of one piece of work: CUDA allocator peak on a GPU, peak RSS growth on a CPU.

On Linux the kernel's high-water mark of the resident set (``VmHWM``) is reset to the
current RSS before the work (``/proc/self/clear_refs``) and read after it, so the figure is
the peak RSS reached during the work minus the RSS before it. Elsewhere the process's
lifetime peak (``ru_maxrss``) is used, which is exact only in a fresh process.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

import torch

MIB = 2**20


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _lifetime_peak_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) * (1 if sys.platform == "darwin" else 1024)


class PeakMemory:
    """``with PeakMemory(device) as m: ...`` then ``m.mib`` and ``m.kind``."""

    def __init__(self, device: torch.device):
        self.device = device
        self.mib = 0.0
        self.kind = ""
        self._base = 0

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
            self.kind = "peak CUDA memory allocated above the start"
            return self
        rss = _status_kib("VmRSS")
        try:
            Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
            self._base = (rss or 0) * 1024
            self.kind = "peak RSS above the RSS at the start"
        except OSError:
            self._base = (rss or 0) * 1024 if rss is not None else _lifetime_peak_bytes()
            self.kind = "process peak RSS above the RSS at the start"
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
        else:
            hwm = _status_kib("VmHWM")
            peak = hwm * 1024 if hwm is not None else _lifetime_peak_bytes()
        self.mib = max(0, peak - self._base) / MIB
