"""Repository functions for customers and tickets. Every function takes the session keyword-only,
so the caller owns the transaction (one unit of work per conversation turn).
"""
from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hamdel.followup_policy import FollowUpPolicy
from hamdel.storage.models import (
    Category,
    Customer,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    Severity,
    Ticket,
    TicketEvent,
    TicketStatus,
    TranscriptLine,
    utcnow,
)

TICKET_PREFIX = "HM-"
OPEN_STATUSES = (TicketStatus.OPEN, TicketStatus.ESCALATED)


def split_conversation_id(conversation_id: str) -> tuple[str, str]:
    """`"telegram:12345"` → `("telegram", "12345")`; ids without a channel belong to "rest"."""
    channel, sep, external = conversation_id.partition(":")
    return (channel, external) if sep else ("rest", conversation_id)


def get_or_create_customer(
    *, session: Session, channel: str, external_id: str, display_name: str | None = None,
    chat_id: int | None = None,
) -> Customer:
    customer = session.scalar(
        select(Customer).where(Customer.channel == channel, Customer.external_id == external_id)
    )
    if customer is None:
        customer = Customer(channel=channel, external_id=external_id, display_name=display_name, chat_id=chat_id)
        session.add(customer)
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:  # another process created it between our read and write
            customer = session.scalars(
                select(Customer).where(Customer.channel == channel, Customer.external_id == external_id)
            ).one()
    else:
        if display_name and customer.display_name != display_name:
            customer.display_name = display_name
        if chat_id is not None and customer.chat_id != chat_id:
            customer.chat_id = chat_id
    return customer


def find_customer(*, session: Session, conversation_id: str) -> Customer | None:
    channel, external_id = split_conversation_id(conversation_id)
    return session.scalar(
        select(Customer).where(Customer.channel == channel, Customer.external_id == external_id)
    )


def new_ticket_number(*, session: Session) -> str:
    """Six random digits after a prefix: short enough to read over the phone, unguessable enough
    that one customer cannot walk through others' numbers (status look-ups also check ownership)."""
    while True:
        number = f"{TICKET_PREFIX}{secrets.randbelow(900_000) + 100_000}"
        if session.scalar(select(Ticket.id).where(Ticket.number == number)) is None:
            return number


def severity_for(category: Category, anger: int) -> Severity:
    """Money and people problems weigh more; anger raises the level (seed 002: an angry customer
    is the one most at risk of leaving)."""
    base = {Category.BILLING: 1, Category.STAFF: 1}.get(category, 0)
    level = min(3, base + (1 if anger >= 1 else 0) + (1 if anger >= 2 else 0))
    return (Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)[level]


def open_ticket(
    *,
    session: Session,
    customer: Customer,
    conversation_id: str,
    category: Category,
    story: str,
    key_words: Sequence[str],
    reflection: str,
    order_id: str | None,
    remedy_sought: str | None,
    remedy_sought_text: str | None,
    remedy_offered: str | None,
    anger: int,
    followup_policy: FollowUpPolicy,
    now: datetime | None = None,
    turn_id: str | None = None,
    acknowledged_in_chat: bool = True,
) -> Ticket:
    """Create the ticket, its first audit event and the follow-ups it owes, in the caller's transaction.

    `turn_id` is the front end's id of the customer's turn; the database keeps it unique per
    customer, so a turn re-run after a concurrent write fails on flush instead of opening a second
    ticket (callers look for `ticket_for_turn` first and retry).

    A ticket opened in chat was acknowledged by the summary the customer just read, so it owes no
    acknowledgement follow-up; one replayed from the spool (the customer was told it is not stored
    yet) owes one, which is how the customer learns its number."""
    now = now or utcnow()
    ticket = Ticket(
        number=new_ticket_number(session=session),
        customer=customer,
        conversation_id=conversation_id,
        turn_id=turn_id,
        channel=customer.channel,
        category=category,
        story=story,
        key_words=list(key_words),
        reflection=reflection,
        order_id=order_id,
        remedy_sought=remedy_sought,
        remedy_sought_text=remedy_sought_text,
        remedy_offered=remedy_offered,
        anger=anger,
        severity=severity_for(category, anger),
        status=TicketStatus.OPEN,
        received_at=now,
        acknowledged_at=now if acknowledged_in_chat else None,
        updated_at=now,
    )
    session.add(ticket)
    session.add(TicketEvent(ticket=ticket, kind="status", actor="bot", body=TicketStatus.OPEN.value, created_at=now))
    if not acknowledged_in_chat:
        session.add(FollowUp(ticket=ticket, kind=FollowUpKind.ACKNOWLEDGEMENT,
                             due_at=now + followup_policy.acknowledgement_after))
    session.add(FollowUp(ticket=ticket, kind=FollowUpKind.CHECK_IN, due_at=now + followup_policy.check_in_after))
    session.flush()
    session.execute(
        TranscriptLine.__table__.update()
        .where(TranscriptLine.conversation_id == conversation_id, TranscriptLine.ticket_id.is_(None))
        .values(ticket_id=ticket.id)
    )
    return ticket


