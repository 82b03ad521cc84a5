"""Hear: the whole story, the open-ticket question (once), corrections, venting and cancelling.

Each flow example from issue 9 ("Why" and "What to build", item 4) is its own test; events are
compared whole wherever the action's answer is deterministic.
"""
from __future__ import annotations

from typing import Any

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.complaint_intake import (
    ActionCancelComplaint,
    ActionHearStory,
    ActionLinkPriorTicket,
    ActionReflect,
    ActionResumeComplaint,
    ActionStartCorrection,
    ActionTakeCorrection,
)
from actions.conversation import reset_complaint
from hamdel.followup_policy import load_followup_policy
from hamdel.persian import normalize
from hamdel.storage.models import Category, Ticket, TicketEvent
from hamdel.storage.tickets import get_or_create_customer
from hamdel.ticket_service import open_ticket
from tests.actions.conftest import make_tracker, slots_from


async def hear(text: str, intent: str, **slots: Any) -> dict[str, Any]:
    return slots_from(await ActionHearStory().run(CollectingDispatcher(), make_tracker(text, intent, slots=slots), {}))


async def test_the_first_part_starts_a_clean_story_and_the_bot_only_asks_for_more(database_url: str) -> None:
    tracker = make_tracker("سفارشم ۴۵۸۷۱۲۳ از دوشنبه نرسیده", "complain_delivery",
                           entities=[{"entity": "order_id", "value": "4587123"}])
    events = await ActionHearStory().run(CollectingDispatcher(), tracker, {})
    assert events == [
        *reset_complaint(), SlotSet("order_id", "4587123"), SlotSet("resolution", None),
        SlotSet("complaint_story", "سفارشم 4587123 از دوشنبه نرسیده"), SlotSet("story_turns", "one"),
        SlotSet("complaint_category", "delivery"), SlotSet("anger", 0.0), SlotSet("deescalate", False),
        SlotSet("phase", "hearing"),
    ]


async def test_three_messages_become_one_story_and_the_first_topic_stays(database_url: str) -> None:
    first = await hear("سفارشم ۴۵۸۷۱۲۳ از دوشنبه نرسیده", "complain_delivery")
    second = await hear("پشتیبانی هم جواب نمیده!!!", "complain_service", **first)
    third = await hear("خسته شدم دیگه", "nlu_fallback", **second)
    assert third["complaint_story"] == "سفارشم 4587123 از دوشنبه نرسیده\nپشتیبانی هم جواب نمیده!!!\nخسته شدم دیگه"
    assert third["complaint_category"] == "delivery"
    assert third["story_turns"] == "many" and third["anger"] >= 1


async def test_a_wish_as_first_message_hints_at_the_topic_and_keeps_the_words(database_url: str) -> None:
    slots = slots_from(await ActionHearStory().run(CollectingDispatcher(), make_tracker(
        "پولمو پس بدید", "request_resolution", entities=[{"entity": "resolution", "value": "refund"}]), {}))
    assert (slots["complaint_category"], slots["resolution"], slots["remedy_text"]) == ("billing", "refund", "پولمو پس بدید")


async def test_abuse_gets_one_calm_answer_and_the_story_is_still_taken() -> None:
    story = {"phase": "hearing", "complaint_story": "سفارشم نرسیده", "complaint_category": "delivery", "anger": 0.0}
    tracker = make_tracker("بی‌شعورا سه روزه منتظرم", "complain_delivery", slots=story)
    events = await ActionHearStory().run(CollectingDispatcher(), tracker, {})
    assert events == [
        SlotSet("complaint_story", "سفارشم نرسیده\nبی‌شعورا سه روزه منتظرم"), SlotSet("story_turns", "two"),
        SlotSet("complaint_category", "delivery"), SlotSet("anger", 2.0), SlotSet("deescalate", True),
        SlotSet("deescalated", True), SlotSet("phase", "hearing"),
    ]
    again = await hear("احمقا", "out_of_scope", **slots_from(events))
    assert again["deescalate"] is False  # once is calming; twice would be preaching
    assert again["complaint_story"].endswith("احمقا")


async def test_a_story_about_a_theft_is_not_an_insult() -> None:
    slots = await hear("بسته رو دم در گذاشتن و دزدیدنش", "complain_delivery", phase="hearing",
                       complaint_story="بسته‌ام نرسید", complaint_category="delivery")
    assert (slots["deescalate"], slots["anger"]) == (False, 0.0)


async def test_yes_there_is_a_problem_makes_the_asked_message_the_first_part(database_url: str) -> None:
    tracker = make_tracker("/affirm", "affirm", slots={
        "phase": "asked_complaint", "pending_message": "غذا سرد رسید", "pending_category": "delivery"})
    slots = slots_from(await ActionHearStory().run(CollectingDispatcher(), tracker, {}))
    assert (slots["complaint_story"], slots["complaint_category"], slots["phase"]) == ("غذا سرد رسید", "delivery", "hearing")
    assert slots["pending_message"] is None


