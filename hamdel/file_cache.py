"""Operator files (config/policy.yml, config/followups.yml) parsed once per version of the file.

Why: the action server read and parsed the business policy's YAML on every action call, which a
profile put at about half of its busy time (docs/performance.md). Keying the parsed value on the
file's modification time and size keeps the old promise, an edited policy takes effect on the
next message without a restart, while an unchanged file costs one `stat` per call.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
_lock = threading.Lock()
_parsed: dict[tuple[str, Callable[..., Any]], tuple[tuple[int, int], Any]] = {}


def parsed(path: Path, parse: Callable[[str], T]) -> T:
    """`parse(text of path)`, reused while the file's mtime and size stay the same.

    A parse error is raised every time (nothing is cached), so a broken edit fails as loudly as
    before; the stat is taken before reading, so a write racing the read is picked up next call."""
    stat = Path(path).stat()
    version = (stat.st_mtime_ns, stat.st_size)
    key = (str(Path(path).resolve()), parse)
    with _lock:
        hit = _parsed.get(key)
    if hit is not None and hit[0] == version:
        return hit[1]  # type: ignore[no-any-return]
    value = parse(Path(path).read_text(encoding="utf-8"))
    with _lock:
        _parsed[key] = (version, value)
    return value
