"""Rasa's «is the domain empty?» gives the same answers with rasa_addons/domain_is_empty.py, and
Hamdel's domain is turned into a dict for it once, not on every message.

Runs in `.venv` and drives `.venv-rasa` through a subprocess, like the other tests here (`run_in_rasa`).
"""
from __future__ import annotations

import pytest

from tests.rasa_addons import run_in_rasa

SCRIPT = r"""
import json
from rasa.shared.core.domain import Domain

rasas = Domain.is_empty
import rasa_addons  # noqa: F401  (installs it, as loading the model does)

built = []
as_dict = Domain.as_dict
def counting_as_dict(self):
    built.append(1)
    return as_dict(self)
Domain.as_dict = counting_as_dict

hamdel = Domain.load("domain.yml")
small = Domain.from_dict({"intents": ["greet"], "responses": {"utter_hi": [{"text": "سلام"}]}})
report = {"answers": {}}
for name, domain in (("hamdel", hamdel), ("small", small), ("empty", Domain.empty()), ("empty dict", Domain.from_dict({}))):
    report["answers"][name] = [domain.is_empty(), rasas(domain), domain.is_empty()]
built.clear()
for _ in range(5):
    hamdel.is_empty()
report["dicts_for_five_asks"] = len(built)
empty = Domain.empty()
built.clear()
for _ in range(3):
    empty.is_empty()
report["dicts_for_three_asks_of_an_empty_domain"] = len(built)
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def report() -> dict:
    return run_in_rasa(SCRIPT)


def test_every_domain_gets_rasas_answer(report: dict) -> None:
    assert report["answers"] == {"hamdel": [False, False, False], "small": [False, False, False],
                                 "empty": [True, True, True], "empty dict": [True, True, True]}


def test_hamdels_domain_is_not_rebuilt_as_a_dict_for_every_message(report: dict) -> None:
    assert report["dicts_for_five_asks"] == 0  # answered once, above
    assert report["dicts_for_three_asks_of_an_empty_domain"] == 6  # Rasa's way: its dict and an empty one, each time
