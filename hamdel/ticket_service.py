"""The ticket service: the one place a ticket's life is written.

Every status change, reopening, assignment, ISO 10002 timestamp, audit event (`TicketEvent`) and
transcript line (`TranscriptLine`) goes through a function here; the action server, the Telegram
front end and the follow-ups call them (`tests/test_one_ticket_home.py` reads the source tree and
fails if anything else writes them). Reads stay in `hamdel.storage.tickets`.

Every function takes the session keyword-only, so the caller owns the transaction (one unit of
work per conversation turn or agent command), and never commits.

Status changes are named moves with an explicit table of what each may do::

    move        from open    escalated   resolved        closed
    escalate    escalated    escalated   escalated (*)   escalated (*)
    take        escalated    escalated   escalated (*)   refused
    hand_back   open         open        resolved        refused
    resolve     resolved     resolved    refused         refused
    close       closed       closed      closed          refused

    (*) a reopening: `reopened_count` + 1, resolved/closed times cleared, the status event says so.

A refused move raises `TransitionRefused` and changes nothing; callers answer it honestly from
their own catalogue (the agents' topic says the ticket is already closed, for instance). A closed
ticket is reopened only by its customer («not solved» to a follow-up) or a new escalation, never by
an agent's `/take`: a closed topic is the desk's final word, a resolved one is still work in hand.

Transcript lines: a line belongs to the ticket of the story it was said in. When a ticket opens it
takes the unattached lines of its conversation from the first line of its story on
(`story_first_line`, which the front end sends with each turn and the action finds in the
tracker); lines said before that story (an earlier chat, a cancelled complaint, a status question)
stay unattached, so a later, unrelated ticket never collects them.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hamdel.followup_policy import FollowUpPolicy
from hamdel.storage.followups import COMMENT_DONE, COMMENT_REQUESTED, affected, schedule
from hamdel.storage.models import (
    Category,
    Customer,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    Ticket,
    TicketEvent,
    TicketStatus,
    TranscriptLine,
    utcnow,
)
from hamdel.storage.tickets import new_ticket_number, severity_for

# Event kinds other modules query by name.
STATUS, ASSIGNED, NOTE, HANDBACK = "status", "assigned", "note", "handback"
TOPIC_OPENED, WAIT_NOTICE, CUSTOMER_UPDATE = "topic_opened", "wait_notice", "customer_update"


class Move(str, enum.Enum):
    """What someone does to a ticket's status (the rows of the table in the module docstring)."""

    ESCALATE = "escalate"
    TAKE = "take"
    HAND_BACK = "hand_back"
    RESOLVE = "resolve"
    CLOSE = "close"


_O, _E, _R, _C = TicketStatus.OPEN, TicketStatus.ESCALATED, TicketStatus.RESOLVED, TicketStatus.CLOSED
TRANSITIONS: Mapping[Move, Mapping[TicketStatus, TicketStatus]] = {
    Move.ESCALATE: {_O: _E, _E: _E, _R: _E, _C: _E},
    Move.TAKE: {_O: _E, _E: _E, _R: _E},
    Move.HAND_BACK: {_O: _O, _E: _O, _R: _R},
    Move.RESOLVE: {_O: _R, _E: _R},
    Move.CLOSE: {_O: _C, _E: _C, _R: _C},
}
FINISHED = frozenset({_R, _C})


class TransitionRefused(Exception):
    """A move the table does not allow from the ticket's current status; nothing was changed."""

    def __init__(self, *, number: str, move: Move, current: TicketStatus) -> None:
        super().__init__(f"{move.value} refused: ticket {number} is {current.value}")
        self.number, self.move, self.current = number, move, current


def _agent(agent_id: int) -> str:
    return f"agent:{agent_id}"


def _event(session: Session, ticket: Ticket, kind: str, actor: str, now: datetime, *, body: str | None = None,
           data: dict[str, Any] | None = None) -> None:
    session.add(TicketEvent(ticket=ticket, kind=kind, actor=actor, body=body, data=data or {}, created_at=now))


