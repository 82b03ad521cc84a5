"""Rasa finds an event's class by walking every subclass of `Event` for each event it reads; this
remembers the answer.

Why: in Rasa 3.6.21, `Event.resolve_by_type(type_name)` builds the list of all subclasses of
`Event` (recursively, calling `inspect.isabstract` on each) and scans it, for every event it
deserialises: the conversation read from the tracker store on every message (a few hundred events)
and each action server answer. The profile in docs/performance.md put this at about 8 % of the
Rasa server's busy time.

`install()` puts a lookup in front of it that remembers, per type name, the class Rasa's own
search returned. Only found classes are remembered, so an unknown name still goes to Rasa's search
(its `default`, its `None` for old «topic» events, its `ValueError`), and an event class imported
later is still found. Rasa's classes never change their `type_name`, so a remembered answer is the
answer Rasa's search would give again. Installed by `rasa_addons/__init__.py` on Rasa 3.6 only.
"""
from __future__ import annotations

from typing import Any, Optional

_INSTALLED = False


def install() -> bool:
    """Patch `Event.resolve_by_type` once; True when the patch is in place."""
    global _INSTALLED
    if _INSTALLED:
        return True
    from rasa.shared.core.events import Event

    search = Event.resolve_by_type  # a staticmethod: the plain function
    found: dict[str, type] = {}

    def resolve_by_type(type_name: str, default: Optional[type] = None) -> Optional[Any]:
        cls = found.get(type_name)
        if cls is not None:
            return cls
        cls = search(type_name, default)
        # Remember only what Rasa's search found itself, not the caller's default.
        if cls is not None and cls is not default and getattr(cls, "type_name", None) == type_name:
            found[type_name] = cls
        return cls

    resolve_by_type.__doc__ = "Rasa's lookup of an event class by type name, remembered per name."
    Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[method-assign,assignment]
    _INSTALLED = True
    return True
