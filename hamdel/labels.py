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
