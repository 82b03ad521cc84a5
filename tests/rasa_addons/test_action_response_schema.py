"""Rasa still refuses a malformed action-server answer, exactly as before, after
rasa_addons/action_response_schema.py compiles the schema once (docs/performance.md).

Runs in `.venv` and drives `.venv-rasa` through a subprocess, like test_word_vectors.py.
"""
from __future__ import annotations

import pytest

from tests.rasa_addons import run_in_rasa

SCRIPT = r"""
import json
import jsonschema
from rasa.core.actions.action import RemoteAction

stock = RemoteAction._validate_action_result
import rasa_addons  # noqa: F401  (importing the package installs the compiled check, as Rasa does)
patched = RemoteAction._validate_action_result
action = RemoteAction("action_hear_story", None)
answers = {
    "good": {"events": [{"event": "slot", "name": "story", "value": "x", "timestamp": None},
                        {"event": "followup", "name": "utter_ask_more"}],
             "responses": [{"response": "utter_ask_more"}, {"text": "سلام"}]},
    "empty": {},
    "events_not_a_list": {"events": "x", "responses": []},
    "slot_without_name": {"events": [{"event": "slot", "value": 3}], "responses": []},
    "unknown_event": {"events": [{"event": "format_disk"}], "responses": []},
    "response_not_an_object": {"events": [], "responses": ["hello"]},
    "event_name_not_a_string": {"events": [{"event": 3}], "responses": []},
    "user_with_bad_entities": {"events": [{"event": "user", "text": "x", "parse_data": {"entities": [{"entity": 1}]}}]},
    "action_with_bad_confidence": {"events": [{"event": "action", "name": "x", "confidence": "high"}]},
    "bad_timestamp": {"events": [{"event": "bot", "timestamp": "now"}]},
    "seen_slot_event_with_a_bad_stamp": {"events": [{"event": "slot", "name": "story", "value": "x", "timestamp": "now"}]},
    "full_user_event": {"events": [{"event": "user", "text": "سلام", "timestamp": 1.5, "metadata": {"turn_id": "7"},
                                    "parse_data": {"intent": {"name": "greet", "confidence": 0.9},
                                                   "entities": [{"entity": "order_id", "value": "4587123", "start": 1, "end": 3}],
                                                   "intent_ranking": [{"name": "greet", "confidence": 0.9}]}},
                                   {"event": "action", "name": "utter_x", "policy": None, "confidence": 1.0},
                                   {"event": "followup", "name": "action_x"}, {"event": "reset_slots"}]},
}
report = {"replaced": patched is not stock, "answers": {}}
for name, answer in answers.items():
    verdicts = []
    for check in (stock, patched, patched):  # the second time, what was accepted is remembered
        try:
            verdicts.append(["accepted", check(action, answer)])
        except jsonschema.ValidationError as error:
            verdicts.append(["refused", error.message])
    report["answers"][name] = verdicts
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def report() -> dict:
    return run_in_rasa(SCRIPT)


def test_importing_hamdels_components_replaces_rasas_check(report: dict) -> None:
    assert report["replaced"]


@pytest.mark.parametrize("name", ["good", "empty", "full_user_event"])
def test_a_well_formed_answer_is_accepted_by_both(report: dict, name: str) -> None:
    stock, patched, again = report["answers"][name]
    assert stock == patched == again == ["accepted", True]


@pytest.mark.parametrize("name", ["events_not_a_list", "slot_without_name", "unknown_event", "response_not_an_object",
                                  "event_name_not_a_string", "user_with_bad_entities", "action_with_bad_confidence",
                                  "bad_timestamp", "seen_slot_event_with_a_bad_stamp"])
def test_a_malformed_answer_is_refused_with_rasas_own_message(report: dict, name: str) -> None:
    stock, patched, again = report["answers"][name]
    assert stock[0] == patched[0] == again[0] == "refused"
    assert patched[1] == again[1] == stock[1]
    assert "Failed to validate Action server response" in patched[1]
