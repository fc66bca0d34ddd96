"""``prefetched``: the batches of a loader made in a background thread, in order, with the
loader's errors raised in the caller and the thread stopped when the caller stops."""

from __future__ import annotations

import threading
import time

import pytest

from headstart.engine.loaders import prefetched


def test_batches_come_in_order_and_all_of_them():
    assert list(prefetched(iter(range(50)), depth=3)) == list(range(50))


def test_an_error_in_the_loader_is_raised_in_the_caller_after_the_batches_before_it():
    def batches():
        yield 1
        yield 2
        raise OSError("cannot decode image 3")

    got = []
    with pytest.raises(OSError, match="image 3"):
        for b in prefetched(batches()):
            got.append(b)
    assert got == [1, 2]


def test_stopping_early_stops_the_thread():
    made = []

    def batches():
        for i in range(10_000):
            made.append(i)
            yield i

    it = prefetched(batches(), depth=2)
    assert next(it) == 0
    it.close()
    assert not any(t.name == "headstart-prefetch" for t in threading.enumerate())
    count = len(made)
    time.sleep(0.2)
    assert len(made) == count < 10  # nothing made after the stop, and at most depth ahead
