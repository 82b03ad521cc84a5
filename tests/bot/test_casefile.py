"""What an agent's command does to a ticket, checked in the database: every status change leaves
its status event, a reopening counts, and a move the ticket service refuses changes nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot import casefile
from hamdel.followup_policy import load_followup_policy
from hamdel.storage.db import session_scope
from hamdel.storage.models import Ticket, TicketStatus
from hamdel.ticket_service import Move, TransitionRefused, record_transcript
from tests.bot.conftest import AGENT, CUSTOMER, open_complaint


def _id(number: str) -> int:
    with session_scope() as session:
        return session.scalars(select(Ticket.id).where(Ticket.number == number)).one()


def escalated_ticket() -> int:
    return _id(open_complaint(escalated=True))


def status_trail(ticket_id: int) -> list[str | None]:
    with session_scope() as session:
        return [e.body for e in session.get_one(Ticket, ticket_id).events if e.kind == "status"]


def stored(ticket_id: int) -> Ticket:
    with session_scope() as session:
        return session.get_one(Ticket, ticket_id)


def test_take_on_a_resolved_ticket_reopens_it_on_the_record(database_url: str) -> None:
    """The customer wrote back after «حل شد» and an agent takes it again: that is a reopening."""
    ticket_id = escalated_ticket()
    casefile.finish(ticket_id, AGENT, TicketStatus.RESOLVED, load_followup_policy())

    ref = casefile.take(ticket_id, AGENT)

    assert (ref.status, ref.assigned_agent_id, ref.human_active) == (TicketStatus.ESCALATED, AGENT, True)
    ticket = stored(ticket_id)
    assert ticket.reopened_count == 1 and ticket.resolved_at is None
    assert status_trail(ticket_id) == ["open", "escalated", "resolved", "escalated"]


def test_take_on_a_closed_ticket_is_refused_and_changes_nothing(database_url: str) -> None:
    ticket_id = escalated_ticket()
    casefile.finish(ticket_id, AGENT, TicketStatus.CLOSED, load_followup_policy())

    with pytest.raises(TransitionRefused) as refused:
        casefile.take(ticket_id, AGENT)

    assert (refused.value.move, refused.value.current) == (Move.TAKE, TicketStatus.CLOSED)
    ticket = stored(ticket_id)
    assert (ticket.status, ticket.assigned_agent_id, ticket.reopened_count) == (TicketStatus.CLOSED, None, 0)
    assert status_trail(ticket_id) == ["open", "escalated", "closed"]


def test_resolving_a_resolved_ticket_is_refused(database_url: str) -> None:
    ticket_id = escalated_ticket()
    casefile.finish(ticket_id, AGENT, TicketStatus.RESOLVED, load_followup_policy())
    with pytest.raises(TransitionRefused):
        casefile.finish(ticket_id, AGENT, TicketStatus.RESOLVED, load_followup_policy())
    assert status_trail(ticket_id) == ["open", "escalated", "resolved"]


def test_hand_back_writes_the_status_change_it_makes(database_url: str) -> None:
    ticket_id = escalated_ticket()
    ref = casefile.hand_back(ticket_id, AGENT)
    assert ref.status is TicketStatus.OPEN and not ref.human_active
    assert status_trail(ticket_id) == ["open", "escalated", "open"]


def test_the_agents_card_shows_this_tickets_story_not_an_earlier_chat(database_url: str) -> None:
    """Last week the customer asked about something else; the card of today's ticket holds today's
    story and what followed it, not last week's words."""
    conversation = f"telegram:{CUSTOMER}"
    with session_scope() as session:
        record_transcript(session=session, conversation_id=conversation, speaker="customer",
                          text="ساعت کاری فروشگاه تا کیه؟")
        first = record_transcript(session=session, conversation_id=conversation, speaker="customer",
                                  text="سفارشم هنوز نرسیده")
    number = open_complaint(story_first_line=first)
    ticket_id = _id(number)
    casefile.record_line(CUSTOMER, "customer", "می‌خوام با یه آدم حرف بزنم")

    said = "\n".join(casefile.handoff_card(ticket_id).transcript)

    assert "سفارشم هنوز نرسیده" in said and "می‌خوام با یه آدم حرف بزنم" in said
    assert "ساعت کاری فروشگاه" not in said
