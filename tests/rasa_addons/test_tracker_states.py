"""The policies see the same past states after rasa_addons/tracker_states.py as from Rasa's own
method: every story and conversation test of the project, replayed event by event, with rewinds,
restarts and new sessions thrown in, under every combination of the method's arguments.

Runs in `.venv` and drives `.venv-rasa` through a subprocess, like test_action_response_schema.py.
"""
from __future__ import annotations

import pytest

from tests.rasa_addons import run_in_rasa

SCRIPT = r"""
import copy, json, random
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.core.events import (ActionExecuted, ActionReverted, Restarted, SessionStarted, SlotSet,
                                     UserUtteranceReverted)
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader

stock = Domain.states_for_tracker_history
import rasa_addons  # noqa: F401  (importing the package installs the replay, as Rasa's model loading does)
from rasa_addons import tracker_states
patched = Domain.states_for_tracker_history
started = []
start = tracker_states._Replay.__init__
def counting_start(self, *args, **kwargs):
    started.append(1)
    start(self, *args, **kwargs)
tracker_states._Replay.__init__ = counting_start

domain = Domain.load("domain.yml")
steps = []
for path in ("nlu_data/stories/complaint.yml", "tests/test_stories.yml"):
    steps += YAMLStoryReader(domain).read_from_file(path)
rng = random.Random(1405)
rule_only = {"rule_only_slots": ["phase", "remedy_decision"], "rule_only_loops": []}
flags = [(o, i, r) for o in (False, True) for i in (False, True) for r in (None, rule_only)]
rewinds = [UserUtteranceReverted, ActionReverted, Restarted, SessionStarted]
report = {"replaced": patched is not stock, "calls": 0, "differences": [], "conversations": len(steps),
          "rewinds": 0, "replays_kept": 0, "replays_started": 0}


def compare(tracker, where):
    for o, i, r in flags:
        want = stock(domain, tracker, o, i, r)
        got = patched(domain, tracker, o, i, r)
        report["calls"] += 1
        if got != want:
            report["differences"].append([where, o, i, r is not None])
        for state in got:  # callers edit what they receive; that must not reach the kept replay
            state.setdefault("user", {})["intent"] = "edited by the caller"
            state.pop("prev_action", None)


for step in steps:
    events = [e for e in step.events if not isinstance(e, ActionExecuted) or e.action_name]
    tracker = DialogueStateTracker(step.block_name, domain.slots)
    for n, event in enumerate(events):
        tracker.update(event, domain)
        if rng.random() < 0.08:
            tracker.update(rng.choice(rewinds)())
            report["rewinds"] += 1
        compare(tracker, f"{step.block_name} #{n}")
    report["replays_kept"] += len(getattr(tracker, "_hamdel_state_replays", {}))
    # Two copies of one conversation that go different ways each get their own states.
    twin = copy.deepcopy(tracker)
    tracker.update(SlotSet("phase", "hearing"))
    tracker.update(ActionExecuted("utter_ask_more"))
    twin.update(ActionExecuted("action_reflect"))
    compare(tracker, f"{step.block_name}: original after the copy")
    compare(twin, f"{step.block_name}: copy")
report["replays_started"] = len(started)
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def report() -> dict:
    return run_in_rasa(SCRIPT, timeout=600)


def test_importing_hamdels_components_replaces_rasas_method(report: dict) -> None:
    assert report["replaced"]


def test_every_step_of_every_conversation_gets_rasas_own_states(report: dict) -> None:
    assert report["conversations"] >= 30
    assert report["calls"] > 3000
    assert report["differences"] == []


def test_rewinds_restarts_and_new_sessions_were_among_the_steps(report: dict) -> None:
    assert report["rewinds"] >= 20


def test_each_conversation_keeps_its_replays_between_steps(report: dict) -> None:
    # one replay per combination of the method's arguments (8 here) per conversation ...
    assert report["replays_kept"] == 8 * report["conversations"]
    # ... continued from step to step: a new one only for a new conversation, after a rewind or for a copy
    assert report["replays_started"] < report["calls"] / 5
