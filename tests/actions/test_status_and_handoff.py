"""Status lists only the customer's own tickets; asking for a person escalates honestly."""
from __future__ import annotations

import time

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.handoff import ActionHandoff
from actions.status import _NUMBER, ActionShowStatus, canonical_ticket_number
from hamdel.followup_policy import load_followup_policy
from hamdel.storage.models import Category, Ticket, TicketStatus
from hamdel.storage.tickets import get_or_create_customer
from hamdel.ticket_service import open_ticket
from tests.actions.conftest import make_tracker, slots_from


def ticket_for(session: Session, user: str, story: str = "بسته نرسیده") -> Ticket:
    customer = get_or_create_customer(session=session, channel="telegram", external_id=user)
    ticket = open_ticket(session=session, customer=customer, conversation_id=f"telegram:{user}",
                         category=Category.DELIVERY, story=story, key_words=[], reflection=story, order_id=None,
                         remedy_sought=None, remedy_sought_text=None, remedy_offered=None, anger=0,
                         followup_policy=load_followup_policy())
    session.commit()
    return ticket


async def status(text: str, sender: str = "telegram:1001", ticket_id: str | None = None) -> dict:
    entities = [{"entity": "ticket_id", "value": ticket_id}] if ticket_id else []
    tracker = make_tracker(text, "ask_status", entities=entities, sender_id=sender)
    return slots_from(await ActionShowStatus().run(CollectingDispatcher(), tracker, {}))


def test_ticket_numbers_are_read_however_they_are_typed() -> None:
    for typed in ("hm- 482917", "HM482917", "پیگیری 482917", "HM-482917"):
        assert canonical_ticket_number(typed) == "HM-482917"
    assert canonical_ticket_number("شکایتم چی شد") is None
    assert canonical_ticket_number("سفارش 1482917") is None  # a seven-digit order number is not a ticket


def test_reading_a_ticket_number_is_linear_on_hostile_input() -> None:
    hostile = "a" + "\u2003" * 2000 + "a"  # took 40 s with the old optional-prefix pattern
    timings = []
    for _ in range(3):  # the fastest of three: a shared machine may deschedule one run
        started = time.perf_counter()
        assert _NUMBER.search(hostile) is None
        assert _NUMBER.search("hm" + " " * 4094) is None
        timings.append(time.perf_counter() - started)
    assert min(timings) < 0.05


async def test_a_new_customer_has_no_tickets(database_url: str) -> None:
    assert (await status("شکایتم به کجا رسید؟"))["status_result"] == "none"


async def test_only_the_customers_own_tickets_are_listed(database_url: str, session: Session) -> None:
    mine = ticket_for(session, "1001")
    theirs = ticket_for(session, "2002")
    slots = await status("وضعیت شکایتام چیه")
    assert slots["status_result"] == "list"
    assert mine.number in slots["status_lines"] and theirs.number not in slots["status_lines"]
    assert "در حال بررسی" in slots["status_lines"] and "ارسال و تحویل" in slots["status_lines"]


async def test_a_status_line_says_the_next_step_and_when_and_reads_right_to_left(
    database_url: str, session: Session,
) -> None:
    mine = ticket_for(session, "1001")
    [line] = (await status("شکایتم چی شد"))["status_lines"].split("\n")
    assert line.startswith("• پرونده‌ی \u2068" + mine.number + "\u2069 (ارسال و تحویل، ثبت‌شده در ")
    assert "): در حال بررسی؛ تا " in line and "ساعت" in line  # the next follow-up's Jalali date and time
    assert line.endswith("نتیجه رو بهتون خبر می‌دیم.")


async def test_someone_elses_ticket_number_is_not_found(database_url: str, session: Session) -> None:
    ticket_for(session, "1001")
    theirs = ticket_for(session, "2002")
    slots = await status(f"پیگیری {theirs.number}", ticket_id=theirs.number)
    assert slots["status_result"] == "not_found" and theirs.number not in slots["status_lines"]


async def test_own_ticket_by_number(database_url: str, session: Session) -> None:
    mine = ticket_for(session, "1001")
    slots = await status(f"تیکت {mine.number[3:]} چی شد", ticket_id=mine.number[3:])
    assert slots["status_result"] == "one" and mine.number in slots["status_lines"]


async def test_asking_for_a_person_mid_story_opens_and_escalates_a_ticket(database_url: str, session: Session) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("با یه آدم واقعی وصلم کنید", "request_human", slots={
        "phase": "hearing", "complaint_story": "سه بار پول کم شده", "complaint_category": "billing"})
    slots = slots_from(await ActionHandoff().run(dispatcher, tracker, {}))
    ticket = session.scalars(select(Ticket)).one()
    assert slots["handoff_outcome"] == "handed_over" and slots["ticket_number"] == ticket.number
    assert ticket.status is TicketStatus.ESCALATED and ticket.escalation_reason == "customer_request"
    assert ticket.story == "سه بار پول کم شده" and ticket.category is Category.BILLING
    assert {"event": "handoff", "ticket_number": ticket.number, "reason": "customer_request"} in \
        [m["custom"] for m in dispatcher.messages]
    assert slots["phase"] is None


async def test_asking_for_a_person_right_after_the_summary_escalates_that_ticket(
    database_url: str, session: Session,
) -> None:
    existing = ticket_for(session, "1001")
    tracker = make_tracker("اپراتور", "request_human", slots={"ticket_number": existing.number})
    slots = slots_from(await ActionHandoff().run(CollectingDispatcher(), tracker, {}))
    assert (slots["ticket_number"], slots["handoff_outcome"]) == (existing.number, "handed_over")
    session.expire_all()
    assert session.get(Ticket, existing.id).status is TicketStatus.ESCALATED


async def test_a_person_as_the_first_message_opens_an_escalation_and_asks_for_the_story(
    database_url: str, session: Session,
) -> None:
    old = ticket_for(session, "1001", story="قبض ماه پیش اشتباه بود")
    dispatcher = CollectingDispatcher()
    events = await ActionHandoff().run(dispatcher, make_tracker("میخوام با یه آدم حرف بزنم", "request_human"), {})
    new = session.scalars(select(Ticket).where(Ticket.id != old.id)).one()
    assert events[-5:] == [
        {"event": "slot", "timestamp": None, "name": "ticket_number", "value": new.number},
        {"event": "slot", "timestamp": None, "name": "first_response_hours", "value": "۲۴"},
        {"event": "slot", "timestamp": None, "name": "prior_ticket_number", "value": new.number},
        {"event": "slot", "timestamp": None, "name": "phase", "value": "adding_to_prior"},
        {"event": "slot", "timestamp": None, "name": "handoff_outcome", "value": "awaiting_story"},
    ]
    assert new.status is TicketStatus.ESCALATED and new.escalation_reason == "customer_request"
    session.expire_all()
    assert session.get(Ticket, old.id).status is TicketStatus.OPEN  # the unrelated old ticket is left alone
    assert [m["custom"] for m in dispatcher.messages] == [
        {"event": "handoff", "ticket_number": new.number, "reason": "customer_request"}]
