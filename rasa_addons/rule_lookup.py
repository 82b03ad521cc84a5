"""RulePolicy stops comparing its rules with the conversation once no rule reaches further back.

Why: in Rasa 3.6.21, `RulePolicy._get_possible_keys(lookup, states)` walks the conversation's
states from the newest to the oldest and, at each one, keeps the rules that still match. A rule
is only a few states long, and `_is_rule_applicable` answers «yes» for any state older than the
rule's first one; but Rasa keeps asking, for every rule and every older state, to the start of the
conversation. A complaint is 20–40 states long and Hamdel has a few hundred rule keys, of which
a handful can match the newest state, and the rest of the work only re-confirms rules already matched: after the policies' past states, this was the
largest part of choosing an action (docs/performance.md).

`install()` replaces the method with the same walk, changed in two ways that keep its answer:
- At the newest state it asks only the rules that can match it: rules are grouped once by the
  previous action and the intent their newest state names, and `_does_rule_match_state` refuses a
  rule naming another action or intent than the conversation's (a rule naming neither, or naming
  «should not be set», is always asked).
- It stops as soon as the set of candidates is empty or the walk has passed the first state of the
  longest candidate: from there on Rasa's loop keeps every candidate.
tests/rasa_addons/test_rule_lookup.py compares both on the project's own conversations. Installed
by `rasa_addons/__init__.py` on Rasa 3.6 only.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Optional

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
        if not states:
            return set(lookup.keys())
        newest = states[-1]
        possible_keys = {key for key in _index(self, lookup, rule_length).candidates(newest)
                         if self._is_rule_applicable(key, 0, newest)}
        for turn_index, state in enumerate(reversed(states)):
            if turn_index == 0:
                continue
            if not possible_keys or turn_index >= max(map(rule_length, possible_keys)):
                break  # Rasa's loop would keep every remaining candidate from here on
            possible_keys = {key for key in possible_keys if self._is_rule_applicable(key, turn_index, state)}
        return possible_keys

    _get_possible_keys.__doc__ = ("RulePolicy's candidate rules for these states, looked up by their newest state and "
                                  "not re-checked past the longest candidate (rasa_addons/rule_lookup.py).")
    RulePolicy._get_possible_keys = _get_possible_keys  # type: ignore[method-assign]
    _INSTALLED = True
    return True


class _RuleIndex:
    """The rule keys of one lookup grouped by what their newest state requires: the previous action's
    name and the intent, where the rule names them (None: the rule does not, or only «not set»)."""

    def __init__(self, lookup: dict[str, str], rule_length: Callable[[str], int]) -> None:
        from rasa.core.policies.rule_policy import RulePolicy

        self.keys = frozenset(lookup.keys())
        self.groups: dict[tuple[Optional[str], Optional[str]], list[str]] = {}
        for key in self.keys:
            newest = RulePolicy._rule_key_to_state(key)[-1]
            self.groups.setdefault(_required(newest), []).append(key)

    def candidates(self, state: dict[str, Any]) -> set[str]:
        """Every key that can match `state` as its newest state: `_does_rule_match_state` refuses a
        rule naming another previous action or another intent than the state's."""
        from rasa.shared.core.constants import PREVIOUS_ACTION

        if not state.get(PREVIOUS_ACTION):
            # A conversation's first state: `_is_rule_applicable` takes any rule without a previous
            # action here, whatever else it names, so every rule is asked.
            return set(self.keys)
        action, intent = _named(state)
        found: set[str] = set()
        for group in {(action, intent), (action, None), (None, intent), (None, None)}:
            found.update(self.groups.get(group, ()))
        return found


def _named(state: dict[str, Any]) -> tuple[Optional[str], Optional[str]]:
    """The previous action's name and the intent a conversation state has (None where it has none)."""
    from rasa.shared.core.constants import PREVIOUS_ACTION, USER
    from rasa.shared.nlu.constants import ACTION_NAME, INTENT

    action = (state.get(PREVIOUS_ACTION) or {}).get(ACTION_NAME)
    intent = (state.get(USER) or {}).get(INTENT)
    return (action if isinstance(action, str) else None, intent if isinstance(intent, str) else None)


def _required(rule_state: dict[str, Any]) -> tuple[Optional[str], Optional[str]]:
    """What a rule state requires of the previous action's name and the intent: a value the
    conversation must have, or None when any value passes `_does_rule_match_state` (not named, empty,
    or «should not be set»)."""
    from rasa.shared.core.constants import SHOULD_NOT_BE_SET

    return tuple(value if isinstance(value, str) and value and value != SHOULD_NOT_BE_SET else None  # type: ignore[return-value]
                 for value in _named(rule_state))


def _index(policy: Any, lookup: dict[str, str], rule_length: Callable[[str], int]) -> _RuleIndex:
    """The index of `lookup`, built once and again only if the lookup's keys change (training)."""
    indexes: dict[int, _RuleIndex] = policy.__dict__.setdefault("_hamdel_rule_indexes", {})
    index = indexes.get(id(lookup))
    if index is None or lookup.keys() != index.keys:
        index = indexes[id(lookup)] = _RuleIndex(lookup, rule_length)
    return index
