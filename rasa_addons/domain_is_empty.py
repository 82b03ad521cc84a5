"""Whether the model's domain is empty, worked out once per domain instead of on every message.

Why: before it reads a parse, Rasa 3.6's `MessageProcessor._check_for_unseen_features` asks
`Domain.is_empty()`, which builds the whole domain as a dict (Hamdel's: sixty-odd slots, some
hundred responses with their variations) and an empty domain as a dict, and compares them: about
1 % of Rasa's time per message in the profile (docs/performance.md), for an answer that never
changes while a model is loaded.

`install()` keeps the answer "not empty" on the domain object the first time Rasa's method gives
it. A domain only gains content while it is built (Rasa has no way to take a slot, intent or
response out of one), so a domain that was not empty stays so; "empty" is never kept, and is asked
again each time as Rasa does. Installed with the package (rasa_addons/__init__.py) on Rasa 3.6.x
only; tests/rasa_addons/test_domain_is_empty.py.
"""
from __future__ import annotations

_INSTALLED = False
_ATTRIBUTE = "_hamdel_not_empty"


def install() -> bool:
    """Wrap `Domain.is_empty` once; True when the wrapper is in place."""
    global _INSTALLED
    if _INSTALLED:
        return True
    from rasa.shared.core.domain import Domain

    rasas = Domain.is_empty

    def is_empty(self: Domain) -> bool:
        if self.__dict__.get(_ATTRIBUTE):
            return False
        empty = rasas(self)
        if not empty:
            self.__dict__[_ATTRIBUTE] = True
        return empty

    is_empty.__doc__ = "Rasa's `Domain.is_empty`, a 'not empty' answer kept on the domain (rasa_addons/domain_is_empty.py)."
    Domain.is_empty = is_empty  # type: ignore[method-assign]
    _INSTALLED = True
    return True
