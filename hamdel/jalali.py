"""Dates shown to customers: Jalali calendar, Tehran time, Persian digits.

jdatetime does the calendar arithmetic; month and weekday names are kept here rather than relying
on a system locale, which minimal containers do not have.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import jdatetime

from hamdel.persian import to_persian_digits

TEHRAN = ZoneInfo("Asia/Tehran")
MONTHS = (
    "فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور",
    "مهر", "آبان", "آذر", "دی", "بهمن", "اسفند",
)
# Python's weekday(): Monday is 0.
WEEKDAYS = ("دوشنبه", "سه‌شنبه", "چهارشنبه", "پنجشنبه", "جمعه", "شنبه", "یکشنبه")


def format_jalali(moment: datetime, *, with_time: bool = True, tz: ZoneInfo = TEHRAN) -> str:
    """E.g. «یکشنبه ۲ آذر ۱۴۰۵، ساعت ۱۴:۳۰»."""
    local = moment.astimezone(tz)
    j = jdatetime.date.fromgregorian(date=local.date())
    text = f"{WEEKDAYS[local.weekday()]} {j.day} {MONTHS[j.month - 1]} {j.year}"
    if with_time:
        text += f"، ساعت {local:%H:%M}"
    return to_persian_digits(text)


def format_jalali_date(moment: datetime, tz: ZoneInfo = TEHRAN) -> str:
    """E.g. «۲ آذر ۱۴۰۵» — for lists where the weekday is noise."""
    local = moment.astimezone(tz)
    j = jdatetime.date.fromgregorian(date=local.date())
    return to_persian_digits(f"{j.day} {MONTHS[j.month - 1]} {j.year}")
