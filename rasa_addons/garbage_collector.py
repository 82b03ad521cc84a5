"""The loaded model is set aside from Python's cyclic garbage collector, so a full collection walks
only what conversations allocate.

Why: a Rasa server holding Hamdel's model tracks a few million Python objects (TensorFlow, the
domain, the policies' lookup tables, the featurizers' vocabularies). Python runs a full collection
whenever the objects that survived younger collections grow by a quarter of the old ones, and a
full collection walks them all: under `make bench` load that was a pause of 430–680 ms about every
ten seconds in the Rasa process (measured with `gc.callbacks`, docs/performance.md), every reply in
flight waiting behind it. The model's objects live as long as the model, so collecting them is
wasted work.

`install()` wraps `MessageProcessor.handle_message` (one processor per loaded model): after the
first message a processor handles, `gc.freeze()` moves every object tracked so far, the model's
included, to the permanent generation that collections skip. Before that it undoes the previous
freeze and collects once, so a model replaced through Rasa's API (`PUT /model`) is released with
its reference cycles rather than kept frozen. Freezing changes nothing but what the cyclic
collector visits: reference counting still frees every object nobody holds. The first message
after a model is loaded pays for that one collection. Installed with the package
(rasa_addons/__init__.py) on Rasa 3.6.x only.
"""
from __future__ import annotations

import gc
from typing import Any

_FROZEN_FOR = "_hamdel_gc_frozen"
_INSTALLED = False


def install() -> bool:
    """Wrap the processor's message entry once; True when the wrapper is in place."""
    global _INSTALLED
    if _INSTALLED:
        return True
    from rasa.core.processor import MessageProcessor

    handle = MessageProcessor.handle_message

    async def handle_message(self: MessageProcessor, message: Any) -> Any:
        try:
            return await handle(self, message)
        finally:
            if not self.__dict__.get(_FROZEN_FOR):
                self.__dict__[_FROZEN_FOR] = True
                freeze_what_is_loaded()

    handle_message.__doc__ = "Rasa's message entry; the first message of a loaded model sets the model aside from the GC."
    MessageProcessor.handle_message = handle_message  # type: ignore[method-assign]
    _INSTALLED = True
    return True


def freeze_what_is_loaded() -> None:
    """Release what an earlier freeze kept (a replaced model), then freeze everything alive now."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
