"""Requests that arrive together share one model run.

Each request puts its prepared inputs on a queue; one worker takes the first, waits a few
milliseconds for others to join (up to ``max_batch`` inputs), runs the model once on a
thread of its own, and hands each request its rows. One model run at a time keeps every
core busy inside it (ONNX Runtime and PyTorch use all of them), while decoding and
preprocessing of other requests go on in the server's thread pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

Infer = Callable[[list[Any]], np.ndarray]


class Batcher:
    """``await batcher.submit(items)`` -> the rows of one model run for ``items``."""

    def __init__(self, infer: Infer, max_batch: int = 32, wait_ms: float = 2.0):
        self.infer = infer
        self.max_batch = max_batch
        self.wait_s = wait_ms / 1000.0
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="headstart-model")
        self.runs = 0  # model runs made, for /info and the tests
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def submit(self, items: Sequence[Any]) -> np.ndarray:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._worker is None or self._worker.done():
            self._loop, self._queue = loop, asyncio.Queue()
            self._worker = loop.create_task(self._work())
        future: asyncio.Future = loop.create_future()
        assert self._queue is not None
        await self._queue.put((list(items), future))
        return await future

    async def _work(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            batch = [await queue.get()]
            size = len(batch[0][0])
            deadline = asyncio.get_running_loop().time() + self.wait_s
            while size < self.max_batch:
                left = deadline - asyncio.get_running_loop().time()
                try:
                    nxt = await asyncio.wait_for(queue.get(), max(left, 0.0)) if left > 0 else None
                except TimeoutError:
                    nxt = None
                if nxt is None:
                    break
                batch.append(nxt)
                size += len(nxt[0])
            await self._run(batch)

    async def _run(self, batch: list[tuple[list[Any], asyncio.Future]]) -> None:
        live = [(items, fut) for items, fut in batch if not fut.done()]  # timed-out ones left
        if not live:
            return
        inputs = [x for items, _ in live for x in items]
        try:
            rows = await asyncio.get_running_loop().run_in_executor(
                self.executor, self.infer, inputs
            )
            self.runs += 1
        except Exception as err:  # noqa: BLE001 - every waiting request gets the error
            for _, fut in live:
                if not fut.done():
                    fut.set_exception(err)
            return
        start = 0
        for items, fut in live:
            if not fut.done():
                fut.set_result(rows[start : start + len(items)])
            start += len(items)