def _existing_ticket(session: Session, category: Category = Category.DELIVERY) -> Ticket:
    customer = get_or_create_customer(session=session, channel="telegram", external_id="1001")
    ticket = open_ticket(session=session, customer=customer, conversation_id="telegram:1001", category=category,
                         story="بسته نرسیده", key_words=[], reflection="بسته‌تون نرسیده.", order_id=None,
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


async def test_the_open_ticket_question_is_asked_once_not_after_every_message(database_url: str, session: Session) -> None:
    ticket = _existing_ticket(session)
    tracker = make_tracker("سه روزه منتظرم", "complain_delivery", slots={
        "phase": "asked_prior", "complaint_story": "هنوز خبری از بسته نشد", "complaint_category": "delivery",
        "anger": 0.0, "prior_ticket_number": ticket.number})
    events = await ActionHearStory().run(CollectingDispatcher(), tracker, {})
    assert events == [
        SlotSet("complaint_story", "هنوز خبری از بسته نشد\nسه روزه منتظرم"), SlotSet("story_turns", "two"),
        SlotSet("complaint_category", "delivery"), SlotSet("anger", 0.0), SlotSet("deescalate", False),
        SlotSet("phase", "hearing"),
    ]


async def test_an_open_ticket_on_another_topic_is_not_asked_about(database_url: str, session: Session) -> None:
    _existing_ticket(session, Category.BILLING)
    assert (await hear("بسته‌ام نرسیده", "complain_delivery"))["phase"] == "hearing"


async def test_yes_it_is_that_ticket_adds_the_words_and_the_returning_customer_gets_empathy(
    database_url: str, session: Session, domain: dict[str, Any],
) -> None:
    ticket = _existing_ticket(session)
    tracker = make_tracker("/affirm", "affirm", slots={
        "prior_ticket_number": ticket.number, "complaint_story": "هنوز خبری نشد", "phase": "asked_prior",
        "complaint_category": "delivery", "anger": 0.0})
    events = await ActionLinkPriorTicket().run(CollectingDispatcher(), tracker, domain)
    variant = slots_from(events)["empathy_variant"]
    assert variant.startswith("delivery_delay_calm_")
    assert events == [*reset_complaint(), SlotSet("prior_ticket_number", ticket.number),
                      SlotSet("prior_ticket_status", "در حال بررسی"), SlotSet("empathy_variant", variant),
                      SlotSet("empathy_used", [variant]), SlotSet("phase", "adding_to_prior"),
                      SlotSet("prior_outcome", "updated")]
    session.expire_all()
    assert session.get(Ticket, ticket.id).story.endswith("هنوز خبری نشد")
    assert session.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id)).all()[-1] == "customer_update"


async def test_after_linking_more_words_go_to_the_same_ticket_without_asking_again(
    database_url: str, session: Session,
) -> None:
    ticket = _existing_ticket(session)
    tracker = make_tracker("راستی شماره سفارشم 4587123 بود", "complain_delivery", slots={
        "prior_ticket_number": ticket.number, "phase": "adding_to_prior"})
    events = await ActionLinkPriorTicket().run(CollectingDispatcher(), tracker, {})
    assert events == [SlotSet("prior_ticket_status", "در حال بررسی"), SlotSet("prior_outcome", "added")]
    session.expire_all()
    assert session.get(Ticket, ticket.id).story.endswith("راستی شماره سفارشم 4587123 بود")


async def test_reflection_then_correction_replaces_what_was_wrong() -> None:
    tracker = make_tracker("/deny", "deny", slots={"complaint_story": "سفارش 123456 دیر رسید"})
    first = slots_from(await ActionReflect().run(CollectingDispatcher(), tracker, {}))
    assert first["phase"] == "confirming" and "۱۲۳۴۵۶" in first["reflection"]
    correction = make_tracker("نه، سفارشم 123457 بود", "deny", slots={"complaint_story": "سفارش 123456 دیر رسید"},
                              entities=[{"entity": "order_id", "value": "123457"}])
    second = slots_from(await ActionTakeCorrection().run(CollectingDispatcher(), correction, {}))
    assert second["phase"] == "confirming"
    assert "123456" not in second["complaint_story"] and "123457" in second["complaint_story"]
    assert "۱۲۳۴۵۷" in second["reflection"] and "۱۲۳۴۵۶" not in second["reflection"]


