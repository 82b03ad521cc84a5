"""A durable fallback for tickets the database would not take.

If the database is down when a customer finishes their complaint, the complaint is appended to a
JSON-lines file (flushed and fsynced) and replayed into the database later, so nothing the
customer said is lost and nothing pretends to have been saved.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hamdel.settings import PROJECT_ROOT

logger = logging.getLogger(__name__)
DEFAULT_SPOOL = PROJECT_ROOT / "var" / "spool" / "pending_tickets.jsonl"


def spool_path() -> Path:
    return Path(os.environ.get("HAMDEL_SPOOL", str(DEFAULT_SPOOL)))


def save(record: dict[str, Any], path: Path | None = None) -> None:
    path = path or spool_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def drain(handler: Callable[[dict[str, Any]], None], path: Path | None = None) -> int:
    """Replay spooled records through `handler`; keep the ones that still fail. Returns replayed count.

    Crash-safe: the spool is renamed to `.draining` before it is read, and a `.draining` file left by
    a drain that crashed is replayed first (a record handled just before such a crash is handled
    again, so handlers must tolerate a repeat). One drain at a time per file (an advisory lock), a
    torn or unreadable line is moved to `.rejected` and logged by line number, never a reason to
    stop: the records after it are still replayed.
    """
    path = path or spool_path()
    claimed = path.with_suffix(".draining")
    if not path.exists() and not claimed.exists():
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.with_suffix(".lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # another process is draining right now
        done = 0
        if claimed.exists():  # left by a drain that crashed
            done += _replay(claimed, handler, path)
        if path.exists():  # records that fail again are saved to a fresh file: replayed next time
            path.rename(claimed)  # atomic: a concurrent save() starts a fresh file
            done += _replay(claimed, handler, path)
        return done


def _replay(claimed: Path, handler: Callable[[dict[str, Any]], None], path: Path) -> int:
    done, kept = 0, []
    for number, line in enumerate(claimed.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            logger.error("spool line %d is unreadable (a torn write?); moved to the .rejected file", number)
            with path.with_suffix(".rejected").open("a", encoding="utf-8") as rejected:
                rejected.write(line + "\n")
            continue
        try:
            handler(record)
            done += 1
        except Exception as error:  # noqa: BLE001 - a failing record stays spooled, whatever the reason
            logger.warning("a spooled ticket could not be replayed yet (%s)", type(error).__name__)
            kept.append(record)
    for record in kept:
        save(record, path)
    claimed.unlink()
    return done
