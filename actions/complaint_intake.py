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
    policy_or_none,
    reset_complaint,
)
from actions.empathy import choose_variant, contains_insult, estimate_anger, situation_for, tone_for, variant_keys
from actions.reflection import apply_correction, reflect_story
from actions.remedies import canonical_wish
from actions.triage import COMPLAINT_FLOOR
from hamdel.jalali import format_jalali_date
from hamdel.labels import STATUS_LABELS
from hamdel.storage.db import session_scope
from hamdel.storage.models import Category, utcnow
from hamdel.storage.tickets import find_customer, open_tickets
from hamdel.ticket_service import add_customer_update

logger = logging.getLogger(__name__)


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


def category_from_ranking(parse_data: dict[str, Any]) -> str | None:
    """The complaint category the NLU ranked highest, when its top intent names none (a wish
    such as «پولمو می‌خوام» is request_resolution; the story may still be about a product)."""
    ranked = [(float(e.get("confidence") or 0), e.get("name")) for e in parse_data.get("intent_ranking") or []
              if e.get("name") in CATEGORY_BY_INTENT and float(e.get("confidence") or 0) >= COMPLAINT_FLOOR]
    return CATEGORY_BY_INTENT[max(ranked)[1]] if ranked else None


def stated_wish(tracker: Tracker, text: str, category: str | None) -> str | None:
    """A remedy the customer names while telling the story (NLU entity, or the operator's phrases).
    A wish for follow-up is not taken from the story: «گفتن پیگیری می‌کنیم» is what happened,
    not what the customer asks for."""
    policy = policy_or_none()
    entity = latest_entity(tracker, "resolution")
    if policy is None:
        return entity
    wish = policy.match_wish(text, category) or canonical_wish(entity, policy, category)
    return wish if wish and wish != "follow_up" and wish not in policy.refused(text) else None


class ActionHearStory(Action):
    """Add the customer's message to the story without cutting in (seed 000: let them empty
    their heart), and on the first part check once for an open ticket on the same topic (seed 001).

    The first part may be a message the bot asked about («مشکلی پیش اومده؟» → «بله»): that message
    becomes the start of the story. The first insult gets one calm, de-escalating answer
    (`deescalate`, read by utter_ask_more); the words are still taken.
    """

    def name(self) -> str:
        return "action_hear_story"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        text = latest_text(tracker)
        phase = tracker.get_slot("phase")
        intent = latest_intent(tracker) or ""
        events: list[EventType] = []
        starting = phase in (None, "asked_complaint")
        if starting:
            pending = tracker.get_slot("pending_message") if phase == "asked_complaint" else None
            pending_category = tracker.get_slot("pending_category") if phase == "asked_complaint" else None
            # A new complaint: forget the previous one's leftovers (kept until now for its summary),
            # but not the order number or wish stated in this very message.
            events += reset_complaint()
            events += [SlotSet("order_id", latest_entity(tracker, "order_id")),
                       SlotSet("resolution", latest_entity(tracker, "resolution"))]
            previous_story, previous_category = pending, pending_category
            previous_anger = float(estimate_anger(pending)) if pending else 0.0
            already_calmed = False
        else:
            previous_story = tracker.get_slot("complaint_story")
            previous_category = tracker.get_slot("complaint_category")
            previous_anger = float(tracker.get_slot("anger") or 0)
            already_calmed = bool(tracker.get_slot("deescalated"))
        story = append_to_story(previous_story, text)
        turns = len([line for line in (story or "").split("\n") if line.strip()])
        said = CATEGORY_BY_INTENT.get(intent) or category_from_ranking(tracker.latest_message or {})
        category = (said or previous_category) if starting else (previous_category or said)
        wish = stated_wish(tracker, text, category)
        if category is None:
            category = CATEGORY_BY_WISH.get(wish or "", "service")
        anger = max(previous_anger, float(estimate_anger(text)))
        calm_down = contains_insult(text) and not already_calmed
        if wish and not tracker.get_slot("resolution") and not latest_entity(tracker, "resolution"):
            events.append(SlotSet("resolution", wish))
        events += [
            SlotSet("complaint_story", story),
            SlotSet("story_turns", turns_label(turns)),
            SlotSet("complaint_category", category),
            SlotSet("anger", anger),
            SlotSet("deescalate", calm_down),
        ]
        if calm_down:
            events.append(SlotSet("deescalated", True))
        if wish and text:
            events.append(SlotSet("remedy_text", text))  # the wish in the customer's own words
        if starting:
            try:
                prior = await asyncio.to_thread(find_prior_open_ticket, tracker.sender_id, category)
            except SQLAlchemyError:
                logger.warning("prior-ticket look-up failed; continuing as a new complaint", exc_info=True)
                prior = None
            if prior:
                return events + [SlotSet(k, v) for k, v in prior.items()] + [SlotSet("phase", "asked_prior")]
        # More story while the open-ticket question is pending: the question is not asked again.
        return events + [SlotSet("phase", "hearing")]


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
        add_customer_update(session=session, ticket=ticket, text=story, now=now)
        return STATUS_LABELS[ticket.status.value]