def _move(session: Session, ticket: Ticket, move: Move, *, actor: str, now: datetime,
          data: dict[str, Any] | None = None, event_if_unchanged: bool = False) -> bool:
    """Apply `move` by the table; True if the status changed. Raises TransitionRefused."""
    current = ticket.status
    target = TRANSITIONS[move].get(current)
    if target is None:
        raise TransitionRefused(number=ticket.number, move=move, current=current)
    changed = target is not current
    reopened = current in FINISHED and target not in FINISHED
    if reopened:
        ticket.reopened_count += 1
        ticket.resolved_at = None
        ticket.closed_at = None
    if changed and target is _R:
        ticket.resolved_at = now
    elif changed and target is _C:
        ticket.closed_at = now
        ticket.resolved_at = ticket.resolved_at or now
    ticket.status = target
    ticket.updated_at = now
    if changed or event_if_unchanged:
        details = dict(data or {})
        if changed:
            details["from"] = current.value
        if reopened:
            details["reopened"] = ticket.reopened_count
        _event(session, ticket, STATUS, actor, now, body=target.value, data=details)
    return changed


# --- opening -----------------------------------------------------------------------------------

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
    story_first_line: int | None = None,
) -> Ticket:
    """Create the ticket, its first audit event and the follow-ups it owes, in the caller's transaction.

    `turn_id` is the front end's id of the customer's turn; the database keeps it unique per
    customer, so a turn re-run after a concurrent write fails on flush instead of opening a second
    ticket (callers look for `ticket_for_turn` first and retry).

    A ticket opened in chat was acknowledged by the summary the customer just read, so it owes no
    acknowledgement follow-up; one replayed from the spool (the customer was told it is not stored
    yet) owes one, which is how the customer learns its number.

    `story_first_line` is the transcript line the story began with: that line and the later
    unattached lines of the conversation become the ticket's; without it (a channel that keeps no
    transcript) none are taken, since older lines belong to no story of this ticket."""
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
    if not acknowledged_in_chat:
        session.add(FollowUp(ticket=ticket, kind=FollowUpKind.ACKNOWLEDGEMENT,
                             due_at=now + followup_policy.acknowledgement_after))
    session.add(FollowUp(ticket=ticket, kind=FollowUpKind.CHECK_IN, due_at=now + followup_policy.check_in_after))
    session.flush()
    _event(session, ticket, STATUS, "bot", now, body=TicketStatus.OPEN.value)
    if story_first_line is not None:
        session.execute(
            update(TranscriptLine)
            .where(TranscriptLine.conversation_id == conversation_id, TranscriptLine.ticket_id.is_(None),
                   TranscriptLine.id >= story_first_line)
            .values(ticket_id=ticket.id).execution_options(synchronize_session=False)
        )
    return ticket


# --- status moves ------------------------------------------------------------------------------

def escalate(*, session: Session, ticket: Ticket, reason: str, actor: str = "bot", now: datetime | None = None) -> None:
    """Mark a ticket for a human (reopening it if it was finished); the Telegram layer opens the
    agents' topic when it sees this. Escalating an escalated ticket again records the new reason."""
    now = now or utcnow()
    _move(session, ticket, Move.ESCALATE, actor=actor, now=now, data={"reason": reason}, event_if_unchanged=True)
    ticket.escalation_reason = reason


def set_status(
    *, session: Session, ticket: Ticket, status: TicketStatus, actor: str, now: datetime | None = None,
    followup_policy: FollowUpPolicy | None = None,
) -> None:
    """Resolve or close a ticket and stamp the ISO 10002 timestamps; pending check-ins that no
    longer make sense are cancelled. With a `followup_policy`, resolving a ticket also schedules
    "was your problem solved?" (seed 001: make sure the problem is gone)."""
    moves = {TicketStatus.RESOLVED: Move.RESOLVE, TicketStatus.CLOSED: Move.CLOSE}
    if status not in moves:
        raise ValueError(f"set_status resolves or closes; use escalate or hand_back for {status.value}")
    now = now or utcnow()
    _move(session, ticket, moves[status], actor=actor, now=now)
    for followup in ticket.followups:
        if followup.kind is FollowUpKind.CHECK_IN and followup.status is FollowUpStatus.PENDING:
            followup.status = FollowUpStatus.CANCELLED
    if status is TicketStatus.RESOLVED and followup_policy is not None:
        ticket.solved_confirmed = None  # the question is asked again after every resolution
        schedule(session=session, ticket=ticket, kind=FollowUpKind.RESOLUTION_CHECK,
                 due_at=now + followup_policy.resolution_check_after)


