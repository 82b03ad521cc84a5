"""The inbox: every Telegram update is written to the database before anything acts on it.

Why: Telegram forgets an update once the bot asks for the next batch, so an update that was
received but not yet answered when the bot crashed would otherwise be gone. Here each one is a row
keyed by `update_id` (Telegram's own id), which also makes a second delivery of the same update a
no-op. Rows stay `pending` until the work they ask for is finished (a customer's message is done
when Rasa's answer has been sent); on start the bot replays the pending ones, in `update_id` order.

Statuses: `pending` → `done`; `failed` when the work failed `attempts` times (kept for admins to
inspect, never replayed); `awaiting_ticket` for a photo or file sent before the complaint had a
ticket (attached when the ticket is opened).

`attempts` counts how often the work was tried: 1 when stored, +1 for each replay after a restart
and for each retry after a failed try (`next_try`), so a message that always fails ends `failed` instead of
replaying at every start.

The journal (`journal_path()`) is the last resort while the database refuses writes and the bot is
stopping: the raw update goes to a JSON-lines file (fsynced) and is stored on the next start
(`recover_journal`), because Telegram already counts it as delivered.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from telegram import Update

from bot import durable
from bot.durable import checkpoint
from hamdel.settings import PROJECT_ROOT
from hamdel.storage.db import session_scope
from hamdel.storage.models import InboundUpdate, utcnow

log = logging.getLogger(__name__)
DEFAULT_JOURNAL = PROJECT_ROOT / "var" / "spool" / "inbox_journal.jsonl"

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
    checkpoint("before_storing")
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


class StoringQueue(asyncio.Queue[object]):
    """python-telegram-bot's update queue, storing each update before it takes it.

    Why: PTB confirms an update to Telegram as soon as it is in this queue (the poller's next
    getUpdates carries the new offset; the webhook answers 200 once `put` returns), so an update
    merely queued is gone for good if the bot is killed before a handler stores it (S3, "kill -9
    before storing"). Storing inside `put` moves that point: Telegram forgets an update only after
    it is in the inbox, and a crash before that leaves it with Telegram, which delivers it again.
    While the database refuses, `put` keeps trying and the poller waits in it, asking Telegram for
    nothing more. A second delivery of a stored update is dropped here.
    """

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__(maxsize)
        self._stored: set[int] = set()

    async def put(self, item: object) -> None:
        if isinstance(item, Update):
            chat = item.effective_chat
            fresh = await durable.store(admit, item.update_id, chat.id if chat else None, item.to_dict(),
                                        replaying=set(), what="storing an update")
            if not fresh:
                log.info("update %d already stored; ignored", item.update_id)
                return
            self._stored.add(item.update_id)
        await super().put(item)

    def stored_here(self, update_id: int) -> bool:
        """True, once, for an update `put` stored: the application then does not store it again."""
        if update_id in self._stored:
            self._stored.discard(update_id)
            return True
        return False


def finish(update_ids: Iterable[int], status: str = DONE) -> None:
    ids = list(update_ids)
    if not ids:
        return
    if status == DONE:
        checkpoint("before_done")
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


def attempts(update_ids: Iterable[int]) -> int:
    """How often the work of these updates was tried already (the highest count among them)."""
    ids = list(update_ids)
    if not ids:
        return 0
    with session_scope() as session:
        found = session.scalars(select(InboundUpdate.attempts).where(InboundUpdate.update_id.in_(ids)))
        return max(found, default=0)


def next_try(update_ids: Iterable[int], limit: int) -> bool:
    """After a failed try: count one more try and return True, or False when `limit` tries were
    made already (the caller then marks the rows `failed`)."""
    ids = list(update_ids)
    if not ids:
        return False
    with session_scope() as session:
        tried = max(session.scalars(select(InboundUpdate.attempts).where(InboundUpdate.update_id.in_(ids))),
                    default=0)
        if tried >= limit:
            return False
        session.execute(update(InboundUpdate).where(InboundUpdate.update_id.in_(ids))
                        .values(attempts=InboundUpdate.attempts + 1))
        return True


@dataclass(frozen=True)
class Delivery:
    """How far earlier runs got with a turn: `tries` > 1 means it may have reached Rasa before (a
    retry, or a replay after a restart); `replies_sent` of its replies reached the customer."""

    tries: int
    replies_sent: int


def turns(update_ids: Iterable[int]) -> list[list[int]]:
    """The messages of one lane batch grouped into Rasa turns, oldest first.

    Messages an earlier run already sent to Rasa as one turn stay that turn (the answer Rasa keeps
    for it belongs to exactly those messages); messages never sent form one new turn. Without
    this, a message replayed after a crash and merged with a newer one would get only the old
    turn's answer from Rasa's tracker, and the newer one none.
    """
    ids = sorted(update_ids)
    with session_scope() as session:
        opened = dict(session.execute(select(InboundUpdate.update_id, InboundUpdate.turn_update_id)
                                      .where(InboundUpdate.update_id.in_(ids))).tuples().all())
    groups: dict[int | None, list[int]] = {}
    for update_id in ids:
        groups.setdefault(opened.get(update_id), []).append(update_id)
    return sorted(groups.values(), key=min)


def begin_turn(update_ids: Iterable[int]) -> Delivery:
    """Record that these messages go to Rasa as one turn; return what earlier tries of it did."""
    ids = list(update_ids)
    with session_scope() as session:
        rows = session.execute(select(InboundUpdate.attempts, InboundUpdate.replies_sent)
                               .where(InboundUpdate.update_id.in_(ids))).all()
        session.execute(update(InboundUpdate).where(InboundUpdate.update_id.in_(ids))
                        .values(turn_update_id=min(ids)))
    return Delivery(tries=max((r.attempts for r in rows), default=0),
                    replies_sent=max((r.replies_sent for r in rows), default=0))


def reply_sent(update_ids: Iterable[int], count: int) -> None:
    """Record that the turn's first `count` replies reached the customer, right after sending one:
    a crash after this point resends none of them."""
    ids = list(update_ids)
    with session_scope() as session:
        session.execute(update(InboundUpdate).where(InboundUpdate.update_id.in_(ids)).values(replies_sent=count))


def status_of(update_id: int) -> str | None:
    with session_scope() as session:
        row = session.get(InboundUpdate, update_id)
        return row.status if row is not None else None


# --- the journal: the database refused an update while the bot was stopping ----------------------

def journal_path() -> Path:
    return Path(os.environ.get("HAMDEL_INBOX_JOURNAL", str(DEFAULT_JOURNAL)))


def journal(update_id: int, chat_id: int | None, payload: dict[str, Any], path: Path | None = None) -> None:
    """Append one update to the journal and fsync it (the database is away; this must not be lost)."""
    path = path or journal_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"update_id": update_id, "chat_id": chat_id, "payload": payload}, ensure_ascii=False)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def recover_journal(path: Path | None = None) -> int:
    """Store every journaled update (duplicates are ignored); return how many were read.

    The file is renamed before it is read, so updates journaled meanwhile go to a fresh file; a
    torn last line (a crash while writing) is skipped and logged, the rest still recovered. If the
    database fails again, the unread remainder is put back for the next start.
    """
    path = path or journal_path()
    draining = path.with_suffix(".draining")
    recovered = 0
    while True:
        if not draining.exists():
            if not path.exists():
                return recovered
            path.rename(draining)
        recovered += _drain(draining, path)


def _drain(draining: Path, path: Path) -> int:
    lines = draining.read_text(encoding="utf-8").splitlines()
    recovered = 0
    for index, line in enumerate(lines):
        try:
            record = json.loads(line)
            update_id, chat_id, payload = int(record["update_id"]), record.get("chat_id"), record["payload"]
        except (ValueError, KeyError, TypeError):
            log.error("inbox journal: line %d is unreadable and was skipped", index + 1)
            continue
        try:
            admit(update_id, chat_id, payload, replaying=set())
        except Exception:
            with path.open("a", encoding="utf-8") as handle:  # keep the rest; the next start tries again
                handle.writelines(rest + "\n" for rest in lines[index:])
            draining.unlink()
            raise
        recovered += 1
    draining.unlink()
    return recovered
