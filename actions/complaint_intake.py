"""Hear and reflect: collect the whole story, check prior complaints, reflect it back, take
corrections. Each action returns slot events only; rules pick the response that follows."""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions.conversation import (
    CATEGORY_BY_INTENT,
    CATEGORY_BY_WISH,
    latest_entity,
    latest_intent,
    latest_text,
    reset_complaint,
)
from actions.empathy import estimate_anger
from actions.reflection import reflect_story
from hamdel.jalali import format_jalali_date
from hamdel.labels import STATUS_LABELS
from hamdel.storage.db import session_scope
from hamdel.storage.models import Category, TicketEvent, utcnow
from hamdel.storage.tickets import find_customer, open_tickets

logger = logging.getLogger(__name__)
MISUNDERSTOOD_INTENTS = {"out_of_scope", "nlu_fallback"}


def append_to_story(story: str | None, text: str) -> str:
    return f"{story}\n{text}" if story and text else (story or text)


def turns_label(count: int) -> str:
    return "one" if count <= 1 else "two" if count == 2 else "many"


def find_prior_open_ticket(conversation_id: str, category: str) -> dict[str, str] | None:
    """The customer's newest open ticket in this category, as the slots that describe it."""
    with session_scope() as session:
        customer = find_customer(session=session, conversation_id=conversation_id)
        if customer is None:
            return None
        tickets = open_tickets(session=session, customer_id=customer.id, category=Category(category))
        if not tickets:
            return None
        ticket = tickets[0]
        return {
            "prior_ticket_number": ticket.number,
            "prior_ticket_date": format_jalali_date(ticket.received_at),
            "prior_ticket_status": STATUS_LABELS[ticket.status.value],
        }


class ActionHearStory(Action):
    """Add the customer's message to the story without cutting in (seed 000: let them empty
    their heart), and on the first part check for an open ticket on the same topic (seed 001)."""

    def name(self) -> str:
        return "action_hear_story"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        text = latest_text(tracker)
        phase = tracker.get_slot("phase")
        events: list[EventType] = []
        if phase is None:
            # A new complaint: forget the previous one's leftovers (kept until now for its summary),
            # but not the order number or wish stated in this very message.
            events += reset_complaint()
            events += [SlotSet("order_id", latest_entity(tracker, "order_id")),
                       SlotSet("resolution", latest_entity(tracker, "resolution"))]
            previous_story, previous_category, previous_anger = None, None, 0.0
        else:
            previous_story = tracker.get_slot("complaint_story")
            previous_category = tracker.get_slot("complaint_category")
            previous_anger = float(tracker.get_slot("anger") or 0)
        story = append_to_story(previous_story, text)
        turns = len([line for line in (story or "").split("\n") if line.strip()])
        category = previous_category or CATEGORY_BY_INTENT.get(latest_intent(tracker) or "")
        if category is None:
            category = CATEGORY_BY_WISH.get(latest_entity(tracker, "resolution") or "", "service")
        anger = max(previous_anger, float(estimate_anger(text)))
        events += [
            SlotSet("complaint_story", story),
            SlotSet("story_turns", turns_label(turns)),
            SlotSet("complaint_category", category),
            SlotSet("anger", anger),
        ]
        if phase is None:
            try:
                prior = await asyncio.to_thread(find_prior_open_ticket, tracker.sender_id, category)
            except SQLAlchemyError:
                logger.warning("prior-ticket look-up failed; continuing as a new complaint", exc_info=True)
                prior = None
            if prior:
                return events + [SlotSet(k, v) for k, v in prior.items()] + [SlotSet("phase", "asked_prior")]
        return events + [SlotSet("phase", "asked_prior" if phase == "asked_prior" else "hearing")]


class ActionContinueNewComplaint(Action):
    """The customer says this is a new matter, not the open ticket: keep listening."""

    def name(self) -> str:
        return "action_continue_new_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        return [SlotSet("phase", "hearing"), SlotSet("prior_ticket_number", None)]


