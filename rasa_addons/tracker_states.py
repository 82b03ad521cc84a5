"""The policies' view of a conversation, computed once per conversation instead of from scratch on
every question.

Why: to choose the next action, Rasa 3.6.21's policies turn the conversation into its list of
past states (`Domain.states_for_tracker_history`): a fresh tracker replays every event of the
conversation and a state is read at each action. That replay runs for every policy at every step of
a turn: RulePolicy twice right after a customer message (by text, then by intent), once otherwise,
and MemoizationPolicy once; a turn has three or four steps. The profile in docs/performance.md put
these replays at about half of the policies' time, which grows with the length of the conversation.

Between two of those calls the conversation has only grown: the events already replayed are the
same objects, with new ones after them. `install()` wraps the method so each tracker keeps its
replay (one per combination of arguments, the rule-only slots and loops among them) and later calls replay only the new events. The states
it returns are the ones Rasa's loop gives for the same events: the loop below is Rasa's, step for
step, with its running variables kept between calls; a call whose applied events do not extend the
replayed ones (a rewind, a restart, an undo, a new session, another domain) starts a new replay,
as Rasa would. Callers edit the states they receive, so each call gets its own copy (sharing
between states kept as Rasa's loop makes it). Installed by `rasa_addons/__init__.py` on Rasa 3.6
only; tests/rasa_addons/test_tracker_states.py compares it with Rasa's own method on real
conversations, including rewinds and restarts.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Optional

_INSTALLED = False
_ATTRIBUTE = "_hamdel_state_replays"

State = dict[str, Any]


@dataclass
class _Replay:
    """Rasa's loop over `generate_all_prior_trackers`, paused after the last event it has seen."""

    domain: Any
    omit_unset_slots: bool
    ignore_rule_only_turns: bool
    rule_only_data: Optional[dict[str, Any]]
    tracker: Any  # the replaying tracker, after every event in `applied`
    applied: list[Any] = field(default_factory=list)
    states: list[State] = field(default_factory=list)
    last_ml_action_sub_state: Any = None
    turn_was_hidden: bool = False

    def extends(self, domain: Any, applied: list[Any]) -> bool:
        """True when `applied` is the replayed events, the very same objects, and maybe more."""
        return (
            domain is self.domain
            and len(applied) >= len(self.applied)
            and all(new is old for new, old in zip(applied, self.applied, strict=False))
        )

    def advance(self, applied: list[Any], action_executed: type) -> None:
        """Replay the events after the ones already seen, exactly as Rasa's generator would."""
        for event in applied[len(self.applied):]:
            if isinstance(event, action_executed):
                self.last_ml_action_sub_state, self.turn_was_hidden = self._step(
                    self.states, event.hide_rule_turn, self.last_ml_action_sub_state, self.turn_was_hidden)
            self.tracker.update(event)
            self.applied.append(event)

    def result(self) -> list[State]:
        """The states so far plus the one Rasa's generator yields after the last event."""
        states = list(self.states)
        self._step(states, False, self.last_ml_action_sub_state, self.turn_was_hidden)
        return _copy_states(states)

    def _step(self, states: list[State], hide_rule_turn: bool, last_ml_action_sub_state: Any,
              turn_was_hidden: bool) -> tuple[Any, bool]:
        """One pass of the body of Rasa's `states_for_tracker_history` loop, on `self.tracker`."""
        from rasa.shared.core.constants import PREVIOUS_ACTION

        domain, tr = self.domain, self.tracker
        if self.ignore_rule_only_turns:
            if not turn_was_hidden:
                last_ml_action_sub_state = domain._get_prev_action_sub_state(tr)
            if not tr.followup_action and not tr.latest_action_name == tr.active_loop_name:
                turn_was_hidden = hide_rule_turn
            if turn_was_hidden:
                return last_ml_action_sub_state, turn_was_hidden

        state = domain.get_active_state(tr, omit_unset_slots=self.omit_unset_slots)
        if self.ignore_rule_only_turns:
            domain._remove_rule_only_features(state, self.rule_only_data)
            if states:
                domain._substitute_rule_only_user_input(state, states[-1])
            if last_ml_action_sub_state:
                state[PREVIOUS_ACTION] = last_ml_action_sub_state
        states.append(domain._clean_state(state))
        return last_ml_action_sub_state, turn_was_hidden


def _copy_states(states: list[State]) -> list[State]:
    """A copy the caller may edit: new state and sub-state dicts (their values are strings and
    tuples), a sub-state shared by two states in Rasa's list shared in the copy too."""
    copies: dict[int, dict[str, Any]] = {}
    result = []
    for state in states:
        new_state = {}
        for key, sub_state in state.items():
            if isinstance(sub_state, dict):
                new_sub = copies.get(id(sub_state))
                if new_sub is None:
                    new_sub = copies[id(sub_state)] = dict(sub_state)
                new_state[key] = new_sub
            else:
                new_state[key] = copy.copy(sub_state)
        result.append(new_state)
    return result


def install() -> bool:
    """Patch `Domain.states_for_tracker_history` once; True when the patch is in place."""
    global _INSTALLED
    if _INSTALLED:
        return True
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted

    def states_for_tracker_history(
        self: Domain,
        tracker: Any,
        omit_unset_slots: bool = False,
        ignore_rule_only_turns: bool = False,
        rule_only_data: Optional[dict[str, Any]] = None,
    ) -> list[State]:
        applied = tracker.applied_events()
        replays: dict[tuple[bool, bool, str], _Replay] = tracker.__dict__.setdefault(_ATTRIBUTE, {})
        key = (bool(omit_unset_slots), bool(ignore_rule_only_turns),
               json.dumps(rule_only_data, sort_keys=True, default=str))
        replay = replays.get(key)
        if replay is None or not replay.extends(self, applied):
            replay = _Replay(self, omit_unset_slots, ignore_rule_only_turns, copy.deepcopy(rule_only_data),
                             tracker.init_copy())
            replays[key] = replay
        try:
            replay.advance(applied, ActionExecuted)
            return replay.result()
        except BaseException:
            replays.pop(key, None)  # half-replayed: the next call starts again
            raise

    states_for_tracker_history.__doc__ = ("Rasa's past states of a tracker, replaying only the events "
                                          "added since the last call (rasa_addons/tracker_states.py).")
    Domain.states_for_tracker_history = states_for_tracker_history  # type: ignore[method-assign]
    _INSTALLED = True
    return True
