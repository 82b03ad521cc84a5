"""«شکایتم به کجا رسید؟» — only the asking customer's own tickets, Persian names, Jalali dates."""
from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import latest_entity, latest_text, policy_or_none
from followups.quiet_hours import next_allowed
from hamdel.followup_policy import load_followup_policy
from hamdel.jalali import format_jalali, format_jalali_date
from hamdel.labels import (
    CATEGORY_LABELS,
    STATUS_LABELS,
    STATUS_LINE,
    STATUS_NEXT_STEP,
    STATUS_WHEN_UNKNOWN,
    isolated,
)
from hamdel.persian import to_persian_digits
from hamdel.storage.db import session_scope
from hamdel.storage.models import FollowUpKind, FollowUpStatus, Ticket
from hamdel.storage.tickets import TICKET_PREFIX, customer_tickets, find_customer, ticket_by_number

logger = logging.getLogger(__name__)
# Six digits standing alone; «HM-», «hm », «HM» before them are just ignored. Bounded and anchored
# by look-arounds, so the search is linear on any input (the earlier optional-prefix pattern with
# two `\s*` was quadratic on long runs of spaces).
_NUMBER = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def canonical_ticket_number(raw: str | None) -> str | None:
    """`hm- 482917`, `HM482917`, `482917` → `HM-482917`."""
    if not raw:
        return None
    match = _NUMBER.search(raw)
    return f"{TICKET_PREFIX}{match.group(1)}" if match else None


def next_step(ticket: Ticket, first_response_hours: int) -> str:
    """What happens next and by when, from the ticket's status and its next pending follow-up."""
    due = next((f.due_at for f in ticket.followups if f.status is FollowUpStatus.PENDING
                and f.kind is not FollowUpKind.ACKNOWLEDGEMENT), None)
    when = format_jalali(next_allowed(due, load_followup_policy())) if due else STATUS_WHEN_UNKNOWN
    return STATUS_NEXT_STEP[ticket.status.value].format(when=when, hours=to_persian_digits(str(first_response_hours)))


def status_line(ticket: Ticket, first_response_hours: int = 24) -> str:
    # The number stays in Latin digits: it is a code the customer copies back to us.
    return STATUS_LINE.format(
        number=isolated(ticket.number), category=CATEGORY_LABELS[ticket.category.value],
        date=format_jalali_date(ticket.received_at), status=STATUS_LABELS[ticket.status.value],
        next_step=next_step(ticket, first_response_hours),
    )


def look_up(conversation_id: str, asked: str | None, first_response_hours: int = 24) -> tuple[str, str | None]:
    """(status_result, status_lines)."""
    with session_scope() as session:
        customer = find_customer(session=session, conversation_id=conversation_id)
        tickets = customer_tickets(session=session, customer_id=customer.id) if customer else []
        if asked and customer:
            ticket = ticket_by_number(session=session, customer_id=customer.id, number=asked)
            if ticket is not None:
                return "one", status_line(ticket, first_response_hours)
        if not tickets:
            return "none", None
        lines = "\n".join(status_line(t, first_response_hours) for t in tickets)
        return ("not_found" if asked else "list"), lines


class ActionShowStatus(Action):
    """List the customer's tickets, or the one whose number they gave (if it is theirs)."""

    def name(self) -> str:
        return "action_show_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        asked = canonical_ticket_number(latest_entity(tracker, "ticket_id") or (
            latest_text(tracker) if _NUMBER.search(latest_text(tracker) or "") else None))
        try:
            policy = policy_or_none()
            hours = policy.first_response_hours if policy else 24
            result, lines = await asyncio.to_thread(look_up, tracker.sender_id, asked, hours)
        except Exception:
            logger.exception("status look-up failed")
            result, lines = "unavailable", None
        return [
            SlotSet("status_result", result),
            SlotSet("status_lines", lines),
            SlotSet("asked_ticket", isolated(asked) if asked else None),
            SlotSet("ticket_id", None),
        ]
