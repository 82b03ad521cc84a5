"""Repository functions for follow-ups: claiming, marking sent, scheduling, customers' answers.

Delivery guarantee: at most once, never duplicated (seed 002: a customer asked twice "was your
problem solved?" feels processed, not cared for). The life of a row:

    pending ──claim (one UPDATE, unique token)──► claimed ──mark in flight──► claimed + IN_FLIGHT
       ▲                                            │                           │
       └──── release / lease expired, never ────────┘                 sent / failed / cancelled
             started (safe to take over)

* A claim is a single ``UPDATE … WHERE id IN (…) AND status = 'pending'`` with a fresh token, so
  two schedulers never hold the same row (SQLite serialises writers; PostgreSQL re-checks the
  WHERE clause after a row lock and the sub-select uses ``FOR UPDATE SKIP LOCKED``).
* Just before the Bot API call the row is marked ``IN_FLIGHT`` (in ``last_error``: the outcome
  is unknown until Telegram answers), again only if the token still owns it.
* A claim older than the lease that was never marked in flight is taken over by anyone.
* A row still ``IN_FLIGHT`` after the lease means a scheduler died between sending and recording:
  it may or may not have reached Telegram. It is marked failed, not resent (at-most-once).
* ``RetryAfter`` (429) proves the message was not sent: the marker is cleared and the claim renewed
  while the scheduler waits, then the same row is sent again under the same token.

Every function takes the session keyword-only; the caller owns the transaction.
"""
from __future__ import annotations

import secrets
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Result, func, insert, or_, select, update
from sqlalchemy.orm import Session, joinedload

from hamdel.followup_policy import FollowUpPolicy
from hamdel.storage.models import (
    Customer,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    Ticket,
    TicketEvent,
)
from hamdel.storage.tickets import OPEN_STATUSES  # one home: a ticket still being worked on

IN_FLIGHT = "in flight: outcome unknown"
UNCERTAIN = "outcome unknown: sender stopped mid-request; not resent (at-most-once)"
CUSTOMER_KINDS = frozenset(
    {FollowUpKind.ACKNOWLEDGEMENT, FollowUpKind.CHECK_IN, FollowUpKind.RESOLUTION_CHECK, FollowUpKind.SATISFACTION}
)
FIRST_RESPONSE_REMINDER, RESOLUTION_REMINDER = 0, 1
COMMENT_REQUESTED, COMMENT_DONE = "csat_comment_requested", "csat_comment_done"

_TABLE = FollowUp.__table__


def affected(result: Result[Any]) -> int:
    """Rows an UPDATE changed: the conditional UPDATEs below decide by this count (SQLAlchemy types
    `Session.execute` as a plain Result; an UPDATE's is a CursorResult)."""
    return cast("CursorResult[Any]", result).rowcount or 0


def new_claim_token(worker: str) -> str:
    """`worker` plus a random suffix: one token per claimed batch, at most 64 characters."""
    return f"{worker[:47]}:{secrets.token_hex(8)}"


def _kind_values(kinds: Collection[FollowUpKind] | None) -> list[str] | None:
    return None if kinds is None else [k.value for k in kinds]


