"""A tracker's applied events worked out once, then continued with the events added since.

Why: Rasa 3.6's `DialogueStateTracker.applied_events` walks the whole conversation every time it is
asked (the events that still count: nothing before a restart or a new session, no rewound user
message, no undone action), checking every event against half a dozen classes. The policies ask
for it at every step of every turn, the tracker copy before each action and the session check ask
too; in the profile (docs/performance.md) that walk was about 4 % of Rasa's time per turn, and it
grows with the conversation.

The walk is a fold: each event changes the list built from the events before it, and what it does
depends only on that list and on the names of the forms the conversation ever activated. So each
tracker keeps its list with the number of events it has seen, the last of them and those names;
the next call continues the same fold with the new events only, and returns a copy (callers edit
the list they get). Anything that is not plainly the same conversation grown at its end starts the
walk again as Rasa does: another `events` object, a different event where the last seen one was,
fewer events than seen, a bounded event history (old events fall off the front), or a form
activated for the first time among the new events (its name changes how earlier events count).
The fold below is Rasa's loop, step for step, calling Rasa's own helpers.
`tests/rasa_addons/test_applied_events.py` compares both at every event of every story, with
rewinds, undos, restarts, new sessions and forms. Installed with the package
(rasa_addons/__init__.py) on Rasa 3.6.x only.
"""
from __future__ import annotations

from collections.abc import Iterable
from itertools import islice
from typing import Any

_INSTALLED = False
_ATTRIBUTE = "_hamdel_applied_events"


def install() -> bool:
    """Replace `DialogueStateTracker.applied_events` once; True when the replacement is in place."""
    global _INSTALLED
    if _INSTALLED:
        return True
    from rasa.shared.core.events import (
        ActionExecuted,
        ActionReverted,
        ActiveLoop,
        Restarted,
        SessionStarted,
        UserUttered,
        UserUtteranceReverted,
    )
    from rasa.shared.core.trackers import DialogueStateTracker

    def loop_names_in(events: Iterable[Any]) -> set[str]:
        return {event.name for event in events if isinstance(event, ActiveLoop) and event.name}

    def fold(tracker: DialogueStateTracker, events: Iterable[Any], loop_names: set[str], applied: list[Any]) -> list[Any]:
        """Rasa's loop over `events`, continuing from `applied`; returns the list it ends with."""
        for event in events:
            if isinstance(event, (Restarted, SessionStarted)):
                applied = []
            elif isinstance(event, ActionReverted):
                tracker._undo_till_previous(ActionExecuted, applied)
            elif isinstance(event, UserUtteranceReverted):
                tracker._undo_till_previous(UserUttered, applied)
                tracker._undo_till_previous(ActionExecuted, applied)
            elif (isinstance(event, ActionExecuted) and event.action_name in loop_names
                  and not tracker._first_loop_execution_or_unhappy_path(event.action_name, applied)):
                tracker._undo_till_previous_loop_execution(event.action_name, applied)
            else:
                applied.append(event)
        return applied

    def applied_events(self: DialogueStateTracker) -> list[Any]:
        events = self.events
        count = len(events)
        kept = self.__dict__.get(_ATTRIBUTE)
        if kept is not None and getattr(events, "maxlen", None) is None:
            source, seen, last, loop_names, applied = kept
            if source is events and seen <= count and (seen == 0 or events[seen - 1] is last):
                new = list(islice(events, seen, count))
                if loop_names_in(new) <= loop_names:
                    if new:
                        applied = fold(self, new, loop_names, list(applied))
                        self.__dict__[_ATTRIBUTE] = (events, count, events[-1], loop_names, applied)
                    return list(applied)
        all_events = list(events)
        loop_names = loop_names_in(all_events)
        applied = fold(self, all_events, loop_names, [])
        if getattr(events, "maxlen", None) is None:
            self.__dict__[_ATTRIBUTE] = (events, count, all_events[-1] if all_events else None, loop_names, applied)
        return list(applied)

    applied_events.__doc__ = ("Rasa's applied events, continued from the last call with the events added "
                              "since (rasa_addons/applied_events.py).")
    DialogueStateTracker.applied_events = applied_events  # type: ignore[method-assign]
    _INSTALLED = True
    return True
