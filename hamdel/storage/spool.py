"""A durable fallback for tickets the database would not take.

If the database is down when a customer finishes their complaint, the complaint is appended to a
JSON-lines file (flushed and fsynced) and replayed into the database later, so nothing the
customer said is lost and nothing pretends to have been saved.
"""
from __future__ import annotations

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
    """Replay spooled records through `handler`; keep the ones that still fail. Returns replayed count."""
    path = path or spool_path()
    if not path.exists():
        return 0
    claimed = path.with_suffix(".draining")
    path.rename(claimed)  # atomic: a concurrent save() starts a fresh file
    done, kept = 0, []
    for line in claimed.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        try:
            handler(record)
            done += 1
        except Exception:  # noqa: BLE001 - a failing record stays spooled, whatever the reason
            logger.warning("spooled ticket could not be replayed yet", exc_info=True)
            kept.append(record)
    for record in kept:
        save(record, path)
    claimed.unlink()
    return done
