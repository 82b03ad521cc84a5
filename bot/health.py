"""`python -m bot.health` — the container's health check: exit 0 while the bot's timer ticks.

The bot has no HTTP port in polling mode, so "healthy" means its event loop and job queue are
alive: the handoff sweep touches `heartbeat_path()` every `HANDOFF_SWEEP_SECONDS`; a heartbeat
older than `STALE_AFTER` seconds (or none) is unhealthy.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from hamdel.settings import PROJECT_ROOT

STALE_AFTER = 120.0


def heartbeat_path() -> Path:
    return Path(os.environ.get("HAMDEL_HEARTBEAT", str(PROJECT_ROOT / "var" / "bot.heartbeat")))


def beat() -> None:
    """Record that the bot is alive (called by its timer)."""
    path = heartbeat_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def healthy(now: float | None = None) -> bool:
    try:
        age = (now or time.time()) - heartbeat_path().stat().st_mtime
    except FileNotFoundError:
        return False
    return age < STALE_AFTER


if __name__ == "__main__":
    sys.exit(0 if healthy() else 1)
