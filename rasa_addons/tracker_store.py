"""Rasa's SQL tracker store, keeping each conversation it has just saved so the next message does
not rebuild it from the database.

Why: on every message, Rasa 3.6.21's `SQLTrackerStore` reads the conversation's events since its
last session start, parses each one's JSON, rebuilds the tracker by replaying them all, and on
saving counts the stored events again (a query with a sub-query) to know which are new, then
writes them through the ORM's unit of work, one object per row. A Hamdel
complaint is a few hundred events (each step of the flow resets or sets some forty slots), so this
was a third of the Rasa server's time per turn once the rest had been cut (docs/performance.md).

How: after saving a conversation the store keeps the tracker Rasa would read back from the
table, with the number and highest id of the conversation's rows. The next `retrieve` hands it out
only if the table still holds exactly those rows (one indexed `count`/`max(id)` query: another
worker or process that wrote to the conversation, or anything that deleted from it, changes them)
and the tracker has not changed since it was saved (a message whose handling failed before the
save leaves events the table never got); otherwise it reads the table as Rasa does. Handing a kept
tracker out removes it, so two holders never share one; the next save keeps it again. Its events
are the ones already stored, so the save skips Rasa's count; the new rows (the same columns and
JSON as Rasa's) go in as one insert. A save that finds rows written since its tracker was read (a
second writer: Rasa's predict endpoint takes no lock) stores its events and keeps nothing.

What is kept is what Rasa's read would give: Rasa reads a conversation from its latest session
start on, by timestamp, so a tracker holding a new session (the first message of a conversation, a
customer back after the session expired) is kept as a tracker rebuilt from those events, as Rasa
rebuilds one from the rows. The store holds at most `cached_conversations` (endpoints file; least
recently saved dropped first). `retrieve_full_tracker`, `keys` and everything else are Rasa's;
`exists` counts rows instead of reading the tracker. tests/rasa_addons/test_tracker_store.py runs
the same conversations through this store and Rasa's (crashes, a second writer between turns and
during one, new sessions, clocks gone back) and compares the trackers, the stored rows, and what
the store hands out with Rasa's own read of its table; tests/integration/test_full_stack.py
compares a running Rasa's kept tracker with the table.

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
import sqlalchemy.orm
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

# Set on a tracker handed out from the store: how many of its events the table already holds, and
# the conversation's (count, max id) of rows when it was read (or last saved).
_STORED_EVENTS = "_hamdel_stored_events"
_ROWS_AT_READ = "_hamdel_rows_at_read"
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
        table = self.SQLEvent.__table__
        self._rows_query = sa.select(sa.func.count(table.c.id), sa.func.max(table.c.id)).where(
            table.c.sender_id == sa.bindparam("sender_id"))
        if self.engine.url.get_backend_name() == "sqlite" and self.engine.url.database not in (None, "", ":memory:"):
            # SQLAlchemy 1.4 opens a new SQLite connection for every session of a file database
            # (NullPool); the store opens two or three a message. Rasa uses the store from its event
            # loop's thread only, so a small pool of open connections serves it.
            self.engine = sa.create_engine(self.engine.url, poolclass=sa.pool.QueuePool, pool_size=2,
                                           connect_args={"check_same_thread": False})
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """The kept tracker if the table and the tracker are as they were saved, else Rasa's read."""
        kept = self._kept.pop(sender_id, None)
        with self.engine.connect() as connection:  # one query: no ORM session to set up
            rows = self._rows(connection, sender_id)
        if kept is not None and kept.unchanged() and rows == kept.rows:
            tracker: Optional[DialogueStateTracker] = kept.tracker
            kept.tracker.__dict__[_STORED_EVENTS] = kept.events
        elif rows[0] == 0:
            return None  # a new conversation: Rasa's read finds no rows and gives None too
        else:
            tracker = await super().retrieve(sender_id)
        if tracker is not None:
            # Counted before the read: a row written in between makes the save below not keep it.
            tracker.__dict__[_ROWS_AT_READ] = rows
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Rasa's save, its rows written in one statement, then the conversation kept if nobody else
        wrote to it since it was read."""
        self._kept.pop(tracker.sender_id, None)
        await self.stream_events(tracker)
        with self.session_scope() as session:
            before = self._rows(session, tracker.sender_id)
            rows = [_row(tracker.sender_id, event) for event in self._additional_events(session, tracker, before)]
            if rows:
                # Core's executemany: the same rows as Rasa's ORM objects, without its unit of work
                session.execute(self.SQLEvent.__table__.insert(), rows)
            after = self._rows(session, tracker.sender_id)
            session.commit()
        read_with = tracker.__dict__.get(_ROWS_AT_READ, (0, None))  # a tracker Rasa created: no rows
        tracker.__dict__[_STORED_EVENTS] = len(tracker.events)
        tracker.__dict__[_ROWS_AT_READ] = after
        if not self.capacity or before != read_with:
            return  # another writer (Rasa's predict endpoint takes no lock): read it back next time
        kept = _as_read_back(tracker)
        if kept is None:
            return
        kept.__dict__[_STORED_EVENTS] = len(kept.events)
        self._kept[tracker.sender_id] = _Kept(kept, len(kept.events), kept.events[-1], after)
        while len(self._kept) > self.capacity:
            self._kept.popitem(last=False)

    async def exists(self, conversation_id: str) -> bool:
        """Whether the conversation has any row: Rasa's `exists` reads the whole tracker for this
        (and, here, would use up the kept one that the request's own read needs next)."""
        with self.engine.connect() as connection:
            return self._rows(connection, conversation_id)[0] > 0

    def _additional_events(self, session: Any, tracker: DialogueStateTracker,
                           rows: Optional[tuple[int, Optional[int]]] = None) -> Iterator:
        """The events not yet stored: known for a tracker this store handed out or saved, and all of
        them when the table holds no row of the conversation (`rows`, counted in this session: a
        new conversation, where Rasa's count would find nothing); for any other, Rasa's count of
        the stored ones."""
        stored = tracker.__dict__.get(_STORED_EVENTS)
        if stored is None and rows is not None and rows[0] == 0 and not tracker._max_event_history:
            stored = 0
        if stored is None or stored > len(tracker.events) or tracker._max_event_history:
            return super()._additional_events(session, tracker)
        return itertools.islice(tracker.events, stored, len(tracker.events))

    def _rows(self, session: Any, sender_id: str) -> tuple[int, Optional[int]]:
        """How many rows the conversation has in the table, and the highest id among them (asked
        through an ORM session or a plain connection)."""
        count, highest = session.execute(self._rows_query, {"sender_id": sender_id}).one()
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


def _as_read_back(tracker: DialogueStateTracker) -> Optional[DialogueStateTracker]:
    """The tracker Rasa's read of this conversation would give (its events stamped at or after its
    latest session start, in order): the tracker itself when those are all its events, otherwise a
    tracker rebuilt from those events, as Rasa rebuilds one from the rows; None for a tracker that
    cannot be matched (empty, or capped by `max_event_history`)."""
    events = tracker.events
    if not events or tracker._max_event_history:
        return None
    starts = [event.timestamp for event in events if isinstance(event, SessionStarted)]
    if not starts:
        return tracker
    latest = max(starts)
    if isinstance(events[0], SessionStarted) and len(starts) == 1 and all(e.timestamp >= latest for e in events):
        return tracker
    read_back = [event for event in events if event.timestamp >= latest]
    return DialogueStateTracker.from_events(tracker.sender_id, read_back, list(tracker.slots.values()))
