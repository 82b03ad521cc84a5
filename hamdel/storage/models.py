"""The database schema: what ISO 10002 (seed 004) asks a complaint record to hold, and what the
Telegram front end and the follow-up scheduler need to lose nothing.

Times are stored as timezone-aware UTC; conversion to Asia/Tehran and the Jalali calendar happens
only when text is shown to a person (`hamdel.jalali`).
"""
from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """DateTime that always comes back timezone-aware (SQLite forgets the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use timezone-aware UTC")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[str]: JSON}


class TicketStatus(str, enum.Enum):
    OPEN = "open"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Category(str, enum.Enum):
    DELIVERY = "delivery"
    PRODUCT = "product"
    BILLING = "billing"
    STAFF = "staff"
    SERVICE = "service"


class Severity(str, enum.Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class FollowUpKind(str, enum.Enum):
    ACKNOWLEDGEMENT = "acknowledgement"
    CHECK_IN = "check_in"
    RESOLUTION_CHECK = "resolution_check"
    SATISFACTION = "satisfaction"
    AGENT_REMINDER = "agent_reminder"


class FollowUpStatus(str, enum.Enum):
    PENDING = "pending"
    CLAIMED = "claimed"
    SENT = "sent"
    CANCELLED = "cancelled"
    FAILED = "failed"


def _enum(cls: type[enum.Enum]) -> Enum:
    # Stored as plain strings (no native ENUM type) so adding a value needs no ALTER TYPE.
    return Enum(cls, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])


class Customer(Base):
    """A person who complained, identified by channel and that channel's id (Telegram user id)."""

    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    display_name: Mapped[str | None] = mapped_column(String(200), default=None)
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    followups_opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    blocked_bot_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tickets: Mapped[list[Ticket]] = relationship(back_populates="customer")


class Ticket(Base):
    """One complaint, from the first message to closure."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_customer_status", "customer_id", "status"),
        # A front-end turn that is re-run after the ticket was written finds it instead of opening a second one.
        UniqueConstraint("customer_id", "turn_id", name="uq_tickets_customer_turn"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    turn_id: Mapped[str | None] = mapped_column(String(64), default=None)
    channel: Mapped[str] = mapped_column(String(32))
    category: Mapped[Category] = mapped_column(_enum(Category))
    story: Mapped[str] = mapped_column(Text)
    key_words: Mapped[list[str]] = mapped_column(default=list)
    order_id: Mapped[str | None] = mapped_column(String(64), default=None)
    reflection: Mapped[str] = mapped_column(Text)
    remedy_sought: Mapped[str | None] = mapped_column(String(64), default=None)
    remedy_sought_text: Mapped[str | None] = mapped_column(Text, default=None)
    remedy_offered: Mapped[str | None] = mapped_column(Text, default=None)
    anger: Mapped[int] = mapped_column(Integer, default=0)
    severity: Mapped[Severity] = mapped_column(_enum(Severity))
    status: Mapped[TicketStatus] = mapped_column(_enum(TicketStatus), default=TicketStatus.OPEN)
    escalation_reason: Mapped[str | None] = mapped_column(String(64), default=None)
    assigned_agent_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    agent_topic_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    human_active: Mapped[bool] = mapped_column(Boolean, default=False)
    reopened_count: Mapped[int] = mapped_column(Integer, default=0)
    csat_score: Mapped[int | None] = mapped_column(Integer, default=None)
    csat_comment: Mapped[str | None] = mapped_column(Text, default=None)
    solved_confirmed: Mapped[bool | None] = mapped_column(Boolean, default=None)

    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    first_human_response_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="tickets")
    events: Mapped[list[TicketEvent]] = relationship(back_populates="ticket", order_by="TicketEvent.id")
    evidence: Mapped[list[Evidence]] = relationship(back_populates="ticket", order_by="Evidence.id")
    followups: Mapped[list[FollowUp]] = relationship(back_populates="ticket", order_by="FollowUp.due_at")


class TicketEvent(Base):
    """Audit trail: status changes, agent notes and assignments, in order (ISO 10002 traceability)."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # status, note, assigned, reopened, handback …
    actor: Mapped[str] = mapped_column(String(64))  # "bot", "customer", "agent:<telegram id>", "scheduler"
    body: Mapped[str | None] = mapped_column(Text, default=None)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class TranscriptLine(Base):
    """Every message between a customer, the bot and agents, so the agent card shows all of it."""

    __tablename__ = "transcript_lines"
    __table_args__ = (Index("ix_transcript_conversation", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), default=None)
    speaker: Mapped[str] = mapped_column(String(16))  # customer, bot, agent
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Evidence(Base):
    """A photo, document or voice note the customer sent; Telegram file ids, never the bytes."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    file_id: Mapped[str] = mapped_column(String(255))
    file_unique_id: Mapped[str | None] = mapped_column(String(128), default=None)
    caption: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="evidence")


class InboundUpdate(Base):
    """A raw Telegram update, stored before it is processed so a crash loses nothing.

    The primary key is Telegram's update_id, which makes a second delivery of the same update a
    no-op insert.
    """

    __tablename__ = "inbound_updates"
    __table_args__ = (Index("ix_inbound_pending", "status", "chat_id", "update_id"),)

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    chat_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    payload: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, done, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The Rasa turn this message went out in (the update id that opened it), set before Rasa is
    # asked, and how many of that turn's replies reached the customer: after a crash the turn is
    # rebuilt from the same messages and only the replies not yet sent go out (bot/inbox.py).
    turn_update_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    replies_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The customer's transcript line of this message's turn, so a replayed turn does not write it again.
    transcript_line_id: Mapped[int | None] = mapped_column(Integer, default=None)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)


class FollowUp(Base):
    """A message the business owes a customer (or the agents) at a given time.

    Written when a ticket is created or changes status; sent by the bot's scheduler, which claims a
    row atomically (status pending → claimed with its own `claimed_by`) so two schedulers never
    send the same follow-up.
    """

    __tablename__ = "followups"
    __table_args__ = (
        UniqueConstraint("ticket_id", "kind", "sequence"),
        Index("ix_followups_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    kind: Mapped[FollowUpKind] = mapped_column(_enum(FollowUpKind))
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column()
    status: Mapped[FollowUpStatus] = mapped_column(_enum(FollowUpStatus), default=FollowUpStatus.PENDING)
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="followups")