def ticket_for_turn(*, session: Session, customer_id: int, turn_id: str | None) -> Ticket | None:
    """The ticket this customer's turn already opened, if a re-run of the turn finds one."""
    if turn_id is None:
        return None
    return session.scalar(select(Ticket).where(Ticket.customer_id == customer_id, Ticket.turn_id == turn_id))


def open_tickets(*, session: Session, customer_id: int, category: Category | None = None) -> list[Ticket]:
    query = select(Ticket).where(Ticket.customer_id == customer_id, Ticket.status.in_(OPEN_STATUSES))
    if category is not None:
        query = query.where(Ticket.category == category)
    return list(session.scalars(query.order_by(Ticket.received_at.desc())))


def customer_tickets(*, session: Session, customer_id: int, limit: int = 5) -> list[Ticket]:
    """The customer's own tickets, newest first — never anyone else's."""
    return list(
        session.scalars(
            select(Ticket).where(Ticket.customer_id == customer_id).order_by(Ticket.received_at.desc()).limit(limit)
        )
    )


def ticket_by_number(*, session: Session, customer_id: int, number: str) -> Ticket | None:
    """Look a ticket up by number, but only among the asking customer's tickets."""
    return session.scalar(select(Ticket).where(Ticket.customer_id == customer_id, Ticket.number == number))


def escalate(*, session: Session, ticket: Ticket, reason: str, actor: str = "bot", now: datetime | None = None) -> None:
    """Mark a ticket for a human; the Telegram layer opens the agents' topic when it sees this."""
    now = now or utcnow()
    if ticket.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
        ticket.reopened_count += 1
        ticket.resolved_at = None
        ticket.closed_at = None
    ticket.status = TicketStatus.ESCALATED
    ticket.escalation_reason = reason
    ticket.updated_at = now
    session.add(TicketEvent(ticket=ticket, kind="status", actor=actor, body=TicketStatus.ESCALATED.value,
                            data={"reason": reason}, created_at=now))


def set_status(
    *, session: Session, ticket: Ticket, status: TicketStatus, actor: str, now: datetime | None = None,
    followup_policy: FollowUpPolicy | None = None,
) -> None:
    """Move a ticket and stamp the ISO 10002 timestamps; pending follow-ups that no longer make
    sense (a check-in on a closed ticket) are cancelled. With a `followup_policy`, resolving a
    ticket also schedules "was your problem solved?" (seed 001: make sure the problem is gone)."""
    now = now or utcnow()
    ticket.status = status
    ticket.updated_at = now
    if status is TicketStatus.RESOLVED:
        ticket.resolved_at = now
    elif status is TicketStatus.CLOSED:
        ticket.closed_at = now
        ticket.resolved_at = ticket.resolved_at or now
    if status in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
        for followup in ticket.followups:
            if followup.kind is FollowUpKind.CHECK_IN and followup.status is FollowUpStatus.PENDING:
                followup.status = FollowUpStatus.CANCELLED
    if status is TicketStatus.RESOLVED and followup_policy is not None:
        from hamdel.storage.followups import schedule  # local: that module imports this one's models only

        ticket.solved_confirmed = None  # the question is asked again after every resolution
        schedule(session=session, ticket=ticket, kind=FollowUpKind.RESOLUTION_CHECK,
                 due_at=now + followup_policy.resolution_check_after)
    session.add(TicketEvent(ticket=ticket, kind="status", actor=actor, body=status.value, created_at=now))


def record_transcript(
    *, session: Session, conversation_id: str, speaker: str, text: str, ticket_id: int | None = None,
    now: datetime | None = None,
) -> None:
    session.add(TranscriptLine(conversation_id=conversation_id, speaker=speaker, text=text, ticket_id=ticket_id,
                               created_at=now or utcnow()))
