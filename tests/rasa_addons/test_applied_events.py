"""A tracker's applied events are the same with rasa_addons/applied_events.py as from Rasa's own
walk: every story and conversation test of the project, event by event, with rewinds, undone
actions, restarts, new sessions and forms (whose first activation changes how earlier events
count) thrown in, and a caller's edit of the list it got never reaching the next answer.

Runs in `.venv` and drives `.venv-rasa` through a subprocess, like the other tests here (`run_in_rasa`).
"""
from __future__ import annotations

import pytest

from tests.rasa_addons import run_in_rasa

SCRIPT = r"""
import json, random
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.core.events import (ActionExecuted, ActionExecutionRejected, ActionReverted, ActiveLoop, Restarted,
                                     SessionStarted, UserUttered, UserUtteranceReverted)
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader

stock = DialogueStateTracker.applied_events
import rasa_addons  # noqa: F401  (importing the package installs it, as Rasa's model loading does)
patched = DialogueStateTracker.applied_events

domain = Domain.load("domain.yml")
steps = []
for path in ("nlu_data/stories/complaint.yml", "tests/test_stories.yml"):
    steps += YAMLStoryReader(domain).read_from_file(path)
rng = random.Random(1405)
report = {"replaced": patched is not stock, "calls": 0, "differences": [], "conversations": len(steps),
          "extras": {}, "continued": 0}


def compare(tracker, where):
    want = [id(e) for e in stock(tracker)]
    got_list = patched(tracker)
    report["calls"] += 1
    if [id(e) for e in got_list] != want:
        report["differences"].append(where)
    got_list.clear()  # callers may edit what they get: it must not reach the kept list
    if [id(e) for e in patched(tracker)] != want:
        report["differences"].append(where + ["after an edit"])


def form(name):
    # a form's turn: activated, its action run, a user reply, the form again (happy or rejected path)
    events = [ActiveLoop(name), ActionExecuted(name), ActionExecuted("action_listen"),
              UserUttered("۱۲۳", {"name": "inform", "confidence": 1.0})]
    if rng.random() < 0.5:
        events.append(ActionExecutionRejected(name))
        events.append(ActionExecuted("utter_ask_more"))
    events.append(ActionExecuted(name))
    if rng.random() < 0.5:
        events.append(ActiveLoop(None))
    return events


extra_kinds = {
    "rewind": lambda: [UserUtteranceReverted()],
    "undo": lambda: [ActionReverted()],
    "restart": lambda: [Restarted()],
    "session": lambda: [ActionExecuted("action_session_start"), SessionStarted()],
    "form": lambda: form(rng.choice(["order_form", "phone_form"])),
}
for number, step in enumerate(steps):
    tracker = DialogueStateTracker(f"story-{number}", domain.slots)
    for index, event in enumerate(step.events):
        tracker.update(event, domain)
        compare(tracker, [step.block_name, index])
        if rng.random() < 0.12:
            kind = rng.choice(sorted(extra_kinds))
            for extra in extra_kinds[kind]():
                tracker.update(extra, domain)
                compare(tracker, [step.block_name, index, kind])
            report["extras"][kind] = report["extras"].get(kind, 0) + 1
    report["continued"] += 1 if "_hamdel_applied_events" in tracker.__dict__ else 0

# Another events object in the same tracker (Rasa never does it; a caller could): the walk starts again.
tracker = DialogueStateTracker("replaced", domain.slots)
for event in steps[0].events:
    tracker.update(event, domain)
patched(tracker)
tracker.events = tracker._create_events(list(tracker.events)[:3])
report["replaced_events_same"] = [id(e) for e in patched(tracker)] == [id(e) for e in stock(tracker)]
# A bounded history (old events fall off the front): Rasa's walk every time.
bounded = DialogueStateTracker("bounded", domain.slots, max_event_history=5)
bounded_same = True
for event in steps[0].events:
    bounded.update(event, domain)
    bounded_same &= [id(e) for e in patched(bounded)] == [id(e) for e in stock(bounded)]
report["bounded_same"] = bounded_same
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def report() -> dict:
    return run_in_rasa(SCRIPT, timeout=600)


def test_every_story_gets_rasas_applied_events_at_every_event(report: dict) -> None:
    assert report["replaced"]
    assert report["conversations"] >= 35 and report["calls"] > 700
    assert report["differences"] == []
    assert report["continued"] == report["conversations"]  # the kept list was in use, not only Rasa's walk


def test_rewinds_undos_restarts_sessions_and_forms_were_all_thrown_in(report: dict) -> None:
    assert set(report["extras"]) == {"rewind", "undo", "restart", "session", "form"}
    assert min(report["extras"].values()) >= 5


def test_a_replaced_event_list_and_a_bounded_history_fall_back_to_rasas_walk(report: dict) -> None:
    assert report["replaced_events_same"] and report["bounded_same"]
