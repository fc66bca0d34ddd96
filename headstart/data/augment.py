"""Random augmentation drawn per sample from (seed, epoch, sample index).

The crop and flip of an image then depend on nothing else: not on which process of a
``torchrun`` job loads it, nor on the DataLoader worker, nor on how many random numbers were
drawn before. N processes sharing the batches see exactly the augmentations one process sees,
and a resumed run those of the straight run.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of sample ``index`` at ``epoch`` of a run seeded with ``seed``."""
    return ((seed * 1_000_003 + epoch) * 1_000_000_007 + index) % 2**63


@contextlib.contextmanager
def seeded_rng(seed: int) -> Iterator[None]:
    """Python's, NumPy's and torch's CPU random streams seeded with ``seed`` inside the block,
    and restored after it (timm's crops draw from ``random``, torchvision's flips from torch)."""
    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


class SeededSamples(Dataset):
    """``dataset[i]`` computed with the random streams seeded by (seed, epoch, i)."""

    def __init__(self, dataset: Dataset, seed: int, epoch: int = 0):
        self.dataset = dataset
        self.seed = seed
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> Any:
        with seeded_rng(sample_seed(self.seed, self.epoch, i)):
            return self.dataset[i]
