"""Helpers to launch headstart under torchrun (2 CPU processes, gloo, loopback)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

LAUNCH_TIMEOUT = 300  # s: a launch that takes longer than this is a hang, and fails the test


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def threads_per_process(nproc: int = 2) -> int:
    """What each of ``nproc`` processes on this machine uses (see ``distributed.setup``)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cpus or 1) // nproc)


def train_args(
    data: Path,
    out: Path,
    strategy: str,
    epochs: int,
    name: str = "run",
    weights: str = "random",
    augment: str = "standard",
) -> list[str]:
    """``headstart train`` with the tiny model (fp32 reference, augmentation on)."""
    return [
        "train", str(data),
        "--backbone", "test_efficientnet",
        "--weights", weights,
        "--precision", "fp32",
        "--strategy", strategy,
        "--epochs", str(epochs),
        "--batch-size", "8",
        "--augment", augment,
        "--num-workers", "0",
        "--no-progress",
        "--out", str(out),
        "--name", name,
    ]  # fmt: skip


class Launch:
    """A running ``torchrun``; its output goes to files (a pipe could fill up and stall it)."""

    def __init__(self, proc: subprocess.Popen, logs: Path):
        self.proc, self.logs = proc, logs

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> tuple[str, str]:
        return (self.logs / "stdout").read_text(), (self.logs / "stderr").read_text()

    def kill(self) -> None:
        """End torchrun and every worker (they share its session)."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def finish(self, timeout: float = LAUNCH_TIMEOUT) -> tuple[int, str, str]:
        """Wait for the end; on a timeout end the whole process group and report the hang."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"torchrun still running after {timeout} s:\n{self.output()[1][-3000:]}"
            ) from None
        return rc, *self.output()


def torchrun(args: list[str], cache: Path, logs: Path, nproc: int = 2, **env: str) -> Launch:
    """Start ``torchrun --nproc_per_node N -m headstart ARGS`` on loopback (gloo)."""
    cmd = [
        sys.executable, "-m", "torch.distributed.run",
        "--nproc_per_node", str(nproc),
        "--master_addr", "127.0.0.1",
        "--master_port", str(free_port()),
        "-m", "headstart", *args,
    ]  # fmt: skip
    full_env = {**os.environ, "HEADSTART_CACHE": str(cache), "HF_HUB_OFFLINE": "1", **env}
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "stdout", "w") as out, open(logs / "stderr", "w") as err:
        proc = subprocess.Popen(
            cmd, env=full_env, stdout=out, stderr=err, start_new_session=True
        )  # a new session: a hung launch can be ended as a group
    return Launch(proc, logs)


def worker_pid(parent: int, rank: int, timeout: float = 120) -> int:
    """The pid of torchrun's worker ``rank`` (a child of ``parent`` with ``RANK=rank``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
                environ = (proc / "environ").read_bytes().split(b"\0")
            except (OSError, IndexError, ValueError):
                continue
            if ppid == parent and f"RANK={rank}".encode() in environ:
                return int(proc.name)
        time.sleep(0.2)
    raise AssertionError(f"no worker of rank {rank} under pid {parent}")


def gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def wait_for(path: Path, launch: Launch, timeout: float = LAUNCH_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if launch.proc.poll() is not None:
            raise AssertionError(f"torchrun ended before {path} appeared:\n{launch.output()[1]}")
        if time.monotonic() > deadline:
            launch.kill()
            raise AssertionError(f"{path} did not appear within {timeout} s")
        time.sleep(0.1)
