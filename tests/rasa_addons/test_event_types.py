"""Rasa reads every event to the same class after rasa_addons/event_types.py remembers its lookups:
each event type Rasa knows, an unknown name with and without a default, and old «topic» events.

Runs in `.venv` and drives `.venv-rasa` through a subprocess, like test_action_response_schema.py.
"""
from __future__ import annotations

import pytest

from tests.rasa_addons import run_in_rasa

SCRIPT = r"""
import json
from rasa.shared.core.events import Event, SlotSet, UserUttered
from rasa.shared.utils.common import all_subclasses

stock = Event.resolve_by_type
import rasa_addons  # noqa: F401  (importing the package installs the remembered lookup)
patched = Event.resolve_by_type


def outcome(lookup, *args):
    try:
        found = lookup(*args)
        return found.__name__ if found is not None else None
    except ValueError as error:
        return "ValueError: " + str(error)


names = sorted({cls.type_name for cls in all_subclasses(Event)})
cases = [[name] for name in names] + [["no_such_event"], ["no_such_event", SlotSet], ["topic"], ["user", SlotSet]]
report = {"replaced": patched is not stock, "names": len(names), "cases": []}
for case in cases * 2:  # the second time round every answer comes from what was remembered
    report["cases"].append([repr(case), outcome(stock, *case), outcome(patched, *case)])
# A class defined after the first lookups is still found.
class Handover(Event):
    type_name = "hamdel_test_handover"
    def __eq__(self, other):
        return isinstance(other, Handover)
    def as_story_string(self):
        return None
report["new_class"] = outcome(patched, "hamdel_test_handover")
report["read_back"] = type(Event.from_parameters(UserUttered("سلام").as_dict())).__name__
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def report() -> dict:
    return run_in_rasa(SCRIPT)


def test_importing_hamdels_components_replaces_rasas_lookup(report: dict) -> None:
    assert report["replaced"]


def test_every_name_default_and_error_resolves_as_rasa_resolves_it(report: dict) -> None:
    assert report["names"] >= 20
    for case, stock, patched in report["cases"]:
        assert patched == stock, case
    outcomes = {case: patched for case, _, patched in report["cases"]}
    assert outcomes["['slot']"] == "SlotSet"
    assert outcomes["['topic']"] is None
    assert outcomes["['no_such_event']"].startswith("ValueError")


def test_an_event_class_defined_later_is_still_found(report: dict) -> None:
    assert report["new_class"] == "Handover"
    assert report["read_back"] == "UserUttered"
