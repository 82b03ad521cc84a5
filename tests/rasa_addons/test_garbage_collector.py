"""After the first message a loaded model handles, its objects are set aside from Python's cyclic
garbage collector (rasa_addons/garbage_collector.py); a model replaced later is released.

Runs in `.venv` and drives `.venv-rasa` through a subprocess, like test_action_response_schema.py.
A stand-in for Rasa's message handling keeps the test off TensorFlow: what is checked is the GC.
"""
from __future__ import annotations

import pytest

from tests.rasa_addons import run_in_rasa

SCRIPT = r"""
import asyncio, gc, json, weakref
from rasa.core.processor import MessageProcessor


class Part:
    # a piece of a loaded model, in a reference cycle as TensorFlow's and Rasa's objects are
    def __init__(self):
        self.me = self


handled = []
async def handle_message(self, message):
    handled.append(message)
    return [{"text": "پیام رسید"}]
MessageProcessor.handle_message = handle_message  # Rasa's handling, stood in for

import rasa_addons  # noqa: F401  (installs the wrapper, as loading the model does)
from rasa_addons import garbage_collector

freezes = []
freeze = garbage_collector.freeze_what_is_loaded
garbage_collector.freeze_what_is_loaded = lambda: freezes.append(1) or freeze()


def tracked_by_collections(obj):
    return any(o is obj for generation in range(3) for o in gc.get_objects(generation))


def loaded():
    processor = object.__new__(MessageProcessor)
    processor.model = Part()
    return processor


async def main():
    report = {}
    first = loaded()
    report["before_first_message"] = tracked_by_collections(first.model)
    report["answer"] = await first.handle_message("سلام")
    report["after_first_message"] = tracked_by_collections(first.model)
    await first.handle_message("سفارشم نرسیده")
    report["freezes_after_two_messages"] = len(freezes)
    later = Part()
    later_ref = weakref.ref(later)
    del later
    gc.collect()
    report["cycle_made_after_freeze_collected"] = later_ref() is None
    old_model = weakref.ref(first.model)
    del first  # Rasa's PUT /model: a new processor for the new model
    second = loaded()
    await second.handle_message("سلام")
    report["freezes_after_new_model"] = len(freezes)
    report["old_model_released"] = old_model() is None
    report["new_model_set_aside"] = not tracked_by_collections(second.model)
    print(json.dumps(report, ensure_ascii=False))


asyncio.run(main())
"""


@pytest.fixture(scope="module")
def report() -> dict:
    return run_in_rasa(SCRIPT)


def test_the_model_is_set_aside_after_its_first_message_and_the_message_is_answered(report: dict) -> None:
    assert report["before_first_message"] is True
    assert report["answer"] == [{"text": "پیام رسید"}]
    assert report["after_first_message"] is False


def test_only_the_first_message_of_a_model_freezes(report: dict) -> None:
    assert report["freezes_after_two_messages"] == 1
    assert report["freezes_after_new_model"] == 2


def test_what_conversations_allocate_later_is_still_collected(report: dict) -> None:
    assert report["cycle_made_after_freeze_collected"] is True


def test_a_replaced_model_is_released_and_the_new_one_set_aside(report: dict) -> None:
    assert report["old_model_released"] is True
    assert report["new_model_set_aside"] is True