async def test_a_second_wrong_reflection_in_a_row_offers_a_person() -> None:
    first = await ActionStartCorrection().run(CollectingDispatcher(), make_tracker("/deny", "deny", slots={
        "phase": "confirming"}), {})
    assert first == [SlotSet("phase", "correcting"), SlotSet("correction_round", "first")]
    second = await ActionStartCorrection().run(CollectingDispatcher(), make_tracker("/deny", "deny", slots={
        "phase": "confirming", "correction_round": "first"}), {})
    assert second == [SlotSet("phase", "correcting"), SlotSet("correction_round", "again")]


async def test_venting_does_not_discard_the_story_it_asks_first() -> None:
    tracker = make_tracker("بسه دیگه", "cancel", slots={"phase": "hearing", "complaint_story": "بسته نرسیده"})
    events = await ActionCancelComplaint().run(CollectingDispatcher(), tracker, {})
    assert events == [SlotSet("phase_before_cancel", "hearing"), SlotSet("phase", "cancelling"),
                      SlotSet("cancel_outcome", "confirm")]


async def test_let_it_go_while_choosing_a_remedy_also_asks_first() -> None:
    tracker = make_tracker("ولش کن", "cancel", slots={"phase": "choosing", "complaint_story": "پول دو بار کم شده"})
    assert slots_from(await ActionCancelComplaint().run(CollectingDispatcher(), tracker, {}))["cancel_outcome"] == "confirm"


async def test_yes_cancel_it_forgets_the_complaint() -> None:
    tracker = make_tracker("/affirm", "affirm", slots={"phase": "cancelling", "complaint_story": "بسته نرسیده"})
    events = await ActionCancelComplaint().run(CollectingDispatcher(), tracker, {})
    assert events == [*reset_complaint(), SlotSet("cancel_outcome", "cancelled")]


async def test_cancel_with_nothing_going_on_says_so() -> None:
    events = await ActionCancelComplaint().run(CollectingDispatcher(), make_tracker("لغو", "cancel"), {})
    assert events == [*reset_complaint(), SlotSet("cancel_outcome", "nothing")]


async def test_no_carry_on_goes_back_to_where_the_complaint_was() -> None:
    tracker = make_tracker("/deny", "deny", slots={"phase": "cancelling", "phase_before_cancel": "leading",
                                                   "complaint_story": "بسته نرسیده"})
    events = await ActionResumeComplaint().run(CollectingDispatcher(), tracker, {})
    assert events == [SlotSet("phase", "leading"), SlotSet("phase_before_cancel", None), SlotSet("cancel_outcome", None)]


async def test_words_written_instead_of_answering_the_cancel_question_join_the_story() -> None:
    tracker = make_tracker("خسته شدم، سه روزه منتظرم", "complain_delivery", slots={
        "phase": "cancelling", "phase_before_cancel": "hearing", "complaint_story": "بسته نرسیده", "anger": 0.0})
    events = await ActionResumeComplaint().run(CollectingDispatcher(), tracker, {})
    assert events == [SlotSet("phase", "hearing"), SlotSet("phase_before_cancel", None), SlotSet("cancel_outcome", None),
                      SlotSet("complaint_story", normalize("بسته نرسیده\nخسته شدم، سه روزه منتظرم")),
                      SlotSet("story_turns", "two"), SlotSet("anger", 1.0)]


async def test_a_greeting_in_the_middle_continues_the_complaint() -> None:
    tracker = make_tracker("سلام", "greet", slots={"phase": "confirming", "complaint_story": "بسته نرسیده"})
    events = await ActionResumeComplaint().run(CollectingDispatcher(), tracker, {})
    assert events == [SlotSet("phase", "confirming"), SlotSet("phase_before_cancel", None), SlotSet("cancel_outcome", None)]


async def test_a_wish_told_with_the_story_is_kept_and_the_topic_comes_from_the_ranking(database_url: str) -> None:
    text = normalize("کالایی که خریدم خراب بود و پولمو میخوام")
    tracker = make_tracker(text, "request_resolution")
    tracker.latest_message["intent_ranking"] = [{"name": "request_resolution", "confidence": 0.55},
                                                {"name": "complain_product", "confidence": 0.35},
                                                {"name": "complain_billing", "confidence": 0.05}]
    slots = slots_from(await ActionHearStory().run(CollectingDispatcher(), tracker, {}))
    assert (slots["resolution"], slots["remedy_text"], slots["complaint_category"]) == ("refund", text, "product")


async def test_a_promise_someone_made_is_not_taken_for_the_customers_wish() -> None:
    slots = await hear("پشتیبانیتون گفت پیگیری میکنیم ولی خبری نشد", "complain_service", phase="hearing",
                       complaint_story="اینترنتم قطعه", complaint_category="service")
    assert "resolution" not in slots and "remedy_text" not in slots
