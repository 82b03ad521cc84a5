"""Business hours between two moments: how long a customer waited while someone could have acted.

Calendar hours punish a ticket opened on Wednesday evening for the Iranian weekend; business hours
(Saturday to Wednesday 08:00–17:00 Tehran time, minus holidays, all configurable) measure the
team. Used by the report for first-response and resolution times.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hamdel.followup_policy import FollowUpPolicy


def business_duration(start: datetime, end: datetime, policy: FollowUpPolicy) -> timedelta:
    """The part of [start, end) that falls on business days within business hours."""
    if end <= start:
        return timedelta(0)
    tz = ZoneInfo(policy.timezone)
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    total = timedelta(0)
    day = local_start.date()
    while day <= local_end.date():
        if day.weekday() in policy.business_days and day not in policy.holidays:
            open_at = datetime.combine(day, policy.business_start, tzinfo=tz)
            close_at = datetime.combine(day, policy.business_end, tzinfo=tz)
            lo, hi = max(open_at, local_start), min(close_at, local_end)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return total
