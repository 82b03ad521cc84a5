"""The bot as a real, separate process (`python -m bot`, the production entry point), pointed at a
Bot API stand-in and a scripted Rasa that live in the test's own process, so they outlive a
`kill -9` of the bot and remember what it sent and asked.

S3 and S8 start it, kill it with SIGKILL at a chosen step of a turn (`bot.durable.checkpoint`:
HAMDEL_FAULT_STEP names the step, HAMDEL_FAULT_MARKER is the file written when it is reached),
then start it again and count what the customer received.
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from devtools.bot_api_standin import BotApiStandIn
from hamdel.settings import PROJECT_ROOT
from tests.bot.fake_rasa import FakeRasa

RASA_TOKEN = "fault-suite-rasa-token"


class BotProcess:
    """Starts and ends `python -m bot` with the environment a test gives it."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        # The working folder is the test's own: the repository's `.env` must not leak in.
        self.workdir = workdir
        self.env = env
        self.marker = workdir / "fault-step-reached"
        self.log = workdir / "bot.log"
        self.starts = 0
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, halt_at: str | None = None) -> None:
        """Start the bot; with `halt_at` it freezes at that step (and writes the marker) for a kill."""
        self.marker.unlink(missing_ok=True)
        env = {**os.environ, **self.env, "PYTHONPATH": str(PROJECT_ROOT), "LOG_LEVEL": "INFO"}
        env.pop("HAMDEL_FAULT_STEP", None)
        if halt_at is not None:
            env |= {"HAMDEL_FAULT_STEP": halt_at, "HAMDEL_FAULT_MARKER": str(self.marker)}
        self.starts += 1
        with self.log.open("ab") as log:
            log.write(f"--- start {self.starts} (halt at {halt_at}) ---\n".encode())
            log.flush()
            self._process = subprocess.Popen([sys.executable, "-m", "bot"], cwd=self.workdir, env=env,
                                             stdout=log, stderr=subprocess.STDOUT)

    async def wait_until(self, predicate: Callable[[], bool], timeout: float, what: str) -> bool:
        """Poll `predicate` while the bot runs; False on timeout; an exited bot fails the test."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if self._process is not None and self._process.poll() is not None:
                raise AssertionError(f"the bot exited ({self._process.returncode}) while waiting for {what}:\n"
                                     f"{self.tail()}")
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def kill9(self) -> None:
        """SIGKILL: the process ends at once, wherever it is, with nothing flushed or closed."""
        assert self._process is not None
        self._process.send_signal(signal.SIGKILL)
        await self._ended(30)

    async def stop(self) -> None:
        """End it as an operator does (SIGTERM); kill it if it does not end within 20 s. Waited for
        without blocking the event loop: the stand-in must go on answering the bot's last calls."""
        if self._process is None:
            return
        self._process.send_signal(signal.SIGTERM)
        if not await self._ended(20):
            self._process.kill()
            await self._ended(10)

    async def _ended(self, timeout: float) -> bool:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while self._process.poll() is None:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)
        self._process = None
        return True

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@pytest.fixture
async def standins() -> AsyncIterator[tuple[BotApiStandIn, FakeRasa]]:
    """The Bot API stand-in and the scripted Rasa (echo until a test sets its `script`), serving
    from the test's process so that they outlive the bot."""
    api = BotApiStandIn()
    rasa = FakeRasa(token=RASA_TOKEN)
    await api.start()
    await rasa.start()
    yield api, rasa
    rasa.release_hangs()
    await rasa.stop()
    await api.stop()