def take(*, session: Session, ticket_id: int, agent_id: int, now: datetime | None = None) -> Ticket:
    """An agent takes the chat: assigned, a human owns it, escalated (a resolved ticket is reopened)."""
    now = now or utcnow()
    ticket = session.get_one(Ticket, ticket_id)
    reason = ticket.escalation_reason or "agent"
    _move(session, ticket, Move.TAKE, actor=_agent(agent_id), now=now, data={"reason": reason})
    ticket.escalation_reason = reason
    ticket.assigned_agent_id = agent_id
    ticket.human_active = True
    _event(session, ticket, ASSIGNED, _agent(agent_id), now)
    return ticket


def hand_back(*, session: Session, ticket_id: int, agent_id: int, now: datetime | None = None) -> Ticket:
    """The bot talks to the customer again; an escalated ticket goes back to open."""
    now = now or utcnow()
    ticket = session.get_one(Ticket, ticket_id)
    _move(session, ticket, Move.HAND_BACK, actor=_agent(agent_id), now=now)
    ticket.human_active = False
    _event(session, ticket, HANDBACK, _agent(agent_id), now)
    return ticket


def finish(*, session: Session, ticket_id: int, agent_id: int, status: TicketStatus, policy: FollowUpPolicy,
           now: datetime | None = None) -> Ticket:
    """An agent resolves or closes; the bot owns the chat again (follow-ups ask whether it was solved)."""
    ticket = session.get_one(Ticket, ticket_id)
    set_status(session=session, ticket=ticket, status=status, actor=_agent(agent_id), now=now, followup_policy=policy)
    ticket.human_active = False
    return ticket


# --- the agents' topic -------------------------------------------------------------------------

def claim_topic(*, session: Session, ticket_id: int) -> bool:
    """Mark the ticket as getting a topic (0 = being created) so two sweeps never open two topics."""
    ticket = session.get_one(Ticket, ticket_id)
    if ticket.agent_topic_id is not None:
        return False
    ticket.agent_topic_id = 0
    return True


def release_topic_claim(*, session: Session, ticket_id: int) -> None:
    ticket = session.get_one(Ticket, ticket_id)
    if ticket.agent_topic_id == 0:
        ticket.agent_topic_id = None


def topic_opened(*, session: Session, ticket_id: int, thread_id: int, now: datetime | None = None) -> Ticket:
    """The topic exists: a human owns the chat from now on (the bot stays silent)."""
    now = now or utcnow()
    ticket = session.get_one(Ticket, ticket_id)
    ticket.agent_topic_id = thread_id
    ticket.human_active = True
    ticket.updated_at = now
    _event(session, ticket, TOPIC_OPENED, "bot", now, data={"thread_id": thread_id})
    return ticket


def reactivate(*, session: Session, ticket_id: int, now: datetime | None = None) -> Ticket | None:
    """Escalated again while its topic exists: the humans own the chat again.

    Conditional (only a ticket still escalated and without its humans), so two sweeps that both
    saw it need a handoff reactivate it once; the second gets None.
    """
    now = now or utcnow()
    changed = affected(session.execute(
        update(Ticket).where(Ticket.id == ticket_id, Ticket.human_active.is_(False),
                             Ticket.status == TicketStatus.ESCALATED)
        .values(human_active=True, updated_at=now).execution_options(synchronize_session=False)
    ))
    if not changed:
        return None
    ticket = session.get_one(Ticket, ticket_id)
    session.refresh(ticket)
    _event(session, ticket, TOPIC_OPENED, "bot", now, data={"thread_id": ticket.agent_topic_id, "again": True})
    return ticket


