"""The action server answers with the slot changes only: a `SlotSet` that gives a slot the value it
already has is left out of the answer (docs/performance.md), everything else comes back as the
action returned it."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from hamdel.action_server import Executor, changed_slots_only


def slot(name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "timestamp": None, "name": name, "value": value}


def test_a_new_complaint_in_a_new_conversation_sends_only_what_it_sets() -> None:
    empty = {"complaint_story": None, "reflection": None, "remedy": None, "phase": None}
    events = [slot("phase", "hearing"), slot("complaint_story", "سفارشم نرسیده"), slot("reflection", None),
              slot("remedy", None)]
    assert changed_slots_only(events, empty) == [slot("phase", "hearing"), slot("complaint_story", "سفارشم نرسیده")]


def test_a_second_complaint_clears_what_the_first_one_left() -> None:
    after_the_first = {"phase": "done", "remedy": "refund", "reflection": "سفارشتون نرسیده", "anger": None}
    events = [slot("phase", "hearing"), slot("remedy", None), slot("reflection", None), slot("anger", None)]
    assert changed_slots_only(events, after_the_first) == events[:3]


def test_values_are_compared_as_json_so_one_and_true_stay_different() -> None:
    slots = {"story_turns": 1, "deescalated": True, "key_words": ["نرسیده", "پشتیبانی"]}
    events = [slot("story_turns", True), slot("deescalated", 1), slot("story_turns", 1.0),
              slot("key_words", ["نرسیده", "پشتیبانی"])]
    assert changed_slots_only(events, slots) == events[:3]


def test_a_slot_set_twice_in_one_answer_is_followed_through() -> None:
    slots = {"phase": None}
    events = [slot("phase", "hearing"), slot("phase", None), slot("phase", None)]
    assert changed_slots_only(events, slots) == events[:2]


def test_a_slot_the_tracker_did_not_list_is_kept() -> None:
    assert changed_slots_only([slot("new_slot", None)], {}) == [slot("new_slot", None)]


def test_after_a_revert_every_event_is_kept_as_it_came() -> None:
    slots = {"phase": None, "remedy": None}
    reverted = {"event": "rewind", "timestamp": None}
    events = [slot("phase", None), reverted, slot("remedy", None), slot("phase", None)]
    assert changed_slots_only(events, slots) == events[1:]


class StartOver(Action):
    """Sets the story and clears two slots, as the hearing action does for a new complaint."""

    def name(self) -> str:
        return "action_start_over"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        dispatcher.utter_message(text="ادامه بدید، می‌شنوم.")
        return [SlotSet("complaint_story", tracker.latest_message.get("text")), SlotSet("remedy", None),
                SlotSet("reflection", None), UserUtteranceReverted(), SlotSet("remedy", None)]


async def test_the_executor_answers_with_the_changes_and_the_events_after_a_revert() -> None:
    executor = Executor()
    executor.register_action(StartOver())
    tracker = {"sender_id": "telegram:1", "slots": {"complaint_story": None, "remedy": None, "reflection": "قبلی"},
               "latest_message": {"text": "بسته‌م باز شده رسید"}, "events": []}
    answer = await executor.run({"next_action": "action_start_over", "sender_id": "telegram:1", "tracker": tracker})
    assert answer.events == [slot("complaint_story", "بسته‌م باز شده رسید"), slot("reflection", None),
                             {"event": "rewind", "timestamp": None}, slot("remedy", None)]
    assert answer.responses[0]["text"] == "ادامه بدید، می‌شنوم."


class DecideThenAct(Action):
    """Adds its decision to the tracker it was given before returning it, as `Tracker.add_slots` does."""

    def name(self) -> str:
        return "action_decide_then_act"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        decided = [SlotSet("remedy_decision", "allowed")]
        tracker.add_slots(decided)
        return [*decided, SlotSet("ticket_outcome", "opened")]


async def test_an_action_that_adds_its_slots_to_the_tracker_still_answers_with_them() -> None:
    executor = Executor()
    executor.register_action(DecideThenAct())
    tracker = {"sender_id": "telegram:1", "slots": {"remedy_decision": None, "ticket_outcome": None},
               "latest_message": {"text": "لطفا زودتر بفرستید"}, "events": []}
    answer = await executor.run({"next_action": "action_decide_then_act", "sender_id": "telegram:1", "tracker": tracker})
    assert answer.events == [slot("remedy_decision", "allowed"), slot("ticket_outcome", "opened")]
