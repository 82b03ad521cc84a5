"""The inbox: every Telegram update is written to the database before anything acts on it.

Why: Telegram forgets an update once the bot asks for the next batch, so an update that was
received but not yet answered when the bot crashed would otherwise be gone. Here each one is a row
keyed by `update_id` (Telegram's own id), which also makes a second delivery of the same update a
no-op. Rows stay `pending` until the work they ask for is finished (a customer's message is done
when Rasa's answer has been sent); on start the bot replays the pending ones, in `update_id` order.

Statuses: `pending` → `done`; `failed` when a handler raised (kept for inspection, not retried
forever); `awaiting_ticket` for a photo or file sent before the complaint had a ticket (attached
when the ticket is opened).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from hamdel.storage.db import session_scope
from hamdel.storage.models import InboundUpdate, utcnow

PENDING, DONE, FAILED, AWAITING_TICKET = "pending", "done", "failed", "awaiting_ticket"


@dataclass(frozen=True)
class Stored:
    update_id: int
    chat_id: int | None
    payload: dict[str, Any]


def admit(update_id: int, chat_id: int | None, payload: dict[str, Any], *, replaying: set[int]) -> bool:
    """Store a new update and return True; a duplicate returns False.

    An update already stored as `pending` is admitted again only while it is being replayed after
    a restart (`replaying` holds those ids), so Telegram redelivering an update that is still being
    worked on does not run it twice.
    """
    with session_scope() as session:
        existing = session.get(InboundUpdate, update_id)
        if existing is not None:
            if existing.status == PENDING and update_id in replaying:
                replaying.discard(update_id)
                existing.attempts += 1
                return True
            return False
        session.add(InboundUpdate(update_id=update_id, chat_id=chat_id, payload=payload, status=PENDING,
                                  attempts=1, received_at=utcnow()))
        try:
            session.flush()
        except IntegrityError:  # the same update arrived twice at once
            session.rollback()
            return False
    return True


def finish(update_ids: Iterable[int], status: str = DONE) -> None:
    ids = list(update_ids)
    if not ids:
        return
    with session_scope() as session:
        session.execute(update(InboundUpdate).where(InboundUpdate.update_id.in_(ids))
                        .values(status=status, processed_at=utcnow()))


def pending() -> list[Stored]:
    """Updates received but not finished, oldest first (what a restart must replay)."""
    with session_scope() as session:
        rows = session.scalars(select(InboundUpdate).where(InboundUpdate.status == PENDING)
                               .order_by(InboundUpdate.update_id))
        return [Stored(r.update_id, r.chat_id, r.payload) for r in rows]


def awaiting_ticket(chat_id: int) -> list[Stored]:
    """Media the customer sent before their complaint had a ticket, oldest first."""
    with session_scope() as session:
        rows = session.scalars(select(InboundUpdate).where(InboundUpdate.status == AWAITING_TICKET,
                                                           InboundUpdate.chat_id == chat_id)
                               .order_by(InboundUpdate.update_id))
        return [Stored(r.update_id, r.chat_id, r.payload) for r in rows]
