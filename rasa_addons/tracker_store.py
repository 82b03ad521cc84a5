"""Rasa's SQL tracker store, keeping each conversation it has just saved so the next message does
not rebuild it from the database.

Why: on every message, Rasa 3.6.21's `SQLTrackerStore` reads the conversation's events since its
last session start, parses each one's JSON, rebuilds the tracker by replaying them all, and on
saving counts the stored events again (a query with a sub-query) to know which are new, then
writes them through the ORM's unit of work, one object per row. A Hamdel
complaint is a few hundred events (each step of the flow resets or sets some forty slots), so this
was a third of the Rasa server's time per turn once the rest had been cut (docs/performance.md).

How: after saving a conversation the store keeps the tracker object it saved, with the number and
highest id of the conversation's rows in the table. The next `retrieve` hands it out only if the
table still holds exactly those rows for that conversation (one indexed `count`/`max(id)` query:
another worker or process that wrote to the conversation, or anything that deleted from it, changes
them) and the tracker has not changed since it was saved (a message whose handling failed before
the save leaves events the database never got); otherwise it reads the database as Rasa does.
Handing a kept tracker out removes it, so two holders never share one, and the next save keeps it
again. Its events are the ones already stored, so the save skips Rasa's count; the new rows (the
same columns and JSON as Rasa's) go in as one insert.

Only a tracker Rasa would rebuild identically is kept: one whose events start at its latest
session start (Rasa reads a conversation from there, by timestamp), so a turn that opened a new
session is read back from the database once. The store holds at most `cached_conversations`
(endpoints file; least recently saved dropped first). `retrieve_full_tracker`, `keys` and
everything else are Rasa's. tests/rasa_addons/test_tracker_store.py runs the same conversations
through this store and Rasa's, with crashes, a second writer and new sessions, and compares the
trackers and the stored rows; tests/integration/test_full_stack.py compares a running Rasa's kept
trackers with the database.

Configured in an endpoints file:

    tracker_store:
      type: rasa_addons.tracker_store.CachedSQLTrackerStore
      dialect: "sqlite"            # or postgresql, with Rasa's usual keys
      db: ${TRACKER_DB}
      cached_conversations: 256
"""
from __future__ import annotations

import itertools
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterator, Optional

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

# Set on a tracker handed out from the store: how many of its events the table already holds.
_STORED_EVENTS = "_hamdel_stored_events"
DEFAULT_CACHED_CONVERSATIONS = 256


@dataclass
class _Kept:
    """A saved tracker and what the table held for its conversation right after the save."""

    tracker: DialogueStateTracker
    events: int  # len(tracker.events) when saved
    last_event: Any  # the tracker's last event when saved, the object itself
    rows: tuple[int, Optional[int]]  # (count, max id) of the conversation's rows after the save

    def unchanged(self) -> bool:
        """True when nothing was added to the tracker after it was saved."""
        events = self.tracker.events
        return len(events) == self.events and (not events or events[-1] is self.last_event)


class CachedSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` that keeps the trackers it saved, checked against the table before use."""

    def __init__(self, *args: Any, cached_conversations: int = DEFAULT_CACHED_CONVERSATIONS,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kept: OrderedDict[str, _Kept] = OrderedDict()
        self.capacity = max(0, int(cached_conversations))

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """The kept tracker if the table and the tracker are as they were saved, else Rasa's read."""
        kept = self._kept.pop(sender_id, None)
        if kept is not None and kept.unchanged():
            with self.session_scope() as session:
                current = self._rows(session, sender_id)
            if current == kept.rows:
                kept.tracker.__dict__[_STORED_EVENTS] = kept.events
                return kept.tracker
        return await super().retrieve(sender_id)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Rasa's save, its rows written in one statement, then the tracker kept if Rasa would read
        it back as it is."""
        self._kept.pop(tracker.sender_id, None)
        await self.stream_events(tracker)
        with self.session_scope() as session:
            rows = [_row(tracker.sender_id, event) for event in self._additional_events(session, tracker)]
            if rows:
                # Core's executemany: the same rows as Rasa's ORM objects, without its unit of work
                session.execute(self.SQLEvent.__table__.insert(), rows)
            stored = self._rows(session, tracker.sender_id)
            session.commit()
        tracker.__dict__[_STORED_EVENTS] = len(tracker.events)
        if self.capacity and _reads_back_as_is(tracker):
            self._kept[tracker.sender_id] = _Kept(tracker, len(tracker.events), tracker.events[-1], stored)
            while len(self._kept) > self.capacity:
                self._kept.popitem(last=False)

    async def exists(self, conversation_id: str) -> bool:
        """Whether the conversation has any row: Rasa's `exists` reads the whole tracker for this
        (and, here, would use up the kept one that the request's own read needs next)."""
        with self.session_scope() as session:
            return self._rows(session, conversation_id)[0] > 0

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        """The events not yet stored: known for a tracker this store handed out or saved; for any
        other, Rasa's count of the stored ones."""
        stored = tracker.__dict__.get(_STORED_EVENTS)
        if stored is None or stored > len(tracker.events) or tracker._max_event_history:
            return super()._additional_events(session, tracker)
        return itertools.islice(tracker.events, stored, len(tracker.events))

    def _rows(self, session: Any, sender_id: str) -> tuple[int, Optional[int]]:
        """How many rows the conversation has in the table, and the highest id among them."""
        table = self.SQLEvent.__table__
        count, highest = session.execute(
            sa.select(sa.func.count(table.c.id), sa.func.max(table.c.id)).where(table.c.sender_id == sender_id)).one()
        return int(count), highest


def _row(sender_id: str, event: Any) -> dict[str, Any]:
    """The row Rasa's `SQLTrackerStore.save` writes for an event, column for column."""
    data = event.as_dict()
    return {
        "sender_id": sender_id,
        "type_name": event.type_name,
        "timestamp": data.get("timestamp"),
        "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
        "action_name": data.get("name"),
        "data": json.dumps(data),
    }


def install() -> bool:
    """Let Rasa's `FailSafeTrackerStore` (the wrapper Rasa puts around every tracker store) ask the
    wrapped store whether a conversation exists. Rasa's wrapper answers with the base method, which
    reads the whole tracker through `retrieve`: with this store that used up the kept tracker just
    before the request's own read (Rasa's predict and execute endpoints check first, then read).
    Errors are handled as the wrapper's `retrieve` handles them, so the answer is Rasa's: False.
    Installed by `rasa_addons/__init__.py` on Rasa 3.6 only."""
    from rasa.core.tracker_store import FailSafeTrackerStore

    if getattr(FailSafeTrackerStore.exists, "_hamdel", False):
        return True

    async def exists(self: FailSafeTrackerStore, conversation_id: str) -> bool:
        try:
            return bool(await self._tracker_store.exists(conversation_id))
        except Exception as error:
            self.on_tracker_store_retrieve_error(error)
            return False

    exists.__doc__ = "Whether the wrapped store has the conversation (rasa_addons/tracker_store.py)."
    exists._hamdel = True  # type: ignore[attr-defined]
    FailSafeTrackerStore.exists = exists  # type: ignore[method-assign]
    return True


def _reads_back_as_is(tracker: DialogueStateTracker) -> bool:
    """True when Rasa's read of this conversation (its events from the latest session start on, by
    timestamp) gives exactly the tracker's events: no session start but maybe the first event, and
    no event stamped before it."""
    events = tracker.events
    if not events or tracker._max_event_history:  # a capped tracker drops its oldest events
        return False
    if any(isinstance(event, SessionStarted) for event in itertools.islice(events, 1, None)):
        return False
    if isinstance(events[0], SessionStarted):
        start = events[0].timestamp
        return all(event.timestamp >= start for event in events)
    return True
