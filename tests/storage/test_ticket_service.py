"""The ticket service's moves from every status, as a support desk expects them: written out here
by hand (not read from the service's own table), so a change to the table has to change this too."""
from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

from hamdel.followup_policy import load_followup_policy
from hamdel.storage.models import Category, Ticket, TicketStatus
from hamdel.storage.tickets import get_or_create_customer
from hamdel.ticket_service import (
    Move,
    TransitionRefused,
    escalate,
    hand_back,
    open_ticket,
    set_status,
    take,
)

OPN, ESC, RES, CLS = TicketStatus.OPEN, TicketStatus.ESCALATED, TicketStatus.RESOLVED, TicketStatus.CLOSED
AGENT = 42
EXPECTED: dict[Move, dict[TicketStatus, TicketStatus | None]] = {  # None: refused
    Move.ESCALATE: {OPN: ESC, ESC: ESC, RES: ESC, CLS: ESC},  # the customer's «not solved» reopens even a closed ticket
    Move.TAKE: {OPN: ESC, ESC: ESC, RES: ESC, CLS: None},  # closing is the desk's last word
    Move.HAND_BACK: {OPN: OPN, ESC: OPN, RES: RES, CLS: None},
    Move.RESOLVE: {OPN: RES, ESC: RES, RES: None, CLS: None},
    Move.CLOSE: {OPN: CLS, ESC: CLS, RES: CLS, CLS: None},
}
DO: dict[Move, Callable[[Session, Ticket], object]] = {
    Move.ESCALATE: lambda s, t: escalate(session=s, ticket=t, reason="customer_request"),
    Move.TAKE: lambda s, t: take(session=s, ticket_id=t.id, agent_id=AGENT),
    Move.HAND_BACK: lambda s, t: hand_back(session=s, ticket_id=t.id, agent_id=AGENT),
    Move.RESOLVE: lambda s, t: set_status(session=s, ticket=t, status=RES, actor="agent:42"),
    Move.CLOSE: lambda s, t: set_status(session=s, ticket=t, status=CLS, actor="agent:42"),
}
REACH = {OPN: [], ESC: [Move.ESCALATE], RES: [Move.RESOLVE], CLS: [Move.CLOSE]}


def ticket_in(session: Session, status: TicketStatus) -> Ticket:
    customer = get_or_create_customer(session=session, channel="telegram", external_id="7")
    ticket = open_ticket(session=session, customer=customer, conversation_id="telegram:7", category=Category.PRODUCT,
                         story="گوشی خرابه", key_words=[], reflection="گوشیتون خرابه.", order_id=None,
                         remedy_sought="repair", remedy_sought_text=None, remedy_offered=None, anger=0,
                         followup_policy=load_followup_policy())
    for move in REACH[status]:
        DO[move](session, ticket)
    session.flush()
    assert ticket.status is status
    return ticket


@pytest.mark.parametrize(("move", "start"), [(m, s) for m in Move for s in TicketStatus],
                         ids=lambda value: value.value)
def test_every_move_from_every_status(session: Session, move: Move, start: TicketStatus) -> None:
    ticket = ticket_in(session, start)
    events_before = len(ticket.events)
    stamped = (ticket.resolved_at, ticket.closed_at)
    expected = EXPECTED[move][start]

    if expected is None:
        with pytest.raises(TransitionRefused) as refused:
            DO[move](session, ticket)
        assert (refused.value.move, refused.value.current) == (move, start)
        assert ticket.status is start and len(ticket.events) == events_before
        return

    DO[move](session, ticket)
    session.flush()
    assert ticket.status is expected
    reopened = start in (RES, CLS) and expected in (OPN, ESC)
    assert ticket.reopened_count == (1 if reopened else 0)
    if reopened:
        assert ticket.resolved_at is None and ticket.closed_at is None
    if expected is start:  # nothing moved: the ISO 10002 times stay as they were
        assert (ticket.resolved_at, ticket.closed_at) == stamped
    status_events = [e for e in ticket.events[events_before:] if e.kind == "status"]
    if expected is not start:
        assert [(e.body, e.data["from"]) for e in status_events] == [(expected.value, start.value)]
        assert status_events[0].data.get("reopened") == (1 if reopened else None)
