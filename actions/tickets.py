"""Provide: open the ticket and give the customer everything that was recorded.

A write failure is never hidden: the action retries, then spools the complaint to disk and tells
the customer honestly; spooled complaints are replayed on the next successful write.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import customer_metadata
from followups.quiet_hours import next_allowed
from hamdel.followup_policy import FollowUpPolicy, load_followup_policy
from hamdel.jalali import format_jalali
from hamdel.storage import spool
from hamdel.storage.db import session_scope
from hamdel.storage.models import Category, FollowUpKind, Severity, Ticket, utcnow
from hamdel.storage.tickets import get_or_create_customer, split_conversation_id, ticket_for_turn
from hamdel.ticket_service import escalate, open_ticket

logger = logging.getLogger(__name__)
TRANSCRIPT_LINE = "transcript_line"  # metadata key: the front end's transcript line of the turn
WRITE_ATTEMPTS = 3
RETRY_DELAYS = (0.2, 0.6)


@dataclass(frozen=True)
class OpenedTicket:
    number: str
    escalated: bool
    check_in_due: datetime


def write_ticket(record: dict[str, Any], followup_policy: FollowUpPolicy, *, in_chat: bool = True) -> OpenedTicket:
    """Create customer, ticket and follow-ups in one transaction; escalate high-severity ones.

    A turn the front end re-runs (its answer was lost after the ticket was written) gets the ticket
    that turn already opened; a concurrent first write makes this one fail on the unique key, and
    the caller's retry finds the ticket."""
    received_at = datetime.fromisoformat(record["received_at"])
    with session_scope() as session:
        channel, external_id = split_conversation_id(record["conversation_id"])
        customer = get_or_create_customer(
            session=session, channel=channel, external_id=external_id,
            display_name=record.get("display_name"), chat_id=record.get("chat_id"),
        )
        if record.get("phone"):
            customer.phone = record["phone"]
        session.flush()
        existing = ticket_for_turn(session=session, customer_id=customer.id, turn_id=record.get("turn_id"))
        if existing is not None:
            return opened_ticket(existing)
        ticket = open_ticket(
            session=session,
            customer=customer,
            conversation_id=record["conversation_id"],
            category=Category(record["category"]),
            story=record["story"],
            key_words=record.get("key_words") or [],
            reflection=record["reflection"],
            order_id=record.get("order_id"),
            remedy_sought=record.get("remedy"),
            remedy_sought_text=record.get("remedy_text"),
            remedy_offered=record.get("remedy_promise"),
            anger=int(record.get("anger") or 0),
            followup_policy=followup_policy,
            now=received_at,
            turn_id=record.get("turn_id"),
            acknowledged_in_chat=in_chat,
            story_first_line=record.get("story_first_line"),
        )
        if ticket.severity in (Severity.HIGH, Severity.CRITICAL):
            escalate(session=session, ticket=ticket, reason="severity", now=received_at)
        return opened_ticket(ticket)


def opened_ticket(ticket: Ticket) -> OpenedTicket:
    check_in = next(f.due_at for f in ticket.followups if f.kind is FollowUpKind.CHECK_IN)
    return OpenedTicket(number=ticket.number, escalated=ticket.severity in (Severity.HIGH, Severity.CRITICAL),
                        check_in_due=check_in)


def latest_turn_id(tracker: Tracker) -> str | None:
    """The front end's id of the turn being answered (only the latest message's, never an older one)."""
    metadata = tracker.latest_message.get("metadata")
    if not isinstance(metadata, dict):
        user_events = [e for e in tracker.events if e.get("event") == "user"]
        metadata = user_events[-1].get("metadata") if user_events else None
    turn_id = metadata.get("turn_id") if isinstance(metadata, dict) else None
    return str(turn_id) if turn_id else None


