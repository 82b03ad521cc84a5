"""A person, honestly: mark the ticket for escalation and tell the customer what happens next.

The Telegram layer sees the `handoff` event (and escalated tickets without a topic) and opens the
agents' forum topic with the whole history; the customer never repeats anything (seed 001).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import CATEGORY_BY_INTENT, customer_metadata, policy_or_none, reset_complaint
from actions.reflection import reflect_story
from actions.tickets import ticket_record, write_ticket
from hamdel.followup_policy import load_followup_policy
from hamdel.labels import HANDOFF_ONLY_STORY
from hamdel.persian import to_persian_digits
from hamdel.storage.db import session_scope
from hamdel.storage.models import utcnow
from hamdel.storage.tickets import find_customer, open_tickets
from hamdel.ticket_service import escalate

logger = logging.getLogger(__name__)


def escalate_open_ticket(conversation_id: str, reason: str, number: str | None = None) -> str | None:
    """Escalate the customer's ticket `number`, or their newest open one; None if there is none."""
    with session_scope() as session:
        customer = find_customer(session=session, conversation_id=conversation_id)
        tickets = open_tickets(session=session, customer_id=customer.id) if customer else []
        ticket = next((t for t in tickets if number is None or t.number == number), None)
        if ticket is None:
            return None
        escalate(session=session, ticket=ticket, reason=reason)
        return ticket.number


def handoff_reason(tracker: Tracker) -> str:
    return "misunderstood" if tracker.get_slot("misunderstood") == "twice" else "customer_request"


def ticket_of_this_conversation(tracker: Tracker) -> str | None:
    """The ticket this conversation is about, if any: the open ticket the customer has just added
    to, or the one opened in this conversation. An older, unrelated ticket is never escalated just
    because the customer asks for a person."""
    slot = "prior_ticket_number" if tracker.get_slot("phase") == "adding_to_prior" else "ticket_number"
    number = tracker.get_slot(slot)
    return str(number) if number else None


class ActionHandoff(Action):
    """Hand the conversation to a person, honestly.

    - A complaint in progress: open its ticket and escalate it.
    - Right after a ticket of this conversation: escalate that ticket.
    - Nothing told yet («می‌خوام با یه آدم حرف بزنم» as the first message): open a new escalated
      ticket, say how long a person usually takes, and ask for the story meanwhile; what the
      customer writes next is added to that ticket (`phase: adding_to_prior`).
    """

    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        reason = handoff_reason(tracker)
        untold = not tracker.get_slot("complaint_story")
        try:
            number = None
            if untold and ticket_of_this_conversation(tracker):
                number = await asyncio.to_thread(escalate_open_ticket, tracker.sender_id, reason,
                                                 ticket_of_this_conversation(tracker))
            waiting_for_story = untold and number is None
            if number is None:
                number = await asyncio.to_thread(self._open_and_escalate, tracker, reason)
        except Exception:
            logger.exception("hand-off failed")
            return [SlotSet("handoff_outcome", "failed")]
        dispatcher.utter_message(json_message={"event": "handoff", "ticket_number": number, "reason": reason})
        policy = policy_or_none()
        hours = policy.first_response_hours if policy else 24
        events: list[EventType] = [*reset_complaint(), SlotSet("ticket_number", number),
                                   SlotSet("first_response_hours", to_persian_digits(str(hours)))]
        if waiting_for_story:
            return events + [SlotSet("prior_ticket_number", number), SlotSet("phase", "adding_to_prior"),
                             SlotSet("handoff_outcome", "awaiting_story")]
        return events + [SlotSet("handoff_outcome", "handed_over")]

    @staticmethod
    def _open_and_escalate(tracker: Tracker, reason: str) -> str:
        record = ticket_record(tracker, utcnow())
        if not record["story"]:
            record["story"] = HANDOFF_ONLY_STORY
        if not record["reflection"]:
            record["reflection"] = reflect_story(record["story"]).text
        if not tracker.get_slot("complaint_category"):
            intent = next((e.get("parse_data", {}).get("intent", {}).get("name") for e in reversed(tracker.events)
                           if e.get("event") == "user" and e.get("parse_data", {}).get("intent", {}).get("name") in CATEGORY_BY_INTENT), None)
            record["category"] = CATEGORY_BY_INTENT.get(intent or "", "service")
        metadata = customer_metadata(tracker)
        record["display_name"] = record.get("display_name") or metadata.get("display_name")
        opened = write_ticket(record, load_followup_policy())
        if not opened.escalated:
            escalate_open_ticket(tracker.sender_id, reason, number=opened.number)
        return opened.number
