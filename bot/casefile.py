"""What the Telegram front end reads and writes about tickets: who owns a chat, evidence, the
customer's phone, the agents' topic, the handoff card, agent actions and the transcript.

Every change to a ticket (status, assignment, events, transcript lines) is made by
`hamdel.ticket_service`; this module opens the transaction, calls it and hands back a `TicketRef`.
A move the service refuses raises `hamdel.ticket_service.TransitionRefused` for the caller to answer.

Synchronous functions over one short transaction each; the bot calls them with `asyncio.to_thread`
so the event loop never waits on the database. Customers are identified the way the actions
identify them: conversation id `telegram:<user id>`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, exists, func, or_, select, update
from sqlalchemy.orm import Session

from bot import texts
from hamdel import ticket_service
from hamdel.followup_policy import FollowUpPolicy
from hamdel.jalali import format_jalali, format_jalali_date
from hamdel.labels import CATEGORY_LABELS, STATUS_LABELS
from hamdel.storage.db import session_scope
from hamdel.storage.models import (
    Customer,
    Evidence,
    InboundUpdate,
    Ticket,
    TicketEvent,
    TicketStatus,
    TranscriptLine,
    utcnow,
)
from hamdel.storage.tickets import OPEN_STATUSES, get_or_create_customer
from hamdel.ticket_service import TOPIC_OPENED, WAIT_NOTICE

CHANNEL = "telegram"


def conversation_id(user_id: int) -> str:
    return f"{CHANNEL}:{user_id}"


@dataclass(frozen=True)
class TicketRef:
    """Enough about a ticket to route a message, without holding a session."""

    id: int
    number: str
    customer_chat_id: int | None
    topic_id: int | None
    status: TicketStatus
    human_active: bool
    assigned_agent_id: int | None

    @classmethod
    def of(cls, ticket: Ticket) -> TicketRef:
        return cls(ticket.id, ticket.number, ticket.customer.chat_id, ticket.agent_topic_id, ticket.status,
                   ticket.human_active, ticket.assigned_agent_id)


# --- customers ---------------------------------------------------------------------------------

def set_phone(user_id: int, chat_id: int, phone: str) -> None:
    with session_scope() as session:
        customer = get_or_create_customer(session=session, channel=CHANNEL, external_id=str(user_id), chat_id=chat_id)
        customer.phone = phone


def _newest_open(session: Session, user_id: int) -> Ticket | None:
    return session.scalar(
        select(Ticket).join(Customer).where(Customer.channel == CHANNEL, Customer.external_id == str(user_id),
                                            Ticket.status.in_(OPEN_STATUSES))
        .order_by(Ticket.received_at.desc(), Ticket.id.desc()).limit(1))


def human_owned(user_id: int) -> TicketRef | None:
    """The customer's ticket a human currently owns (its topic exists), if any."""
    with session_scope() as session:
        ticket = session.scalar(
            select(Ticket).join(Customer).where(Customer.channel == CHANNEL, Customer.external_id == str(user_id),
                                                Ticket.human_active.is_(True), Ticket.agent_topic_id.is_not(None),
                                                Ticket.status.in_(OPEN_STATUSES))
            .order_by(Ticket.received_at.desc()).limit(1))
        return TicketRef.of(ticket) if ticket else None


def newest_open(user_id: int) -> TicketRef | None:
    with session_scope() as session:
        ticket = _newest_open(session, user_id)
        return TicketRef.of(ticket) if ticket else None


def attach_evidence(ticket_id: int, kind: str, file_id: str, file_unique_id: str | None, caption: str | None,
                    at: datetime | None = None) -> None:
    with session_scope() as session:
        session.add(Evidence(ticket_id=ticket_id, kind=kind, file_id=file_id, file_unique_id=file_unique_id,
                             caption=caption, created_at=at or utcnow()))


def record_line(user_id: int, speaker: str, text: str, ticket_id: int | None = None,
                ticket_number: str | None = None) -> int:
    """One transcript line of this customer's conversation; its id (sent with the turn to Rasa).
    `ticket_number` (the ticket this very turn opened) attaches the line when no id is known."""
    with session_scope() as session:
        if ticket_id is None and ticket_number is not None:
            ticket_id = ticket_service.ticket_id_for_number(session=session, conversation_id=conversation_id(user_id),
                                                            number=ticket_number)
        return ticket_service.record_transcript(session=session, conversation_id=conversation_id(user_id),
                                                speaker=speaker, text=text, ticket_id=ticket_id)


