"""What each follow-up says and to whom, or why it should no longer be sent.

A follow-up is written hours or days before it is due; by then the ticket may be resolved, the
customer may have said `/stop` or blocked the bot. `compose` decides at send time, from the row as
it is now, so a stale promise is cancelled instead of sent.
"""
from __future__ import annotations

from dataclasses import dataclass


from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from followups import texts
from hamdel.followup_policy import FollowUpPolicy
from hamdel.jalali import format_jalali
from hamdel.labels import CATEGORY_LABELS, STATUS_LABELS
from hamdel.storage.followups import FIRST_RESPONSE_REMINDER, OPEN_STATUSES
from hamdel.storage.models import Customer, FollowUp, FollowUpKind, FollowUpStatus, Ticket, TicketStatus

CALLBACK_PREFIX = "fu"


@dataclass(frozen=True)
class Outgoing:
    """One Bot API `sendMessage`."""

    chat_id: int
    text: str
    reply_markup: InlineKeyboardMarkup | None = None
    message_thread_id: int | None = None
    customer_id: int | None = None  # set for customer-facing messages (a 403 blocks this customer)


@dataclass(frozen=True)
class Skip:
    """The follow-up should not be sent: cancelled (no longer relevant) or failed (cannot be)."""

    status: FollowUpStatus
    reason: str


def solved_data(followup_id: int, solved: bool) -> str:
    return f"{CALLBACK_PREFIX}:solved:{followup_id}:{'y' if solved else 'n'}"


def rating_data(followup_id: int, score: int) -> str:
    return f"{CALLBACK_PREFIX}:rate:{followup_id}:{score}"


def skip_comment_data(ticket_id: int) -> str:
    return f"{CALLBACK_PREFIX}:skip:{ticket_id}"


def customer_chat_id(customer: Customer) -> int | None:
    """The private chat to write to; in Telegram a private chat's id is the user's id."""
    if customer.chat_id is not None:
        return customer.chat_id
    if customer.channel == "telegram" and customer.external_id.lstrip("-").isdigit():
        return int(customer.external_id)
    return None


def resolution_keyboard(followup_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(texts.SOLVED_YES_BUTTON, callback_data=solved_data(followup_id, True)),
        InlineKeyboardButton(texts.SOLVED_NO_BUTTON, callback_data=solved_data(followup_id, False)),
    ]])


def rating_keyboard(followup_id: int) -> InlineKeyboardMarkup:
    # Right-to-left readers expect 1 on the right: Telegram lays buttons out left to right.
    buttons = [InlineKeyboardButton(label, callback_data=rating_data(followup_id, score))
               for score, label in enumerate(texts.RATING_BUTTONS, start=1)]
    return InlineKeyboardMarkup([list(reversed(buttons))])


def skip_comment_keyboard(ticket_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(texts.SKIP_COMMENT_BUTTON,
                                                       callback_data=skip_comment_data(ticket_id))]])


def _cancel(reason: str) -> Skip:
    return Skip(FollowUpStatus.CANCELLED, reason)


def compose(followup: FollowUp, *, policy: FollowUpPolicy, agent_chat_id: int | None) -> Outgoing | Skip:
    """The message for `followup` given the ticket's state now, or why not to send one."""
    ticket: Ticket = followup.ticket
    if followup.kind is FollowUpKind.AGENT_REMINDER:
        return _agent_reminder(followup, ticket, policy=policy, agent_chat_id=agent_chat_id)

    customer = ticket.customer
    if customer.followups_opted_out:
        return _cancel("customer opted out")
    if customer.blocked_bot_at is not None:
        return Skip(FollowUpStatus.FAILED, "customer blocked the bot")
    chat_id = customer_chat_id(customer)
    if chat_id is None:
        return Skip(FollowUpStatus.FAILED, f"no Telegram chat for channel {customer.channel}")

    key = followup.id
    if followup.kind is FollowUpKind.ACKNOWLEDGEMENT:
        if ticket.acknowledged_at is not None:
            return _cancel("acknowledged in chat")
        text = texts.pick(texts.ACKNOWLEDGEMENT, key).format(number=ticket.number)
        return Outgoing(chat_id, text, customer_id=customer.id)
    if followup.kind is FollowUpKind.CHECK_IN:
        if ticket.status not in OPEN_STATUSES:
            return _cancel(f"ticket is {ticket.status.value}")
        text = texts.pick(texts.CHECK_IN, key + followup.sequence).format(
            number=ticket.number, status=STATUS_LABELS[ticket.status.value],
            received=format_jalali(ticket.received_at))
        return Outgoing(chat_id, text, customer_id=customer.id)
    if followup.kind is FollowUpKind.RESOLUTION_CHECK:
        if ticket.status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED) or ticket.solved_confirmed is not None:
            return _cancel("ticket no longer awaits confirmation")
        text = texts.pick(texts.RESOLUTION_CHECK, key).format(number=ticket.number)
        return Outgoing(chat_id, text, resolution_keyboard(followup.id), customer_id=customer.id)
    if followup.kind is FollowUpKind.SATISFACTION:
        if ticket.csat_score is not None:
            return _cancel("already rated")
        text = texts.pick(texts.SATISFACTION, key).format(number=ticket.number)
        return Outgoing(chat_id, text, rating_keyboard(followup.id), customer_id=customer.id)
    return _cancel(f"unknown kind {followup.kind}")  # pragma: no cover


def _agent_reminder(
    followup: FollowUp, ticket: Ticket, *, policy: FollowUpPolicy, agent_chat_id: int | None,
) -> Outgoing | Skip:
    if agent_chat_id is None:
        return _cancel("no agents' chat configured")
    if ticket.status not in OPEN_STATUSES:
        return _cancel(f"ticket is {ticket.status.value}")
    category = CATEGORY_LABELS[ticket.category.value]
    if followup.sequence == FIRST_RESPONSE_REMINDER:
        if ticket.first_human_response_at is not None:
            return _cancel("first response already given")
        deadline = format_jalali(ticket.received_at + policy.first_response_target)
        text = texts.AGENT_FIRST_RESPONSE_DUE.format(number=ticket.number, category=category, deadline=deadline)
    else:
        deadline = format_jalali(ticket.received_at + policy.resolution_target)
        text = texts.AGENT_RESOLUTION_DUE.format(number=ticket.number, category=category,
                                                 status=STATUS_LABELS[ticket.status.value], deadline=deadline)
    return Outgoing(agent_chat_id, text, message_thread_id=ticket.agent_topic_id)


def agent_reopened_text(ticket: Ticket) -> str:
    return texts.AGENT_REOPENED.format(number=ticket.number, reopened=_fa(ticket.reopened_count))


def agent_comment_text(ticket: Ticket, comment: str) -> str:
    return texts.AGENT_COMMENT.format(number=ticket.number, score=_fa(ticket.csat_score or 0), comment=comment)


def _fa(value: int) -> str:
    from hamdel.persian import to_persian_digits

    return to_persian_digits(str(value))


def rated_reply(score: int, ticket_id: int) -> tuple[str, InlineKeyboardMarkup]:
    variants = texts.RATING_THANKS_HIGH if score >= 4 else texts.RATING_THANKS_LOW
    return texts.pick(variants, ticket_id), skip_comment_keyboard(ticket_id)


