"""The tracker Rasa copies before each action is the same with rasa_addons/tracker_copy.py as
with Rasa's own copy: every story and test conversation of the project, at every event, copied
both ways and compared, and a change to the copy never reaches the original.

Runs in `.venv` and drives `.venv-rasa` through a subprocess, like test_tracker_store.py.
"""
from __future__ import annotations

import pytest

from tests.rasa_addons import run_in_rasa

SCRIPT = r"""
import copy, json
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader

rasas_init_copy = DialogueStateTracker.init_copy
import rasa_addons  # noqa: F401  (installs the copy, as loading the model does)
from rasa_addons import tracker_copy
hamdels_init_copy = DialogueStateTracker.init_copy

domain = Domain.load("domain.yml")
steps = []
for path in ("nlu_data/stories/complaint.yml", "tests/test_stories.yml"):
    steps += YAMLStoryReader(domain).read_from_file(path)


def everything(tracker):
    # the whole state: what Rasa serialises, and each slot's class and attributes
    slots = {name: [type(slot).__name__, {k: repr(v) for k, v in vars(slot).items()}] for name, slot in tracker.slots.items()}
    return [json.dumps(tracker.current_state(EventVerbosity.ALL), sort_keys=True, ensure_ascii=False, default=repr), slots,
            type(tracker.slots).__name__, tracker.is_rule_tracker, tracker._max_event_history, tracker.sender_id]


def copy_with(init_copy, tracker):
    DialogueStateTracker.init_copy = init_copy
    try:
        return tracker.copy()
    finally:
        DialogueStateTracker.init_copy = hamdels_init_copy


report = {"compared": 0, "differences": [], "leaks": 0, "slot_classes": set()}
for number, step in enumerate(steps):
    tracker = DialogueStateTracker(f"story-{number}", domain.slots)
    for index, event in enumerate(step.events):
        tracker.update(event, domain)
        rasas, hamdels = copy_with(rasas_init_copy, tracker), copy_with(hamdels_init_copy, tracker)
        report["compared"] += 1
        if everything(rasas) != everything(hamdels):
            report["differences"].append([step.block_name, index])
        if everything(rasas_init_copy(tracker)) != everything(hamdels_init_copy(tracker)):  # the empty start
            report["differences"].append([step.block_name, index, "init_copy"])
        before = everything(tracker)
        hamdels.update(SlotSet("phase", "changed in the copy"))
        for slot in hamdels.slots.values():
            slot.value = "changed in the copy"
        if everything(tracker) != before:
            report["leaks"] += 1
    report["slot_classes"] |= {type(slot).__name__ for slot in tracker.slots.values()}
without_slots = DialogueStateTracker("no-domain", None)
report["without_slots_same"] = everything(copy_with(rasas_init_copy, without_slots)) == everything(copy_with(hamdels_init_copy, without_slots))
report["rule_tracker_same"] = everything(copy_with(rasas_init_copy, DialogueStateTracker("r", domain.slots, is_rule_tracker=True))) == \
    everything(copy_with(hamdels_init_copy, DialogueStateTracker("r", domain.slots, is_rule_tracker=True)))


class Hooked:
    # a slot class with its own copying goes through copy.copy
    def __init__(self):
        self.copies = 0
    def __copy__(self):
        made = Hooked()
        made.copies = self.copies + 1
        return made


report["hooked_copied_by_its_hook"] = tracker_copy.copied(Hooked()).copies == 1
report["slot_classes"] = sorted(report["slot_classes"])
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def report() -> dict:
    return run_in_rasa(SCRIPT, timeout=600)


def test_every_copy_of_every_conversation_is_the_one_rasa_makes(report: dict) -> None:
    assert report["compared"] > 500
    assert report["differences"] == []
    assert report["without_slots_same"] and report["rule_tracker_same"]
    assert len(report["slot_classes"]) >= 3  # text, categorical, float, any... as the domain declares


def test_a_change_to_the_copy_never_reaches_the_conversation(report: dict) -> None:
    assert report["leaks"] == 0


def test_a_slot_class_with_its_own_copying_keeps_it(report: dict) -> None:
    assert report["hooked_copied_by_its_hook"]
