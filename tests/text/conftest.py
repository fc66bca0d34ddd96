"""Text fixtures: small labelled text files and one torch thread. The tiny random BERT
(``tiny_bert``) is in tests/conftest.py; tests that use it check plumbing, never accuracy.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from text_helpers import rows, write_csv


@pytest.fixture(scope="session", autouse=True)
def one_thread() -> Iterator[None]:
    """One torch thread: on a tiny model, a second thread costs more in synchronisation than
    it brings (2-3x slower on a busy 2-core machine)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def reviews_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "reviews.csv", rows())
