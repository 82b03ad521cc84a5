"""Provide: the ticket records what ISO 10002 asks; a failed write is never hidden."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

import actions.tickets as tickets_module
from actions.tickets import ActionOpenTicket, story_first_line
from followups.quiet_hours import next_allowed
from hamdel.followup_policy import load_followup_policy
from hamdel.storage.models import Customer, FollowUp, FollowUpKind, Severity, Ticket, TicketStatus, TranscriptLine
from tests.actions.conftest import make_tracker, slots_from

CONFIRMED = {
    "complaint_category": "delivery",
    "complaint_story": "سفارشم 4587123 از دوشنبه نرسیده\nپشتیبانی هم جواب نمیده",
    "reflection": "سفارشتان ۴۵۸۷۱۲۳ از دوشنبه نرسیده؛ پشتیبانی هم جواب نمیده.",
    "key_words": ["4587123", "از دوشنبه", "سفارش"],
    "order_id": "4587123",
    "remedy": "expedite",
    "remedy_text": "لطفا زودتر بفرستید",
    "remedy_promise": "سفارش شما در اولویت ارسال قرار می‌گیرد.",
    "anger": 0.0,
    "phone": "09121234567",
}


async def open_ticket(slots: dict[str, Any], turn_id: str | None = None) -> tuple[dict[str, Any], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    metadata: dict[str, Any] = {"display_name": "مریم", "chat_id": 1001}
    if turn_id is not None:
        metadata["turn_id"] = turn_id
    tracker = make_tracker("بله", "affirm", slots=slots, metadata=metadata)
    return slots_from(await ActionOpenTicket().run(dispatcher, tracker, {})), dispatcher


async def test_the_ticket_holds_the_whole_complaint(database_url: str, session: Session) -> None:
    slots, dispatcher = await open_ticket(CONFIRMED)
    assert slots["ticket_outcome"] == "opened" and slots["phase"] is None
    ticket = session.scalars(select(Ticket)).one()
    assert slots["ticket_number"] == ticket.number and ticket.number.startswith("HM-")
    assert ticket.story == CONFIRMED["complaint_story"]
    assert ticket.reflection == CONFIRMED["reflection"]
    assert ticket.key_words == CONFIRMED["key_words"]
    assert (ticket.order_id, ticket.remedy_sought, ticket.channel) == ("4587123", "expedite", "telegram")
    assert ticket.remedy_sought_text == "لطفا زودتر بفرستید"  # the wish as a label and in the customer's words
    assert ticket.status is TicketStatus.OPEN and ticket.severity is Severity.LOW
    assert ticket.received_at and ticket.acknowledged_at
    customer = session.scalars(select(Customer)).one()
    assert (customer.external_id, customer.display_name, customer.phone) == ("1001", "مریم", "09121234567")
    kinds = [f.kind for f in session.scalars(select(FollowUp))]
    assert kinds == [FollowUpKind.CHECK_IN]  # the summary is the acknowledgement: no second one right after it
    assert {"event": "ticket_opened", "ticket_number": ticket.number} in [m["custom"] for m in dispatcher.messages]
    assert "۱۴۰" in slots["followup_time"]  # a Jalali year, in Persian digits


async def test_an_insulted_angry_customer_goes_straight_to_a_person(database_url: str, session: Session) -> None:
    slots, dispatcher = await open_ticket({**CONFIRMED, "complaint_category": "staff", "anger": 3.0})
    assert slots["ticket_outcome"] == "escalated"
    ticket = session.scalars(select(Ticket)).one()
    assert ticket.status is TicketStatus.ESCALATED and ticket.severity is Severity.CRITICAL
    assert any(m["custom"].get("event") == "handoff" for m in dispatcher.messages if m.get("custom"))


async def test_a_turn_run_again_finds_the_ticket_it_opened(database_url: str, session: Session) -> None:
    first, _ = await open_ticket(CONFIRMED, turn_id="tg:501")
    again, dispatcher = await open_ticket(CONFIRMED, turn_id="tg:501")
    assert again["ticket_number"] == first["ticket_number"]
    assert again["ticket_outcome"] == "opened" and again["followup_time"] == first["followup_time"]
    assert {"event": "ticket_opened", "ticket_number": first["ticket_number"]} in [m["custom"] for m in dispatcher.messages]
    assert [t.number for t in session.scalars(select(Ticket))] == [first["ticket_number"]]
    assert len(session.scalars(select(FollowUp)).all()) == 1  # one check-in, not one per run


async def test_an_escalated_turn_run_again_is_escalated_once(database_url: str, session: Session) -> None:
    angry = {**CONFIRMED, "complaint_category": "staff", "anger": 3.0}
    first, _ = await open_ticket(angry, turn_id="tg:502")
    again, dispatcher = await open_ticket(angry, turn_id="tg:502")
    assert again["ticket_number"] == first["ticket_number"] and again["ticket_outcome"] == "escalated"
    assert any(m["custom"].get("event") == "handoff" for m in dispatcher.messages if m.get("custom"))
    ticket = session.scalars(select(Ticket)).one()
    assert [e.body for e in ticket.events] == ["open", "escalated"]


async def test_another_turn_opens_another_ticket(database_url: str, session: Session) -> None:
    first, _ = await open_ticket(CONFIRMED, turn_id="tg:503")
    second, _ = await open_ticket({**CONFIRMED, "complaint_story": "مشکل دوم"}, turn_id="tg:504")
    without, _ = await open_ticket({**CONFIRMED, "complaint_story": "مشکل سوم"})
    also_without, _ = await open_ticket({**CONFIRMED, "complaint_story": "مشکل چهارم"})
    numbers = {first["ticket_number"], second["ticket_number"], without["ticket_number"], also_without["ticket_number"]}
    assert len(numbers) == 4 and len(session.scalars(select(Ticket)).all()) == 4


async def test_a_database_failure_is_told_and_the_complaint_is_kept(
    database_url: str, session: Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    real_write = tickets_module.write_ticket

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(tickets_module, "write_ticket", broken)
    monkeypatch.setattr(tickets_module, "RETRY_DELAYS", (0, 0))
    slots, _ = await open_ticket(CONFIRMED)
    assert slots["ticket_outcome"] == "saved_for_retry"
    spooled = [json.loads(line) for line in (tmp_path / "spool" / "pending.jsonl").read_text().splitlines()]
    assert spooled[0]["story"] == CONFIRMED["complaint_story"]
    assert session.scalars(select(Ticket)).all() == []

    # The database is back: the next ticket replays the spooled one too.
    monkeypatch.setattr(tickets_module, "write_ticket", real_write)
    await open_ticket({**CONFIRMED, "complaint_story": "مشکل دوم"})
    stories = sorted(t.story for t in session.scalars(select(Ticket)))
    assert stories == sorted([CONFIRMED["complaint_story"], "مشکل دوم"])
    # The customer of the spooled complaint never saw its number: an acknowledgement follow-up tells it.
    replayed = session.scalars(select(Ticket).where(Ticket.story == CONFIRMED["complaint_story"])).one()
    assert replayed.acknowledged_at is None
    assert sorted(f.kind.value for f in replayed.followups) == ["acknowledgement", "check_in"]


def test_a_follow_up_promised_at_night_is_promised_for_the_morning() -> None:
    policy = load_followup_policy()
    at_23_tehran = datetime(2026, 11, 22, 19, 30, tzinfo=UTC)
    moved = next_allowed(at_23_tehran, policy)
    assert moved == datetime(2026, 11, 23, 4, 30, tzinfo=UTC)  # 08:00 Tehran
    noon = datetime(2026, 11, 22, 8, 30, tzinfo=UTC)
    assert next_allowed(noon, policy) == noon


# --- which transcript lines a new ticket takes --------------------------------------------------

def _said(session: Session, speaker: str, text: str) -> int:
    """A transcript line as the front end writes it; its id travels with the turn to Rasa."""
    line = TranscriptLine(conversation_id="telegram:1001", speaker=speaker, text=text)
    session.add(line)
    session.commit()
    return line.id


def _turn(text: str, line: int | None) -> dict[str, Any]:
    return {"event": "user", "text": text, "metadata": {"transcript_line": line} if line else {}}


def _slot(name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "name": name, "value": value}


async def _open_with(history: list[dict[str, Any]]) -> None:
    tracker = make_tracker("بله", "affirm", slots=CONFIRMED, history=history,
                           metadata={"display_name": "مریم", "chat_id": 1001})
    await ActionOpenTicket().run(CollectingDispatcher(), tracker, {})


def _attachments(session: Session) -> dict[str, int | None]:
    session.expire_all()
    return {line.text: line.ticket_id for line in session.scalars(select(TranscriptLine).order_by(TranscriptLine.id))}


async def test_a_new_ticket_takes_its_storys_lines_not_an_earlier_unrelated_chat(
        database_url: str, session: Session) -> None:
    """Earlier the customer only asked about an old ticket; now they tell a new story. Only the
    story (and the bot's answers within it) goes into the new ticket's transcript."""
    asked = _said(session, "customer", "شکایت قبلیم به کجا رسید؟")
    _said(session, "bot", "هنوز در حال بررسیه.")
    first = _said(session, "customer", "سفارشم 4587123 از دوشنبه نرسیده")
    _said(session, "bot", "متوجهم؛ بیشتر بگید.")
    second = _said(session, "customer", "پشتیبانی هم جواب نمیده")
    history = [
        _turn("شکایت قبلیم به کجا رسید؟", asked),
        _turn("سفارشم 4587123 از دوشنبه نرسیده", first),
        _slot("phase", None), _slot("complaint_story", None),  # action_hear_story starts a story
        _slot("complaint_story", "سفارشم 4587123 از دوشنبه نرسیده"), _slot("phase", "hearing"),
        _turn("پشتیبانی هم جواب نمیده", second),
        _slot("complaint_story", CONFIRMED["complaint_story"]), _slot("phase", "confirming"),
    ]
    await _open_with(history)

    ticket = session.scalars(select(Ticket)).one()
    assert _attachments(session) == {
        "شکایت قبلیم به کجا رسید؟": None, "هنوز در حال بررسیه.": None,
        "سفارشم 4587123 از دوشنبه نرسیده": ticket.id, "متوجهم؛ بیشتر بگید.": ticket.id,
        "پشتیبانی هم جواب نمیده": ticket.id,
    }


async def test_the_lines_after_one_ticket_are_not_attached_to_the_next(database_url: str, session: Session) -> None:
    """The first ticket's summary and the customer's «ممنون» stay out of a later, unrelated ticket."""
    story = _said(session, "customer", "سفارشم 4587123 از دوشنبه نرسیده")
    await _open_with([_turn("سفارشم 4587123 از دوشنبه نرسیده", story),
                      _slot("complaint_story", "سفارشم 4587123 از دوشنبه نرسیده")])
    _said(session, "bot", "شکایتتون ثبت شد.")
    thanks = _said(session, "customer", "ممنون")
    new_story = _said(session, "customer", "این بار فاکتورم اشتباه اومده")
    await _open_with([
        _turn("سفارشم 4587123 از دوشنبه نرسیده", story), _slot("complaint_story", "سفارشم 4587123 از دوشنبه نرسیده"),
        _turn("ممنون", thanks),
        _turn("این بار فاکتورم اشتباه اومده", new_story),
        _slot("complaint_story", None), _slot("complaint_story", "این بار فاکتورم اشتباه اومده"),
    ])

    first_ticket, second_ticket = session.scalars(select(Ticket.id).order_by(Ticket.id)).all()
    assert _attachments(session) == {
        "سفارشم 4587123 از دوشنبه نرسیده": first_ticket, "شکایتتون ثبت شد.": None, "ممنون": None,
        "این بار فاکتورم اشتباه اومده": second_ticket,
    }


def test_the_story_begins_with_the_message_the_bot_asked_about() -> None:
    """«مشکلی پیش اومده؟» — «بله»: the parked message is the story's first part, so its line is too."""
    events = [
        _turn("سلام", 1), _slot("phase", None),
        _turn("دو ساعته منتظرم", 3), _slot("pending_message", "دو ساعته منتظرم"), _slot("phase", "asked_complaint"),
        _turn("بله", 5), _slot("phase", None), _slot("complaint_story", None), _slot("pending_message", None),
        _slot("complaint_story", "دو ساعته منتظرم"), _slot("phase", "hearing"),
        _turn("پیک هم جواب نمیده", 7), _slot("complaint_story", "دو ساعته منتظرم\nپیک هم جواب نمیده"),
    ]
    assert story_first_line(events) == 3
    assert story_first_line(events[:1]) == 1  # no story told (a customer who asked for a person): this turn
    assert story_first_line([_turn("سلام", None)]) is None  # a channel without a transcript
