"""RulePolicy stops comparing its rules with the conversation once no rule reaches further back.

Why: in Rasa 3.6.21, `RulePolicy._get_possible_keys(lookup, states)` walks the conversation's
states from the newest to the oldest and, at each one, keeps the rules that still match. A rule
is only a few states long, and `_is_rule_applicable` answers «yes» for any state older than the
rule's first one; but Rasa keeps asking, for every rule and every older state, to the start of the
conversation. A complaint is 20–40 states long and Hamdel has a few hundred rule keys, so most of
that work only re-confirms rules already matched: after the policies' past states, this was the
largest part of choosing an action (docs/performance.md).

`install()` replaces the method with the same walk that stops as soon as the set of candidate
rules is empty or the walk has passed the first state of the longest candidate: from there on
Rasa's loop keeps every candidate, so the set it returns is the same.
tests/rasa_addons/test_rule_lookup.py compares both on the project's own conversations. Installed
by `rasa_addons/__init__.py` on Rasa 3.6 only.
"""
from __future__ import annotations

import functools
from typing import Any

_INSTALLED = False


def install() -> bool:
    """Patch `RulePolicy._get_possible_keys` once; True when the patch is in place."""
    global _INSTALLED
    if _INSTALLED:
        return True
    from rasa.core.policies.rule_policy import RulePolicy

    @functools.lru_cache(maxsize=8192)
    def rule_length(rule_key: str) -> int:
        return len(RulePolicy._rule_key_to_state(rule_key))

    def _get_possible_keys(self: RulePolicy, lookup: dict[str, str], states: list[dict[str, Any]]) -> set[str]:
        possible_keys = set(lookup.keys())
        for turn_index, state in enumerate(reversed(states)):
            if not possible_keys or turn_index >= max(map(rule_length, possible_keys)):
                break  # Rasa's loop would keep every remaining candidate from here on
            possible_keys = {key for key in possible_keys if self._is_rule_applicable(key, turn_index, state)}
        return possible_keys

    _get_possible_keys.__doc__ = ("RulePolicy's candidate rules for these states, without re-checking states older "
                                  "than the longest candidate (rasa_addons/rule_lookup.py).")
    RulePolicy._get_possible_keys = _get_possible_keys  # type: ignore[method-assign]
    _INSTALLED = True
    return True