def claim_due(
    *, session: Session, token: str, now: datetime, limit: int, kinds: Collection[FollowUpKind] | None = None,
) -> int:
    """Claim up to `limit` pending follow-ups due by `now`, oldest first; returns how many."""
    pick = select(FollowUp.id).where(FollowUp.status == FollowUpStatus.PENDING, FollowUp.due_at <= now)
    if kinds is not None:
        pick = pick.where(FollowUp.kind.in_(list(kinds)))
    pick = pick.order_by(FollowUp.due_at, FollowUp.id).limit(limit).with_for_update(skip_locked=True)
    result = session.execute(
        update(FollowUp)
        .where(FollowUp.id.in_(pick.scalar_subquery()), FollowUp.status == FollowUpStatus.PENDING)
        .values(status=FollowUpStatus.CLAIMED, claimed_by=token, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    return affected(result)


def reclaim_stale(
    *, session: Session, token: str, now: datetime, lease: timedelta, limit: int,
    kinds: Collection[FollowUpKind] | None = None,
) -> int:
    """Take over claims older than the lease that never reached the Bot API (their owner died)."""
    stale = (FollowUp.status == FollowUpStatus.CLAIMED, FollowUp.claimed_at < now - lease,
             or_(FollowUp.last_error.is_(None), FollowUp.last_error != IN_FLIGHT))
    pick = select(FollowUp.id).where(*stale)
    if kinds is not None:
        pick = pick.where(FollowUp.kind.in_(list(kinds)))
    pick = pick.order_by(FollowUp.due_at).limit(limit).with_for_update(skip_locked=True)
    result = session.execute(
        update(FollowUp).where(FollowUp.id.in_(pick.scalar_subquery()), *stale)
        .values(claimed_by=token, claimed_at=now).execution_options(synchronize_session=False)
    )
    return affected(result)


def fail_uncertain(*, session: Session, now: datetime, lease: timedelta) -> int:
    """Rows left in flight by a dead scheduler: recorded as failed, never sent a second time."""
    result = session.execute(
        update(FollowUp)
        .where(FollowUp.status == FollowUpStatus.CLAIMED, FollowUp.last_error == IN_FLIGHT,
               FollowUp.claimed_at < now - lease)
        .values(status=FollowUpStatus.FAILED, last_error=UNCERTAIN)
        .execution_options(synchronize_session=False)
    )
    return affected(result)


def claimed_rows(*, session: Session, token: str) -> list[FollowUp]:
    """The rows this token holds, with ticket and customer loaded for composing the messages."""
    return list(
        session.scalars(
            select(FollowUp)
            .where(FollowUp.claimed_by == token, FollowUp.status == FollowUpStatus.CLAIMED)
            .options(joinedload(FollowUp.ticket).joinedload(Ticket.customer))
            .order_by(FollowUp.due_at, FollowUp.id)
        )
    )


def mark_in_flight(*, session: Session, ids: Sequence[int], token: str, now: datetime) -> set[int]:
    """Mark rows as being sent right now, but only those `token` still owns; returns those ids."""
    if not ids:
        return set()
    owned = (FollowUp.id.in_(list(ids)), FollowUp.claimed_by == token, FollowUp.status == FollowUpStatus.CLAIMED,
             or_(FollowUp.last_error.is_(None), FollowUp.last_error != IN_FLIGHT))
    result = session.execute(
        update(FollowUp).where(*owned)
        .values(last_error=IN_FLIGHT, claimed_at=now, attempts=FollowUp.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if affected(result) == len(ids):
        return set(ids)
    return set(session.scalars(
        select(FollowUp.id).where(FollowUp.id.in_(list(ids)), FollowUp.claimed_by == token,
                                  FollowUp.last_error == IN_FLIGHT)
    ))


def renew_after_retry_after(*, session: Session, followup_id: int, token: str, now: datetime, error: str) -> bool:
    """After a 429 (not sent): clear the in-flight marker and restart the lease while we wait."""
    result = session.execute(
        update(FollowUp)
        .where(FollowUp.id == followup_id, FollowUp.claimed_by == token, FollowUp.status == FollowUpStatus.CLAIMED)
        .values(last_error=error[:255], claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    return affected(result) == 1


def release(*, session: Session, ids: Sequence[int], token: str) -> int:
    """Give rows back (graceful stop, Bot API unreachable): pending again, due time unchanged."""
    if not ids:
        return 0
    result = session.execute(
        update(FollowUp)
        .where(FollowUp.id.in_(list(ids)), FollowUp.claimed_by == token, FollowUp.status == FollowUpStatus.CLAIMED)
        .values(status=FollowUpStatus.PENDING, claimed_by=None, claimed_at=None, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return affected(result)


@dataclass(frozen=True)
class NewFollowUp:
    ticket_id: int
    kind: FollowUpKind
    sequence: int
    due_at: datetime


@dataclass(frozen=True)
class Outcome:
    """What happened to one claimed row; recorded in batches (group commit)."""

    followup_id: int
    status: FollowUpStatus  # SENT, FAILED or CANCELLED
    at: datetime
    error: str | None = None
    blocked_customer_id: int | None = None
    follow_on: NewFollowUp | None = None


def insert_followups(*, session: Session, rows: Iterable[NewFollowUp], now: datetime) -> None:
    """Insert follow-ups, silently skipping any (ticket, kind, sequence) that already exists:
    two schedulers scheduling the same next check-in must end with one row, not an error."""
    values = [
        {"ticket_id": r.ticket_id, "kind": r.kind, "sequence": r.sequence, "due_at": r.due_at,
         "status": FollowUpStatus.PENDING, "attempts": 0, "created_at": now}
        for r in rows
    ]
    if not values:
        return
    dialect = session.get_bind().dialect.name
    statement: Any
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert
        statement = sqlite_insert(FollowUp).on_conflict_do_nothing()
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert
        statement = postgresql_insert(FollowUp).on_conflict_do_nothing()
    else:  # pragma: no cover - other databases insert one by one inside savepoints
        for value in values:
            try:
                with session.begin_nested():
                    session.execute(insert(FollowUp), value)
            except Exception:  # noqa: BLE001 - a duplicate is the expected case
                continue
        return
    session.execute(statement, values)


def record_outcomes(*, session: Session, outcomes: Sequence[Outcome]) -> None:
    """Write many outcomes in one transaction; blocked customers are marked and their other
    pending follow-ups cancelled (a 403 does not go away by retrying)."""
    if not outcomes:
        return
    session.execute(
        update(FollowUp),
        [
            {"id": o.followup_id, "status": o.status, "last_error": (o.error or None) and o.error[:255],
             "sent_at": o.at if o.status is FollowUpStatus.SENT else None}
            for o in outcomes
        ],
    )
    blocked = {(o.blocked_customer_id, o.at) for o in outcomes if o.blocked_customer_id is not None}
    for customer_id, at in blocked:
        mark_blocked(session=session, customer_id=customer_id, now=at)
    insert_followups(session=session, rows=[o.follow_on for o in outcomes if o.follow_on], now=outcomes[0].at)


def mark_blocked(*, session: Session, customer_id: int, now: datetime) -> None:
    session.execute(
        update(Customer).where(Customer.id == customer_id, Customer.blocked_bot_at.is_(None))
        .values(blocked_bot_at=now).execution_options(synchronize_session=False)
    )
    cancel_pending_for_customer(session=session, customer_id=customer_id, reason="customer blocked the bot")


def cancel_pending_for_customer(*, session: Session, customer_id: int, reason: str) -> int:
    """Cancel the customer's pending follow-ups (not agent reminders: the team still owes them)."""
    tickets = select(Ticket.id).where(Ticket.customer_id == customer_id).scalar_subquery()
    result = session.execute(
        update(FollowUp)
        .where(FollowUp.ticket_id.in_(tickets), FollowUp.status == FollowUpStatus.PENDING,
               FollowUp.kind.in_(list(CUSTOMER_KINDS)))
        .values(status=FollowUpStatus.CANCELLED, last_error=reason[:255])
        .execution_options(synchronize_session=False)
    )
    return affected(result)


def opt_out(*, session: Session, customer: Customer) -> int:
    """`/stop`: no more follow-ups for this customer; returns how many were cancelled."""
    customer.followups_opted_out = True
    session.flush()
    return cancel_pending_for_customer(session=session, customer_id=customer.id, reason="customer opted out")


def next_sequence(*, session: Session, ticket_id: int, kind: FollowUpKind) -> int:
    current = session.scalar(
        select(func.max(FollowUp.sequence)).where(FollowUp.ticket_id == ticket_id, FollowUp.kind == kind)
    )
    return 0 if current is None else current + 1


def schedule(*, session: Session, ticket: Ticket, kind: FollowUpKind, due_at: datetime) -> FollowUp:
    """Add the next follow-up of `kind` for `ticket` (sequence numbers keep repeats distinct)."""
    session.flush()
    followup = FollowUp(ticket=ticket, kind=kind, due_at=due_at,
                        sequence=next_sequence(session=session, ticket_id=ticket.id, kind=kind))
    session.add(followup)
    session.flush()
    return followup


def ensure_agent_reminders(*, session: Session, policy: FollowUpPolicy, now: datetime, limit: int = 500) -> int:
    """Give open tickets that have none their two "close to breaching" reminders for the agents.

    Done by the scheduler rather than at ticket creation so tickets written by any process (the
    action server, a replayed spool) get them; the unique (ticket, kind, sequence) key makes two
    schedulers doing this at once harmless.
    """
    has_reminder = select(FollowUp.id).where(
        FollowUp.ticket_id == Ticket.id, FollowUp.kind == FollowUpKind.AGENT_REMINDER
    ).exists()
    tickets = session.execute(
        select(Ticket.id, Ticket.received_at, Ticket.first_human_response_at)
        .where(Ticket.status.in_(OPEN_STATUSES), ~has_reminder).limit(limit)
    ).all()
    rows: list[NewFollowUp] = []
    for ticket_id, received_at, first_response_at in tickets:
        if first_response_at is None:
            due = received_at + policy.first_response_target - policy.breach_warning_before
            rows.append(NewFollowUp(ticket_id, FollowUpKind.AGENT_REMINDER, FIRST_RESPONSE_REMINDER, due))
        due = received_at + policy.resolution_target - policy.breach_warning_before
        rows.append(NewFollowUp(ticket_id, FollowUpKind.AGENT_REMINDER, RESOLUTION_REMINDER, due))
    insert_followups(session=session, rows=rows, now=now)
    return len(tickets)


# --- the customer's answers (recorded by hamdel.ticket_service; found here) --------------------

def followup_for_answer(*, session: Session, followup_id: int, customer_external_id: str) -> FollowUp | None:
    """The follow-up a button belongs to, only if it was sent to this customer (buttons can be
    forwarded; callback data is not a secret)."""
    followup = session.get(FollowUp, followup_id, options=[joinedload(FollowUp.ticket).joinedload(Ticket.customer)])
    if followup is None or followup.ticket.customer.external_id != customer_external_id:
        return None
    return followup


def ticket_awaiting_comment(
    *, session: Session, channel: str, external_id: str, now: datetime, window: timedelta,
) -> Ticket | None:
    """The customer's ticket whose "what could we have done better?" is still open, if any."""
    customer_id = select(Customer.id).where(Customer.channel == channel, Customer.external_id == external_id)
    requested = session.execute(
        select(TicketEvent.ticket_id, TicketEvent.created_at)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(Ticket.customer_id.in_(customer_id.scalar_subquery()), TicketEvent.kind == COMMENT_REQUESTED,
               TicketEvent.created_at >= now - window, Ticket.csat_comment.is_(None))
        .order_by(TicketEvent.created_at.desc()).limit(1)
    ).first()
    if requested is None:
        return None
    closed = session.scalar(
        select(TicketEvent.id).where(TicketEvent.ticket_id == requested.ticket_id, TicketEvent.kind == COMMENT_DONE,
                                     TicketEvent.created_at >= requested.created_at).limit(1)
    )
    return None if closed is not None else session.get(Ticket, requested.ticket_id)