def record_turn_line(user_id: int, text: str, update_ids: list[int]) -> int:
    """The customer's line of the turn made of these messages, written once: a turn replayed after a
    crash or retried finds the line its first run wrote (kept on the messages' inbox rows)."""
    with session_scope() as session:
        known = set(session.scalars(select(InboundUpdate.transcript_line_id)
                                    .where(InboundUpdate.update_id.in_(update_ids))))
        earlier = known.pop() if len(known) == 1 else None
        if earlier is not None:  # the same messages as before: the same line
            return earlier
        line = ticket_service.record_transcript(session=session, conversation_id=conversation_id(user_id),
                                                speaker="customer", text=text)
        session.execute(update(InboundUpdate).where(InboundUpdate.update_id.in_(update_ids))
                        .values(transcript_line_id=line))
        return line


# --- escalation and the agents' topic ----------------------------------------------------------

def needing_handoff(user_id: int | None = None, limit: int = 20) -> list[tuple[int, int | None]]:
    """Escalated tickets no human owns yet, as (ticket id, existing topic id or None): new ones need
    a topic; one escalated again after a hand-back or a «not solved» answer reuses its topic."""
    with session_scope() as session:
        query = select(Ticket.id, Ticket.agent_topic_id).where(
            Ticket.status == TicketStatus.ESCALATED, Ticket.human_active.is_(False),
            (Ticket.agent_topic_id.is_(None)) | (Ticket.agent_topic_id > 0))
        if user_id is not None:
            query = query.join(Customer).where(Customer.channel == CHANNEL, Customer.external_id == str(user_id))
        return [(row[0], row[1]) for row in session.execute(query.order_by(Ticket.id).limit(limit))]


@dataclass(frozen=True)
class Card:
    """The handoff card and the transcript, ready to post (plain text: customer words are untrusted
    input, so no Markdown/HTML parse mode that they could break or abuse)."""

    topic_name: str
    card: str
    transcript: list[str]


def handoff_card(ticket_id: int) -> Card:
    with session_scope() as session:
        ticket = session.get_one(Ticket, ticket_id)
        customer = ticket.customer
        category = CATEGORY_LABELS.get(ticket.category.value, ticket.category.value)
        prior = session.scalars(select(Ticket).where(Ticket.customer_id == customer.id, Ticket.id != ticket.id)
                                .order_by(Ticket.received_at.desc()).limit(5)).all()
        prior_text = "، ".join(
            f"{p.number} ({CATEGORY_LABELS.get(p.category.value, '')}، {STATUS_LABELS.get(p.status.value, '')}، "
            f"{format_jalali_date(p.received_at)})" for p in prior) or texts.NO_PRIOR
        remedy = ticket.remedy_sought_text or ticket.remedy_sought
        values = {
            "status": STATUS_LABELS.get(ticket.status.value, ticket.status.value),
            "severity": texts.SEVERITY_LABELS.get(ticket.severity.value, ticket.severity.value),
            "reason": texts.REASON_LABELS.get(ticket.escalation_reason or "", ticket.escalation_reason or texts.UNKNOWN),
            "customer": customer.display_name or texts.UNKNOWN,
            "phone": customer.phone or texts.UNKNOWN,
            "order_id": ticket.order_id or texts.UNKNOWN,
            "received": format_jalali(ticket.received_at),
            "story": ticket.story,
            "key_words": "، ".join(ticket.key_words or []) or texts.UNKNOWN,
            "reflection": ticket.reflection or texts.UNKNOWN,
            "remedy": remedy or texts.UNKNOWN,
            "offered": ticket.remedy_offered or texts.UNKNOWN,
            "prior": prior_text,
            "evidence": str(len(ticket.evidence)),
        }
        lines = [texts.CARD_TITLE.format(number=ticket.number, category=category)]
        lines += [f"{label}: {template.format(**values)}" for label, template in texts.CARD_LINES]
        lines.append(texts.CARD_FOOTER)
        transcript = session.scalars(_transcript_of(session, ticket)).all()
        said = [f"[{format_jalali(line.created_at).rsplit(' ', 1)[-1]}] {texts.SPEAKERS.get(line.speaker, line.speaker)}: {line.text}"
                for line in transcript]
        name = texts.TOPIC_NAME.format(number=ticket.number, category=category)[:128]
        return Card(topic_name=name, card="\n".join(lines), transcript=said)


