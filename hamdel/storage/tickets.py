"""Repository functions for customers and reading tickets. Every function takes the session
keyword-only, so the caller owns the transaction (one unit of work per conversation turn).
Changing a ticket (status, events, transcript) is `hamdel.ticket_service`'s job alone.
"""
from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hamdel.storage.models import Category, Customer, Severity, Ticket, TicketStatus

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