class ActionLinkPriorTicket(Action):
    """It is about the open ticket: add what was said to it, so nobody asks again (seed 001).

    The first time, the returning customer also gets empathy (they are still waiting, which is
    reason enough to be upset). Afterwards (`adding_to_prior`), whatever else they write is added
    to the same ticket, without asking the question again.
    """

    def name(self) -> str:
        return "action_link_prior_ticket"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        number = tracker.get_slot("prior_ticket_number")
        adding_more = tracker.get_slot("phase") == "adding_to_prior"
        story = latest_text(tracker) if adding_more else tracker.get_slot("complaint_story") or ""
        if adding_more and not story:
            return [SlotSet("prior_outcome", "added")]
        try:
            status = await asyncio.to_thread(add_to_prior_ticket, tracker.sender_id, number, story, utcnow())
        except SQLAlchemyError:
            logger.exception("could not add the customer's update to their ticket")
            # Keep the story and the question open: nothing the customer said is dropped.
            return [SlotSet("prior_outcome", "failed")]
        if status is None:
            return [SlotSet("prior_outcome", "failed")]
        if adding_more:
            return [SlotSet("prior_ticket_status", status), SlotSet("prior_outcome", "added")]
        used = list(tracker.get_slot("empathy_used") or [])
        situation = situation_for(tracker.get_slot("complaint_category") or "service", story)
        key = choose_variant(variant_keys(domain), category=situation,
                             tone=tone_for(float(tracker.get_slot("anger") or 0)), used=used)
        return [*reset_complaint(), SlotSet("prior_ticket_number", number), SlotSet("prior_ticket_status", status),
                SlotSet("empathy_variant", key), SlotSet("empathy_used", [*used, key] if key else used),
                SlotSet("phase", "adding_to_prior"), SlotSet("prior_outcome", "updated")]


class ActionStartNewMatter(Action):
    """After adding to an open ticket, the customer has something else: listen to it afresh."""

    def name(self) -> str:
        return "action_start_new_matter"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        return [*reset_complaint(), SlotSet("phase", "hearing")]


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
    """The reflection was wrong: wait for the customer's correction. The second time in a row,
    a person is offered too (`correction_round: again`): the bot is clearly not getting it."""

    def name(self) -> str:
        return "action_start_correction"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        again = tracker.get_slot("correction_round") is not None
        return [SlotSet("phase", "correcting"), SlotSet("correction_round", "again" if again else "first")]


class ActionTakeCorrection(Action):
    """Apply the correction to the story (what was wrong is replaced) and reflect again."""

    def name(self) -> str:
        return "action_take_correction"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        text = latest_text(tracker)
        story = apply_correction(tracker.get_slot("complaint_story") or "", text) if text else \
            tracker.get_slot("complaint_story") or ""
        reflection = reflect_story(story or "", order_id=latest_entity(tracker, "order_id") or tracker.get_slot("order_id"))
        anger = max(float(tracker.get_slot("anger") or 0), float(estimate_anger(text)))
        return [
            SlotSet("complaint_story", story),
            SlotSet("reflection", reflection.text),
            SlotSet("key_words", list(reflection.key_words)),
            SlotSet("anger", anger),
            SlotSet("phase", "confirming"),
        ]


# Phases in which there is something of the customer's to lose.
_IN_PROGRESS = {"hearing", "asked_prior", "confirming", "correcting", "leading", "choosing"}


class ActionCancelComplaint(Action):
    """«بسه دیگه», «ولش کن»: often venting, not a decision. A complaint in progress is only dropped
    after the customer confirms (`cancel_outcome: confirm` → buttons); nothing in progress, nothing
    to drop."""

    def name(self) -> str:
        return "action_cancel_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        phase = tracker.get_slot("phase")
        if phase == "cancelling":
            return [*reset_complaint(), SlotSet("cancel_outcome", "cancelled")]
        if phase in _IN_PROGRESS:
            return [SlotSet("phase_before_cancel", phase), SlotSet("phase", "cancelling"),
                    SlotSet("cancel_outcome", "confirm")]
        return [*reset_complaint(), SlotSet("cancel_outcome", "nothing")]


# Intents whose words are not part of the story when the customer carries on.
_NOT_STORY = {"affirm", "deny", "greet", "cancel", "thank", "goodbye"}


class ActionResumeComplaint(Action):
    """Carry on where the complaint was (after «نه، ادامه می‌دم», a greeting, or more words instead
    of an answer to «لغوش کنم؟»); words written meanwhile are added to the story, never dropped.
    The rules then ask again whatever was pending in that phase."""

    def name(self) -> str:
        return "action_resume_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        phase = tracker.get_slot("phase")
        if phase == "cancelling":
            phase = tracker.get_slot("phase_before_cancel") or "hearing"
        events: list[EventType] = [SlotSet("phase", phase), SlotSet("phase_before_cancel", None),
                                   SlotSet("cancel_outcome", None)]
        text = latest_text(tracker)
        if text and (latest_intent(tracker) or "") not in _NOT_STORY:
            story = append_to_story(tracker.get_slot("complaint_story"), text)
            turns = len([line for line in story.split("\n") if line.strip()])
            anger = max(float(tracker.get_slot("anger") or 0), float(estimate_anger(text)))
            events += [SlotSet("complaint_story", story), SlotSet("story_turns", turns_label(turns)),
                       SlotSet("anger", anger)]
        return events
