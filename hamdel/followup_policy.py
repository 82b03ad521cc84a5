"""When follow-ups fall due (config/followups.yml), as pure functions of a ticket and a time.

Creating a ticket writes the follow-ups it owes (seed 001/002: a promised follow-up must happen);
the scheduler that sends them lives in the bot process (`followups/`). Durations are strings like
`30s`, `5m`, `2h`, `1d` so tests can compress a day into seconds.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

import yaml

from hamdel import file_cache
from hamdel.settings import get_settings

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Python's weekday(): Monday is 0.
_WEEKDAY_NAMES = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def parse_duration(text: str | int | float) -> timedelta:
    """`'24h'` → 24 hours. Bare numbers are seconds. Anything else is an error, not a guess."""
    if isinstance(text, (int, float)):
        return timedelta(seconds=float(text))
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 5m, 2h, 1d)")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


@dataclass(frozen=True)
class SchedulerSettings:
    """How the sender behaves; separate from *when* things are due so a benchmark can tune it."""

    poll_interval: timedelta = timedelta(seconds=1)
    lease: timedelta = timedelta(minutes=2)
    batch_size: int = 200
    concurrency: int = 16
    max_per_second: float | None = 29.0  # just under Telegram's ~30/s for the whole bot


@dataclass(frozen=True)
class FollowUpPolicy:
    acknowledgement_after: timedelta
    check_in_after: timedelta
    check_in_repeat: timedelta
    resolution_check_after: timedelta
    satisfaction_after: timedelta
    first_response_target: timedelta
    resolution_target: timedelta
    breach_warning_before: timedelta
    quiet_start: time
    quiet_end: time
    timezone: str
    holidays: frozenset[date] = field(default_factory=frozenset)
    check_in_max: int = 3
    comment_window: timedelta = timedelta(hours=2)
    quiet_exempt: frozenset[str] = frozenset({"acknowledgement", "agent_reminder"})
    business_days: frozenset[int] = frozenset({5, 6, 0, 1, 2})  # Saturday to Wednesday
    business_start: time = time(8, 0)
    business_end: time = time(17, 0)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)


def _scheduler_settings(raw: dict[str, Any]) -> SchedulerSettings:
    cap = raw.get("max_per_second", 29)
    return SchedulerSettings(
        poll_interval=parse_duration(raw.get("poll_interval", "1s")),
        lease=parse_duration(raw.get("lease", "2m")),
        batch_size=int(raw.get("batch_size", 200)),
        concurrency=int(raw.get("concurrency", 16)),
        max_per_second=None if cap in (None, 0, "none") else float(cap),
    )


def load_followup_policy(path: Path | None = None) -> FollowUpPolicy:
    """The follow-up policy file, parsed again only when it changed (hamdel/file_cache.py)."""
    return file_cache.parsed(Path(path or get_settings().followup_policy_path), _followup_policy_from_text)


def _followup_policy_from_text(text: str) -> FollowUpPolicy:
    raw = yaml.safe_load(text)
    quiet = raw.get("quiet_hours") or {}
    business = raw.get("business_hours") or {}
    days = business.get("days") or ["sat", "sun", "mon", "tue", "wed"]
    return FollowUpPolicy(
        acknowledgement_after=parse_duration(raw.get("acknowledgement_after", "0s")),
        check_in_after=parse_duration(raw.get("check_in_after", "24h")),
        check_in_repeat=parse_duration(raw.get("check_in_repeat", "48h")),
        resolution_check_after=parse_duration(raw.get("resolution_check_after", "2h")),
        satisfaction_after=parse_duration(raw.get("satisfaction_after", "1h")),
        first_response_target=parse_duration(raw.get("first_response_target", "24h")),
        resolution_target=parse_duration(raw.get("resolution_target", "72h")),
        breach_warning_before=parse_duration(raw.get("breach_warning_before", "2h")),
        quiet_start=time.fromisoformat(str(quiet.get("start", "22:00"))),
        quiet_end=time.fromisoformat(str(quiet.get("end", "08:00"))),
        timezone=str(quiet.get("timezone", "Asia/Tehran")),
        holidays=frozenset(date.fromisoformat(str(d)) for d in raw.get("holidays") or ()),
        check_in_max=int(raw.get("check_in_max", 3)),
        comment_window=parse_duration(raw.get("comment_window", "2h")),
        quiet_exempt=frozenset(str(k) for k in quiet.get("exempt", ["acknowledgement", "agent_reminder"])),
        business_days=frozenset(_WEEKDAY_NAMES[str(d).lower()[:3]] for d in days),
        business_start=time.fromisoformat(str(business.get("start", "08:00"))),
        business_end=time.fromisoformat(str(business.get("end", "17:00"))),
        scheduler=_scheduler_settings(raw.get("scheduler") or {}),
    )