def _transcript_of(session: Session, ticket: Ticket) -> Select[TranscriptLine]:
    """The card's transcript: from the first line of the ticket's story on, its own lines and the
    unattached ones (what the customer said after it); an earlier chat or another ticket's lines
    are not this ticket's. A ticket with no lines of its own (a channel without a transcript
    before it) shows the whole conversation."""
    query = select(TranscriptLine).where(TranscriptLine.conversation_id == ticket.conversation_id)
    first = session.scalar(select(func.min(TranscriptLine.id)).where(TranscriptLine.ticket_id == ticket.id))
    if first is not None:
        query = query.where(TranscriptLine.id >= first,
                            or_(TranscriptLine.ticket_id == ticket.id, TranscriptLine.ticket_id.is_(None)))
    return query.order_by(TranscriptLine.id)


def claim_topic(ticket_id: int) -> bool:
    """Mark the ticket as getting a topic so two sweeps never open two topics."""
    with session_scope() as session:
        return ticket_service.claim_topic(session=session, ticket_id=ticket_id)


def release_topic_claim(ticket_id: int) -> None:
    with session_scope() as session:
        ticket_service.release_topic_claim(session=session, ticket_id=ticket_id)


def topic_opened(ticket_id: int, thread_id: int) -> TicketRef:
    """The topic exists: a human owns the chat from now on (the bot stays silent)."""
    with session_scope() as session:
        return TicketRef.of(ticket_service.topic_opened(session=session, ticket_id=ticket_id, thread_id=thread_id))


def reactivate(ticket_id: int) -> TicketRef | None:
    """Escalated again while its topic exists: the humans own the chat again (once, however many
    sweeps saw it; the others get None)."""
    with session_scope() as session:
        ticket = ticket_service.reactivate(session=session, ticket_id=ticket_id)
        return TicketRef.of(ticket) if ticket else None


def escalation_reason(ticket_id: int) -> str:
    with session_scope() as session:
        reason = session.get_one(Ticket, ticket_id).escalation_reason or ""
        return texts.REASON_LABELS.get(reason, reason or texts.UNKNOWN)


def by_topic(thread_id: int) -> TicketRef | None:
    with session_scope() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.agent_topic_id == thread_id))
        return TicketRef.of(ticket) if ticket else None


def waiting_too_long(older_than: timedelta, now: datetime | None = None) -> list[TicketRef]:
    """Escalated tickets whose topic was opened `older_than` ago and that nobody took, not yet told."""
    now = now or utcnow()
    with session_scope() as session:
        told = exists().where(TicketEvent.ticket_id == Ticket.id, TicketEvent.kind == WAIT_NOTICE)
        opened = exists().where(TicketEvent.ticket_id == Ticket.id, TicketEvent.kind == TOPIC_OPENED,
                                TicketEvent.created_at <= now - older_than)
        tickets = session.scalars(select(Ticket).where(
            Ticket.status == TicketStatus.ESCALATED, Ticket.assigned_agent_id.is_(None),
            Ticket.human_active.is_(True), Ticket.agent_topic_id > 0, opened, ~told)).all()
        ticket_service.note_wait_notice(session=session, tickets=tickets, now=now)
        return [TicketRef.of(t) for t in tickets]


# --- agents ------------------------------------------------------------------------------------

def take(ticket_id: int, agent_id: int) -> TicketRef:
    """`/take` (or answering): the agent owns the chat; a resolved ticket is reopened, a closed one
    refused (TransitionRefused)."""
    with session_scope() as session:
        return TicketRef.of(ticket_service.take(session=session, ticket_id=ticket_id, agent_id=agent_id))


def note(ticket_id: int, agent_id: int, body: str) -> None:
    with session_scope() as session:
        ticket_service.add_note(session=session, ticket_id=ticket_id, agent_id=agent_id, body=body)


def agent_replied(ticket_id: int, agent_id: int, text: str) -> TicketRef:
    """An agent's message reached the customer: first human response (ISO 10002) and transcript."""
    with session_scope() as session:
        return TicketRef.of(ticket_service.agent_replied(session=session, ticket_id=ticket_id, agent_id=agent_id,
                                                         text=text))


def finish(ticket_id: int, agent_id: int, status: TicketStatus, policy: FollowUpPolicy) -> TicketRef:
    """Resolve or close; the bot owns the chat again (follow-ups ask whether it was really solved)."""
    with session_scope() as session:
        return TicketRef.of(ticket_service.finish(session=session, ticket_id=ticket_id, agent_id=agent_id,
                                                  status=status, policy=policy))


def hand_back(ticket_id: int, agent_id: int) -> TicketRef:
    """The bot talks to the customer again; the ticket stays open (no longer escalated)."""
    with session_scope() as session:
        return TicketRef.of(ticket_service.hand_back(session=session, ticket_id=ticket_id, agent_id=agent_id))
