"""``torchrun --nproc_per_node 2 -m headstart train``: 2 CPU processes on gloo over loopback.

Plumbing with a tiny randomly initialised model on generated images (its weights loaded from
a file, so that they count as pretrained: their batch-norm statistics stay frozen, as the
statistics of a half batch would differ from those of a whole one): no accuracy is claimed.
What is checked is that two processes train *the same run* as one process, with the default
augmentation: the reference single-process run uses as many threads as each of the two
processes (so every batch is computed with the same kernels) and the same global batch.
Stated tolerances: accuracies within one validation image, losses within 1e-4, weights within
1e-4 (the only difference is the order of floating-point sums: DDP averages two half-batch
gradients); the feature cache exactly equal.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist

from headstart.classify.checkpoint import Checkpoint
from headstart.classify.fit import fit
from headstart.engine.checkpoint import read_tensors
from headstart.engine.rundir import read_csv
from tests.conftest import make_folder, tiny_config
from tests.distributed.launch import (
    gone,
    threads_per_process,
    torchrun,
    train_args,
    wait_for,
    worker_pid,
)

pytestmark = [
    pytest.mark.xdist_group("distributed"),
    pytest.mark.skipif(not dist.is_gloo_available(), reason="torch built without gloo"),
]

N_VAL = 72  # more than one evaluation batch (64), so both processes evaluate a share


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 72 train images: two feature-extraction batches of 64, one per process.
    return make_folder(tmp_path_factory.mktemp("dist") / "data", n_train=24, n_val=N_VAL // 3)


def _single_process(data: Path, out: Path, strategy: str, epochs: int, weights: Path):
    before = torch.get_num_threads()
    torch.set_num_threads(threads_per_process(2))
    try:
        cfg = tiny_config(strategy=strategy, epochs=epochs, batch_size=8, weights=str(weights))
        return fit(data, cfg, out=str(out), name="run")
    finally:
        torch.set_num_threads(before)


def _floats(row: dict[str, str], keys: tuple[str, ...]) -> np.ndarray:
    return np.array([float(row[k]) for k in keys])


@pytest.mark.parametrize(
    "strategy, epochs",
    [("feature-extraction", 2), ("progressive", 3), ("full", 2)],
)
def test_two_processes_train_the_same_run_as_one(
    data: Path, tmp_path: Path, isolated_cache: Path, tiny_weights: Path, strategy: str, epochs: int
) -> None:
    args = train_args(data, tmp_path / "two", strategy, epochs, weights=str(tiny_weights))
    launch = torchrun(args, tmp_path / "cache2", tmp_path / "log")
    one = _single_process(data, tmp_path / "one", strategy, epochs, tiny_weights)
    rc, out, err = launch.finish()
    assert rc == 0, err[-4000:]

    # Exactly one set of outputs, written and printed by one process.
    runs = sorted(p.name for p in (tmp_path / "two" / "train").iterdir())
    assert runs == ["run"]
    run = tmp_path / "two" / "train" / "run"
    for name in ("config.yaml", "metrics.csv", "summary.json", "checkpoints/best.safetensors"):
        assert (run / name).is_file(), name
    assert out.count("run: ") == 1 and out.count("best: epoch") == 1
    assert sum(line.startswith("epoch ") for line in out.splitlines()) == epochs

    # The same metrics as one process, epoch by epoch.
    rows_two, rows_one = read_csv(run / "metrics.csv"), read_csv(one.run_dir / "metrics.csv")
    assert len(rows_two) == len(rows_one) == epochs
    for a, b in zip(rows_two, rows_one):
        acc = ("train_acc", "val_acc", "val_f1")
        assert np.allclose(_floats(a, acc), _floats(b, acc), atol=1 / N_VAL + 1e-6), (a, b)
        loss = ("train_loss", "val_loss")
        assert np.allclose(_floats(a, loss), _floats(b, loss), atol=1e-4), (a, b)

    # The checkpoint is a plain state dict that one process loads, with the same weights.
    two_w = read_tensors(run / "checkpoints" / "last.safetensors")
    one_w = read_tensors(one.run_dir / "checkpoints" / "last.safetensors")
    assert two_w.keys() == one_w.keys() and not any(k.startswith("module.") for k in two_w)
    for k in one_w:
        assert torch.allclose(two_w[k].float(), one_w[k].float(), atol=1e-4), k
    ckpt = Checkpoint.load(run, "last", device="cpu", precision="fp32")
    ev = ckpt.evaluate(data, "val")
    assert ev.n == N_VAL
    assert abs(ev.accuracy - float(rows_two[-1]["val_acc"])) <= 1 / N_VAL + 1e-6

    # Features extracted by two processes, each its share: the same cache files as one process.
    if strategy != "full":
        one_files = sorted((isolated_cache / "features").glob("*.npy"))
        two_files = sorted((tmp_path / "cache2" / "features").glob("*.npy"))
        assert [f.name for f in two_files] == [f.name for f in one_files] and len(one_files) == 2
        for a_file, b_file in zip(two_files, one_files):
            a, b = np.load(a_file), np.load(b_file)
            assert a.shape == b.shape and a.shape[0] in (72, N_VAL)
            assert np.array_equal(a, b), a_file.name
            meta_a = json.loads(a_file.with_suffix(".json").read_text())
            assert meta_a == json.loads(b_file.with_suffix(".json").read_text())
        assert not list((tmp_path / "cache2" / "features").glob(".*"))  # no temporary files left


@pytest.mark.parametrize("how", ["killed", "hung"])
def test_a_failed_process_fails_the_run_in_bounded_time(
    data: Path, tmp_path: Path, how: str
) -> None:
    """Rank 1 is killed (SIGKILL) or frozen (SIGSTOP) after the first epoch: torchrun exits
    non-zero, and a frozen rank makes rank 0's collective time out after
    HEADSTART_DIST_TIMEOUT seconds instead of waiting forever."""
    timeout_s = 10
    args = train_args(data, tmp_path / "out", "full", epochs=100, augment="none")
    launch = torchrun(
        args, tmp_path / "cache", tmp_path / "log", HEADSTART_DIST_TIMEOUT=str(timeout_s)
    )
    wait_for(tmp_path / "out" / "train" / "run" / "metrics.csv", launch)
    rank0, rank1 = worker_pid(launch.pid, 0), worker_pid(launch.pid, 1)
    hit = time.monotonic()
    os.kill(rank1, signal.SIGKILL if how == "killed" else signal.SIGSTOP)
    if how == "hung":
        while not gone(rank0) and time.monotonic() - hit < 120:
            time.sleep(0.2)
        rank0_lived = time.monotonic() - hit
        os.kill(rank1, signal.SIGCONT)  # let torchrun's SIGTERM end it
    rc, _, err = launch.finish(timeout=120)
    elapsed = time.monotonic() - hit
    assert rc != 0
    assert elapsed < 90, elapsed
    if how == "killed":
        assert "SIGKILL" in err or "exitcode" in err, err[-3000:]
    else:
        assert timeout_s - 1 <= rank0_lived < timeout_s + 60, rank0_lived
        assert "timed out" in err.lower() or "timeout" in err.lower(), err[-3000:]