def note_wait_notice(*, session: Session, tickets: Sequence[Ticket], now: datetime | None = None) -> None:
    """The customers of these tickets are being told nobody took their chat yet (told once)."""
    now = now or utcnow()
    for ticket in tickets:
        _event(session, ticket, WAIT_NOTICE, "bot", now)


def add_note(*, session: Session, ticket_id: int, agent_id: int, body: str, now: datetime | None = None) -> None:
    """An agent's internal note: on the ticket's record, never sent to the customer."""
    ticket = session.get_one(Ticket, ticket_id)
    _event(session, ticket, NOTE, _agent(agent_id), now or utcnow(), body=body)


def agent_replied(*, session: Session, ticket_id: int, agent_id: int, text: str, now: datetime | None = None) -> Ticket:
    """An agent's message reached the customer: first human response (ISO 10002), taking the
    ticket if nobody had, and the transcript line."""
    now = now or utcnow()
    ticket = session.get_one(Ticket, ticket_id)
    if ticket.first_human_response_at is None:
        ticket.first_human_response_at = now
    if ticket.assigned_agent_id is None:  # answering is taking
        ticket.assigned_agent_id = agent_id
        _event(session, ticket, ASSIGNED, _agent(agent_id), now)
    record_transcript(session=session, conversation_id=ticket.conversation_id, speaker="agent", text=text,
                      ticket_id=ticket.id, now=now)
    return ticket


# --- the customer ------------------------------------------------------------------------------

def add_customer_update(*, session: Session, ticket: Ticket, text: str, now: datetime | None = None) -> None:
    """More words from the customer about an open ticket: appended to its story, on the record."""
    now = now or utcnow()
    ticket.story = f"{ticket.story}\n\n{text}"
    ticket.updated_at = now
    _event(session, ticket, CUSTOMER_UPDATE, "customer", now, body=text)


def confirm_solved(*, session: Session, ticket: Ticket, solved: bool, now: datetime) -> bool:
    """Record the answer to "was your problem solved?" once; False if it was already answered
    (a double tap, or two devices) or the ticket is no longer resolved."""
    result = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.solved_confirmed.is_(None), Ticket.status.in_(list(FINISHED)))
        .values(solved_confirmed=solved, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if affected(result) != 1:
        return False
    session.refresh(ticket)
    _event(session, ticket, "solved_confirmed" if solved else "not_solved", "customer", now)
    return True


def record_rating(*, session: Session, ticket: Ticket, score: int, now: datetime) -> bool:
    """Store the 1–5 rating once and open the window for "what could we have done better?"."""
    if not 1 <= score <= 5:
        raise ValueError(f"rating out of range: {score}")
    result = session.execute(
        update(Ticket).where(Ticket.id == ticket.id, Ticket.csat_score.is_(None))
        .values(csat_score=score, updated_at=now).execution_options(synchronize_session=False)
    )
    if affected(result) != 1:
        return False
    session.refresh(ticket)
    _event(session, ticket, "csat", "customer", now, data={"score": score})
    _event(session, ticket, COMMENT_REQUESTED, "bot", now)
    return True


def record_comment(*, session: Session, ticket: Ticket, comment: str | None, now: datetime) -> None:
    """Store the free-text answer (or the customer's "no, thanks") and close the window."""
    if comment:
        ticket.csat_comment = comment
        ticket.updated_at = now
    _event(session, ticket, COMMENT_DONE, "customer", now, data={"skipped": not comment})


# --- the transcript ----------------------------------------------------------------------------

def record_transcript(
    *, session: Session, conversation_id: str, speaker: str, text: str, ticket_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """One line of the conversation (customer, bot or agent); returns its id, which the front end
    sends with the turn so the ticket that turn's story opens knows where its story began."""
    line = TranscriptLine(conversation_id=conversation_id, speaker=speaker, text=text, ticket_id=ticket_id,
                          created_at=now or utcnow())
    session.add(line)
    session.flush()
    return line.id


def ticket_id_for_number(*, session: Session, conversation_id: str, number: str) -> int | None:
    """The id of this conversation's ticket `number` (never another conversation's)."""
    return session.scalar(select(Ticket.id).where(Ticket.conversation_id == conversation_id, Ticket.number == number))
