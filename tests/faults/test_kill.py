"""Faults: a run killed with SIGKILL in the middle of an epoch, or while its checkpoint is
being replaced, then resumed, ends exactly as an uninterrupted run, with no temporary file
left; resuming a finished run changes nothing. For image, text and DANN runs, each started
as a user would (``headstart ...`` in a process of its own).

Plumbing with tiny randomly initialised models: no accuracy is claimed.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TINY, assert_same_run, make_folder
from tests.text.text_helpers import rows, write_csv

KILLER = Path(__file__).with_name("killer.py")
ROOT = Path(__file__).resolve().parents[2]


def headstart(mode: str, n: int, args: list[str], cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HEADSTART_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, str(KILLER), mode, str(n), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def image_args(data: Path, out: Path, name: str) -> list[str]:
    return [
        "train", str(data), "--backbone", TINY, "--weights", "random", "--strategy", "full",
        "--epochs", "3", "--batch-size", "4", "--precision", "fp32", "--num-workers", "0",
        "--no-progress", "--no-report", "--out", str(out), "--name", name,
    ]  # fmt: skip


def text_args(data: Path, model: Path, out: Path, name: str) -> list[str]:
    return [
        "text", "train", str(data), "--model", str(model), "--text-col", "review",
        "--strategy", "lora", "--epochs", "3", "--batch-size", "4", "--max-length", "32",
        "--precision", "fp32", "--device", "cpu", "--no-progress", "--out", str(out),
        "--name", name,
    ]  # fmt: skip


def adapt_args(src: Path, tgt: Path, out: Path, name: str) -> list[str]:
    return [
        "adapt", "--source", str(src), "--target", str(tgt), "--backbone", TINY,
        "--weights", "random", "--train-groups", "1", "--epochs", "3", "--batch-size", "4",
        "--bottleneck", "8", "--disc-hidden", "8", "--map-method", "pca", "--precision",
        "fp32", "--num-workers", "0", "--no-progress", "--methods", "dann", "--out", str(out),
        "--name", name,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory, tiny_bert: Path) -> dict:
    root = tmp_path_factory.mktemp("faults")
    data = make_folder(root / "data", n_train=4, n_val=2)
    target = make_folder(
        root / "target", n_train=4, n_val=1, classes={"a": (90, 100, 160), "b": (90, 150, 100)}
    )
    source = make_folder(
        root / "source", n_train=4, n_val=1, classes={"a": (40, 50, 210), "b": (30, 180, 40)}
    )
    texts = write_csv(root / "reviews.csv", rows(12, 4))
    return {
        # task: (args for a run named NAME into OUT, the run folder under OUT, steps per epoch)
        "image": (lambda out, name: image_args(data, out, name), "train", 3),
        "text": (lambda out, name: text_args(texts, tiny_bert, out, name), "text", 3),
        "dann": (lambda out, name: adapt_args(source, target, out, name), "adapt", 2),
    }


def run_folder(out: Path, kind: str, name: str) -> Path:
    run = out / kind / name
    return run / "runs" / "dann-seed0" if kind == "adapt" else run


@pytest.mark.slow
@pytest.mark.parametrize("task", ["image", "text", "dann"])
def test_killed_twice_then_resumed_equals_a_straight_run(cases, tmp_path, task):
    """Killed as the checkpoint of epoch 2 replaces that of epoch 1, resumed; killed again in
    the middle of epoch 3, resumed again: the run ends as the straight one."""
    make_args, kind, steps = cases[task]
    out, cache = tmp_path / "runs", tmp_path / "cache"
    straight = headstart("none", 0, make_args(out, "straight"), cache)
    assert straight.returncode == 0, straight.stderr[-3000:]
    run = out / kind / "cut"
    resume = ["adapt"] if task == "dann" else (["text", "train"] if task == "text" else ["train"])
    resume += ["--resume", str(run), "--no-progress"]

    killed = headstart("rename", 2, make_args(out, "cut"), cache)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert list(run.rglob(".last.safetensors.*.tmp"))  # what a kill at that moment leaves
    # resumed from epoch 1, then killed in the middle of epoch 3 (its step 2 of ``steps``)
    killed = headstart("step", steps + 2, resume, cache)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert not list(run.rglob(".last.safetensors.*.tmp"))  # the resumed run removed it
    resumed = headstart("none", 0, resume, cache)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_run(run_folder(out, kind, "straight"), run_folder(out, kind, "cut"))
    assert not list(run.rglob("*.tmp")), list(run.rglob("*.tmp"))
    # A finished run resumed again: not a byte changes.
    before = digest(run)
    again = headstart("none", 0, resume, cache)
    assert again.returncode == 0 and "nothing to do" in again.stdout, again.stderr[-3000:]
    assert digest(run) == before
