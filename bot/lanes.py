"""Ordered lanes: work for one chat runs strictly in order, different chats run concurrently.

Each key (a customer's chat, an agents' topic) gets a queue and one worker task. A worker that has
been idle for a while ends and is recreated on the next item, so thousands of quiet chats cost
nothing. The `process` callback receives the first item and the queue itself, so it can take more
items (the quiet window that makes several quick messages one turn).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from bot.durable import checkpoint

log = logging.getLogger(__name__)
T = TypeVar("T")
Process = Callable[[Hashable, T, "asyncio.Queue[T]"], Awaitable[None]]


class Lanes(Generic[T]):
    def __init__(self, process: Process[T], *, idle_seconds: float = 60.0) -> None:
        self._process = process
        self._idle = idle_seconds
        self._queues: dict[Hashable, asyncio.Queue[T]] = {}
        self._workers: dict[Hashable, asyncio.Task[None]] = {}
        self._closing = False

    def waiting(self, key: Hashable) -> int:
        """How many items wait in `key`'s queue (not counting the one being processed)."""
        queue = self._queues.get(key)
        return queue.qsize() if queue is not None else 0

    def submit(self, key: Hashable, item: T) -> None:
        """Queue `item` behind everything already queued for `key` (never blocks)."""
        if self._closing:
            raise RuntimeError("lanes are closing")
        queue = self._queues.setdefault(key, asyncio.Queue())
        queue.put_nowait(item)
        worker = self._workers.get(key)
        if worker is None or worker.done():
            self._workers[key] = asyncio.create_task(self._work(key, queue), name=f"lane:{key}")

    async def _work(self, key: Hashable, queue: asyncio.Queue[T]) -> None:
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), self._idle)
            except TimeoutError:
                if queue.empty():
                    self._queues.pop(key, None)
                    self._workers.pop(key, None)
                    return
                continue
            checkpoint("quiet_window")  # S3: the item is stored and in its lane, Rasa not yet asked
            try:
                await self._process(key, item, queue)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - one bad item must not stop the lane; callers guard their rows
                log.error("lane %s: processing failed (%s)", type(key).__name__, type(error).__name__)

    async def close(self) -> None:
        """Stop every worker; unfinished items stay `pending` in the inbox and are replayed on start."""
        self._closing = True
        for worker in list(self._workers.values()):
            worker.cancel()
        await asyncio.gather(*self._workers.values(), return_exceptions=True)
        self._workers.clear()
        self._queues.clear()

