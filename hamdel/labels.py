"""Persian names for the values the system stores (categories, statuses), shown to customers,
agents and in reports. One place, so the bot, the actions and the reports say the same thing."""
from __future__ import annotations

from hamdel.storage.models import Category, TicketStatus

CATEGORY_LABELS: dict[str, str] = {
    Category.DELIVERY.value: "ارسال و تحویل",
    Category.PRODUCT.value: "کالا",
    Category.BILLING.value: "پرداخت و صورت‌حساب",
    Category.STAFF.value: "برخورد همکاران",
    Category.SERVICE.value: "خدمات و پشتیبانی",
}

STATUS_LABELS: dict[str, str] = {
    TicketStatus.OPEN.value: "در حال بررسی",
    TicketStatus.ESCALATED.value: "در دست کارشناس",
    TicketStatus.RESOLVED.value: "حل‌شده",
    TicketStatus.CLOSED.value: "بسته‌شده",
}

# Joins alternatives in a sentence: «A» یا «B».
OR_JOINER = " یا "
# Stored as the story of a ticket opened only because the customer asked for a person.
HANDOFF_ONLY_STORY = "مشتری پیش از تعریف ماجرا درخواست گفت‌وگو با کارشناس داد."


def quoted(text: str) -> str:
    return f"«{text}»"

# What happens next to a ticket in each status, with when — a status answer is never a bare label.
# `{when}` is a Jalali date and time («یکشنبه ۲ آذر ۱۴۰۵، ساعت ۱۴:۳۰»), `{hours}` Persian digits.
STATUS_NEXT_STEP: dict[str, str] = {
    TicketStatus.OPEN.value: "تا {when} نتیجه رو بهتون خبر می‌دیم.",
    TicketStatus.ESCALATED.value: "همکارم معمولاً تا {hours} ساعت کاری خودش همین‌جا بهتون پیام می‌ده.",
    TicketStatus.RESOLVED.value: "اگه هنوز مشکلی مونده، همین‌جا بگید تا دوباره بررسیش کنیم.",
    TicketStatus.CLOSED.value: "اگه باز هم کمکی لازم بود، همین‌جا بنویسید.",
}
# An open ticket with no follow-up scheduled (should not happen; said honestly if it does).
STATUS_WHEN_UNKNOWN = "به‌زودی"
# One line per ticket: it starts with Persian so Telegram lays it out right to left, and the code is
# isolated (U+2068 … U+2069) so its Latin letters and digits do not flip the line.
STATUS_LINE = "• پرونده‌ی {number} ({category}، ثبت‌شده در {date}): {status}؛ {next_step}"


def isolated(code: str) -> str:
    """A ticket code or command inside a right-to-left line, isolated so the line stays RTL."""
    return f"\u2068{code}\u2069"