def add_to_prior_ticket(conversation_id: str, number: str, story: str, now: datetime) -> str | None:
    """Append the new words to the open ticket; returns its status label, None if not found."""
    with session_scope() as session:
        customer = find_customer(session=session, conversation_id=conversation_id)
        ticket = next((t for t in open_tickets(session=session, customer_id=customer.id) if t.number == number), None) if customer else None
        if ticket is None:
            return None
        ticket.story = f"{ticket.story}\n\n{story}"
        ticket.updated_at = now
        session.add(TicketEvent(ticket=ticket, kind="customer_update", actor="customer", body=story, created_at=now))
        return STATUS_LABELS[ticket.status.value]


class ActionLinkPriorTicket(Action):
    """It is about the open ticket: add what was said to it, so nobody asks again (seed 001)."""

    def name(self) -> str:
        return "action_link_prior_ticket"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        number = tracker.get_slot("prior_ticket_number")
        story = tracker.get_slot("complaint_story") or ""
        try:
            status = await asyncio.to_thread(add_to_prior_ticket, tracker.sender_id, number, story, utcnow())
        except SQLAlchemyError:
            logger.error("could not add the customer's update to their ticket", exc_info=True)
            # Keep the story and the question open: nothing the customer said is dropped.
            return [SlotSet("prior_outcome", "failed")]
        if status is None:
            return [SlotSet("prior_outcome", "failed")]
        return [*reset_complaint(), SlotSet("prior_ticket_number", number), SlotSet("prior_ticket_status", status),
                SlotSet("prior_outcome", "updated")]


class ActionReflect(Action):
    """Reflect the whole story back in the customer's own words, in second person."""

    def name(self) -> str:
        return "action_reflect"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        reflection = reflect_story(tracker.get_slot("complaint_story") or "", order_id=tracker.get_slot("order_id"))
        return [
            SlotSet("reflection", reflection.text),
            SlotSet("key_words", list(reflection.key_words)),
            SlotSet("phase", "confirming"),
        ]


class ActionStartCorrection(Action):
    """The reflection was wrong: wait for the customer's correction."""

    def name(self) -> str:
        return "action_start_correction"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        return [SlotSet("phase", "correcting")]


class ActionTakeCorrection(Action):
    """Add the correction to the story (newest words win in the reflection) and reflect again."""

    def name(self) -> str:
        return "action_take_correction"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        text = latest_text(tracker)
        for opener in ("نه،", "نه ", "خیر،", "خیر "):
            if text.startswith(opener):
                text = text[len(opener):].strip()
        story = append_to_story(tracker.get_slot("complaint_story"), text)
        reflection = reflect_story(story or "", order_id=latest_entity(tracker, "order_id") or tracker.get_slot("order_id"))
        anger = max(float(tracker.get_slot("anger") or 0), float(estimate_anger(text)))
        return [
            SlotSet("complaint_story", story),
            SlotSet("reflection", reflection.text),
            SlotSet("key_words", list(reflection.key_words)),
            SlotSet("anger", anger),
            SlotSet("phase", "confirming"),
        ]


class ActionCancelComplaint(Action):
    """The customer stops: forget the complaint in progress, record nothing."""

    def name(self) -> str:
        return "action_cancel_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        in_progress = tracker.get_slot("phase") is not None or bool(tracker.get_slot("complaint_story"))
        return [*reset_complaint(), SlotSet("cancel_outcome", "cancelled" if in_progress else "nothing")]


def misunderstood_in_a_row(events: list[dict[str, Any]]) -> int:
    """How many of the latest customer messages in a row the bot could not place."""
    count = 0
    for event in reversed(events):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent in MISUNDERSTOOD_INTENTS:
            count += 1
        else:
            break
    return count


class ActionCountMisunderstanding(Action):
    """Redirect politely the first time; after two misunderstandings in a row, offer a person."""

    def name(self) -> str:
        return "action_count_misunderstanding"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        count = misunderstood_in_a_row(tracker.events)
        return [SlotSet("misunderstood", "twice" if count >= 2 else "once")]
