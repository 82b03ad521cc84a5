"""Quiet hours in Tehran time: an unsolicited message at 23:00 is an intrusion, not care.

The one home of this rule: the scheduler waits by it and the actions promise times by it (the
check-in time in the ticket summary, the status answer), so the promise and the delivery agree: quiet from `quiet_start` to `quiet_end`
(wrapping midnight) and all day on holidays; the next allowed moment is `quiet_end` of the next
day that is not a holiday.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hamdel.followup_policy import FollowUpPolicy


def is_quiet(moment: datetime, policy: FollowUpPolicy) -> bool:
    """True when `moment` falls inside quiet hours or on a holiday (in the policy's time zone)."""
    local = moment.astimezone(ZoneInfo(policy.timezone))
    if local.date() in policy.holidays:
        return True
    start, end, t = policy.quiet_start, policy.quiet_end, local.time()
    if start == end:
        return False
    return (start <= t or t < end) if start > end else (start <= t < end)


def next_allowed(moment: datetime, policy: FollowUpPolicy) -> datetime:
    """`moment` itself if not quiet, otherwise the next morning's end of quiet hours."""
    if not is_quiet(moment, policy):
        return moment
    tz = ZoneInfo(policy.timezone)
    local = moment.astimezone(tz)
    end = policy.quiet_end
    morning = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if morning <= local:
        morning = (morning + timedelta(days=1)).replace(hour=end.hour, minute=end.minute)
    while morning.date() in policy.holidays:
        morning = morning + timedelta(days=1)
    return morning.astimezone(moment.tzinfo)
