"""«شکایتم به کجا رسید؟» — only the asking customer's own tickets, Persian names, Jalali dates."""
from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import latest_entity, latest_text
from hamdel.jalali import format_jalali_date
from hamdel.labels import CATEGORY_LABELS, STATUS_LABELS
from hamdel.storage.db import session_scope
from hamdel.storage.models import Ticket
from hamdel.storage.tickets import TICKET_PREFIX, customer_tickets, find_customer, ticket_by_number

logger = logging.getLogger(__name__)
_NUMBER = re.compile(r"(?:hm|HM|Hm|hM)?\s*-?\s*(\d{6})(?!\d)")


def canonical_ticket_number(raw: str | None) -> str | None:
    """`hm- 482917`, `HM482917`, `482917` → `HM-482917`."""
    if not raw:
        return None
    match = _NUMBER.search(raw)
    return f"{TICKET_PREFIX}{match.group(1)}" if match else None


def status_line(ticket: Ticket) -> str:
    # The number stays in Latin digits: it is a code the customer copies back to us.
    return (f"• {ticket.number} — {CATEGORY_LABELS[ticket.category.value]} — {STATUS_LABELS[ticket.status.value]}"
            f" — {format_jalali_date(ticket.received_at)}")


def look_up(conversation_id: str, asked: str | None) -> tuple[str, str | None]:
    """(status_result, status_lines)."""
    with session_scope() as session:
        customer = find_customer(session=session, conversation_id=conversation_id)
        tickets = customer_tickets(session=session, customer_id=customer.id) if customer else []
        if asked and customer:
            ticket = ticket_by_number(session=session, customer_id=customer.id, number=asked)
            if ticket is not None:
                return "one", status_line(ticket)
        if not tickets:
            return "none", None
        lines = "\n".join(status_line(t) for t in tickets)
        return ("not_found" if asked else "list"), lines


class ActionShowStatus(Action):
    """List the customer's tickets, or the one whose number they gave (if it is theirs)."""

    def name(self) -> str:
        return "action_show_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        asked = canonical_ticket_number(latest_entity(tracker, "ticket_id") or (
            latest_text(tracker) if _NUMBER.search(latest_text(tracker) or "") else None))
        try:
            result, lines = await asyncio.to_thread(look_up, tracker.sender_id, asked)
        except Exception:  # noqa: BLE001
            logger.error("status look-up failed", exc_info=True)
            result, lines = "unavailable", None
        return [
            SlotSet("status_result", result),
            SlotSet("status_lines", lines),
            SlotSet("asked_ticket", asked),
            SlotSet("ticket_id", None),
        ]
