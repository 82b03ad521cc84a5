"""Rasa's copy of a tracker before each action builds its slots without `copy.copy`.

Why: Rasa 3.6 copies the conversation's tracker before running every action, utterances and
`action_listen` included (`MessageProcessor._run_action`: the copy takes the policy's events and
is thrown away if the action is rejected). `DialogueStateTracker.copy` starts from `init_copy`,
which builds a new tracker whose slots are `copy.copy` of each of the domain's sixty-odd slots,
and `copy.copy` goes through pickling's generic `__reduce_ex__` path for every one: in the profile
(docs/performance.md) that was most of the copy's cost, several copies per message.

`install()` replaces `init_copy` with one that builds the tracker the same way and copies each
slot as `copy.copy` does for a class with no copying hooks (a new instance of the same class with
the same attribute values), then resets the slots as Rasa's constructor does. A slot class that
defines its own copying (`__copy__`, `__reduce_ex__`, `__reduce__`, `__getstate__`,
`__setstate__`) or keeps attributes in `__slots__` is copied with `copy.copy` as before.
`tests/rasa_addons/test_tracker_copy.py` compares both copies on every story's tracker. Installed
with the package (rasa_addons/__init__.py) on Rasa 3.6.x only.
"""
from __future__ import annotations

import copy
from typing import Any

_INSTALLED = False
_HOOKS = ("__copy__", "__reduce_ex__", "__reduce__", "__getstate__", "__setstate__")
_plain: dict[type, bool] = {}


def install() -> bool:
    """Replace `DialogueStateTracker.init_copy` once; True when the replacement is in place."""
    global _INSTALLED
    if _INSTALLED:
        return True
    from rasa.shared.constants import DEFAULT_SENDER_ID
    from rasa.shared.core.trackers import DialogueStateTracker

    def init_copy(self: DialogueStateTracker) -> DialogueStateTracker:
        tracker = DialogueStateTracker(self.sender_id or DEFAULT_SENDER_ID, None, self._max_event_history,
                                       is_rule_tracker=self.is_rule_tracker)
        tracker.slots = {slot.name: copied(slot) for slot in self.slots.values()}
        tracker._reset_slots()
        return tracker

    init_copy.__doc__ = "Rasa's `init_copy`, its slots copied without pickling's generic path (rasa_addons/tracker_copy.py)."
    DialogueStateTracker.init_copy = init_copy  # type: ignore[method-assign]
    _INSTALLED = True
    return True


def copied(slot: Any) -> Any:
    """What `copy.copy(slot)` gives, built directly when the slot's class has no copying hooks."""
    cls = type(slot)
    plain = _plain.get(cls)
    if plain is None:
        plain = _plain[cls] = (all(getattr(cls, hook, None) is getattr(object, hook, None) for hook in _HOOKS)
                               and not any(klass.__dict__.get("__slots__") for klass in cls.__mro__))
    if not plain:
        return copy.copy(slot)
    new = cls.__new__(cls)
    new.__dict__.update(slot.__dict__)
    return new
