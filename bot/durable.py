"""Retrying database work with back-off, for the bot's own bookkeeping.

Why: a database blip (SQLite locked past its busy timeout, a PostgreSQL failover) must neither end
python-telegram-bot's update loop nor drop a customer's message. Storage calls the bot cannot do
without are retried here with growing pauses; the first failure is logged at once, later ones now
and then, always with the exception's class only (SQLAlchemy messages can carry parameter values,
i.e. customers' words).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
BACKOFF = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)


class StoreUnavailable(Exception):
    """The database refused the work `tries` times in a row."""


async def store(call: Callable[..., T], *args: Any, what: str, tries: int | None = None,
                stop: Callable[[], bool] | None = None, backoff: tuple[float, ...] = BACKOFF, **kwargs: Any) -> T:
    """Run the blocking `call` in a thread until it succeeds.

    `tries` bounds the attempts (None: until it succeeds); `stop()` returning True after a failure
    ends the retries early (the bot is shutting down). Either way StoreUnavailable is raised.
    """
    failures = 0
    while True:
        try:
            return await asyncio.to_thread(call, *args, **kwargs)
        except Exception as error:  # noqa: BLE001 - any storage error is retried, never passed on raw
            failures += 1
            if failures == 1 or failures % 10 == 0:
                log.error("storage failed while %s (%s, failure %d); retrying", what, type(error).__name__, failures)
            if (tries is not None and failures >= tries) or (stop is not None and stop()):
                raise StoreUnavailable(what) from None
            await asyncio.sleep(backoff[min(failures - 1, len(backoff) - 1)])
