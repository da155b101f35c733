"""Dynamic batching: concurrent requests are gathered into one model call.

Hand-written (a few lines of asyncio) because the serving libraries that do this (Ray Serve,
Triton, TorchServe) are whole servers, not something FastAPI can borrow.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from modelyard.errors import UserError

Predict = Callable[[pd.DataFrame], pd.DataFrame]


@dataclass
class _Waiting:
    frame: pd.DataFrame
    done: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Batcher:
    """Collects requests until `max_batch_size` rows or `max_wait_ms` after the first one, runs
    `predict` once (in a worker thread, so the event loop keeps accepting requests) and hands
    each request its own rows back. One request's bad input fails that request only."""

    def __init__(self, predict: Predict, max_batch_size: int, max_wait_ms: float):
        self.predict = predict
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000
        self.batches: list[int] = []  # rows per model call, for /metadata and tests
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # the queue and its worker live on the server's loop
            self._loop = loop
            self.queue: asyncio.Queue[_Waiting] = asyncio.Queue()
            self._worker = loop.create_task(self._work())
        waiting = _Waiting(frame)
        await self.queue.put(waiting)
        return await waiting.done

    async def _work(self) -> None:
        while True:
            group = [await self.queue.get()]
            deadline = time.monotonic() + self.max_wait
            rows = len(group[0].frame)
            while rows < self.max_batch_size:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    group.append(await asyncio.wait_for(self.queue.get(), left))
                except TimeoutError:
                    break
                rows += len(group[-1].frame)
            await self._run(group)

    async def _run(self, group: list[_Waiting]) -> None:
        frame = pd.concat([w.frame for w in group], ignore_index=True)
        try:
            predictions = await asyncio.to_thread(self.predict, frame)
        except Exception as e:  # noqa: BLE001 - handed to the requests, which report it
            if isinstance(e, UserError) and len(group) > 1:
                for waiting in group:  # find the bad request: each alone
                    await self._run([waiting])
                return
            for waiting in group:
                if not waiting.done.done():
                    waiting.done.set_exception(e)
            return
        self.batches.append(len(frame))
        start = 0
        for waiting in group:
            end = start + len(waiting.frame)
            if not waiting.done.done():
                waiting.done.set_result(predictions.iloc[start:end].reset_index(drop=True))
            start = end
