"""Hear: the whole story, the open-ticket question, corrections, cancelling, misunderstandings."""
from __future__ import annotations

from typing import Any

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.complaint_intake import (
    ActionCancelComplaint,
    ActionCountMisunderstanding,
    ActionHearStory,
    ActionLinkPriorTicket,
    ActionReflect,
    ActionTakeCorrection,
)
from hamdel.followup_policy import load_followup_policy
from hamdel.storage.models import Category, Ticket, TicketEvent
from hamdel.storage.tickets import get_or_create_customer, open_ticket
from tests.actions.conftest import make_tracker, slots_from, user_event


async def hear(text: str, intent: str, **slots: Any) -> dict[str, Any]:
    return slots_from(await ActionHearStory().run(CollectingDispatcher(), make_tracker(text, intent, slots=slots), {}))


async def test_three_messages_become_one_story_and_the_bot_keeps_listening(database_url: str) -> None:
    first = await hear("سفارشم ۴۵۸۷۱۲۳ از دوشنبه نرسیده", "complain_delivery")
    assert (first["phase"], first["complaint_category"], first["story_turns"]) == ("hearing", "delivery", "one")
    second = await hear("پشتیبانی هم جواب نمیده!!!", "complain_service", **first)
    third = await hear("خسته شدم دیگه", "nlu_fallback", **second)
    assert third["complaint_story"] == "سفارشم 4587123 از دوشنبه نرسیده\nپشتیبانی هم جواب نمیده!!!\nخسته شدم دیگه"
    assert third["complaint_category"] == "delivery"  # the first topic stays the topic
    assert third["story_turns"] == "many" and third["anger"] >= 1


async def test_a_wish_as_first_message_hints_at_the_topic(database_url: str) -> None:
    slots = slots_from(await ActionHearStory().run(CollectingDispatcher(), make_tracker(
        "پولمو پس بدید", "request_resolution", entities=[{"entity": "resolution", "value": "refund"}]), {}))
    assert slots["complaint_category"] == "billing" and slots["resolution"] == "refund"


def _existing_ticket(session: Session, category: Category = Category.DELIVERY) -> Ticket:
    customer = get_or_create_customer(session=session, channel="telegram", external_id="1001")
    ticket = open_ticket(session=session, customer=customer, conversation_id="telegram:1001", category=category,
                         story="بسته نرسیده", key_words=[], reflection="بسته‌تان نرسیده.", order_id=None,
                         remedy_sought=None, remedy_sought_text=None, remedy_offered=None, anger=0,
                         followup_policy=load_followup_policy())
    session.commit()
    return ticket


async def test_a_returning_customer_is_asked_about_their_open_ticket(database_url: str, session: Session) -> None:
    ticket = _existing_ticket(session)
    slots = await hear("هنوز خبری از بسته نشد", "complain_delivery")
    assert slots["phase"] == "asked_prior"
    assert slots["prior_ticket_number"] == ticket.number
    assert slots["prior_ticket_status"] == "در حال بررسی"


async def test_an_open_ticket_on_another_topic_is_not_asked_about(database_url: str, session: Session) -> None:
    _existing_ticket(session, Category.BILLING)
    assert (await hear("بسته‌ام نرسیده", "complain_delivery"))["phase"] == "hearing"


async def test_yes_it_is_that_ticket_adds_the_words_to_it(database_url: str, session: Session) -> None:
    ticket = _existing_ticket(session)
    tracker = make_tracker("بله همونه", "affirm", slots={
        "prior_ticket_number": ticket.number, "complaint_story": "هنوز خبری نشد", "phase": "asked_prior"})
    slots = slots_from(await ActionLinkPriorTicket().run(CollectingDispatcher(), tracker, {}))
    assert slots["prior_outcome"] == "updated" and slots["phase"] is None
    session.expire_all()
    stored = session.get(Ticket, ticket.id)
    assert stored.story.endswith("هنوز خبری نشد")
    assert session.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id)).all()[-1] == "customer_update"


async def test_reflection_then_correction_reflects_the_corrected_story() -> None:
    tracker = make_tracker("نه، همین بود", "deny", slots={"complaint_story": "سفارش 123456 دیر رسید"})
    first = slots_from(await ActionReflect().run(CollectingDispatcher(), tracker, {}))
    assert first["phase"] == "confirming" and "۱۲۳۴۵۶" in first["reflection"]
    correction = make_tracker("نه، سفارشم 123457 بود", "deny", slots={"complaint_story": "سفارش 123456 دیر رسید"},
                              entities=[{"entity": "order_id", "value": "123457"}])
    second = slots_from(await ActionTakeCorrection().run(CollectingDispatcher(), correction, {}))
    assert second["phase"] == "confirming"
    assert second["complaint_story"].endswith("سفارشم 123457 بود")
    assert "۱۲۳۴۵۷" in second["reflection"]


async def test_cancel_forgets_the_complaint_in_progress() -> None:
    tracker = make_tracker("بیخیال", "cancel", slots={"phase": "hearing", "complaint_story": "بسته نرسیده"})
    slots = slots_from(await ActionCancelComplaint().run(CollectingDispatcher(), tracker, {}))
    assert slots["cancel_outcome"] == "cancelled" and slots["complaint_story"] is None and slots["phase"] is None
    idle = slots_from(await ActionCancelComplaint().run(CollectingDispatcher(), make_tracker("لغو", "cancel"), {}))
    assert idle["cancel_outcome"] == "nothing"


async def test_two_misunderstandings_in_a_row_lead_to_offering_a_person() -> None:
    history = [user_event("هوا چطوره", "out_of_scope")]
    once = slots_from(await ActionCountMisunderstanding().run(
        CollectingDispatcher(), make_tracker("هوا چطوره", "out_of_scope"), {}))
    twice = slots_from(await ActionCountMisunderstanding().run(
        CollectingDispatcher(), make_tracker("اسدفگ", "nlu_fallback", history=history), {}))
    reset = slots_from(await ActionCountMisunderstanding().run(CollectingDispatcher(), make_tracker(
        "جوک بگو", "out_of_scope", history=[*history, user_event("سفارشم نرسیده", "complain_delivery")]), {}))
    assert (once["misunderstood"], twice["misunderstood"], reset["misunderstood"]) == ("once", "twice", "once")