def story_first_line(events: Sequence[dict[str, Any]]) -> int | None:
    """The transcript line the complaint being filed began with, read from the tracker's events.

    The front end sends the id of the line it wrote for each turn (`transcript_line` in the
    metadata). A story begins in the turn where `complaint_story` goes from empty (or just cleared
    by `action_hear_story` starting anew) to words; if that turn answered «مشکلی پیش اومده؟»
    (phase `asked_complaint`), the story begins with the parked message's turn, whose words are its
    first part. With no story at all (a customer who only asked for a person) it is the latest turn.
    None when the channel keeps no transcript: the ticket then takes no lines."""
    last_user: dict[str, Any] | None = None
    parked: dict[str, Any] | None = None
    start: dict[str, Any] | None = None
    phase: Any = None
    phase_at_turn: Any = None
    empty = True
    for event in events:
        kind = event.get("event")
        if kind == "user":
            last_user, phase_at_turn = event, phase
        elif kind == "restart":
            phase, empty = None, True
        elif kind == "slot":
            name, value = event.get("name"), event.get("value")
            if name == "phase":
                phase = value
            elif name == "pending_message" and value:
                parked = last_user
            elif name == "complaint_story" and not value:
                empty = True
            elif name == "complaint_story" and empty:
                start = parked if phase_at_turn == "asked_complaint" and parked is not None else last_user
                empty = False
    chosen = start or last_user
    line = ((chosen or {}).get("metadata") or {}).get(TRANSCRIPT_LINE)
    return int(line) if isinstance(line, int | str) and str(line).isdigit() else None


def ticket_record(tracker: Tracker, now: datetime) -> dict[str, Any]:
    metadata = customer_metadata(tracker)
    return {
        "conversation_id": tracker.sender_id,
        "turn_id": latest_turn_id(tracker),
        "display_name": metadata.get("display_name"),
        "chat_id": metadata.get("chat_id"),
        "category": tracker.get_slot("complaint_category") or "service",
        "story": tracker.get_slot("complaint_story") or "",
        "key_words": tracker.get_slot("key_words") or [],
        "reflection": tracker.get_slot("reflection") or "",
        "order_id": tracker.get_slot("order_id"),
        "remedy": tracker.get_slot("remedy"),
        "remedy_text": tracker.get_slot("remedy_text"),
        "remedy_promise": tracker.get_slot("remedy_promise"),
        "anger": tracker.get_slot("anger") or 0,
        "phone": tracker.get_slot("phone"),
        "received_at": now.isoformat(),
        "story_first_line": story_first_line(tracker.events),
    }


def replay_spooled_tickets() -> int:
    policy = load_followup_policy()

    def replay(record: dict[str, Any]) -> None:
        # The customer of a spooled complaint never saw its number: the acknowledgement follow-up tells it.
        write_ticket(record, policy, in_chat=False)

    return spool.drain(replay)


async def open_ticket_events(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """Open the ticket for the complaint the tracker holds; the summary slots, or an honest «not yet».

    Called by `action_open_ticket` and by `action_evaluate_remedy` itself when the wish can be
    promised (or nothing was asked): that turn then costs one action call, not two."""
    record = ticket_record(tracker, utcnow())
    followup_policy = load_followup_policy()
    opened: OpenedTicket | None = None
    for attempt in range(WRITE_ATTEMPTS):
        try:
            opened = await asyncio.to_thread(write_ticket, record, followup_policy)
            break
        except Exception:  # noqa: BLE001 - any failure means the ticket is not stored
            logger.warning("ticket write failed (attempt %d of %d)", attempt + 1, WRITE_ATTEMPTS, exc_info=True)
            if attempt < len(RETRY_DELAYS):
                await asyncio.sleep(RETRY_DELAYS[attempt])
    if opened is None:
        await asyncio.to_thread(spool.save, record)
        logger.error("ticket spooled for later; the customer was told it is not stored yet")
        return [SlotSet("phase", None), SlotSet("ticket_outcome", "saved_for_retry")]

    try:
        replayed = await asyncio.to_thread(replay_spooled_tickets)
        if replayed:
            logger.info("replayed %d spooled tickets", replayed)
    except Exception:  # noqa: BLE001 - replay is best effort; the records stay spooled
        logger.warning("spool replay failed", exc_info=True)

    dispatcher.utter_message(json_message={"event": "ticket_opened", "ticket_number": opened.number})
    if opened.escalated:
        dispatcher.utter_message(json_message={"event": "handoff", "ticket_number": opened.number, "reason": "severity"})
    followup_at = next_allowed(opened.check_in_due, followup_policy)
    return [
        SlotSet("ticket_number", opened.number),
        SlotSet("followup_time", format_jalali(followup_at)),
        SlotSet("phase", None),
        SlotSet("ticket_outcome", "escalated" if opened.escalated else "opened"),
    ]


class ActionOpenTicket(Action):
    """Open the ticket (ISO 10002 record), schedule its follow-ups and fill the summary slots."""

    def name(self) -> str:
        return "action_open_ticket"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        return await open_ticket_events(dispatcher, tracker)
