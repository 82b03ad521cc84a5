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
import os
import time
from collections.abc import Callable
from pathlib import Path
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


# --- the fault suite's crash points (tests/faults/test_s3_kill9.py) -------------------------------

# Steps of a customer turn at which S3 kills the bot ("rasa_call" is reached by the scripted Rasa
# holding its answer back, the others by `checkpoint`). Production never sets HAMDEL_FAULT_STEP:
# the variable is read once at import, and `checkpoint` is then one comparison with None.
FAULT_STEPS = ("before_storing", "quiet_window", "rasa_call", "after_first_reply", "before_done")
_HALT_AT = os.environ.get("HAMDEL_FAULT_STEP") or None
_MARKER = os.environ.get("HAMDEL_FAULT_MARKER") or None


def checkpoint(step: str) -> None:
    """Test-only crash point: when HAMDEL_FAULT_STEP names `step`, write HAMDEL_FAULT_MARKER and
    block the calling thread for good, so the test can `kill -9` the process exactly here.

    Called from the event loop it freezes the whole bot; called from a storage thread the loop
    goes on (as it does while a slow database write is under way).
    """
    if _HALT_AT is None or step != _HALT_AT:
        return
    if _MARKER is not None:
        Path(_MARKER).write_text(step, encoding="utf-8")
    while True:
        time.sleep(3600)
