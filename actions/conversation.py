"""What every action needs to know about the conversation: who the customer is, what they just
said, and how to put the complaint slots back to a clean state."""
from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

from hamdel.policy import BusinessPolicy, load_policy

logger = logging.getLogger(__name__)

STORY_SLOTS = (
    "phase", "complaint_story", "story_turns", "complaint_category", "anger", "reflection", "key_words",
    "prior_ticket_number", "prior_ticket_date", "prior_ticket_status", "empathy_variant", "wish_known",
    "remedy", "remedy_text", "remedy_label", "remedy_promise", "declined_wish", "decline_reason",
    "decline_count", "alternative", "alternative_label", "alternatives_text", "resolution", "order_id",
    "second_alternative_label", "second_alternative_payload", "third_alternative_label",
    "third_alternative_payload", "offer_kind", "pending_message", "pending_category", "phase_before_cancel", "deescalate",
    "deescalated", "correction_round", "misunderstood",
)
CATEGORY_BY_INTENT = {
    "complain_delivery": "delivery",
    "complain_product": "product",
    "complain_billing": "billing",
    "complain_staff": "staff",
    "complain_service": "service",
}
# When the first message is a wish ("I want my money back"), the wish hints at the topic.
CATEGORY_BY_WISH = {
    "refund": "billing", "replacement": "product", "repair": "product", "apology": "staff",
    "compensation": "service", "expedite": "delivery", "cancel_order": "delivery", "follow_up": "service",
}
# Intents that mean "this is (part of) a complaint".
COMPLAINT_INTENTS = frozenset({*CATEGORY_BY_INTENT, "request_resolution"})


def latest_text(tracker: Tracker) -> str:
    """The customer's latest message as the NLU saw it (normalised); button payloads are not words."""
    text = (tracker.latest_message or {}).get("text") or ""
    return "" if text.startswith("/") else text.strip()


def latest_intent(tracker: Tracker) -> str | None:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def latest_entity(tracker: Tracker, entity: str) -> str | None:
    values = [e.get("value") for e in (tracker.latest_message or {}).get("entities") or [] if e.get("entity") == entity]
    return str(values[-1]) if values else None


def customer_metadata(tracker: Tracker) -> dict[str, Any]:
    """What the front end told us about the sender (display name, chat id) with the message."""
    for event in reversed(tracker.events):
        metadata = event.get("metadata")
        if event.get("event") == "user" and isinstance(metadata, dict) and metadata:
            return metadata
    return {}


def with_slots(tracker: Tracker, events: list[EventType]) -> Tracker:
    """The tracker as Rasa will hold it after `events` (their slot changes), for an action that
    goes on to work from its own decisions; the tracker the action was called with stays as it came
    (the action server compares the answer's slots with it)."""
    updated = Tracker(tracker.sender_id, dict(tracker.slots), tracker.latest_message, list(tracker.events),
                      tracker.is_paused(), tracker.followup_action, tracker.active_loop, tracker.latest_action_name)
    updated.add_slots(events)
    return updated


def reset_complaint() -> list[EventType]:
    """Clear everything about the complaint in progress (after a ticket, a cancel or a hand-off)."""
    return [SlotSet(name, None) for name in STORY_SLOTS]


def policy_or_none() -> BusinessPolicy | None:
    try:
        return load_policy()
    except (OSError, ValueError) as error:
        logger.error("business policy unreadable: %s", error)
        return None
